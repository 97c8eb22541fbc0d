"""The record codec: labels, report and alert records and amendments as wire dicts, read strictly.

A wire record is ``{"id": 32 hex, "flow": "reports" | "alerts", "label": {...}, "fields":
{...}}``. A report's ``fields`` hold the report columns that are not None
(:data:`REPORT_FIELDS`), an alert's the alert's state (:data:`ALERT_FIELDS`), each with its
JSON type and allowed range; a field that is unknown, of the wrong type, out of range or
too long makes the whole record ``malformed``. Items of a batch are a new record, a
correction of one sent before, or a withdrawal of one sent before.

An alert's ``evidence`` is a JSON object on the wire (at most :data:`MAX_EVIDENCE_CHARS`
characters as canonical JSON, :data:`MAX_EVIDENCE_DEPTH` levels deep, no control
characters in its strings) and, in a ``WireRecord``, its canonical JSON text (so records
stay hashable and compare by content); ``mmsis`` and ``tracks`` are tuples.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from mista.errors import LabelError
from mista.labels import NATION_CODE, Label, Level
from mista.model import AlertStatus, SourceKind
from mista.wire.canonical import (
    MAX_SAFE_INT,
    WireError,
    _nesting_depth,
    canonical_json,
    parse_json,
    time_from_wire,
    time_to_wire,
)

__all__ = [
    "ALERT_FIELDS",
    "FLOWS",
    "MAX_EVIDENCE_CHARS",
    "MAX_EVIDENCE_DEPTH",
    "MAX_REASON_CHARS",
    "REPORT_FIELDS",
    "CorrectItem",
    "FieldSpec",
    "Item",
    "RecordItem",
    "WireRecord",
    "WithdrawItem",
    "item_from_wire",
    "item_to_wire",
    "label_from_wire",
    "label_to_wire",
    "record_from_wire",
    "record_to_wire",
]

#: Flows a batch may carry today; anything else is refused (default deny).
FLOWS: Final = ("reports", "alerts")
#: Longest reason text of a correction or withdrawal.
MAX_REASON_CHARS: Final = 500
MAX_CATEGORIES: Final = 32

# \Z, not $: "$" also matches before a final newline.
_ID = re.compile(r"^[0-9a-f]{32}\Z")
# The same rule as mista.labels: lowercase words, no ',' or '/'.
_CATEGORY = re.compile(r"^[a-z0-9][a-z0-9:._-]{0,63}\Z")
# Text fields: printable, no control characters (they have no business in a ship's name).
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One report column on the wire: its JSON kind and allowed range (inclusive, unless
    ``below`` is set for a half-open upper bound) or length."""

    kind: Literal[
        "int",
        "float",
        "text",
        "time",
        "nation",
        "source-kind",
        "alert-kind",
        "alert-status",
        "mmsi-list",
        "text-list",
        "evidence",
    ]
    low: float | None = None
    high: float | None = None
    below: bool = False
    max_chars: int = 0


#: Report columns (mista.ingest.batch.MESSAGE_SCHEMA) with their ranges. Ranges follow
#: ITU-R M.1371-5 for AIS fields (MMSI and IMO are 30 bits, dimensions 9 bits, status 4
#: bits), widened where other sensors may report more (speed), and bounded where the
#: physical world is (latitude, longitude, angles).
REPORT_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "observed_at": FieldSpec("time"),
    "msg_type": FieldSpec("int", 1, 27),
    "mmsi": FieldSpec("int", 0, 2**30 - 1),
    "lat": FieldSpec("float", -90, 90),
    "lon": FieldSpec("float", -180, 180),
    "speed_kn": FieldSpec("float", 0, 200),
    "course_deg": FieldSpec("float", 0, 360, below=True),
    "heading_deg": FieldSpec("float", 0, 360, below=True),
    "nav_status": FieldSpec("int", 0, 15),
    "imo": FieldSpec("int", 0, 2**30 - 1),
    "name": FieldSpec("text", max_chars=64),
    "callsign": FieldSpec("text", max_chars=32),
    "ship_type": FieldSpec("int", 0, 255),
    "destination": FieldSpec("text", max_chars=64),
    "draught_m": FieldSpec("float", 0, 100),
    "to_bow_m": FieldSpec("int", 0, 1023),
    "to_stern_m": FieldSpec("int", 0, 1023),
    "to_port_m": FieldSpec("int", 0, 1023),
    "to_starboard_m": FieldSpec("int", 0, 1023),
    "source_kind": FieldSpec("source-kind"),
    "originator": FieldSpec("nation"),
    "receiver": FieldSpec("text", max_chars=128),
}
#: Columns every report record carries.
REQUIRED_FIELDS: Final = ("originator", "source_kind")
_SOURCE_KINDS = frozenset(kind.value for kind in SourceKind)

