"""Alert records on the wire: they round-trip, the fast paths read them as the reference
does, and anything off the format (every field, the evidence object's size, depth and
strings) is refused as ``malformed``, alone or inside a sealed batch."""

from __future__ import annotations

import base64
import contextlib
import copy
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.labels import Label, Level
from mista.wire import (
    ALERT_FIELDS,
    MAX_EVIDENCE_CHARS,
    MAX_EVIDENCE_DEPTH,
    Batch,
    CorrectItem,
    ItemReader,
    RecordItem,
    WireError,
    WireRecord,
    WithdrawItem,
    canonical_json,
    item_from_wire,
    item_to_wire,
    open_sealed,
    open_sealed_reference,
    parse_json,
    record_from_wire,
    record_to_wire,
    seal,
)
from tests.wire.test_batch import KEYS, PUBLIC
from tests.wire.wire_strategies import ids, labels, reasons, times, wire_records

START = datetime(2026, 1, 1, 6, 0, tzinfo=UTC)
LABEL = Label(Level.RESTRICTED, "IND", frozenset({"USA"}), frozenset({"white-shipping"}))
KINDS = ("ais-gap", "encounter", "loitering", "port-visit", "spoofing", "zone-entry")

json_leaves = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53) + 1, 2**53 - 1)
    | st.floats(-1e15, 1e15)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)
)
evidence_objects = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=1, max_size=12),
    st.recursive(
        json_leaves,
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(st.text(alphabet="abcxyz_", max_size=6), inner, max_size=3)
        ),
        max_leaves=8,
    ),
    max_size=5,
)


@st.composite
def alert_fields(draw: st.DrawFn) -> dict[str, Any]:
    start = draw(times)
    fields: dict[str, Any] = {
        "kind": draw(
            st.sampled_from(KINDS) | st.from_regex(r"[a-z][a-z0-9-]{0,31}", fullmatch=True)
        ),
        "status": draw(st.sampled_from(["open", "closed", "withdrawn"])),
        "start": start,
        "end": start + timedelta(seconds=draw(st.integers(0, 10 * 86_400))),
        "lat": draw(st.floats(-90, 90)),
        "lon": draw(st.floats(-180, 180)),
        "revision": draw(st.integers(0, 2**31 - 1)),
    }
    if draw(st.booleans()):
        fields["mmsis"] = tuple(draw(st.lists(st.integers(0, 2**30 - 1), max_size=4)))
    if draw(st.booleans()):
        fields["tracks"] = tuple(
            draw(
                st.lists(
                    st.from_regex(r"(ais|dark):[A-Za-z0-9:/-]{1,30}", fullmatch=True), max_size=3
                )
            )
        )
    if draw(st.booleans()):
        fields["evidence"] = json.dumps(draw(evidence_objects))
    return fields


@st.composite
def alert_records(draw: st.DrawFn) -> WireRecord:
    return WireRecord(draw(ids), "alerts", draw(labels()), draw(alert_fields()))


alert_items = st.one_of(
    st.builds(RecordItem, alert_records()),
    st.builds(CorrectItem, alert_records(), reasons),
)


def an_alert(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "kind": "encounter",
        "status": "open",
        "start": START,
        "end": START + timedelta(hours=3),
        "lat": 13.05,
        "lon": 80.3,
        "revision": 2,
        "mmsis": (419000123, 563000456),
        "tracks": ("ais:419000123", "ais:563000456"),
        "evidence": '{"distance_m": 212.5, "hours": 3, "reports": ["ab", "cd"]}',
    }
    base.update(fields)
    return record_to_wire(WireRecord("cd" * 16, "alerts", LABEL, base))


# -- round trips -----------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(alert_items)
def test_alert_items_round_trip_through_canonical_bytes(item: Any) -> None:
    data = canonical_json(item_to_wire(item))
    back = item_from_wire(parse_json(data, max_bytes=1 << 20))
    assert back == item
    assert hash(back.record) == hash(item.record)
    fast, text = ItemReader().item_and_text(parse_json(data, max_bytes=1 << 20))
    assert (fast, text.encode()) == (item, data)
    # The outbox's reading (nulls left out) gives the same item.
    assert ItemReader(nulls=True).item(json.loads(data)) == item


