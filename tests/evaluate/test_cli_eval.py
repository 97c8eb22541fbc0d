"""``mista eval`` end to end on a small simulated scenario, through the command line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mista.cli import main
from mista.evaluate import BEHAVIOURS
from mista.sim import simulate


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("eval") / "scenario"
    simulate(out, hours=2, vessels=100, seed=3)
    return out


def test_json_has_the_documented_shape_and_fusion_only_gives_the_same_score(
    scenario: Path, tmp_path: Path
) -> None:
    store = tmp_path / "eval.duckdb"
    runner = CliRunner()
    first = runner.invoke(main, ["eval", str(scenario), "--format", "json", "--store", str(store)])
    assert first.exit_code == 0, first.output
    score = json.loads(first.stdout)
    assert set(score["behaviours"]) == set(BEHAVIOURS)
    for figures in score["behaviours"].values():
        assert {"precision", "recall", "truth"} <= set(figures)
        for name in ("precision", "recall"):
            assert figures[name] is None or 0.0 <= figures[name] <= 1.0
    assert 0.0 <= score["continuity"] <= 1.0
    assert 0.0 <= score["association"] <= 1.0
    # The scenario's truth is all counted.
    lines = (scenario / "truth" / "behaviours.jsonl").read_text(encoding="utf-8").splitlines()
    truth = [json.loads(line) for line in lines if line.strip()]
    assert sum(f["truth"] for f in score["behaviours"].values()) == len(truth)

    again = runner.invoke(
        main, ["eval", str(scenario), "--format", "json", "--store", str(store), "--fusion-only"]
    )
    assert again.exit_code == 0, again.output
    refused = json.loads(again.stdout)
    assert refused["continuity"] == pytest.approx(score["continuity"], abs=0.01)
    assert refused["behaviours"].keys() == score["behaviours"].keys()


def test_replaying_into_a_used_store_is_refused(scenario: Path, tmp_path: Path) -> None:
    store = tmp_path / "used.duckdb"
    store.write_bytes(b"")
    result = CliRunner().invoke(main, ["eval", str(scenario), "--store", str(store)])
    assert result.exit_code == 2
    assert "exists" in result.output


def test_a_directory_without_a_manifest_is_a_clear_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert result.exit_code == 2
    assert "mista simulate" in result.output