#: Longest ``evidence`` of an alert record, as canonical JSON text: a batch of 1,000 such
#: alerts stays well under the 16 MiB batch limit.
MAX_EVIDENCE_CHARS: Final = 8192
#: Deepest ``evidence`` (the object itself is 1): a batch nests fields 6 deep, so an alert
#: record stays within the wire's 16 levels.
MAX_EVIDENCE_DEPTH: Final = 6
#: Most entries of an alert's ``mmsis`` or ``tracks``.
MAX_ALERT_SUBJECTS: Final = 64
#: An alert's state on the wire (mista.model.Alert; ``revision`` counts its changes at the
#: originator). ``mmsis``, ``tracks`` and ``evidence`` may be left out (a clause removed
#: them: docs/sharing.md, "Alerts").
ALERT_FIELDS: Final[Mapping[str, FieldSpec]] = {
    "kind": FieldSpec("alert-kind"),
    "status": FieldSpec("alert-status"),
    "start": FieldSpec("time"),
    "end": FieldSpec("time"),
    "lat": FieldSpec("float", -90, 90),
    "lon": FieldSpec("float", -180, 180),
    "revision": FieldSpec("int", 0, 2**31 - 1),
    "mmsis": FieldSpec("mmsi-list"),
    "tracks": FieldSpec("text-list", max_chars=128),
    "evidence": FieldSpec("evidence"),
}
#: Fields every alert record carries.
REQUIRED_ALERT_FIELDS: Final = ("kind", "status", "start", "end", "lat", "lon", "revision")
_ALERT_STATUSES = frozenset(status.value for status in AlertStatus)
# A behaviour name: lowercase words joined by '-' (encounter, ais-gap, close-approach).
_ALERT_KIND = re.compile(r"^[a-z][a-z0-9-]{0,31}\Z")


def _malformed(message: str) -> WireError:
    return WireError("malformed", message)


def _shown(value: Any) -> str:
    return repr(value)[:60]


def _exact_keys(
    obj: Any, what: str, required: AbstractSet[str], optional: AbstractSet[str] = frozenset()
) -> None:
    if not isinstance(obj, dict):
        raise _malformed(f"{what} must be a JSON object, not {type(obj).__name__}")
    keys = set(obj)
    unknown = keys - required - optional
    if unknown:
        raise _malformed(
            f"{what} has unknown keys {sorted(unknown)[:5]} (allowed: "
            f"{sorted(required | optional)})"
        )
    missing = required - keys
    if missing:
        raise _malformed(f"{what} lacks {sorted(missing)}")


def _string(value: Any, what: str, max_chars: int) -> str:
    if not isinstance(value, str):
        raise _malformed(f"{what} must be a string, not {_shown(value)}")
    if len(value) > max_chars:
        raise _malformed(f"{what} is {len(value)} characters long, over {max_chars}")
    if _CONTROL.search(value):
        raise _malformed(f"{what} {_shown(value)} contains control characters")
    return value


def _nation(value: Any, what: str) -> str:
    if not isinstance(value, str) or not NATION_CODE.fullmatch(value):
        raise _malformed(f"{what} {_shown(value)} is not a nation code (three capitals, e.g. IND)")
    return value


