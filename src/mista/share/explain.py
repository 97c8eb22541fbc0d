"""A dry run of release: for each record, the outcome and the clause or rule behind it.

Nothing is sent, stored or audited. Records come from decoded input (``IngestBatch``
message tables and their labels) or from store query results (rows with a ``label``
marking and an ``originator``); ``explain`` decides each with a ``Releaser`` and returns
one row per record (``EXPLAIN_SCHEMA``), ready for ``mista.store.export``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa

from mista.ingest.batch import label_id
from mista.labels import Label, parse_marking
from mista.share.agreements import Flow
from mista.share.release import Candidate, Releaser

__all__ = ["EXPLAIN_SCHEMA", "Explained", "explain", "from_messages", "from_query_rows"]

_UTC_US = pa.timestamp("us", tz="UTC")

EXPLAIN_SCHEMA = pa.schema(
    [
        pa.field("observed_at", _UTC_US),
        pa.field("mmsi", pa.int32()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("label", pa.string()),
        pa.field("outcome", pa.string()),
        pa.field("agreement", pa.string()),
        pa.field("clause", pa.string()),
        pa.field("not_before", _UTC_US),
        pa.field("reason", pa.string()),
    ]
)


@dataclass(frozen=True, slots=True)
class Explained:
    """One record to explain: what the decision sees, and its MMSI for people."""

    candidate: Candidate
    mmsi: int | None


def from_messages(messages: pa.Table, labels: Sequence[Label]) -> Iterator[Explained]:
    """The reports of a decoded batch (``MESSAGE_SCHEMA`` rows, ``IngestBatch.labels``); a
    report heard by several receivers is explained once."""
    by_id = {label_id(label): label for label in labels}
    names = ["id_hi", "id_lo", "label_id", "observed_at", "mmsi", "lat", "lon"]
    columns = messages.select(names).to_pydict()
    seen: set[tuple[int, int]] = set()
    for id_hi, id_lo, key, observed_at, mmsi, lat, lon in zip(*columns.values(), strict=True):
        if (id_hi, id_lo) in seen:
            continue
        seen.add((id_hi, id_lo))
        yield Explained(Candidate(Flow.REPORTS, by_id[key], observed_at, lat, lon), mmsi)


def from_query_rows(
    table: pa.Table, groups: Mapping[str, Iterable[str]] | None = None
) -> Iterator[Explained]:
    """Store query rows (``observed_at, mmsi, lat, lon, originator, label`` marking)."""
    columns = table.select(["observed_at", "mmsi", "lat", "lon", "originator", "label"])
    labels: dict[tuple[str, str], Label] = {}
    for observed_at, mmsi, lat, lon, originator, marking in zip(
        *columns.to_pydict().values(), strict=True
    ):
        label = labels.get((originator, marking))
        if label is None:
            label = labels[(originator, marking)] = parse_marking(marking, originator, groups)
        yield Explained(Candidate(Flow.REPORTS, label, observed_at, lat, lon), mmsi)


def explain(records: Iterable[Explained], releaser: Releaser, now: datetime) -> pa.Table:
    """One row per record: its time, MMSI, position, label, and the decision at ``now``."""
    rows: dict[str, list[object]] = {name: [] for name in EXPLAIN_SCHEMA.names}
    for record in records:
        candidate = record.candidate
        decision = releaser.decide(candidate, now)
        rows["observed_at"].append(candidate.observed_at)
        rows["mmsi"].append(record.mmsi)
        rows["lat"].append(candidate.lat)
        rows["lon"].append(candidate.lon)
        rows["label"].append(candidate.label.to_marking())
        rows["outcome"].append(decision.outcome.value)
        rows["agreement"].append(decision.agreement)
        rows["clause"].append(decision.clause)
        rows["not_before"].append(decision.not_before)
        rows["reason"].append(decision.reason)
    return pa.table(rows, schema=EXPLAIN_SCHEMA)
