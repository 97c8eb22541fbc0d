"""Replaying a scenario into a store: every sensor file in the order the node would have
received it, then fusion and detection over what was stored.

Files are ingested in ``delivered_at`` order, one store write per delivery time, and fusion
runs after each, so satellite data written hours after it was heard reaches fusion late, as
it would live.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime

import duckdb
import pyarrow as pa

from mista.detect.config import DetectConfig
from mista.detect.parts import MAX_PARTS, partition_part
from mista.detect.pipeline import Pipeline, StepResult
from mista.errors import InputError
from mista.evaluate.scenario import Scenario, ScenarioFile
from mista.fuse import FuseConfig
from mista.geo import Zones
from mista.ingest.batch import IngestBatch
from mista.ingest.sources import SourceConfig, load_source_config
from mista.ingest.streams import open_source
from mista.node import read_batches
from mista.partitions import VesselPartitions
from mista.store import Store
from mista.store.embedded import DuckDBStore

__all__ = ["FUSED_TABLES", "ReplaySummary", "clear_fusion", "refuse", "replay"]

#: What fusion writes in a store (cleared to fuse it again from the first report).
FUSED_TABLES = (
    "track_points",
    "tracks",
    "alert_changes",
    "alerts",
    "fusion_state",
    "fusion_part_state",
    "fusion_part_cursor",
)


@dataclass(slots=True)
class ReplaySummary:
    files: int = 0
    messages: int = 0
    reports: int = 0
    rejected: int = 0
    fused: StepResult = field(default_factory=StepResult)
    ingest_s: float = 0.0
    fuse_s: float = 0.0


def _deliveries(scenario: Scenario) -> list[tuple[datetime, list[ScenarioFile]]]:
    """The scenario's files grouped by delivery time, in delivery order."""
    groups: dict[datetime, list[ScenarioFile]] = {}
    for item in scenario.files:
        groups.setdefault(item.delivered_at, []).append(item)
    return sorted(groups.items(), key=lambda group: group[0])


def _merge(batches: list[IngestBatch], source: str) -> IngestBatch:
    """Several sources' batches as one store write (each row keeps its own source and
    label; one commit per delivery instead of one per file)."""
    if len(batches) == 1:
        return batches[0]
    labels = tuple(dict.fromkeys(label for batch in batches for label in batch.labels))
    return IngestBatch(
        source=source,
        messages=pa.concat_tables([batch.messages for batch in batches]),
        rejected=pa.concat_tables([batch.rejected for batch in batches]),
        labels=labels,
        lines=sum(batch.lines for batch in batches),
    )


def clear_fusion(con: duckdb.DuckDBPyConnection) -> None:
    """Delete what fusion wrote in the embedded store on ``con``, in one transaction, and
    set every cursor back to the first report."""
    con.begin()
    for table in FUSED_TABLES:
        con.execute(f"DELETE FROM {table}")
    con.execute("UPDATE fusion_cursor SET seq = 0, read_seq = 0")
    con.commit()


def refuse(
    scenario: Scenario,
    store: DuckDBStore,
    *,
    detect_config: DetectConfig | None = None,
    fuse_config: FuseConfig | None = None,
    partitions: int = 0,
) -> ReplaySummary:
    """Fusion and detection again over a store an earlier replay of ``scenario`` filled:
    what fusion wrote is cleared, then every report is fused in the order it was stored
    (which is the delivery order). For tuning thresholds without ingesting again.
    ``partitions``: fuse by partition (``fusion_pipelines``)."""
    clear_fusion(store.connection)
    summary = ReplaySummary(files=len(scenario.files))
    pipelines = fusion_pipelines(
        store, scenario, detect_config, fuse_config, _zones(scenario), partitions
    )
    started = time.perf_counter()
    for pipeline in pipelines:
        _count(summary, pipeline, pipeline.run())
        _count(summary, pipeline, pipeline.finish())
    summary.fuse_s = time.perf_counter() - started
    summary.reports = summary.fused.reports
    return summary


