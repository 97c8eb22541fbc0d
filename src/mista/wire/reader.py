"""The record codec's fast reader: the same checks as ``item_from_wire``, a fraction of the work.

``item_from_wire`` (mista.wire.records) is the reference: plain code that says what the
wire format allows. Reading a batch of 2,000 records with it costs more than everything
else a node does with them, because it reads each label again (labels repeat: a batch
holds a handful of distinct ones), checks each field through a general dispatcher and
builds each record's fields twice. ``ItemReader`` checks the same things with one
precomputed check per field name, reads each distinct label and time once (then keeps
it), and builds each record once.

When a fast check fails, the reference reads the same object, so the error (reason and
message) is the reference's; should the reference accept what the fast check refused,
the reference's answer is used. tests/wire/test_reader.py holds the two equal on
generated records and on hostile edits of them.

The reader also gives each item's canonical JSON text (RFC 8785, what ``seal_texts``
joins into a batch): the parsed object written by the standard encoder when every number
in it is one the standard encoder spells as RFC 8785 does, else the reference encoder's.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Final

from mista.labels import NATION_CODE, Label
from mista.wire.canonical import _encode_plain, canonical_json, time_from_wire
from mista.wire.records import (
    _CONTROL,
    _SOURCE_KINDS,
    REPORT_FIELDS,
    CorrectItem,
    Item,
    RecordItem,
    WireRecord,
    WithdrawItem,
    _reason,
    _record_id,
    item_from_wire,
    item_to_wire,
    label_from_wire,
    record_from_wire,
    trusted_record,
    wire_shapes,
)

__all__ = ["ItemReader"]

_ID = re.compile(r"[0-9a-f]{32}")
_REPORTS: Final = "reports"
#: Cached labels and times are forgotten past this many (a hostile batch could name many).
_MAX_CACHED: Final = 4096
#: Floats the standard encoder spells as RFC 8785 does: non-integral, 1e-4 <= |x| < 1e16.
_PLAIN_LOW, _PLAIN_HIGH = 1e-4, 1e16

_INT, _FLOAT, _TEXT, _TIME, _NATION_KIND, _SOURCE_KIND = range(6)
_KIND_CODES = {
    "int": _INT,
    "float": _FLOAT,
    "text": _TEXT,
    "time": _TIME,
    "nation": _NATION_KIND,
    "source-kind": _SOURCE_KIND,
}
#: Per field name: (kind code, low, high, high excluded, most characters).
_SPECS: Final = {
    name: (
        _KIND_CODES[spec.kind],
        spec.low if spec.low is not None else 0.0,
        spec.high if spec.high is not None else 0.0,
        spec.below,
        spec.max_chars,
    )
    for name, spec in REPORT_FIELDS.items()
}


class _RefusedError(Exception):
    """A fast check failed: the reference reads the object and says why."""


class ItemReader:
    """Reads batch items (parsed JSON) strictly, remembering the labels and times it saw.

    One reader serves one batch or one run of outbox reads; its caches are bounded.
    ``nulls`` says what a null field is: refused (``False``, the wire format: a partner's
    batch) or left out (``True``: the outbox's own texts, as ``WireRecord`` does).
    """

    def __init__(self, *, nulls: bool = False) -> None:
        self._nulls = nulls
        self._labels: dict[tuple[object, ...], Label] = {}
        self._times: dict[str, datetime] = {}

    # -- labels and times ----------------------------------------------------------------

    def label(self, obj: Any) -> Label:
        """``label_from_wire(obj)``, read once per distinct label."""
        try:
            if type(obj) is not dict or len(obj) != 5:
                raise _RefusedError
            releasable, categories, orcon = obj["releasable_to"], obj["categories"], obj["orcon"]
            if type(releasable) is not list or type(categories) is not list:
                raise _RefusedError
            if type(orcon) is not bool:
                raise _RefusedError
            key = (obj["level"], obj["originator"], tuple(releasable), tuple(categories), orcon)
            label = self._labels.get(key)
        except (_RefusedError, KeyError, TypeError):  # TypeError: an unhashable entry
            return label_from_wire(obj)
        if label is None:
            label = label_from_wire(obj)
            if len(self._labels) >= _MAX_CACHED:
                self._labels.clear()
            self._labels[key] = label
        return label

    def _time(self, text: str, name: str) -> datetime:
        moment = self._times.get(text)
        if moment is None:
            moment = time_from_wire(text, f"field {name}")
            if len(self._times) >= _MAX_CACHED:
                self._times.clear()
            self._times[text] = moment
        return moment

    # -- fields --------------------------------------------------------------------------

    def _fields(self, obj: Any) -> tuple[dict[str, Any], bool, list[str]]:
        """The checked fields, whether the standard encoder spells them canonically once
        the whole floats (named last) are written as integers; ``_RefusedError`` when a
        check fails."""
        if type(obj) is not dict:
            raise _RefusedError
        fields: dict[str, Any] = {}
        plain = True
        whole: list[str] = []
        specs = _SPECS
        for name, value in obj.items():
            spec = specs.get(name)
            if spec is None:
                raise _RefusedError
            if value is None:
                if not self._nulls:
                    raise _RefusedError
                plain = False  # the canonical text leaves the field out
                continue
            kind, low, high, below, max_chars = spec
            kind_of = type(value)
            if kind == _FLOAT:
                if kind_of is float:
                    number = value
                    if number.is_integer():
                        whole.append(name)  # ranges are far below 2**53: exact as an int
                    elif not _PLAIN_LOW <= abs(number) < _PLAIN_HIGH:
                        plain = False
                elif kind_of is int:
                    number = float(value)
                else:
                    raise _RefusedError
                if not (low <= number <= high) or (below and number >= high):
                    raise _RefusedError  # NaN fails here too
                fields[name] = number
            elif kind == _INT:
                if kind_of is not int or not low <= value <= high:
                    raise _RefusedError
                fields[name] = value
            elif kind_of is not str:
                raise _RefusedError
            elif kind == _TIME:
                fields[name] = self._time(value, name)
            elif kind == _TEXT:
                if len(value) > max_chars or _CONTROL.search(value):
                    raise _RefusedError
                fields[name] = value
            elif kind == _NATION_KIND:
                if not NATION_CODE.fullmatch(value):
                    raise _RefusedError
                fields[name] = value
            else:  # _SOURCE_KIND
                if value not in _SOURCE_KINDS:
                    raise _RefusedError
                fields[name] = value
        if "originator" not in fields or "source_kind" not in fields:
            raise _RefusedError
        return fields, plain, whole

    # -- records and items ---------------------------------------------------------------

    def _record(self, obj: Any) -> tuple[WireRecord, Any]:
        """A record (same checks as ``record_from_wire``, or ``WireRecord`` with
        ``nulls``) and an object the standard encoder writes as its canonical JSON (or
        None when there is none: the reference encoder writes it)."""
        try:
            if type(obj) is not dict or len(obj) != 4:
                raise _RefusedError
            record_id, flow = obj["id"], obj["flow"]
            if type(record_id) is not str or not _ID.fullmatch(record_id):
                raise _RefusedError
            # Alerts (few, with nested fields) are read by the reference.
            if flow != _REPORTS:
                raise _RefusedError
            label = self.label(obj["label"])
            fields, plain, whole = self._fields(obj["fields"])
        except (_RefusedError, KeyError):
            return self._reference_record(obj), None
        record = trusted_record(record_id, flow, label, fields)
        if not plain:
            return record, None
        if whole:
            wire_fields = dict(obj["fields"])
            for name in whole:
                wire_fields[name] = int(wire_fields[name])
            obj = {**obj, "fields": wire_fields}
        return record, obj

    def _reference_record(self, obj: Any) -> WireRecord:
        if not self._nulls:
            return record_from_wire(obj)
        # The outbox's reading: WireRecord leaves null fields out.
        if type(obj) is not dict or set(obj) != {"id", "flow", "label", "fields"}:
            return record_from_wire(obj)  # says what is wrong with the shape
        if type(obj["fields"]) is dict:
            wire_shapes(obj["flow"], obj["fields"])
        return WireRecord(obj["id"], obj["flow"], label_from_wire(obj["label"]), obj["fields"])

    def record(self, obj: Any) -> WireRecord:
        """``record_from_wire(obj)`` (with ``nulls``: nulls left out)."""
        return self._record(obj)[0]

    def item(self, obj: Any) -> Item:
        """``item_from_wire(obj)``."""
        return self.item_and_text(obj, text=False)[0]

    def item_and_text(self, obj: Any, *, text: bool = True) -> tuple[Item, str]:
        """The item ``obj`` is, and (with ``text``) its canonical JSON text, equal to
        ``canonical_json(item_to_wire(item))``."""
        kind = obj.get("kind") if type(obj) is dict else None
        item: Item
        wire: Any
        if kind == "record" and len(obj) == 2 and "record" in obj:
            record, wire = self._record(obj["record"])
            item = RecordItem(record)
            wire = None if wire is None else {"kind": kind, "record": wire}
        elif kind == "correct" and len(obj) == 3 and "record" in obj and "reason" in obj:
            record, wire = self._record(obj["record"])
            item = CorrectItem(record, _reason(obj["reason"]))
            wire = None if wire is None else {**obj, "record": wire}
        elif kind == "withdraw" and len(obj) == 3 and "id" in obj and "reason" in obj:
            record_id = _record_id(obj["id"], "withdrawn record id")
            item = WithdrawItem(record_id, _reason(obj["reason"]))
            wire = obj
        else:
            item = item_from_wire(obj)
            return item, _reference_text(item, text)
        if not text:
            return item, ""
        if wire is not None:
            return item, _encode_plain(wire)
        return item, _reference_text(item, text)


def _reference_text(item: Item, text: bool) -> str:
    return canonical_json(item_to_wire(item)).decode("utf-8") if text else ""
