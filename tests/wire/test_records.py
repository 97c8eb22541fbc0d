"""The record codec: labels and records round-trip, and anything off the format is refused."""

from __future__ import annotations

import contextlib
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.labels import Label, Level
from mista.wire import (
    REPORT_FIELDS,
    CorrectItem,
    RecordItem,
    WireError,
    WireRecord,
    WithdrawItem,
    canonical_json,
    item_from_wire,
    item_to_wire,
    label_from_wire,
    label_to_wire,
    parse_json,
    record_from_wire,
    record_to_wire,
)
from tests.wire.wire_strategies import items, labels, wire_records

LABEL = Label(Level.RESTRICTED, "IND", frozenset({"USA", "JPN"}), frozenset({"white-shipping"}))


def a_record(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "observed_at": datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
        "mmsi": 419000123,
        "lat": 13.05,
        "lon": 80.3,
        "speed_kn": 12.5,
        "name": "SAGAR",
        "originator": "IND",
        "source_kind": "ais-terrestrial",
    }
    base.update(fields)
    return record_to_wire(WireRecord("ab" * 16, "reports", LABEL, base))


def test_a_label_is_written_with_sorted_lists() -> None:
    assert label_to_wire(LABEL) == {
        "level": "RESTRICTED",
        "originator": "IND",
        "releasable_to": ["IND", "JPN", "USA"],
        "categories": ["white-shipping"],
        "orcon": False,
    }


@given(labels())
def test_labels_round_trip(label: Label) -> None:
    assert label_from_wire(label_to_wire(label)) == label


def test_a_record_is_written_without_none_fields_and_with_z_times() -> None:
    wire = a_record(imo=None)
    assert "imo" not in wire["fields"]
    assert wire["fields"]["observed_at"] == "2024-06-01T12:00:00Z"
    assert set(wire) == {"id", "flow", "label", "fields"}


@settings(max_examples=60, deadline=None)
@given(items)
def test_items_round_trip_through_canonical_bytes(item: Any) -> None:
    data = canonical_json(item_to_wire(item))
    assert item_from_wire(parse_json(data, max_bytes=1 << 20)) == item


@settings(max_examples=50, deadline=None)
@given(wire_records())
def test_whole_floats_written_as_integers_read_back_as_floats(record: WireRecord) -> None:
    back = record_from_wire(parse_json(canonical_json(record_to_wire(record)), max_bytes=1 << 20))
    for name, value in back.fields.items():
        if REPORT_FIELDS[name].kind == "float":
            assert type(value) is float


def _edit(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    wire = copy.deepcopy(a_record())
    target = wire
    for key in path[:-1]:
        target = target[key]
    if value is _DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return wire


_DELETE = object()

BAD_RECORDS = [
    (("id",), "AB" * 16),
    (("id",), "ab" * 15),
    (("id",), 12),
    (("id",), _DELETE),
    (("flow",), "secrets"),
    (("extra",), 1),
    (("label", "level"), "TOP SECRET"),
    (("label", "level"), "restricted"),
    (("label", "originator"), "India"),
    (("label", "releasable_to"), ["USA", "IND"]),
    (("label", "releasable_to"), ["IND", "IND", "USA"]),
    (("label", "releasable_to"), ["USA"]),
    (("label", "releasable_to"), "IND"),
    (("label", "categories"), ["White Shipping"]),
    (("label", "categories"), ["a/b"]),
    (("label", "orcon"), 0),
    (("label", "extra"), True),
    (("fields", "lat"), 90.5),
    (("fields", "lat"), -91),
    (("fields", "lon"), 180.01),
    (("fields", "lat"), "13.0"),
    (("fields", "lat"), True),
    (("fields", "mmsi"), 2**30),
    (("fields", "mmsi"), -1),
    (("fields", "mmsi"), 419000123.5),
    (("fields", "mmsi"), 1e300),
    (("fields", "course_deg"), 360),
    (("fields", "heading_deg"), -0.1),
    (("fields", "speed_kn"), 1e9),
    (("fields", "nav_status"), 16),
    (("fields", "msg_type"), 0),
    (("fields", "name"), "X" * 65),
    (("fields", "name"), "line\nbreak"),
    (("fields", "name"), None),
    (("fields", "destination"), ["a"]),
    (("fields", "observed_at"), "2024-06-01T12:00:00+00:00"),
    (("fields", "source_kind"), "telepathy"),
    (("fields", "originator"), _DELETE),
    (("fields", "source_kind"), _DELETE),
    (("fields", "raw"), "!AIVDM,..."),
    (("fields",), []),
    (("label",), None),
]


@pytest.mark.parametrize(("path", "value"), BAD_RECORDS)
def test_records_off_the_format_are_malformed(path: tuple[str, ...], value: Any) -> None:
    with pytest.raises(WireError) as info:
        record_from_wire(_edit(path, value))
    assert info.value.reason == "malformed"


def test_the_example_record_itself_is_accepted() -> None:
    # So the refusals above are about the edit, not the base record.
    assert record_from_wire(a_record()).fields["name"] == "SAGAR"


def test_building_a_record_checks_it_like_reading_one() -> None:
    with pytest.raises(WireError, match="lat"):
        WireRecord(
            "ab" * 16, "reports", LABEL, {"lat": 95.0, "originator": "IND", "source_kind": "radar"}
        )


@pytest.mark.parametrize(
    "obj",
    [
        {"kind": "withdraw", "id": "ab" * 16, "reason": ""},
        {"kind": "withdraw", "id": "ab" * 16, "reason": "   "},
        {"kind": "withdraw", "id": "ab" * 16, "reason": "x" * 501},
        {"kind": "withdraw", "id": "ab" * 16},
        {"kind": "withdraw", "id": "ab" * 16, "reason": "dup", "record": {}},
        {"kind": "correct", "record": {}, "reason": "fix"},
        {"kind": "delete", "id": "ab" * 16, "reason": "x"},
        {"id": "ab" * 16},
        [],
    ],
)
def test_bad_amendments_are_malformed(obj: Any) -> None:
    with pytest.raises(WireError):
        item_from_wire(obj)


def test_amendments_are_written_as_documented() -> None:
    record = record_from_wire(a_record())
    assert item_to_wire(WithdrawItem("ab" * 16, "wrong vessel")) == {
        "kind": "withdraw",
        "id": "ab" * 16,
        "reason": "wrong vessel",
    }
    assert item_to_wire(CorrectItem(record, "position fix"))["kind"] == "correct"
    assert item_to_wire(RecordItem(record)) == {"kind": "record", "record": a_record()}


@settings(max_examples=120, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
        max_leaves=10,
    )
)
def test_any_json_value_is_an_item_or_wire_error(obj: Any) -> None:
    with contextlib.suppress(WireError):
        item_from_wire(obj)


@settings(max_examples=30, deadline=None)
@given(wire_records())
def test_records_and_batches_are_hashable(record: WireRecord) -> None:
    again = record_from_wire(record_to_wire(record))
    assert hash(again) == hash(record)
    assert len({record, again, RecordItem(record)}) == 2
