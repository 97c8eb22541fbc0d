"""Canonical JSON, strict parsing and wire times."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.wire import (
    WireError,
    canonical_json,
    parse_json,
    sha256_hex,
    time_from_wire,
    time_to_wire,
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


def test_canonical_json_sorts_keys_and_drops_spaces() -> None:
    assert canonical_json({"b": [1, 2.5, 3.0], "a": "é"}) == '{"a":"é","b":[1,2.5,3]}'.encode()


def test_sha256_hex_is_the_known_digest() -> None:
    assert sha256_hex(b"abc") == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), 2**53, object()])
def test_canonical_json_refuses_what_json_cannot_hold(value: object) -> None:
    with pytest.raises(WireError) as info:
        canonical_json({"x": value})
    assert info.value.reason == "malformed"


@settings(max_examples=100, deadline=None)
@given(json_values)
def test_parse_of_canonical_is_the_value_and_canonical_again(value: object) -> None:
    data = canonical_json(value)
    assert canonical_json(parse_json(data, max_bytes=len(data))) == data


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b'{"a": 1, "a": 2}', "twice"),
        (b"[NaN]", "NaN"),
        (b"[-Infinity]", "Infinity"),
        (b"[1e400]", "out of range"),
        (b"[" + b"9" * 5000 + b"]", "out of range"),
        (b"[" + b"9" * 309 + b"]", "out of range"),
        (b"[" * 100_000 + b"]" * 100_000, "deeper"),
        (b"[" * 17 + b"]" * 17, "deeper"),
        (b'"\xff"', "UTF-8"),
        (b'{"a":', "not valid JSON"),
        (b"", "not valid JSON"),
        ('"x"'.encode("utf-16"), "UTF-8"),
    ],
)
def test_parse_refuses_hostile_json_with_a_reason(data: bytes, words: str) -> None:
    with pytest.raises(WireError) as info:
        parse_json(data, max_bytes=1 << 20)
    assert info.value.reason == "malformed"
    assert words in str(info.value)


def test_parse_checks_the_size_before_anything_else() -> None:
    with pytest.raises(WireError) as info:
        parse_json(b"[" * 2000, max_bytes=1000)
    assert info.value.reason == "too-large"


def test_sixteen_levels_are_allowed() -> None:
    assert parse_json(b"[" * 16 + b"]" * 16, max_bytes=100) is not None


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_parse_of_any_bytes_raises_only_wire_error(data: bytes) -> None:
    with contextlib.suppress(WireError):
        parse_json(data, max_bytes=1000)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_parse_of_any_text_matches_json_or_is_refused(text: str) -> None:
    try:
        value = parse_json(text.encode(), max_bytes=1000)
    except WireError:
        return
    # Integers beyond 2**53 - 1 are read as floats on purpose (as RFC 8785 numbers are).
    assert value == json.loads(text, parse_int=_interoperable_int)


def _interoperable_int(digits: str) -> int | float:
    number = int(digits)
    return number if abs(number) <= 2**53 - 1 else float(number)


@given(
    st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(9999, 1, 1)),
    st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30))]),
)
def test_times_round_trip_in_utc(moment: datetime, zone: timezone) -> None:
    aware = moment.replace(tzinfo=zone)
    text = time_to_wire(aware)
    assert text.endswith("Z")
    assert time_from_wire(text) == aware


@pytest.mark.parametrize(
    "text",
    [
        "2024-06-01T12:00:00",
        "2024-06-01T12:00:00+00:00",
        "2024-06-01 12:00:00Z",
        "2024-06-01T12:00:00.000000Z",
        "2024-06-01T12:00:00.5Z",
        "2024-02-30T12:00:00Z",
        "2024-06-01T24:00:00Z",
        12,
        None,
    ],
)
def test_times_have_one_spelling(text: object) -> None:
    with pytest.raises(WireError):
        time_from_wire(text)


def test_naive_times_cannot_be_written() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        time_to_wire(datetime(2024, 6, 1))


any_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats()
    | st.sampled_from([1e-4, 9.999e-5, 1e16, 1e16 - 2, 1e21, 2.0**53, 2.0**53 + 2, -0.0, 5e-324])
    | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=4), children, max_size=4)
    ),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(any_json)
def test_the_fast_path_writes_exactly_what_rfc8785_writes(value: object) -> None:
    import rfc8785

    try:
        expected = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, ValueError, TypeError):
        with pytest.raises(WireError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        {"\U0001f600": 1, "\uffff": 2, "a": 3},
        {"\ue000": 1, "\U00010000": 2},
        [0.00001, 1.5e-7, 1e16, 1.2345e20, 1e21, 1e300, -0.0, 2.0**53],
        ['\x00\x1f\x7f\u2028"\\', "\U0001f600"],
    ],
)
def test_hard_cases_match_rfc8785(value: object) -> None:
    import rfc8785

    assert canonical_json(value) == rfc8785.dumps(value)


def test_lone_surrogates_are_malformed() -> None:
    with pytest.raises(WireError):
        canonical_json(["\ud800"])
    with pytest.raises(WireError):
        canonical_json({"\udc00": 1})
