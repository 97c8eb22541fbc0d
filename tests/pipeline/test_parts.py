"""Fusion split into parts (``mista.detect.parts``): each part fuses every report and runs
its share of the detectors; together they leave the picture one pipeline leaves, whatever
the order their steps interleave in, and a part that dies resumes from its checkpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mista.detect.parts import all_kinds
from mista.detect.pipeline import Pipeline
from mista.evaluate.scenario import Scenario
from mista.store.embedded import DuckDBStore
from tests.pipeline.conftest import ingested
from tests.pipeline.test_checkpoint import picture

_BATCH = 200
#: A split like the one docs/deploy.md suggests, and its opposite.
_PARTS = (
    ("ais-gap", "close-approach"),
    tuple(kind for kind in all_kinds() if kind not in {"ais-gap", "close-approach"}),
)


def part(store: DuckDBStore, scenario: Scenario, number: int) -> Pipeline:
    return Pipeline(
        store,
        node=scenario.node,
        batch_reports=_BATCH,
        checkpoint_s=None,
        part=number,
        kinds=_PARTS[number],
    )


@pytest.fixture(scope="module")
def whole(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    with ingested(scenario, tmp_path_factory.mktemp("whole") / "whole.duckdb") as store:
        pipeline = Pipeline(store, node=scenario.node, batch_reports=_BATCH, checkpoint_s=None)
        pipeline.run()
        pipeline.finish()
        return picture(store)


def test_two_parts_stepped_in_any_interleaving_leave_the_whole_picture(
    scenario: Scenario, whole: dict[str, object], tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "parts.duckdb") as store:
        # Part 1 runs ahead, then part 0 catches up. (Steps are of one size, as a node's
        # parts all read intervals.fuse_batch: revisions stated follow step boundaries.)
        second = part(store, scenario, 1)
        for _ in range(4):
            second.step()
        first = part(store, scenario, 0)
        first.run()
        second.run()
        first.finish()
        second.finish()
        found = picture(store)
        kinds = {row[1] for row in found["alerts"]}  # type: ignore[attr-defined]
    assert found == whole
    # Both parts' detectors alerted: the test covers alerts from each.
    assert kinds & set(_PARTS[0])
    assert kinds & set(_PARTS[1])


def test_only_part_0_writes_tracks(scenario: Scenario, tmp_path: Path) -> None:
    with ingested(scenario, tmp_path / "one.duckdb") as store:
        second = part(store, scenario, 1)
        second.run()
        second.finish()
        written = picture(store)
        assert store.fusion_cursor(1) > 0 == store.fusion_cursor(0)
    assert written["tracks"] == []
    assert written["points"] == []
    assert written["alerts"]


def test_a_part_killed_after_its_checkpoint_resumes_to_the_whole_picture(
    scenario: Scenario, whole: dict[str, object], tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "killed.duckdb") as store:
        first = part(store, scenario, 0)
        first.run()
        first.finish()
        dying = part(store, scenario, 1)
        for _ in range(5):
            dying.step()
        dying.checkpoint()
        for _ in range(6):
            dying.step()
        assert store.fusion_read(1) > store.fusion_state(1)[0]  # type: ignore[index]
        assert store.fusion_state(0) is None  # part 0 ran without checkpoints
        del dying  # the process dies: only the store remains
        again = part(store, scenario, 1)
        again.run()
        again.finish()
        assert picture(store) == whole


def test_a_checkpoint_of_other_detectors_is_not_loaded(
    scenario: Scenario, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with ingested(scenario, tmp_path / "changed.duckdb") as store:
        before = part(store, scenario, 1)
        for _ in range(3):
            before.step()
        before.checkpoint()
        cursor = store.fusion_cursor(1)
        with caplog.at_level(logging.WARNING, logger="mista.detect.pipeline"):
            after = Pipeline(
                store,
                node=scenario.node,
                batch_reports=_BATCH,
                checkpoint_s=None,
                part=1,
                kinds=("loitering",),
            )
        assert "the node's parts changed" in caplog.text
        assert after.cursor == cursor  # fresh memory, after the part's own cursor
