"""One real nats-server for the bus tests (session-scoped); each test uses its own stream."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.bus.nats_server import NatsServer, start_nats


@pytest.fixture(scope="session")
def nats_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    server = start_nats(tmp_path_factory.mktemp("nats"))
    try:
        yield server
    finally:
        server.stop()
