"""The fused picture on PostgreSQL is the fused picture on DuckDB: the same input ingested
into both stores and fused by the same pipeline gives the same tracks, alerts and alert
changes (ids, kinds, vessels, labels, times, revisions), and every user sees the same.

Inputs: a small simulated scenario (AIS and radar under several labels, zones) ingested as
``mista eval`` ingests it, then fused in steps of a few hundred reports (each step one
transaction of points, tracks, alerts and cursor); and a real AIS log from the shared data
folder, fused as ``mista fuse`` does.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from mista.api.app import create_api_app
from mista.api.context import ApiContext
from mista.detect.pipeline import Pipeline
from mista.evaluate.replay import replay
from mista.evaluate.scenario import Scenario
from mista.geo import Zones
from mista.labels import Level
from mista.model import Role, User
from mista.node import TOKEN_PREFIX, ingest_paths, open_node_store, token_hash
from mista.store import Store
from mista.store.embedded import DuckDBStore
from mista.store.postgres import PostgresStore
from tests.store.conftest import drop_database, new_database
from tests.store.pg_server import PgServer

REAL_LOG = Path("positions") / "marinecadastre_nyharbor_2020-06-30_0000-0100_full.csv.gz"
#: The node of the real log's fusion (the log is of US waters).
NODE = "USA"
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def pg_url(pg_server: PgServer) -> Iterator[str]:
    """A fresh migrated PostgreSQL database, dropped after the test."""
    url = new_database(pg_server)
    yield url
    drop_database(pg_server, url)


def viewers(node: str) -> list[User]:
    return [
        User("ops", node, Level.SECRET, frozenset({Role.ADMIN})),
        User("lo", "USA", Level.RESTRICTED, frozenset({Role.LIAISON})),
        User("guest", "BRA", Level.UNCLASSIFIED, frozenset()),
    ]


def picture(store: Store, node: str) -> dict[str, object]:
    """Everything the fused picture answers: per viewer, tracks and alerts (withdrawn ones
    too), and every alert change as sharing reads it."""
    answers: dict[str, object] = {"cursor": store.fusion_cursor(), "counts": {}}
    for viewer in viewers(node):
        answers[f"tracks/{viewer.name}"] = store.tracks(viewer=viewer)
        answers[f"alerts/{viewer.name}"] = store.alerts(viewer=viewer, include_withdrawn=True)
    answers["changes"] = store.alert_changes_after(0, 10_000_000)
    counts = store.counts()
    answers["counts"] = {name: counts[name] for name in ("tracks", "track_points", "alerts")}
    return answers


def assert_same_picture(duck: dict[str, object], pg: dict[str, object]) -> None:
    assert pg.keys() == duck.keys()
    for name, expected in duck.items():
        found = pg[name]
        if isinstance(expected, pa.Table):
            assert isinstance(found, pa.Table)
            assert found.schema.equals(expected.schema), name
            assert found.to_pylist() == expected.to_pylist(), name
        else:
            assert found == expected, name


def scenario_zones(scenario: Scenario) -> Zones | None:
    """The scenario's zones, as its replay reads them."""
    if scenario.zones is None or not scenario.zones.exists():
        return None
    return Zones.from_geojson(scenario.zones, originator=scenario.node)


def fused(scenario: Scenario, store: Store) -> dict[str, object]:
    """Ingest the scenario, fuse it in steps, and read the picture."""
    replay(scenario, store, fuse=False)
    pipeline = Pipeline(
        store, node=scenario.node, zones=scenario_zones(scenario), batch_reports=300
    )
    pipeline.run()
    pipeline.finish()
    return picture(store, scenario.node)


def test_a_scenario_fused_on_postgres_gives_the_duckdb_picture(
    scenario: Scenario, pg_url: str, tmp_path: Path
) -> None:
    with DuckDBStore(tmp_path / "scenario.duckdb") as duck:
        expected = fused(scenario, duck)
    with PostgresStore(pg_url) as pg:
        found = fused(scenario, pg)
    assert_same_picture(expected, found)
    # The scenario exercises the picture: tracks of both kinds, alerts of radar and of AIS,
    # alerts some viewers may not see, alerts revised.
    ops = expected["alerts/ops"]
    assert isinstance(ops, pa.Table)
    kinds = set(ops.column("kind").to_pylist())
    assert len(kinds) >= 2, kinds
    assert "dark-vessel" in kinds  # from radar contacts, on dark tracks
    tracks = expected["tracks/ops"]
    assert isinstance(tracks, pa.Table)
    assert set(tracks.column("kind").to_pylist()) == {"ais", "dark"}
    liaison = expected["alerts/lo"]
    assert isinstance(liaison, pa.Table)
    assert 0 < liaison.num_rows < ops.num_rows
    assert max(ops.column("revision").to_pylist()) > 1


