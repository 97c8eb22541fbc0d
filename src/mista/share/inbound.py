"""What a receiving node checks in an opened batch, and how its records enter the store.

``refusal`` applies the receiver's half of rule 1 to every record and correction of a
batch: the record is releasable to this node, and the sender was allowed to send it now
under an agreement valid now (``decide`` from the sender's side, with this node's copy of
the agreements). A hold means the sender released too early; it is refused like a denial.
One refused item refuses the batch: nothing of it is stored.

``ingest_batch`` turns accepted records into an ``IngestBatch`` so they are stored like any
other input: the record's id is kept (so the same record from two routes is stored once),
its label is kept unchanged, its source is ``partner:<SENDER>``, its raw input is the
record's JSON (compact, sorted keys) and its content key the record id.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime

import pyarrow as pa

from mista.ingest.batch import MESSAGE_SCHEMA, REJECTED_SCHEMA, IngestBatch, label_id
from mista.labels import Label
from mista.share.agreements import Agreement, Flow
from mista.share.outbox import record_json
from mista.share.release import Candidate, Outcome, Releaser
from mista.wire.canonical import time_to_wire
from mista.wire.records import CorrectItem, Item, RecordItem, WireRecord, label_to_wire

__all__ = ["candidate_of", "ingest_batch", "partner_source", "record_texts", "refusal"]


def partner_source(sender: str) -> str:
    """The source name records received from ``sender`` are stored under."""
    return f"partner:{sender}"


#: Flows by name (an enum lookup by value per record shows in profiles).
_FLOWS = {flow.value: flow for flow in Flow}
_ALERTS = Flow.ALERTS.value


def candidate_of(record: WireRecord) -> Candidate:
    """The release candidate a wire record is (flow, label, time and position): a report's
    time is ``observed_at``, an alert's its ``end`` (docs/sharing.md, "Alerts")."""
    fields = record.fields
    observed_at = fields.get("end" if record.flow == _ALERTS else "observed_at")
    lat, lon = fields.get("lat"), fields.get("lon")
    return Candidate(
        _FLOWS.get(record.flow) or Flow(record.flow),
        record.label,
        observed_at if isinstance(observed_at, datetime) else None,
        float(lat) if isinstance(lat, float | int) else None,
        float(lon) if isinstance(lon, float | int) else None,
    )


def refusal(
    items: Sequence[Item],
    *,
    sender: str,
    node: str,
    agreements: Sequence[Agreement] = (),
    releaser: Releaser | None = None,
    now: datetime,
) -> tuple[str, str] | None:
    """Why the batch's records may not be accepted (reason code, detail), or None.

    ``releaser`` (``Releaser(sender, node, agreements)``, the same decisions as ``decide``
    with less work per record) is used when given, else ``decide`` over ``agreements``."""
    if releaser is None:
        releaser = Releaser(sender, node, agreements)
    elif (releaser.node, releaser.partner) != (sender, node):
        raise ValueError(f"refusal needs the releaser from {sender} to {node}")
    for number, item in enumerate(items):
        if not isinstance(item, RecordItem | CorrectItem):
            continue
        record = item.record
        if node not in record.label.releasable_to:
            return (
                "not-releasable",
                f"item {number} (record {record.id}) is marked {record.label.to_marking()}: "
                f"not releasable to {node}",
            )
        decision = releaser.decide(candidate_of(record), now)
        if decision.outcome is Outcome.HOLD:
            return (
                "released-early",
                f"item {number} (record {record.id}): {decision.reason} "
                "(the sender released it before the agreed delay)",
            )
        if decision.outcome is Outcome.DENY:
            return (
                "not-releasable",
                f"item {number} (record {record.id}): {sender} may not send it to {node}: "
                f"{decision.reason}",
            )
    return None


def _content_hash(originator: str, content_key: str) -> int:
    digest = hashlib.blake2b(f"{originator}\x1f{content_key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def record_texts(records: Sequence[WireRecord]) -> list[str]:
    """``[record_text(record) for record in records]`` with each distinct label and time
    written once (tests/share/test_receive.py holds the two equal)."""
    labels: dict[int, dict[str, object]] = {}
    times: dict[datetime, str] = {}
    texts: list[str] = []
    for record in records:
        label = labels.get(id(record.label))
        if label is None:
            label = labels[id(record.label)] = label_to_wire(record.label)
        fields = record.fields
        observed_at = fields.get("observed_at")
        if observed_at is not None:
            wire_time = times.get(observed_at)
            if wire_time is None:
                wire_time = times[observed_at] = time_to_wire(observed_at)
            fields = {**fields, "observed_at": wire_time}
        texts.append(
            record_json({"id": record.id, "flow": record.flow, "label": label, "fields": fields})
        )
    return texts


def ingest_batch(sender: str, records: Sequence[WireRecord]) -> IngestBatch:
    """The accepted records as an ``IngestBatch`` (MESSAGE_SCHEMA rows, labels intact)."""
    source = partner_source(sender)
    count = len(records)
    fields = [record.fields for record in records]
    ids = [record.id for record in records]
    originators = [str(row["originator"]) for row in fields]
    label_keys: dict[int, str] = {}
    labels: dict[str, Label] = {}
    for record in records:
        if id(record.label) not in label_keys:
            key = label_keys[id(record.label)] = label_id(record.label)
            labels.setdefault(key, record.label)
    columns: dict[str, Sequence[object]] = {
        "id_hi": [int(record_id[:16], 16) for record_id in ids],
        "id_lo": [int(record_id[16:], 16) for record_id in ids],
        "content_hash": [
            _content_hash(originator, record_id)
            for originator, record_id in zip(originators, ids, strict=True)
        ],
        "originator": originators,
        "source_kind": [str(row["source_kind"]) for row in fields],
        "label_id": [label_keys[id(record.label)] for record in records],
        "content_key": ids,
        # Received at its observation time, as ingest does: a resent record is then the
        # same reception, stored once.
        "received_at": [row.get("observed_at") for row in fields],
        "source": [source] * count,
        "line_no": [None] * count,
        "raw": record_texts(records),
    }
    present: set[str] = set()
    for row in fields:
        present.update(row)
    arrays: dict[str, pa.Array] = {}
    for field in MESSAGE_SCHEMA:
        name = field.name
        if name in columns:
            arrays[name] = pa.array(columns[name], field.type)
        elif name in present:
            arrays[name] = pa.array([row.get(name) for row in fields], field.type)
        else:  # no record has it (most positions have no static fields)
            arrays[name] = pa.nulls(count, field.type)
    table = pa.table(arrays, schema=MESSAGE_SCHEMA)
    return IngestBatch(
        source=source,
        messages=table,
        rejected=REJECTED_SCHEMA.empty_table(),
        labels=tuple(labels.values()),
        lines=count,
    )
