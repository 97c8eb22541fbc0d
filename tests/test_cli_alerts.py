"""``mista alerts``: what each user is shown, the filters, and the output formats."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

import mista.cli.alerts  # noqa: F401  (registers the command on main)
from mista.cli import main
from mista.labels import Label, Level
from mista.model import Alert, AlertStatus, Role, User
from mista.store.embedded import DuckDBStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHARED = Label(Level.RESTRICTED, "IND", frozenset({"USA"}))
OWN = Label(Level.SECRET, "IND")


def alert(ident: str, label: Label, **changes: object) -> Alert:
    fields: dict[str, object] = {
        "id": ident,
        "kind": "encounter",
        "status": AlertStatus.OPEN,
        "start": T0,
        "end": T0 + timedelta(hours=2),
        "lat": 12.5,
        "lon": 88.0,
        "label": label,
        "mmsis": (419000001, 563000002),
        "tracks": ("ais:419000001", "ais:563000002"),
        "evidence": '{"distance_m": 320}',
    }
    fields.update(changes)
    return Alert(**fields)  # type: ignore[arg-type]


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    store = tmp_path / "alerts.duckdb"
    monkeypatch.setenv("MISTA_STORE", str(store))
    monkeypatch.setenv("MISTA_NATION", "IND")
    monkeypatch.delenv("MISTA_USER", raising=False)
    with DuckDBStore(store) as db:
        db.write_alerts(
            [
                alert("enc-shared", SHARED),
                alert("enc-own", OWN, start=T0 + timedelta(minutes=5)),
                alert(
                    "loit-shared",
                    SHARED,
                    kind="loitering",
                    start=T0 + timedelta(hours=6),
                    end=T0 + timedelta(hours=8),
                ),
                alert("gone", SHARED, status=AlertStatus.WITHDRAWN, start=T0 + timedelta(hours=1)),
            ]
        )
        db.add_user(User("liaison.usa", "USA", Level.RESTRICTED, frozenset({Role.LIAISON})))
        db.add_user(User("analyst.jpn", "JPN", Level.SECRET, frozenset({Role.ANALYST})))
    return CliRunner()


def ids(runner: CliRunner, *args: str) -> list[str]:
    result = runner.invoke(main, ["alerts", *args, "--format", "json"])
    assert result.exit_code == 0, result.output
    return [row["id"] for row in json.loads(result.output)]


def test_each_user_sees_only_the_alerts_they_may(runner: CliRunner) -> None:
    assert ids(runner) == ["enc-shared", "enc-own", "loit-shared"]  # the operator
    assert ids(runner, "--user", "liaison.usa") == ["enc-shared", "loit-shared"]
    assert ids(runner, "--user", "analyst.jpn") == []


def test_the_table_names_what_a_user_may_see_and_nothing_else(runner: CliRunner) -> None:
    result = runner.invoke(main, ["alerts", "--user", "liaison.usa"])
    assert result.exit_code == 0, result.output
    assert "enc-shared" in result.output
    assert "RESTRICTED//REL TO IND,USA" in result.output
    assert "enc-own" not in result.output
    assert "SECRET" not in result.output
    assert "(2 rows)" in result.output
    assert "distance_m" not in result.output  # the table leaves the evidence out
    hidden = runner.invoke(main, ["alerts", "--user", "analyst.jpn"])
    assert hidden.exit_code == 0
    assert "(0 rows)" in hidden.output
    assert "enc-" not in hidden.output


def test_window_kind_withdrawn_and_limit(runner: CliRunner) -> None:
    assert ids(runner, "--kind", "loitering") == ["loit-shared"]
    assert ids(runner, "--kind", "loitering", "--kind", "encounter") == [
        "enc-shared",
        "enc-own",
        "loit-shared",
    ]
    assert ids(runner, "--since", "2026-01-01T03:00:00Z") == ["loit-shared"]
    assert ids(runner, "--until", "2026-01-01T06:00Z") == ["enc-shared", "enc-own"]
    assert ids(runner, "--all", "--user", "liaison.usa") == ["enc-shared", "gone", "loit-shared"]
    assert ids(runner, "--limit", "1") == ["enc-shared"]


def test_json_and_csv_keep_every_column(runner: CliRunner) -> None:
    result = runner.invoke(main, ["alerts", "--user", "liaison.usa", "--format", "json"])
    first = json.loads(result.output)[0]
    assert first == {
        "id": "enc-shared",
        "kind": "encounter",
        "status": "open",
        "start": "2026-01-01T00:00:00Z",
        "end": "2026-01-01T02:00:00Z",
        "lat": 12.5,
        "lon": 88.0,
        "mmsis": [419000001, 563000002],
        "tracks": ["ais:419000001", "ais:563000002"],
        "evidence": '{"distance_m": 320}',
        "revision": 1,
        "label": "RESTRICTED//REL TO IND,USA",
    }
    jsonl = runner.invoke(main, ["alerts", "--format", "jsonl"])
    assert [json.loads(line)["id"] for line in jsonl.output.splitlines()] == [
        "enc-shared",
        "enc-own",
        "loit-shared",
    ]
    table = runner.invoke(main, ["alerts", "--format", "csv", "--kind", "loitering"])
    (row,) = csv.DictReader(io.StringIO(table.output))
    assert (row["id"], row["kind"], row["label"]) == (
        "loit-shared",
        "loitering",
        SHARED.to_marking(),
    )


def test_bad_input_says_what_to_do(runner: CliRunner) -> None:
    unknown = runner.invoke(main, ["alerts", "--user", "nobody"])
    assert unknown.exit_code == 2
    assert "no user 'nobody'" in unknown.output
    bad_time = runner.invoke(main, ["alerts", "--since", "yesterday"])
    assert bad_time.exit_code == 2
    assert "not an ISO 8601 time" in bad_time.output
    bad_kind = runner.invoke(main, ["alerts", "--kind", "piracy"])
    assert bad_kind.exit_code == 2
    assert "encounter" in bad_kind.output  # lists the kinds


def test_the_help_has_an_example(runner: CliRunner) -> None:
    result = runner.invoke(main, ["alerts", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert "mista alerts --kind encounter" in result.output


def test_mista_fuse_refuses_a_store_fused_in_parts(runner: CliRunner, tmp_path: Path) -> None:
    import mista.cli.fuse  # noqa: F401  (registers the command on main)
    from mista.detect.pipeline import POINT_SCHEMA

    assert runner.invoke(main, ["fuse"]).exit_code == 0  # one part: fine
    with DuckDBStore(tmp_path / "alerts.duckdb") as db:
        db.write_fusion(cursor=1, tracks=[], points=POINT_SCHEMA.empty_table(), alerts=[], part=1)
    result = runner.invoke(main, ["fuse"])
    assert result.exit_code == 1
    assert "fused in parts" in result.output