@dataclass
class RealLog:
    """The real log ingested and fused into a DuckDB file and a PostgreSQL database."""

    locations: dict[str, str]
    pictures: dict[str, dict[str, object]]


@pytest.fixture(scope="module")
def real_log(
    shared_data: Path, pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RealLog]:
    url = new_database(pg_server)
    fused = RealLog(
        {"duckdb": str(tmp_path_factory.mktemp("real") / "real.duckdb"), "postgresql": url}, {}
    )
    try:
        for backend, location in fused.locations.items():
            ingest_paths([shared_data / REAL_LOG], store=location, nation=NODE)
            # What mista fuse opens: either backend, since fusion needs no exchange.
            with open_node_store(location) as store:
                pipeline = Pipeline(store, node=NODE)
                pipeline.run()
                pipeline.finish()
                fused.pictures[backend] = picture(store, NODE)
        yield fused
    finally:
        drop_database(pg_server, url)


def test_a_real_log_fused_on_postgres_gives_the_duckdb_picture(real_log: RealLog) -> None:
    duck, pg = real_log.pictures["duckdb"], real_log.pictures["postgresql"]
    assert_same_picture(duck, pg)
    tracks = duck["tracks/ops"]
    assert isinstance(tracks, pa.Table)
    assert tracks.num_rows > 50
    alerts = duck["alerts/ops"]
    assert isinstance(alerts, pa.Table)
    assert alerts.num_rows > 10


def api_answers(location: str) -> dict[str, object]:
    """The API's answers over the store at ``location`` (its live parts running): data
    routes for an operator and a liaison, watch lists written and read back, and the
    admin's outbox (nothing released, on either backend here)."""
    ops, liaison = viewers(NODE)[:2]
    with open_node_store(location) as store:
        tokens = {}
        for user in (ops, liaison):
            store.add_user(user)
            tokens[user.name] = f"{TOKEN_PREFIX}{user.name}-token"
            store.add_token(
                user.name, token_hash(tokens[user.name]), created_at=T0, expires_at=None
            )
        app = create_api_app(ApiContext(nation=NODE, store=store))
        answers: dict[str, object] = {}
        with TestClient(app) as client:

            def get(user: User, path: str, **params: Any) -> object:
                response = client.get(
                    f"/api/v1{path}",
                    params=params,
                    headers={"Authorization": f"Bearer {tokens[user.name]}"},
                )
                assert response.status_code == 200, (path, response.text)
                return response.json()

            for user in (ops, liaison):
                for path, params in (
                    ("/vessels", {}),
                    ("/tracks", {}),
                    ("/alerts", {"withdrawn": "true"}),
                    ("/alerts", {"kind": "ais-gap,loitering", "limit": "5"}),
                    ("/positions", {"bbox": "-74.1,40.5,-73.9,40.7", "limit": "500"}),
                ):
                    answers[f"{user.name} {path} {params}"] = get(user, path, **params)
            alerts = answers["ops /alerts {'withdrawn': 'true'}"]
            assert isinstance(alerts, dict)
            first = alerts["alerts"][0]["id"]
            answers["one alert"] = get(ops, f"/alerts/{first}")
            body = {"name": "harbour", "mmsis": [366000001, 367000002], "webhook": None}
            created = client.post(
                "/api/v1/watchlists", json=body, headers={"Authorization": f"Bearer {tokens['lo']}"}
            )
            assert created.status_code in (200, 201), created.text
            listed = get(liaison, "/watchlists")
            assert isinstance(listed, dict)
            answers["watchlists"] = [
                {key: value for key, value in entry.items() if key not in _VARYING}
                for entry in listed["watchlists"]
            ]
            answers["releases"] = get(ops, "/releases")
    return answers


#: Watch-list fields that differ between two runs (a fresh id, the time of writing).
_VARYING = {"id", "created_at", "updated_at"}


def test_the_api_answers_the_same_on_postgres(real_log: RealLog) -> None:
    duck = api_answers(real_log.locations["duckdb"])
    pg = api_answers(real_log.locations["postgresql"])
    assert pg.keys() == duck.keys()
    for key, answer in duck.items():
        assert pg[key] == answer, key
    for key in ("ops /tracks {}", "ops /alerts {'withdrawn': 'true'}", "lo /vessels {}"):
        answer = duck[key]
        assert isinstance(answer, dict)
        assert answer["count"] > 0, key
    positions = duck["ops /positions {'bbox': '-74.1,40.5,-73.9,40.7', 'limit': '500'}"]
    assert isinstance(positions, dict)
    assert positions["count"] == 500  # the page's limit, in the SQL of both
    assert len(duck["watchlists"]) == 1  # type: ignore[arg-type]
