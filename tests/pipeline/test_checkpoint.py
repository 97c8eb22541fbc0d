"""A pipeline that dies and starts again resumes from its checkpoint: the store ends as a
run without the fault leaves it, alerts (and their revisions) included."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from mista.detect.checkpoint import FORMAT, dump_state, load_state
from mista.detect.pipeline import Pipeline
from mista.errors import StoreError
from mista.evaluate.scenario import Scenario
from mista.store.embedded import DuckDBStore
from tests.pipeline.conftest import ingested

_BATCH = 200  # about 16 steps over the 3,274 reports


def picture(store: DuckDBStore) -> dict[str, object]:
    con = store.connection
    return {
        "alerts": con.execute(
            "SELECT id, kind, status, epoch_us(start_at), epoch_us(end_at), revision, "
            "evidence FROM alerts ORDER BY id"
        ).fetchall(),
        "changes": con.execute(
            "SELECT count(*), count(DISTINCT alert_id) FROM alert_changes"
        ).fetchall(),
        "tracks": con.execute(
            "SELECT id, kind, mmsi, epoch_us(first_at), epoch_us(last_at), points "
            "FROM tracks ORDER BY id"
        ).fetchall(),
        "points": con.execute(
            "SELECT seq, track_id, flags FROM track_points ORDER BY seq, track_id"
        ).fetchall(),
    }


def pipeline(store: DuckDBStore, scenario: Scenario) -> Pipeline:
    return Pipeline(store, node=scenario.node, batch_reports=_BATCH, checkpoint_s=None)


@pytest.fixture(scope="module")
def clean(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    with ingested(scenario, tmp_path_factory.mktemp("clean") / "clean.duckdb") as store:
        whole = pipeline(store, scenario)
        whole.run()
        whole.finish()
        return picture(store)


def test_a_pipeline_killed_after_its_checkpoint_resumes_to_the_clean_picture(
    scenario: Scenario, clean: dict[str, object], tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "killed.duckdb") as store:
        first = pipeline(store, scenario)
        for _ in range(5):
            first.step()
        first.checkpoint()
        alerted_before = store.connection.execute("SELECT count(*) FROM alerts").fetchall()
        for _ in range(6):  # steps written after the checkpoint: their alerts are stored
            first.step()
        assert store.fusion_read() > store.fusion_state()[0]  # type: ignore[index]
        alerted_after = store.connection.execute("SELECT count(*) FROM alerts").fetchall()
        assert alerted_after > alerted_before  # the test covers alerts written twice
        del first  # the process dies: only the store remains
        second = pipeline(store, scenario)
        second.run()
        second.finish()
        resumed = picture(store)
    assert resumed["alerts"] == clean["alerts"]
    assert resumed["changes"] == clean["changes"]
    assert resumed["tracks"] == clean["tracks"]
    assert resumed["points"] == clean["points"]


def test_a_checkpoint_is_saved_after_a_step_once_due(scenario: Scenario, tmp_path: Path) -> None:
    with ingested(scenario, tmp_path / "due.duckdb") as store:
        running = Pipeline(store, node=scenario.node, batch_reports=_BATCH, checkpoint_s=0.0)
        assert store.fusion_state() is None
        for _ in range(3):
            running.step()
            saved = store.fusion_state()
            assert saved is not None
            assert saved[0] == store.fusion_read() > 0


def test_a_step_whose_write_fails_is_fused_again_to_the_clean_picture(
    scenario: Scenario, clean: dict[str, object], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The store away at a step's write (PostgreSQL restarting): the fuse role logs it and
    # steps again. The failed step's reports were read and fused in memory; the next step
    # must start again from the checkpoint, or they are never written.
    with ingested(scenario, tmp_path / "failed.duckdb") as store:
        running = pipeline(store, scenario)
        for _ in range(5):
            running.step()
        running.checkpoint()
        for _ in range(3):
            running.step()
        write_fusion = store.write_fusion
        failures = [0]

        def away(**kwargs: object) -> None:
            failures[0] += 1
            raise StoreError("the store is away")

        monkeypatch.setattr(store, "write_fusion", away)
        with pytest.raises(StoreError):
            running.step()
        running.checkpoint()  # at stop, say: not saved, the memory is ahead of the store
        assert store.fusion_state()[0] < store.fusion_read()  # type: ignore[index]
        monkeypatch.setattr(store, "write_fusion", write_fusion)
        running.run()
        running.finish()
        recovered = picture(store)
    assert failures[0] == 1
    assert recovered["points"] == clean["points"]
    assert recovered["tracks"] == clean["tracks"]
    assert recovered["alerts"] == clean["alerts"]
    assert recovered["changes"] == clean["changes"]


def test_without_a_checkpoint_the_restart_re_states_alerts(
    scenario: Scenario, clean: dict[str, object], tmp_path: Path
) -> None:
    # What the checkpoint is for: fresh memory after the cursor alerts differently.
    with ingested(scenario, tmp_path / "fresh.duckdb") as store:
        first = pipeline(store, scenario)
        for _ in range(11):
            first.step()
        del first
        second = pipeline(store, scenario)
        second.run()
        second.finish()
        fresh = picture(store)
    assert fresh["alerts"] != clean["alerts"] or fresh["changes"] != clean["changes"]


def test_a_checkpoint_after_finish_keeps_the_next_run_from_alerting_again(
    scenario: Scenario, clean: dict[str, object], tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "twice.duckdb") as store:
        first = Pipeline(store, node=scenario.node, batch_reports=_BATCH)  # default: saves
        first.run()
        first.finish()
        assert store.fusion_state() is not None
        again = Pipeline(store, node=scenario.node, batch_reports=_BATCH)
        assert again.run().reports == 0
        again.finish()
        assert picture(store) == clean


def test_a_checkpoint_from_other_code_or_damaged_is_not_loaded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    shared: dict[str, object] = {"land": object()}
    good = dump_state(({"open": [1, 2]}, shared["land"]), shared)
    state = load_state(good, shared)
    assert state == ({"open": [1, 2]}, shared["land"])
    _, _, body = good.partition(b"\n")
    with caplog.at_level(logging.WARNING, logger="mista.detect.checkpoint"):
        assert load_state(FORMAT + b" 0123456789abcdef\n" + body, shared) is None
        assert load_state(b"not a checkpoint at all", shared) is None
        assert load_state(good[: len(good) // 2], shared) is None
        assert load_state(good, {}) is None  # a shared part it names is not there
    assert len(caplog.records) == 4
    assert "other mista code" in caplog.records[0].getMessage()


def test_a_damaged_checkpoint_in_the_store_means_a_fresh_start(
    scenario: Scenario, tmp_path: Path
) -> None:
    with ingested(scenario, tmp_path / "damaged.duckdb") as store:
        first = pipeline(store, scenario)
        for _ in range(3):
            first.step()
        store.save_fusion_state(first.cursor, b"garbage")
        second = pipeline(store, scenario)
        assert second.cursor == store.fusion_cursor()
        second.run()
        second.finish()
        assert store.connection.execute("SELECT count(*) FROM tracks").fetchall()[0][0] > 0
