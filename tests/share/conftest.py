"""Share fixtures: the exchange's tests run on both store backends.

``node_stores`` (one test) and ``module_node_stores`` (a module's tests) open the stores of
a test's nodes on DuckDB (a file in the node's directory) and on PostgreSQL (a fresh
database per node on the store tests' session server, ``tests/store/conftest.py``, dropped
at the end), each in turn; a node opened again on the same directory gets the same store,
as a node restarting on its store does. Without the PostgreSQL binaries the postgresql
cases skip saying why, or fail when ``CI=true``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mista.store.embedded import DuckDBStore
from mista.store.postgres import PostgresStore
from tests.store.conftest import BACKENDS, drop_database, new_database, pg_server
from tests.store.pg_server import PgServer

__all__ = ["DUCKDB_ONLY", "NodeStores", "pg_server", "run_sql"]

AnyStore = DuckDBStore | PostgresStore
#: For a test whose every step happens before the store is reached (a batch refused by its
#: signature, say): the PostgreSQL case would test nothing more, so it runs on DuckDB only.
DUCKDB_ONLY = pytest.mark.parametrize("node_stores", ["duckdb"], indirect=True)
_PARAM = re.compile(r"\$([a-z_]+)")


class NodeStores:
    """Opens node stores of one backend (``kind``): by node directory and nation."""

    def __init__(self, kind: str, server: PgServer | None) -> None:
        self.kind = kind
        self._server = server
        self._urls: dict[tuple[Path, str], str] = {}

    def open(self, directory: Path, nation: str) -> AnyStore:
        """The store of the node ``nation`` living in ``directory`` (made on first use)."""
        if self._server is None:
            return DuckDBStore(directory / f"{nation}.duckdb")
        key = (directory.resolve(), nation)
        if key not in self._urls:
            self._urls[key] = new_database(self._server)
        return PostgresStore(self._urls[key])

    def close(self) -> None:
        """Drop the databases made (their stores must be closed by then)."""
        if self._server is not None:
            for url in self._urls.values():
                drop_database(self._server, url)
        self._urls.clear()


def _node_stores(request: pytest.FixtureRequest) -> NodeStores:
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    return NodeStores(str(request.param), server)


@pytest.fixture(params=BACKENDS)
def node_stores(request: pytest.FixtureRequest) -> Iterator[NodeStores]:
    """Node stores on each backend in turn (the test runs once per backend)."""
    stores = _node_stores(request)
    yield stores
    stores.close()


@pytest.fixture(scope="module", params=BACKENDS)
def module_node_stores(request: pytest.FixtureRequest) -> Iterator[NodeStores]:
    """Node stores on each backend in turn, for a module's tests."""
    stores = _node_stores(request)
    yield stores
    stores.close()


def run_sql(store: AnyStore, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Run one statement straight on a store's tables (DuckDB ``$name`` parameters, turned
    into psycopg's for PostgreSQL), committed; its rows. For tests that break or inspect
    what the store's interface does not reach."""
    if isinstance(store, DuckDBStore):
        return store.connection.execute(sql, params or {}).fetchall()
    import psycopg

    with psycopg.connect(store.url, autocommit=True) as con, con.cursor() as cur:
        cur.execute(_PARAM.sub(r"%(\1)s", sql), params or {})
        return cur.fetchall() if cur.description else []