def test_an_alert_record_is_written_as_documented() -> None:
    wire = an_alert()
    assert wire["flow"] == "alerts"
    assert wire["fields"] == {
        "kind": "encounter",
        "status": "open",
        "start": "2026-01-01T06:00:00Z",
        "end": "2026-01-01T09:00:00Z",
        "lat": 13.05,
        "lon": 80.3,
        "revision": 2,
        "mmsis": [419000123, 563000456],
        "tracks": ["ais:419000123", "ais:563000456"],
        "evidence": {"distance_m": 212.5, "hours": 3, "reports": ["ab", "cd"]},
    }
    record = record_from_wire(wire)
    assert record.fields["evidence"] == '{"distance_m":212.5,"hours":3,"reports":["ab","cd"]}'
    assert record.fields["mmsis"] == (419000123, 563000456)
    assert set(ALERT_FIELDS) == set(wire["fields"])


def test_subjects_and_evidence_may_be_left_out() -> None:
    wire = an_alert()
    for name in ("mmsis", "tracks", "evidence"):
        del wire["fields"][name]
    assert set(record_from_wire(wire).fields) == {
        "kind",
        "status",
        "start",
        "end",
        "lat",
        "lon",
        "revision",
    }


# -- refusals --------------------------------------------------------------------------

_DELETE = object()


def _deep(levels: int) -> Any:
    """A JSON object ``levels`` deep (the object itself is level 1)."""
    value: Any = {"x": 1}
    for _ in range(levels - 1):
        value = {"x": value}
    return value


BAD_FIELDS: list[tuple[str, Any]] = [
    ("kind", "Encounter"),
    ("kind", "ais gap"),
    ("kind", "x" * 40),
    ("kind", 3),
    ("kind", _DELETE),
    ("status", "maybe"),
    ("status", "OPEN"),
    ("status", _DELETE),
    ("start", "2026-01-01T06:00:00+00:00"),
    ("start", 1767247200),
    ("end", "2026-01-01T05:59:59Z"),  # before start
    ("end", _DELETE),
    ("lat", 90.5),
    ("lat", "13.0"),
    ("lat", True),
    ("lon", -180.5),
    ("lon", _DELETE),
    ("revision", -1),
    ("revision", 2**31),
    ("revision", 1.5),
    ("revision", False),
    ("revision", _DELETE),
    ("mmsis", [2**30]),
    ("mmsis", [-1]),
    ("mmsis", [True]),
    ("mmsis", ["419000123"]),
    ("mmsis", [1.0]),
    ("mmsis", list(range(65))),
    ("mmsis", 419000123),
    ("tracks", ["x" * 129]),
    ("tracks", ["line\nbreak"]),
    ("tracks", [1]),
    ("tracks", ["t"] * 65),
    ("tracks", "ais:1"),
    ("evidence", "{}"),  # a string, not an object
    ("evidence", []),
    ("evidence", None),
    ("evidence", _deep(MAX_EVIDENCE_DEPTH + 1)),
    ("evidence", {"text": "x" * MAX_EVIDENCE_CHARS}),
    ("evidence", {"name": "bad\u0007bell"}),
    ("evidence", {"bad\nkey": 1}),
    ("evidence", {"deep": [[["a\x00"]]]}),
    ("evidence", {"big": 2**53}),
    ("evidence", {"big": -1e20}),
    ("observed_at", "2026-01-01T06:00:00Z"),  # a report field
    ("originator", "IND"),
    ("name", "SAGAR"),
]


def _edited(name: str, value: Any) -> dict[str, Any]:
    wire = copy.deepcopy(an_alert())
    if value is _DELETE:
        del wire["fields"][name]
    else:
        wire["fields"][name] = value
    return wire


@pytest.mark.parametrize(("name", "value"), BAD_FIELDS)
def test_alert_records_off_the_format_are_malformed(name: str, value: Any) -> None:
    wire = _edited(name, value)
    with pytest.raises(WireError) as info:
        record_from_wire(wire)
    assert info.value.reason == "malformed"
    # The fast reader gives the reference's answer, on the wire and in the outbox.
    item = {"kind": "record", "record": wire}
    # (In the outbox a null field is left out, as WireRecord leaves it.)
    readers = [ItemReader()] if value is None else [ItemReader(), ItemReader(nulls=True)]
    for reader in readers:
        with pytest.raises(WireError) as fast:
            reader.item(item)
        assert fast.value.detail == info.value.detail