def fusion_pipelines(
    store: Store,
    scenario: Scenario,
    detect_config: DetectConfig | None,
    fuse_config: FuseConfig | None,
    zones: Zones | None,
    partitions: int = 0,
) -> list[Pipeline]:
    """One pipeline with every detector; or with ``partitions`` > 0, fusion by partition:
    part 0 over every report (the detectors that span vessels, dark tracks and radar
    contacts), then one part per partition (its vessels, their tracks and per-vessel
    detectors), every fuser continuing a track across an MMSI change within a partition
    only."""
    if not partitions:
        return [
            Pipeline(
                store,
                node=scenario.node,
                fuse_config=fuse_config,
                detect_config=detect_config,
                zones=zones,
            )
        ]
    if partitions > MAX_PARTS - 1:
        raise InputError(f"partitions: {partitions}, at most {MAX_PARTS - 1}")
    split = [VesselPartitions(partitions, frozenset({number})) for number in range(partitions)]
    pipelines = []
    for part in range(partitions + 1):
        plan = partition_part(part, split)
        pipelines.append(
            Pipeline(
                store,
                node=scenario.node,
                fuse_config=replace(fuse_config or FuseConfig(), mmsi_partitions=partitions),
                detect_config=detect_config,
                zones=zones,
                part=part,
                kinds=plan.kinds,
                partitions=plan.partitions,
                writes=plan.writes,
            )
        )
    return pipelines


def _zones(scenario: Scenario) -> Zones | None:
    if scenario.zones is None or not scenario.zones.exists():
        return None
    return Zones.from_geojson(
        scenario.zones,
        originator=scenario.node,
    )


def replay(
    scenario: Scenario,
    store: Store,
    *,
    detect_config: DetectConfig | None = None,
    fuse_config: FuseConfig | None = None,
    progress: Callable[[str], None] | None = None,
    fuse: bool = True,
    partitions: int = 0,
) -> ReplaySummary:
    """Ingest every file of ``scenario`` into ``store``, fusing as the data arrives
    (whenever the delivery time moves on), then finish the stream. ``fuse=False`` only
    ingests (benchmarks time fusion on their own). ``partitions``: fuse by partition
    (``fusion_pipelines``)."""
    summary = ReplaySummary()
    configs: dict[str, SourceConfig] = {
        name: load_source_config(path, scenario.node)
        for name, path in scenario.source_configs.items()
    }
    zones = _zones(scenario)
    pipelines = (
        fusion_pipelines(store, scenario, detect_config, fuse_config, zones, partitions)
        if fuse
        else []
    )
    for number, (delivered_at, files) in enumerate(_deliveries(scenario), 1):
        started = time.perf_counter()
        batches = [
            batch
            for item in files
            for batch in read_batches(
                open_source(str(item.path)),
                configs[item.source],
                name=str(item.path.relative_to(scenario.directory)),
            )
        ]
        if batches:
            batch = _merge(batches, f"scenario delivery {delivered_at.isoformat()}")
            result = store.write(batch)
            summary.messages += batch.messages.num_rows
            summary.reports += result.reports
            summary.rejected += result.rejected
        summary.ingest_s += time.perf_counter() - started
        summary.files += len(files)
        if pipelines:
            started = time.perf_counter()
            for pipeline in pipelines:
                _count(summary, pipeline, pipeline.run())
            summary.fuse_s += time.perf_counter() - started
        if progress is not None and number % 12 == 0:
            progress(
                f"{delivered_at:%Y-%m-%d %H:%M}: {summary.files:,}/{len(scenario.files):,} "
                f"files, {summary.reports:,} reports"
            )
    if pipelines:
        started = time.perf_counter()
        for pipeline in pipelines:
            _count(summary, pipeline, pipeline.run())
            _count(summary, pipeline, pipeline.finish())
        summary.fuse_s += time.perf_counter() - started
    return summary


def _count(summary: ReplaySummary, pipeline: Pipeline, result: StepResult) -> None:
    """Add a step's counts; reports once (part 0's: it reads every report)."""
    if pipeline.part == 0:
        summary.fused.add(result)
        return
    summary.fused.alerts += result.alerts
    summary.fused.points += result.points
    summary.fused.tracks += result.tracks
    for kind, count in result.kinds.items():
        summary.fused.kinds[kind] = summary.fused.kinds.get(kind, 0) + count
