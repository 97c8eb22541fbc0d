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


# -- users ------------------------------------------------------------------------------

ADD = ["users", "add"]
LIAISON = ["--role", "liaison", "--role", "analyst"]


def test_users_are_added_listed_and_removed(runner: CliRunner) -> None:
    added = runner.invoke(
        main,
        [*ADD, "liaison.usa", "--nation", "USA", "--clearance", "restricted", *LIAISON],
    )
    assert added.exit_code == 0, added.output
    assert "added user liaison.usa (USA, RESTRICTED)" in added.stderr
    again = runner.invoke(
        main,
        [*ADD, "liaison.usa", "--nation", "GBR", "--clearance", "SECRET", "--role", "admin"],
    )
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert "mista users remove" in again.stderr
    listed = runner.invoke(main, ["users", "list", "--format", "jsonl"])
    assert [json.loads(line) for line in listed.stdout.splitlines()] == [
        {
            "name": "liaison.usa",
            "nation": "USA",
            "clearance": "RESTRICTED",
            "roles": "analyst,liaison",
        }
    ]
    assert runner.invoke(main, ["users", "remove", "liaison.usa"]).exit_code == 0
    gone = runner.invoke(main, ["users", "remove", "liaison.usa"])
    assert gone.exit_code == 2
    assert "no user 'liaison.usa'" in gone.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad Name", "--nation", "USA", "--clearance", "SECRET", "--role", "admin"], "user name"),
        (["ana", "--nation", "usa", "--clearance", "SECRET", "--role", "admin"], "alpha-3"),
        (
            ["ana", "--nation", "USA", "--clearance", "TOP", "--role", "admin"],
            "'TOP' is not one of",
        ),
        (["ana", "--nation", "USA", "--clearance", "SECRET"], "Missing option '--role'"),
    ],
)
def test_bad_users_are_refused_with_the_fix(
    runner: CliRunner, args: list[str], message: str
) -> None:
    result = runner.invoke(main, ["users", "add", *args])
    assert result.exit_code == 2
    assert message in result.stderr


def test_queries_show_a_user_only_what_they_may_see(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One vessel's feed releasable to USA at RESTRICTED, the other only to IND.
    shared = tmp_path / "shared.toml"
    shared.write_text('name = "shared"\nlabel = "RESTRICTED//REL TO USA//white-shipping"\n')
    lines = feed(tmp_path).read_text().splitlines()
    usa_feed, own_feed = tmp_path / "usa.nmea", tmp_path / "own.nmea"
    usa_feed.write_text("\n".join(lines[:5]) + "\n")  # vessel 366000001, positions only
    own_feed.write_text("\n".join(lines[5:]) + "\n")  # 366000002, identity, a bad line
    assert (
        runner.invoke(main, ["ingest", str(usa_feed), "--source-config", str(shared)]).exit_code
        == 0
    )
    assert runner.invoke(main, ["ingest", str(own_feed)]).exit_code == 0
    for name, nation, clearance in [
        ("liaison.usa", "USA", "RESTRICTED"),
        ("low.usa", "USA", "UNCLASSIFIED"),
    ]:
        args = ["users", "add", name, "--nation", nation, "--clearance", clearance]
        assert runner.invoke(main, [*args, "--role", "liaison"]).exit_code == 0

    def rows(*args: str) -> list[dict[str, object]]:
        result = runner.invoke(main, [*args, "--format", "jsonl"])
        assert result.exit_code == 0, result.output
        return [json.loads(line) for line in result.stdout.splitlines()]

    liaison = rows("vessels", "--user", "liaison.usa")
    assert [(r["mmsi"], r["name"], r["label"]) for r in liaison] == [
        (366000001, None, "RESTRICTED//REL TO IND,USA//white-shipping")
    ]
    assert rows("vessels", "--user", "low.usa") == []
    assert len(rows("track", "366000001", "--user", "liaison.usa")) == 5
    assert rows("track", "366000002", "--user", "liaison.usa") == []
    assert len(rows("positions", "--bbox", "-75,40,-73,41", "--user", "liaison.usa")) == 5
    assert rows("rejected", "--user", "liaison.usa") == []
    # The operator (no --user) sees everything the node holds; MISTA_USER names a user.
    assert [r["mmsi"] for r in rows("vessels")] == [366000001, 366000002]
    (bad,) = rows("rejected")
    assert bad["label"] == "UNCLASSIFIED//REL TO IND"
    monkeypatch.setenv("MISTA_USER", "low.usa")
    assert rows("positions", "--bbox", "-75,40,-73,41") == []


def test_an_unknown_user_says_how_to_add_one(runner: CliRunner, tmp_path: Path) -> None:
    runner.invoke(main, ["ingest", str(feed(tmp_path))])
    result = runner.invoke(main, ["vessels", "--user", "nobody"])
    assert result.exit_code == 2
    assert "no user 'nobody'" in result.stderr
    assert "mista users add nobody --nation" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", ["add", "list", "remove"])
def test_every_users_help_ends_with_an_example(command: str) -> None:
    result = CliRunner().invoke(main, ["users", command, "--help"])
    assert result.exit_code == 0
    tail = result.stdout.rstrip().splitlines()
    assert tail[-2].strip() == "Example:"
    assert tail[-1].strip().startswith(f"mista users {command}")
    assert "--store" in result.stdout
