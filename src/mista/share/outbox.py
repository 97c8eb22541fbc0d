"""From stored reports to outbox items: decide, sanitise and write each release as a wire item.

``release_items`` is the pure middle of a release scan (``Exchange.scan`` reads the reports
and commits the items with the cursor move). For each report it asks the partner's
``Releaser``; a release or a hold becomes an outbox item holding the sanitised record as
canonical JSON, due now (release) or at the hold's ``not_before``; a denial is counted by
the rule that failed.

What a released record carries: its id, flow, label (unchanged) and the report fields that
are not null, ``receiver`` (the first receiver that heard it) included, then sanitised by
the clause (``remove`` may drop ``receiver`` or any other removable field, ``precision``
rounds lat/lon). The raw input line, the content key and the local source (file or feed)
name never leave the node: they say how this node's sensors work, not what was seen.

Items are written without checking every field against the wire format (that check is
the costly part); the send path reads each item back with ``ItemReader``, which checks it
fully, and drops (never sends) an item the format refuses, with the reason.

When sanitising moves the position (``precision``), the clause that released the record
must cover the sanitised position too: the record goes sanitised by that clause (not by
another that happens to cover the new position), and the sanitised record is what the
partner checks when it receives it. A record whose rounded position falls outside that
clause's area is denied here rather than refused by the partner (which would stall the
outbox).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mista.labels import Label
from mista.share.agreements import Flow
from mista.share.release import Candidate, Decision, Outcome, Releaser, sanitise_record
from mista.store.embedded_exchange import OutboxItem
from mista.wire.canonical import WireError
from mista.wire.reader import ItemReader as WireItemReader
from mista.wire.records import (
    Item,
    WireRecord,
    item_to_wire,
    label_to_wire,
    record_to_wire,
)

__all__ = [
    "ItemReader",
    "ScanResult",
    "denial_rule",
    "record_item_text",
    "record_json",
    "record_text",
    "release_items",
    "wire_item_text",
    "wire_item_text_list",
]

_ZERO = timedelta(0)
_WHOLE_FLOAT_HIGH = 2.0**53
#: Report columns a scan reads that are not fields of the released record.
_NOT_FIELDS = frozenset({"id", "label_no", "seq"})

#: The flow of stored reports.
REPORTS = Flow.REPORTS
#: Denials of records whose sanitised position leaves the area of the clause that
#: released them (the partner checks the sanitised record).
_SANITISED_OUT = "sanitised rule 5"


@dataclass(frozen=True, slots=True)
class ScanResult:
    """What one release scan for one partner did."""

    partner: str
    #: Reports (or alert changes) decided (the cursor moved past them).
    scanned: int
    #: Queued to send now, and queued to send later (held by a clause's delay).
    released: int
    held: int
    #: Denials by the rule that failed (``rule 2``, ``rule 5``, ``sanitised rule 5`` ...).
    denied: Mapping[str, int] = field(default_factory=dict)
    #: The report seq the partner's cursor now stands at (for alerts: the alert_seq).
    cursor: int = 0
    #: Withdrawals queued (alerts withdrawn after an earlier revision was queued).
    withdrawn: int = 0
    #: The alert changes decided in the same scan (``Exchange.scan``), if any were asked for.
    alerts: ScanResult | None = None

    @property
    def denied_total(self) -> int:
        return sum(self.denied.values())


def denial_rule(decision: Decision) -> str:
    """The short name of the rule a denial names (``rule 2``), for counting."""
    return decision.reason.split(":", 1)[0]


def wire_item_text(item: Item) -> str:
    """An item as the JSON text the outbox keeps: the wire dict with sorted keys, compact.

    Not RFC 8785 (the sealed batch is; writing it is the costly part of sending), but
    deterministic and read back to the same values, which is all the outbox needs.
    """
    return _dumps(item_to_wire(item))


def wire_item_text_list(items: Sequence[Item]) -> str:
    """Items as one JSON text (for comparing the contents of two batches)."""
    return _dumps([item_to_wire(item) for item in items])


def record_text(record: WireRecord) -> str:
    """A record as compact sorted JSON: what a received record is kept as (its raw input)."""
    return _dumps(record_to_wire(record))


_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
#: Compact sorted JSON of a wire dict (what ``record_text`` writes, from the wire dict).
record_json = _ENCODER.encode


def _dumps(obj: object) -> str:
    return _ENCODER.encode(obj)


class ItemReader:
    """Outbox texts back to batch items, checked as the wire format checks them
    (``mista.wire.ItemReader``: each distinct label and time read once), with each item's
    canonical JSON text for ``seal_texts``."""

    def __init__(self) -> None:
        self._reader = WireItemReader(nulls=True)

    def item(self, text: str) -> Item:
        """The item an outbox text holds (``WireError`` if it is not one)."""
        return self._reader.item(_loads(text))

    def item_and_text(self, text: str) -> tuple[Item, str]:
        """The item an outbox text holds and its canonical JSON (RFC 8785) text."""
        return self._reader.item_and_text(_loads(text))


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise WireError("malformed", f"outbox item is not JSON: {exc}") from None


def _wire_time(moment: datetime) -> str:
    """``mista.wire.time_to_wire``, a few times faster (``isoformat`` over ``strftime``)."""
    if moment.utcoffset() != _ZERO:
        moment = moment.astimezone(UTC)
    return moment.replace(tzinfo=None).isoformat() + "Z"


def record_item_text(record_id: str, label: Mapping[str, Any], fields: Mapping[str, object]) -> str:
    """The outbox text of a new record (what ``wire_item_text`` writes for its
    ``RecordItem``), built without checking the fields: ``ItemReader`` checks them when
    the item is sent, and an item the wire format refuses is dropped there, not sent."""
    wire_fields = {
        name: _wire_time(value) if isinstance(value, datetime) else value
        for name, value in fields.items()
    }
    record = {"id": record_id, "flow": REPORTS.value, "label": label, "fields": wire_fields}
    return _dumps({"kind": "record", "record": record})


def _coordinate(fields: Mapping[str, object], name: str) -> float | None:
    value = fields.get(name)
    return float(value) if isinstance(value, float | int) else None


def release_items(
    rows: Iterable[Mapping[str, Any]],
    labels: Callable[[int], Label | None],
    releaser: Releaser,
    *,
    now: datetime,
) -> tuple[list[OutboxItem], int, int, Counter[str]]:
    """Outbox items for report ``rows`` (dicts with ``id``, ``label_no`` and the report
    fields; a field left out is null), and the counts: released, held, denied by rule."""
    items: list[OutboxItem] = []
    released = held = 0
    denied: Counter[str] = Counter()
    decide = releaser.decide
    wire_labels: dict[int, dict[str, Any]] = {}
    wire_times: dict[datetime, str] = {}
    record_flow = REPORTS.value

    for row in rows:
        label = labels(row["label_no"])
        if label is None:
            denied["no label"] += 1
            continue
        lat, lon, observed_at = row.get("lat"), row.get("lon"), row.get("observed_at")
        decision = decide(Candidate(REPORTS, label, observed_at, lat, lon), now)
        if decision.outcome is Outcome.DENY:
            denied[denial_rule(decision)] += 1
            continue
        sanitise = decision.sanitise
        assert sanitise is not None
        fields = {
            name: value
            for name, value in row.items()
            if value is not None and name not in _NOT_FIELDS
        }
        if sanitise.remove or sanitise.precision is not None:
            fields = sanitise_record(fields, sanitise)
            if fields.get("lat") != lat or fields.get("lon") != lon:
                moved_lat, moved_lon = _coordinate(fields, "lat"), _coordinate(fields, "lon")
                if not releaser.still_covers(decision, moved_lat, moved_lon):
                    denied[_SANITISED_OUT] += 1
                    continue
        # record_item_text, with each distinct label and time written once.
        wire_label = wire_labels.get(id(label))
        if wire_label is None:
            wire_label = wire_labels[id(label)] = label_to_wire(label)
        # Whole floats as integers, as RFC 8785 writes them: the send path then writes
        # the item's canonical text straight from what it reads back.
        for name, value in fields.items():
            if type(value) is float:
                if value.is_integer() and abs(value) <= _WHOLE_FLOAT_HIGH:
                    fields[name] = int(value)
            elif isinstance(value, datetime):
                text_time = wire_times.get(value)
                if text_time is None:
                    text_time = wire_times[value] = _wire_time(value)
                fields[name] = text_time
        record = {"id": row["id"], "flow": record_flow, "label": wire_label, "fields": fields}
        text = _dumps({"kind": "record", "record": record})
        if decision.outcome is Outcome.RELEASE:
            released += 1
            not_before = now
        else:
            held += 1
            assert decision.not_before is not None
            not_before = decision.not_before
        items.append(
            OutboxItem(
                record_id=row["id"],
                kind="record",
                not_before=not_before,
                agreement=decision.agreement,
                clause=decision.clause,
                item=text,
            )
        )
    return items, released, held, denied
