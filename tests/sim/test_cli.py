from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from mista.cli.simulate import simulate


def test_simulate_command_writes_a_scenario(tmp_path: Path) -> None:
    out = tmp_path / "scen"
    result = CliRunner().invoke(
        simulate,
        [str(out), "--hours", "1", "--vessels", "30", "--seed", "2", "--forward-interval", "0"],
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.stderr
    assert "injected:" in result.stderr
    manifest = json.loads((out / "scenario.json").read_text())
    assert (manifest["vessels"], manifest["seed"], manifest["forward_interval_s"]) == (30, 2, 0.0)


def test_simulate_start_time(tmp_path: Path) -> None:
    out = tmp_path / "scen"
    args = [str(out), "--hours", "0.5", "--vessels", "10", "--start", "2026-03-01T06:00:00+05:30"]
    result = CliRunner().invoke(simulate, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "scenario.json").read_text())
    assert manifest["start"] == "2026-03-01T00:30:00Z"
    assert all(f["path"].rsplit("/", 1)[1] >= "20260301T0030" for f in manifest["files"])


def test_simulate_help_has_an_example() -> None:
    result = CliRunner().invoke(simulate, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "--vessels" in result.output


def test_simulate_refuses_bad_numbers(tmp_path: Path) -> None:
    result = CliRunner().invoke(simulate, [str(tmp_path / "x"), "--vessels", "0"])
    assert result.exit_code == 2
    assert "vessels" in result.output