def _record_id(value: Any, what: str = "record id") -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise _malformed(f"{what} {_shown(value)} is not 32 lower-case hex digits")
    return value


def _sorted_unique(values: Any, what: str, check: Any, max_items: int) -> list[str]:
    if not isinstance(values, list):
        raise _malformed(f"{what} must be a list, not {_shown(values)}")
    if len(values) > max_items:
        raise _malformed(f"{what} has {len(values)} entries, over {max_items}")
    items = [check(value, f"an entry of {what}") for value in values]
    if items != sorted(set(items)):
        raise _malformed(f"{what} must be sorted and without repeats")
    return items


def _category(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _CATEGORY.match(value):
        raise _malformed(f"{what} {_shown(value)} is not a category name like white-shipping")
    return value


# ---------------------------------------------------------------------------------- labels


def label_to_wire(label: Label) -> dict[str, Any]:
    """A label as a wire dict; lists sorted so equal labels have equal bytes."""
    return {
        "level": label.level.name,
        "originator": label.originator,
        "releasable_to": sorted(label.releasable_to),
        "categories": sorted(label.categories),
        "orcon": label.orcon,
    }


def label_from_wire(obj: Any) -> Label:
    """Read a label written by :func:`label_to_wire`; anything else is ``malformed``."""
    _exact_keys(obj, "label", {"level", "originator", "releasable_to", "categories", "orcon"})
    level_name = obj["level"]
    if not isinstance(level_name, str) or level_name not in Level.__members__:
        known = ", ".join(Level.__members__)
        raise _malformed(f"label level {_shown(level_name)} is not one of {known}")
    originator = _nation(obj["originator"], "label originator")
    releasable = _sorted_unique(obj["releasable_to"], "label releasable_to", _nation, 300)
    if originator not in releasable:
        raise _malformed(f"label releasable_to {releasable} lacks its originator {originator}")
    categories = _sorted_unique(obj["categories"], "label categories", _category, MAX_CATEGORIES)
    if not isinstance(obj["orcon"], bool):
        raise _malformed(f"label orcon must be true or false, not {_shown(obj['orcon'])}")
    try:
        return Label(
            level=Level[level_name],
            originator=originator,
            releasable_to=frozenset(releasable),
            categories=frozenset(categories),
            orcon=obj["orcon"],
        )
    except LabelError as exc:
        raise _malformed(f"label is not valid: {exc}") from None


# --------------------------------------------------------------------------------- fields


def _field_from_wire(name: str, spec: FieldSpec, value: Any) -> Any:
    what = f"field {name}"
    if spec.kind in _ALERT_KINDS:
        return _ALERT_KINDS[spec.kind](value, what, spec)
    if spec.kind == "time":
        return time_from_wire(value, what)
    if spec.kind == "nation":
        return _nation(value, what)
    if spec.kind == "source-kind":
        if not isinstance(value, str) or value not in _SOURCE_KINDS:
            raise _malformed(f"{what} {_shown(value)} is not one of {sorted(_SOURCE_KINDS)}")
        return value
    if spec.kind == "text":
        return _string(value, what, spec.max_chars)
    if spec.kind == "int":
        # bool is an int in Python but not a number on the wire.
        if not isinstance(value, int) or isinstance(value, bool):
            raise _malformed(f"{what} must be an integer, not {_shown(value)}")
        number: float = value
    else:
        # RFC 8785 writes 12.0 as 12, so whole floats arrive as integers.
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise _malformed(f"{what} must be a number, not {_shown(value)}")
        if isinstance(value, int) and abs(value) > MAX_SAFE_INT:
            raise _malformed(f"{what} {_shown(value)} is out of range")
        number = float(value)
        if not math.isfinite(number):
            raise _malformed(f"{what} must be finite, not {_shown(value)}")
    assert spec.low is not None
    assert spec.high is not None
    in_range = spec.low <= number and (number < spec.high if spec.below else number <= spec.high)
    if not in_range:
        upper = ")" if spec.below else "]"
        raise _malformed(f"{what} {_shown(value)} is outside [{spec.low:g}, {spec.high:g}{upper}")
    return value if spec.kind == "int" else number


def _fields_from_wire(obj: Any) -> dict[str, Any]:
    _exact_keys(obj, "record fields", set(REQUIRED_FIELDS), set(REPORT_FIELDS))
    return {name: _field_from_wire(name, REPORT_FIELDS[name], obj[name]) for name in sorted(obj)}


# --------------------------------------------------------------------------- alert fields


def _alert_kind(value: Any, what: str, spec: FieldSpec) -> str:
    if not isinstance(value, str) or not _ALERT_KIND.match(value):
        raise _malformed(f"{what} {_shown(value)} is not a behaviour name like ais-gap")
    return value


def _alert_status(value: Any, what: str, spec: FieldSpec) -> str:
    if not isinstance(value, str) or value not in _ALERT_STATUSES:
        raise _malformed(f"{what} {_shown(value)} is not one of {sorted(_ALERT_STATUSES)}")
    return value


def _subjects(value: Any, what: str) -> list[Any]:
    if not isinstance(value, list):
        raise _malformed(f"{what} must be a list, not {_shown(value)}")
    if len(value) > MAX_ALERT_SUBJECTS:
        raise _malformed(f"{what} has {len(value)} entries, over {MAX_ALERT_SUBJECTS}")
    return value


def _mmsi_list(value: Any, what: str, spec: FieldSpec) -> tuple[int, ...]:
    for mmsi in _subjects(value, what):
        if not isinstance(mmsi, int) or isinstance(mmsi, bool) or not 0 <= mmsi <= 2**30 - 1:
            raise _malformed(f"an entry of {what} {_shown(mmsi)} is not an MMSI (30 bits)")
    return tuple(value)


def _text_list(value: Any, what: str, spec: FieldSpec) -> tuple[str, ...]:
    return tuple(
        _string(entry, f"an entry of {what}", spec.max_chars) for entry in _subjects(value, what)
    )


def _evidence_values(value: Any, what: str) -> None:
    """Refuse control characters in the keys and strings of parsed JSON ``value``, and
    numbers beyond +-(2**53 - 1) (a reader may take a whole one as an integer it cannot
    write again)."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if _CONTROL.search(item):
                raise _malformed(f"{what} holds a string with control characters")
        elif isinstance(item, int | float) and not isinstance(item, bool):
            if not abs(item) <= MAX_SAFE_INT:
                raise _malformed(f"{what} holds the number {_shown(item)}, out of range")
        elif isinstance(item, dict):
            for key, child in item.items():
                if _CONTROL.search(key):
                    raise _malformed(f"{what} holds a key with control characters")
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)


def _evidence(value: Any, what: str, spec: FieldSpec) -> str:
    """Parsed evidence (a JSON object) as its canonical JSON text, checked."""
    if not isinstance(value, dict):
        raise _malformed(f"{what} must be a JSON object, not {_shown(value)}")
    if _nesting_depth(value) > MAX_EVIDENCE_DEPTH:
        raise _malformed(f"{what} is nested deeper than {MAX_EVIDENCE_DEPTH} levels")
    _evidence_values(value, what)
    text = canonical_json(value).decode("utf-8")
    if len(text) > MAX_EVIDENCE_CHARS:
        raise _malformed(f"{what} is {len(text)} characters long, over {MAX_EVIDENCE_CHARS}")
    return text


_ALERT_KINDS: Final[dict[str, Any]] = {
    "alert-kind": _alert_kind,
    "alert-status": _alert_status,
    "mmsi-list": _mmsi_list,
    "text-list": _text_list,
    "evidence": _evidence,
}


def evidence_object(text: str) -> Any:
    """Evidence JSON text (as ``mista.model.Alert`` keeps it) as the object the wire
    carries; ``malformed`` when it is not JSON (the object checks come when it is read)."""
    if len(text) > 8 * MAX_EVIDENCE_CHARS:
        raise _malformed(
            f"field evidence is {len(text)} characters long, over {MAX_EVIDENCE_CHARS}"
        )
    try:
        return parse_json(text.encode("utf-8"), max_bytes=32 * MAX_EVIDENCE_CHARS, what="evidence")
    except (WireError, UnicodeEncodeError) as exc:
        raise _malformed(f"field evidence is not JSON: {exc}") from None


def _alert_fields_from_wire(obj: Any) -> dict[str, Any]:
    _exact_keys(obj, "alert fields", set(REQUIRED_ALERT_FIELDS), set(ALERT_FIELDS))
    fields = {name: _field_from_wire(name, ALERT_FIELDS[name], obj[name]) for name in sorted(obj)}
    if fields["end"] < fields["start"]:
        raise _malformed(f"alert end {obj['end']} is before its start {obj['start']}")
    return fields


def _alert_fields_to_wire(fields: Mapping[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            wire[name] = time_to_wire(value)
        elif isinstance(value, AlertStatus):
            wire[name] = value.value
        elif isinstance(value, tuple):
            wire[name] = list(value)
        elif name == "evidence" and isinstance(value, str):
            wire[name] = evidence_object(value)
        else:
            wire[name] = value
    return wire


def wire_shapes(flow: str, fields: Mapping[str, Any]) -> None:
    """Refuse wire fields whose JSON type ``WireRecord`` would take in its Python form only:
    an alert's ``evidence`` is an object on the wire, never the text a record holds."""
    if flow == "alerts" and "evidence" in fields and not isinstance(fields["evidence"], dict):
        raise _malformed(f"field evidence must be a JSON object, not {_shown(fields['evidence'])}")


def fields_from_wire(flow: str, obj: Any) -> dict[str, Any]:
    """A record's fields (a JSON object) read strictly for ``flow``."""
    if flow == "alerts":
        return _alert_fields_from_wire(obj)
    return _fields_from_wire(obj)


def fields_to_wire(flow: str, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A record's Python field values as wire values (None fields left out)."""
    if flow == "alerts":
        return _alert_fields_to_wire(fields)
    return _fields_to_wire(fields)


def _fields_to_wire(fields: Mapping[str, Any]) -> dict[str, Any]:
    wire: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None:
            continue
        if isinstance(value, datetime):
            wire[name] = time_to_wire(value)
        elif isinstance(value, SourceKind):
            wire[name] = value.value
        else:
            wire[name] = value
    return wire


# -------------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class WireRecord:
    """One record as it travels: its id, flow, label and the non-None fields of the flow.

    ``fields`` values are Python values (times UTC datetimes, floats as float; an alert's
    ``mmsis`` and ``tracks`` tuples and its ``evidence`` canonical JSON text).
    Building one checks the fields exactly as reading them from the wire does, so a node
    cannot send what its partner would refuse.
    """

    id: str
    flow: str
    label: Label
    fields: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _record_id(self.id)
        if self.flow not in FLOWS:
            raise _malformed(f"flow {_shown(self.flow)} is not one of {list(FLOWS)}")
        if not isinstance(self.label, Label):
            raise _malformed(f"record label must be a Label, not {_shown(self.label)}")
        if not isinstance(self.fields, Mapping):
            raise _malformed(f"record fields must be a mapping, not {_shown(self.fields)}")
        object.__setattr__(
            self, "fields", fields_from_wire(self.flow, fields_to_wire(self.flow, self.fields))
        )

    def __hash__(self) -> int:
        # Field values are scalars, so a record can go in a set or be a dict key.
        return hash((self.id, self.flow, self.label, tuple(sorted(self.fields.items()))))


def trusted_record(record_id: str, flow: str, label: Label, fields: dict[str, Any]) -> WireRecord:
    """A record built without checking it: only for ``mista.wire.reader``, which has made
    exactly the checks ``WireRecord`` makes (fields as ``_fields_from_wire`` returns them)."""
    record = object.__new__(WireRecord)
    object.__setattr__(record, "id", record_id)
    object.__setattr__(record, "flow", flow)
    object.__setattr__(record, "label", label)
    object.__setattr__(record, "fields", fields)
    return record


def record_to_wire(record: WireRecord) -> dict[str, Any]:
    """A record as a wire dict (None fields left out, times as ISO 8601 UTC with Z)."""
    return {
        "id": record.id,
        "flow": record.flow,
        "label": label_to_wire(record.label),
        "fields": fields_to_wire(record.flow, record.fields),
    }


def record_from_wire(obj: Any) -> WireRecord:
    """Read a record written by :func:`record_to_wire`, strictly (``WireError`` if not)."""
    _exact_keys(obj, "record", {"id", "flow", "label", "fields"})
    record_id = _record_id(obj["id"])
    if obj["flow"] not in FLOWS:
        raise _malformed(f"record flow {_shown(obj['flow'])} is not one of {list(FLOWS)}")
    label = label_from_wire(obj["label"])
    fields = obj["fields"]
    if not isinstance(fields, dict):
        raise _malformed(f"record fields must be a JSON object, not {type(fields).__name__}")
    for name, value in fields.items():
        if value is None:
            raise _malformed(f"field {name} is null: leave it out instead")
    wire_shapes(obj["flow"], fields)
    # Building the record checks the fields (once).
    return WireRecord(record_id, obj["flow"], label, fields)


# ---------------------------------------------------------------------------------- items


def _reason(value: Any) -> str:
    text = _string(value, "amendment reason", MAX_REASON_CHARS)
    if not text.strip():
        raise _malformed("amendment reason is empty: say why the record is amended")
    return text


@dataclass(frozen=True, slots=True)
class RecordItem:
    """A new record."""

    record: WireRecord


@dataclass(frozen=True, slots=True)
class CorrectItem:
    """A record sent before, replaced by ``record`` (same id), and why."""

    record: WireRecord
    reason: str

    def __post_init__(self) -> None:
        _reason(self.reason)


@dataclass(frozen=True, slots=True)
class WithdrawItem:
    """A record sent before that the receiver must no longer hold, and why."""

    id: str
    reason: str

    def __post_init__(self) -> None:
        _record_id(self.id, "withdrawn record id")
        _reason(self.reason)


Item = RecordItem | CorrectItem | WithdrawItem


def item_to_wire(item: Item) -> dict[str, Any]:
    """An item as a wire dict: ``{"kind": "record" | "correct" | "withdraw", ...}``."""
    if isinstance(item, RecordItem):
        return {"kind": "record", "record": record_to_wire(item.record)}
    if isinstance(item, CorrectItem):
        return {"kind": "correct", "record": record_to_wire(item.record), "reason": item.reason}
    return {"kind": "withdraw", "id": item.id, "reason": item.reason}


def item_from_wire(obj: Any) -> Item:
    """Read one batch item strictly."""
    if not isinstance(obj, dict):
        raise _malformed(f"batch item must be a JSON object, not {type(obj).__name__}")
    kind = obj.get("kind")
    if kind == "record":
        _exact_keys(obj, "record item", {"kind", "record"})
        return RecordItem(record_from_wire(obj["record"]))
    if kind == "correct":
        _exact_keys(obj, "correct item", {"kind", "record", "reason"})
        return CorrectItem(record_from_wire(obj["record"]), _reason(obj["reason"]))
    if kind == "withdraw":
        _exact_keys(obj, "withdraw item", {"kind", "id", "reason"})
        return WithdrawItem(_record_id(obj["id"], "withdrawn record id"), _reason(obj["reason"]))
    raise _malformed(f"batch item kind {_shown(kind)} is not record, correct or withdraw")
