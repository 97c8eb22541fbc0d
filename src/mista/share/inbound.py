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
from mista.share.outbox import record_text
from mista.share.release import Candidate, Outcome, Releaser
from mista.store.embedded_exchange import split_id
from mista.wire.records import CorrectItem, Item, RecordItem, WireRecord

__all__ = ["candidate_of", "ingest_batch", "partner_source", "refusal"]


def partner_source(sender: str) -> str:
    """The source name records received from ``sender`` are stored under."""
    return f"partner:{sender}"


def candidate_of(record: WireRecord) -> Candidate:
    """The release candidate a wire record is (flow, label, time and position)."""
    fields = record.fields
    observed_at = fields.get("observed_at")
    lat, lon = fields.get("lat"), fields.get("lon")
    return Candidate(
        Flow(record.flow),
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


def ingest_batch(sender: str, records: Sequence[WireRecord]) -> IngestBatch:
    """The accepted records as an ``IngestBatch`` (MESSAGE_SCHEMA rows, labels intact)."""
    source = partner_source(sender)
    columns: dict[str, list[object]] = {field.name: [] for field in MESSAGE_SCHEMA}
    labels: dict[str, Label] = {}
    for record in records:
        fields = record.fields
        hi, lo = split_id(record.id)
        originator = str(fields["originator"])
        key = label_id(record.label)
        labels.setdefault(key, record.label)
        row: dict[str, object] = {
            "id_hi": hi,
            "id_lo": lo,
            "content_hash": _content_hash(originator, record.id),
            "originator": originator,
            "source_kind": str(fields["source_kind"]),
            "label_id": key,
            "content_key": record.id,
            # Received at its observation time, as ingest does: a resent record is then
            # the same reception, stored once.
            "received_at": fields.get("observed_at"),
            "source": source,
            "line_no": None,
            "raw": record_text(record),
        }
        for name, values in columns.items():
            values.append(row[name] if name in row else fields.get(name))
    table = pa.table(
        {field.name: pa.array(columns[field.name], field.type) for field in MESSAGE_SCHEMA},
        schema=MESSAGE_SCHEMA,
    )
    return IngestBatch(
        source=source,
        messages=table,
        rejected=REJECTED_SCHEMA.empty_table(),
        labels=tuple(labels.values()),
        lines=len(records),
    )
