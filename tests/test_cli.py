"""The mista command: each command through click's CliRunner, and once as a real process."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mista.cli import main

from .ingest.nmea_lines import position, sentences, tagged

T0 = 1_593_475_200  # 2020-06-30T00:00:00Z
COMMANDS = ["ingest", "vessels", "track", "positions", "rejected"]


def feed(tmp_path: Path) -> Path:
    lines = [
        tagged(position(366000001, 40.5 + i / 100, -74.0), epoch_s=T0 + 60 * i) for i in range(5)
    ]
    lines.append(tagged(position(366000002, 40.6, -74.1), epoch_s=T0 + 30))
    lines += [
        tagged(s, epoch_s=T0 + 40)
        for s in sentences(
            {"type": 5, "mmsi": 366000001, "shipname": "HARBOUR ONE", "callsign": "WDA1"}
        )
    ]
    lines.append("!AIVDM,1,1,,A,15M67F@P1aG?d`0E`Ah3Q2n1P000,0*00")  # checksum
    path = tmp_path / "feed.nmea"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MISTA_STORE", str(tmp_path / "cli.duckdb"))
    monkeypatch.setenv("MISTA_NATION", "IND")
    return CliRunner()


def test_ingest_summarises_and_a_second_run_stores_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    path = feed(tmp_path)
    result = runner.invoke(main, ["ingest", str(path)])
    assert result.exit_code == 0, result.output
    assert "7 messages" in result.stderr
    assert "stored 7 reports (0 duplicates) and 7 receptions" in result.stderr
    assert "rejected 1: checksum 1" in result.stderr
    again = runner.invoke(main, ["ingest", str(path)])
    assert "stored 0 reports (7 duplicates) and 0 receptions" in again.stderr


def test_queries_in_every_format(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(main, ["ingest", str(feed(tmp_path))])
    vessels = runner.invoke(main, ["vessels", "--format", "jsonl"])
    rows = [json.loads(line) for line in vessels.stdout.splitlines()]
    assert [row["mmsi"] for row in rows] == [366000001, 366000002]
    assert rows[0]["name"] == "HARBOUR ONE"
    assert rows[0]["lat"] == pytest.approx(40.54)
    assert rows[0]["observed_at"] == "2020-06-30T00:04:00Z"
    track = runner.invoke(
        main,
        [
            "track",
            "366000001",
            "--since",
            "2020-06-30T00:01:00Z",
            "--until",
            "2020-06-30T00:03:00",
            "--format",
            "csv",
        ],
    )
    assert [r["lat"] for r in csv.DictReader(io.StringIO(track.stdout))] == ["40.51", "40.52"]
    box = runner.invoke(
        main, ["positions", "--bbox", "-74.05,40.0,-73.9,41.0", "--format", "geojson"]
    )
    features = json.loads(box.stdout)["features"]
    assert len(features) == 5
    assert features[0]["geometry"] == {"type": "Point", "coordinates": [-74.0, 40.5]}
    table = runner.invoke(main, ["vessels"])
    assert table.stdout.splitlines()[0].split()[:2] == ["mmsi", "name"]
    assert "(2 rows)" in table.stdout
    rejected = runner.invoke(main, ["rejected", "--format", "jsonl"])
    (bad,) = [json.loads(line) for line in rejected.stdout.splitlines()]
    assert (bad["line_no"], bad["reason"]) == (9, "checksum")


def test_a_source_config_labels_what_is_stored(runner: CliRunner, tmp_path: Path) -> None:
    config = tmp_path / "shore.toml"
    config.write_text('name = "shore"\n[label]\nlevel = "RESTRICTED"\nreleasable_to = ["USA"]\n')
    result = runner.invoke(main, ["ingest", str(feed(tmp_path)), "--source-config", str(config)])
    assert result.exit_code == 0, result.output
    vessels = runner.invoke(main, ["vessels", "--format", "jsonl"])
    assert json.loads(vessels.stdout.splitlines()[0])["label"] == "RESTRICTED//REL TO IND,USA"


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["vessels", "--store", "absent.duckdb"], 1, "no store at absent.duckdb"),
        (["positions", "--bbox", "1,2,3"], 2, "is not four numbers W,S,E,N"),
        (["positions", "--bbox", "0,50,1,40"], 2, "south <= north"),
        (["track", "1", "--since", "noon"], 2, "is not an ISO 8601 time"),
        (["ingest", "missing.nmea"], 2, "no such file: missing.nmea"),
    ],
)
def test_errors_are_one_line_with_the_way_out(
    runner: CliRunner, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    runner.invoke(main, ["ingest", str(feed(tmp_path))])
    with runner.isolated_filesystem(temp_dir=tmp_path):
        result = runner.invoke(main, args)
    assert result.exit_code == code
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_strict_names_the_line_and_file(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(main, ["ingest", "--strict", str(feed(tmp_path))])
    assert result.exit_code == 2
    assert "line 9 of" in result.stderr
    assert "feed.nmea: checksum" in result.stderr
    assert "--strict" in result.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_help_ends_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    tail = result.stdout.rstrip().splitlines()
    assert tail[-2].strip() == "Example:"
    assert tail[-1].strip().startswith("mista ")
    assert "--store" in result.stdout


def test_the_installed_command_reads_stdin(tmp_path: Path) -> None:
    mista = Path(sys.executable).with_name("mista")
    store = str(tmp_path / "proc.duckdb")
    data = feed(tmp_path).read_bytes()
    ingest = subprocess.run(
        [mista, "ingest", "-", "--store", store], input=data, capture_output=True, timeout=60
    )
    assert ingest.returncode == 0, ingest.stderr
    assert b"stored 7 reports" in ingest.stderr
    vessels = subprocess.run(
        [mista, "vessels", "--format", "csv", "--store", store], capture_output=True, timeout=60
    )
    assert vessels.returncode == 0
    assert vessels.stdout.decode().splitlines()[0].startswith('"mmsi","name"')
    missing = subprocess.run(
        [mista, "track", "1", "--store", str(tmp_path / "nope.duckdb")], capture_output=True
    )
    assert missing.returncode == 1
    assert missing.stderr.decode().startswith("mista: no store at")


def test_gzip_on_stdin_is_recognised(tmp_path: Path) -> None:
    import gzip

    mista = Path(sys.executable).with_name("mista")
    data = gzip.compress(feed(tmp_path).read_bytes())
    result = subprocess.run(
        [mista, "ingest", "-", "--store", str(tmp_path / "gz.duckdb")],
        input=data,
        capture_output=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert b"stored 7 reports" in result.stderr


def test_a_bad_node_nation_is_a_config_error(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MISTA_NATION", "india")
    result = runner.invoke(main, ["ingest", str(feed(tmp_path))])
    assert result.exit_code == 2
    assert result.stderr.startswith("mista: MISTA_NATION='INDIA'")