def test_evidence_at_the_limits_is_accepted() -> None:
    wire = _edited("evidence", _deep(MAX_EVIDENCE_DEPTH))
    assert record_from_wire(wire).fields["evidence"].count("{") == MAX_EVIDENCE_DEPTH
    filler = "x" * (MAX_EVIDENCE_CHARS - len('{"t":""}'))
    assert len(record_from_wire(_edited("evidence", {"t": filler})).fields["evidence"]) == (
        MAX_EVIDENCE_CHARS
    )


def test_building_an_alert_record_checks_it_like_reading_one() -> None:
    label = LABEL
    good = record_from_wire(an_alert())
    with pytest.raises(WireError, match="evidence is not JSON"):
        WireRecord("cd" * 16, "alerts", label, {**good.fields, "evidence": "{not json"})
    with pytest.raises(WireError, match="before its start"):
        WireRecord("cd" * 16, "alerts", label, {**good.fields, "end": START - timedelta(1)})
    with pytest.raises(WireError, match="unknown keys"):
        WireRecord("cd" * 16, "alerts", label, {**good.fields, "originator": "IND"})
    with pytest.raises(WireError, match="unknown keys"):
        WireRecord("cd" * 16, "reports", label, good.fields)  # an alert is not a report


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_hostile_edits_of_alert_records_are_refused_as_the_reference_refuses(
    data: st.DataObject,
) -> None:
    wire = copy.deepcopy(an_alert())
    fields = wire["fields"]
    name = data.draw(st.sampled_from([*sorted(ALERT_FIELDS), "new"]))
    fields[name] = data.draw(
        st.recursive(json_leaves, lambda c: st.lists(c, max_size=3), max_leaves=5)
        | st.dictionaries(st.text(max_size=4), json_leaves, max_size=3)
    )
    item = {"kind": "record", "record": wire}
    try:
        expected: Any = ("ok", item_from_wire(item))
    except WireError as exc:
        expected = ("refused", exc.reason, exc.detail)
    try:
        got: Any = ("ok", ItemReader().item(item))
    except WireError as exc:
        got = ("refused", exc.reason, exc.detail)
    assert got == expected


# -- in a sealed batch -----------------------------------------------------------------


def _batch(*items: Any) -> Batch:
    return Batch("IND", "USA", 1, START, "0f" * 16, tuple(items))


def _open(opener: Any, data: bytes) -> Any:
    try:
        return ("ok", opener(data, PUBLIC, expected_receiver="USA"))
    except WireError as exc:
        return ("refused", exc.reason, exc.detail)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(alert_items, st.builds(RecordItem, wire_records())), max_size=4))
def test_batches_mixing_reports_and_alerts_open_as_the_reference_opens_them(
    items: list[Any],
) -> None:
    batch = _batch(*items, WithdrawItem("ef" * 16, "did not happen"))
    sealed = seal(batch, KEYS["IND"])
    opened = _open(open_sealed, sealed)
    assert opened == _open(open_sealed_reference, sealed)
    assert opened[0] == "ok"
    assert opened[1][0] == batch


@pytest.mark.parametrize("levels", [MAX_EVIDENCE_DEPTH + 1, 10, 11, 30])
def test_deep_evidence_in_a_signed_batch_is_malformed_either_way(levels: int) -> None:
    body = json.loads(seal(_batch(RecordItem(record_from_wire(an_alert()))), KEYS["IND"]))
    batch = body["batch"]
    batch["items"][0]["record"]["fields"]["evidence"] = _deep(levels)
    signature = base64.b64encode(KEYS["IND"].sign(canonical_json(batch))).decode()
    data = canonical_json({"batch": batch, "signature": signature})
    fast = _open(open_sealed, data)
    assert fast == _open(open_sealed_reference, data)
    assert fast[:2] == ("refused", "malformed")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_garbage_evidence_text_is_a_wire_error(garbage: bytes) -> None:
    text = garbage.decode("utf-8", errors="replace")
    fields = {**record_from_wire(an_alert()).fields, "evidence": text}
    with contextlib.suppress(WireError):
        record = WireRecord("cd" * 16, "alerts", LABEL, fields)
        assert isinstance(json.loads(record.fields["evidence"]), dict)
