"""The unit that flows from ingest over the bus to the store: one batch as Arrow tables.

A batch holds one row per decoded message (``messages``: the report columns plus the
reception columns) and one row per line that could not be used (``rejected``). Several
rows may share a report id: the same transmission heard by several receivers. The store
keeps one report per id and one reception per row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pyarrow as pa

from mista.labels import Label
from mista.model import content_id

__all__ = [
    "MESSAGE_SCHEMA",
    "REJECTED_SCHEMA",
    "IngestBatch",
    "hex_ids",
    "label_id",
    "rejected_table",
]

_UTC_US = pa.timestamp("us", tz="UTC")

#: One row per decoded message. Report columns first, reception columns last.
MESSAGE_SCHEMA = pa.schema(
    [
        # The report id (mista.model.report_id) as two big-endian halves of its 128 bits:
        # fixed-width integers are several times cheaper to store and join than hex text.
        pa.field("id_hi", pa.uint64(), nullable=False),
        pa.field("id_lo", pa.uint64(), nullable=False),
        # 64 bits of BLAKE2b of originator and content key, without time: finds one
        # transmission heard across a dedupe-bucket boundary.
        pa.field("content_hash", pa.uint64(), nullable=False),
        pa.field("originator", pa.string(), nullable=False),
        pa.field("source_kind", pa.string(), nullable=False),
        pa.field("label_id", pa.string(), nullable=False),
        pa.field("observed_at", _UTC_US),
        pa.field("msg_type", pa.int16()),
        pa.field("mmsi", pa.int32()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("speed_kn", pa.float64()),
        pa.field("course_deg", pa.float64()),
        pa.field("heading_deg", pa.float64()),
        pa.field("nav_status", pa.int16()),
        pa.field("imo", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("callsign", pa.string()),
        pa.field("ship_type", pa.int16()),
        pa.field("destination", pa.string()),
        pa.field("draught_m", pa.float64()),
        pa.field("to_bow_m", pa.int16()),
        pa.field("to_stern_m", pa.int16()),
        pa.field("to_port_m", pa.int16()),
        pa.field("to_starboard_m", pa.int16()),
        pa.field("content_key", pa.string(), nullable=False),
        # Reception columns: who heard it, when, and the raw input it came from.
        pa.field("received_at", _UTC_US),
        pa.field("receiver", pa.string()),
        pa.field("source", pa.string(), nullable=False),
        pa.field("line_no", pa.int64()),
        pa.field("raw", pa.string(), nullable=False),
    ]
)

REJECTED_SCHEMA = pa.schema(
    [
        pa.field("source", pa.string(), nullable=False),
        pa.field("line_no", pa.int64()),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("raw", pa.string(), nullable=False),
    ]
)


def hex_ids(id_hi: pa.Array | pa.ChunkedArray, id_lo: pa.Array | pa.ChunkedArray) -> list[str]:
    """The report ids of rows as the hex text ``mista.model.report_id`` returns."""
    return [
        f"{hi:016x}{lo:016x}" for hi, lo in zip(id_hi.to_pylist(), id_lo.to_pylist(), strict=True)
    ]


def label_id(label: Label) -> str:
    """The stable id of a label (its originator and marking), shared by every row it marks."""
    return content_id("label", label.originator, label.to_marking())


def rejected_table(source: str, rows: Sequence[tuple[int | None, str, str, str]]) -> pa.Table:
    """A REJECTED_SCHEMA table from ``(line_no, reason, detail, raw)`` tuples."""
    return pa.table(
        {
            "source": pa.array([source] * len(rows), pa.string()),
            "line_no": pa.array([row[0] for row in rows], pa.int64()),
            "reason": pa.array([row[1] for row in rows], pa.string()),
            "detail": pa.array([row[2] for row in rows], pa.string()),
            "raw": pa.array([row[3] for row in rows], pa.string()),
        },
        schema=REJECTED_SCHEMA,
    )


@dataclass(frozen=True, slots=True)
class IngestBatch:
    """One batch of input: decoded messages, rejected lines and what was read."""

    source: str
    messages: pa.Table
    rejected: pa.Table
    labels: tuple[Label, ...]
    lines: int
    skipped: Mapping[str, int] = field(default_factory=dict)
    #: Bytes of the source consumed so far (for progress on files), when known.
    position_bytes: int | None = None

    def __post_init__(self) -> None:
        if self.messages.schema != MESSAGE_SCHEMA:
            raise ValueError("IngestBatch.messages must have MESSAGE_SCHEMA")
        if self.rejected.schema != REJECTED_SCHEMA:
            raise ValueError("IngestBatch.rejected must have REJECTED_SCHEMA")

    @property
    def message_count(self) -> int:
        return int(self.messages.num_rows)

    def rejected_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for reason in self.rejected.column("reason").to_pylist():
            counts[reason] = counts.get(reason, 0) + 1
        return counts
