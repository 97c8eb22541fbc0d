"""Store fixtures: one parametrised fixture runs a test on every store backend.

``backend`` is ``duckdb`` (a file in the test's tmp dir) or ``postgresql`` (a fresh
database on the session's PostgreSQL + PostGIS server, cloned from a migrated template
database, dropped after the test). Without the PostgreSQL binaries the postgresql cases
skip saying why, or fail when ``CI=true``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mista.store.embedded import DuckDBStore
from mista.store.postgres import PostgresStore
from tests.store.pg_server import PgServer, require_pg, start_pg

BACKENDS = ("duckdb", "postgresql")
#: The database every test database is cloned from (migrated once per session).
TEMPLATE_DB = "mista"
AnyStore = DuckDBStore | PostgresStore
_databases = itertools.count()


@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """One PostgreSQL + PostGIS server for the session; its ``mista`` database migrated."""
    require_pg()
    server = start_pg(tmp_path_factory.mktemp("postgres"))
    try:
        PostgresStore(server.url).close()  # migrate the template
        yield server
    finally:
        server.stop()


def new_database(server: PgServer, *, icu_locale: str | None = None) -> str:
    """A fresh migrated database on ``server``; its URL. With ``icu_locale`` (e.g.
    ``en-US``) an empty database that sorts text by that language's rules instead of
    byte-wise (the server's default), migrated when a store first opens it."""
    import psycopg

    name = f"test_{next(_databases)}"
    with psycopg.connect(server.admin_url(), autocommit=True) as con:
        if icu_locale is None:
            con.execute(f"CREATE DATABASE {name} TEMPLATE {TEMPLATE_DB} STRATEGY FILE_COPY")
        else:
            con.execute(
                f"CREATE DATABASE {name} OWNER mista TEMPLATE template0 ENCODING 'UTF8' "
                f"LOCALE 'C' LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'"
            )
    return f"postgresql://mista@127.0.0.1:{server.port}/{name}"


def drop_database(server: PgServer, url: str) -> None:
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(server.admin_url(), autocommit=True) as con:
        con.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


class Backend:
    """Opens stores of one backend; closes (and for PostgreSQL drops) them at the end."""

    def __init__(self, kind: str, tmp: Path, server: PgServer | None) -> None:
        self.kind = kind
        self._tmp = tmp
        self._server = server
        self._opened: list[AnyStore] = []
        self._urls: list[str] = []

    def location(self) -> str:
        """Where a new empty store lives (a file path or a database URL)."""
        if self._server is None:
            return str(self._tmp / f"store-{next(_databases)}.duckdb")
        url = new_database(self._server)
        self._urls.append(url)
        return url

    def open(self, location: str | None = None, *, read_only: bool = False) -> AnyStore:
        where = location or self.location()
        store: AnyStore = (
            DuckDBStore(where, read_only=read_only)
            if self._server is None
            else PostgresStore(where, read_only=read_only)
        )
        self._opened.append(store)
        return store

    def close(self) -> None:
        for store in self._opened:
            store.close()
        if self._server is not None:
            for url in self._urls:
                drop_database(self._server, url)


def _backend(request: pytest.FixtureRequest, tmp: Path) -> tuple[Backend, Callable[[], None]]:
    server = request.getfixturevalue("pg_server") if request.param == "postgresql" else None
    backend = Backend(str(request.param), tmp, server)
    return backend, backend.close


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Opens stores of each backend in turn (the test runs once per backend)."""
    opened, close = _backend(request, tmp_path)
    yield opened
    close()


@pytest.fixture
def any_store(backend: Backend) -> AnyStore:
    """A fresh empty store of each backend in turn."""
    return backend.open()


@pytest.fixture(scope="module", params=BACKENDS)
def module_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AnyStore]:
    """One empty store of each backend in turn, shared by a module's tests (property tests
    that write many examples keep them apart, e.g. by id prefixes)."""
    opened, close = _backend(request, tmp_path_factory.mktemp("shared"))
    try:
        yield opened.open()
    finally:
        close()
