"""Reports the node itself may not see stay in the store unfused (``Pipeline._fusable``):
a stream that begins with them, or holds nothing else, is read past without an error."""

from __future__ import annotations

from pathlib import Path

from mista.detect.pipeline import Pipeline
from mista.evaluate.scenario import Scenario
from mista.labels import Label, Level
from tests.ingest.nmea_lines import position, tagged
from tests.pipeline.conftest import ingested
from tests.store.test_embedded import T0, ais


def test_a_store_of_reports_the_node_may_not_see_is_read_past(
    scenario: Scenario, tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "other.duckdb") as store:
        # A node of another nation: no report of the scenario is releasable to it.
        pipeline = Pipeline(store, node="BRA", batch_reports=1_000, checkpoint_s=None)
        total = pipeline.run()
        total.add(pipeline.finish())
        stored = store.counts()["reports"]
        assert total.reports == total.not_fusable == stored > 0
        assert (total.points, total.tracks, total.alerts) == (0, 0, 0)
        assert store.fusion_cursor() == pipeline.cursor > 0


def test_fusion_begins_at_the_first_report_the_node_may_see(tmp_path: Path) -> None:
    from mista.store.embedded import DuckDBStore

    hidden = Label(Level.SECRET, "IND")  # not releasable to BRA
    shared = Label(Level.UNCLASSIFIED, "IND", frozenset({"BRA"}))
    with DuckDBStore(tmp_path / "mixed.duckdb") as store:
        lines = [
            tagged(position(419_000_001, 10.0, 70.0 + i / 100), epoch_s=T0 + 60 * i)
            for i in range(20)
        ]
        store.write(ais(lines[:10], hidden))
        store.write(ais(lines[10:], shared, source="shared.nmea"))
        pipeline = Pipeline(store, node="BRA", batch_reports=5, checkpoint_s=None)
        total = pipeline.run()
        total.add(pipeline.finish())
        assert (total.reports, total.not_fusable) == (20, 10)
        assert total.points == 10
        assert store.counts()["tracks"] == 1
