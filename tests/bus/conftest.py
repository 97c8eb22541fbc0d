"""One real nats-server for the bus tests (session-scoped; each test uses its own stream),
and one PostgreSQL + PostGIS for the tests that write into it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bus.nats_server import NatsServer, start_nats
from tests.bus.pg import pg_or_skip
from tests.store.pg_server import PgServer


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = start_nats(tmp_path_factory.mktemp("nats"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PgServer]:
    """One PostgreSQL + PostGIS server for the bus tests (the outage test restarts it)."""
    server = pg_or_skip(tmp_path_factory.mktemp("postgres"))
    try:
        yield server
    finally:
        server.stop()
