"""Fusion by partition (``[detect] partitions``): part 0 reads every report and runs the
detectors that span vessels, parts 1.. fuse only their partitions' vessels. Together they
place every report one pipeline places, on the tracks it makes, and find its alerts,
whatever order the parts run in; a partition part that restarts from its checkpoint
leaves the picture of one that did not.

Not everything is the same as one pipeline's: a partition's fuser moves its watermark by
its own vessels' reports only, so a satellite report one pipeline flags late (the other
partitions had moved on) may not be, and what depends on the watermark (a port visit's
presumed duration, a split of a shared MMSI) may differ a little. docs/deploy.md says
what that changed on the standard scenario."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mista.detect.parts import PER_VESSEL, SPANNING, parse_partitions, partition_part
from mista.detect.pipeline import Pipeline
from mista.errors import ConfigError
from mista.evaluate.scenario import Scenario
from mista.fuse import FuseConfig
from mista.partitions import VesselPartitions, mmsi_partition
from mista.store.embedded import DuckDBStore
from tests.pipeline.conftest import ingested
from tests.pipeline.test_checkpoint import picture

_BATCH = 200
_COUNT = 8
_SPLIT = ([0, 1, 2, 3], [4, 5, 6, 7])


def part_pipelines(
    store: DuckDBStore, scenario: Scenario, checkpoint_s: float | None = None
) -> list[Pipeline]:
    """Part 0 over every report, then one part per member list of ``_SPLIT``."""
    split = [VesselPartitions(_COUNT, frozenset(members)) for members in _SPLIT]
    parts = []
    for number in range(len(split) + 1):
        plan = partition_part(number, split)
        parts.append(
            Pipeline(
                store,
                node=scenario.node,
                fuse_config=FuseConfig(mmsi_partitions=plan.mmsi_partitions),
                batch_reports=_BATCH,
                checkpoint_s=checkpoint_s,
                part=number,
                kinds=plan.kinds,
                partitions=plan.partitions,
                writes=plan.writes,
            )
        )
    return parts


@pytest.fixture(scope="module")
def whole(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One pipeline with every detector, linking MMSI changes within a partition."""
    with ingested(scenario, tmp_path_factory.mktemp("whole") / "whole.duckdb") as store:
        pipeline = Pipeline(
            store,
            node=scenario.node,
            fuse_config=FuseConfig(mmsi_partitions=_COUNT),
            batch_reports=_BATCH,
            checkpoint_s=None,
        )
        pipeline.run()
        pipeline.finish()
        return picture(store)


def fused_by_parts(store: DuckDBStore, scenario: Scenario, order: list[int]) -> dict[str, Any]:
    parts = part_pipelines(store, scenario)
    for number in order:
        parts[number].run()
        parts[number].finish()
    return picture(store)


@pytest.fixture(scope="module")
def split(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same reports fused by part 0 and two partition parts, the partition parts
    first (they need not wait for part 0, nor it for them)."""
    with ingested(scenario, tmp_path_factory.mktemp("split") / "split.duckdb") as store:
        return fused_by_parts(store, scenario, [2, 1, 0])


def test_the_parts_place_every_report_one_pipeline_places_once(
    whole: dict[str, Any], split: dict[str, Any]
) -> None:
    assert {row[1] for row in whole["tracks"]} == {"ais", "dark"}  # radar in the scenario
    seqs = sorted(row[0] for row in split["points"])
    assert seqs == sorted(row[0] for row in whole["points"])
    assert len(set(seqs)) == len(seqs)  # each report on one track (or confirming one)
    assert [row[:5] for row in split["tracks"]] == [row[:5] for row in whole["tracks"]]


def test_the_parts_find_the_alerts_one_pipeline_finds(
    whole: dict[str, Any], split: dict[str, Any]
) -> None:
    kinds = {row[1] for row in whole["alerts"]}
    assert kinds & set(SPANNING)
    assert kinds & set(PER_VESSEL)
    assert [row[:5] for row in split["alerts"]] == [row[:5] for row in whole["alerts"]]


def test_the_order_the_parts_run_in_changes_nothing(
    scenario: Scenario, split: dict[str, Any], tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "forward.duckdb") as store:
        assert fused_by_parts(store, scenario, [0, 1, 2]) == split


def test_a_partition_part_reads_only_its_vessels(scenario: Scenario, tmp_path: Path) -> None:
    with ingested(scenario, tmp_path / "one.duckdb") as store:
        first = part_pipelines(store, scenario)[1]
        first.run()
        first.finish()
        mmsis = [
            row[0]
            for row in store.connection.execute(
                "SELECT DISTINCT mmsi FROM tracks WHERE mmsi IS NOT NULL"
            ).fetchall()
        ]
        kinds = {row[0] for row in store.connection.execute("SELECT kind FROM tracks").fetchall()}
    assert mmsis
    assert set(mmsi_partition(mmsis, _COUNT).tolist()) <= set(_SPLIT[0])
    assert kinds == {"ais"}


def test_a_partition_part_resumed_from_its_checkpoint_leaves_the_same_picture(
    scenario: Scenario, split: dict[str, Any], tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "resumed.duckdb") as store:
        parts = part_pipelines(store, scenario, checkpoint_s=3600.0)
        first = parts[1]
        for _ in range(3):
            assert first.step().reports
        first.checkpoint()
        for _ in range(2):  # written after the checkpoint: fused again, not alerted again
            assert first.step().reports
        again = part_pipelines(store, scenario, checkpoint_s=3600.0)  # a new process
        for pipeline in reversed(again):
            pipeline.run()
            pipeline.finish()
        assert picture(store) == split


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ([[0, 1], [1, 2]], "partition 1 is in part 1 and part 2"),
        ([[0, 1], [3]], "2 in none"),
        ([[0], [5]], "1, 2, 3, 4 in none"),
        ([[0], []], "non-empty list"),
        ([[0, "1"]], "is not a partition number"),
        ([[0, True]], "is not a partition number"),
        ([[-1, 0]], "is not a partition number"),
        ("0-7", "non-empty list of lists"),
        ([[p] for p in range(16)], "at most 15"),
    ],
)
def test_a_bad_partition_split_is_refused_saying_why(value: object, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_partitions(value)


def test_a_partition_split_covers_the_bus_partitions() -> None:
    parts = parse_partitions([[2, 0], [1, 3]])
    assert parts == (VesselPartitions(4, frozenset({0, 2})), VesselPartitions(4, frozenset({1, 3})))
