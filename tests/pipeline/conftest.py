"""Pipeline fixtures: the session's PostgreSQL + PostGIS server of the store tests (started
once, on first use; skipped saying why, or failed when ``CI=true``, without the binaries),
and one small simulated scenario for the session (3 h, 120 vessels, seed 11), which every
test ingests into a store of its own (``ingested``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mista.evaluate.replay import replay
from mista.evaluate.scenario import Scenario, load_scenario
from mista.sim import simulate
from mista.store.embedded import DuckDBStore
from tests.store.conftest import pg_server

__all__ = ["ingested", "pg_server", "scenario"]


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    out = tmp_path_factory.mktemp("scenario") / "small"
    simulate(out, hours=3, vessels=120, seed=11)
    return load_scenario(out)


def ingested(scenario: Scenario, path: Path) -> DuckDBStore:
    """A new DuckDB store at ``path`` holding the scenario's reports, not fused."""
    store = DuckDBStore(path)
    replay(scenario, store, fuse=False)
    return store
