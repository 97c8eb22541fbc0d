"""JetStreamBus against a real nats-server: what a store writer commits from the bus is
exactly what direct ingest stores, and nothing twice."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from mista.bus._writer import store_writer
from mista.bus.jetstream import JetStreamBus
from mista.ingest.batch import IngestBatch
from mista.node import ingest_paths, open_store
from tests.bus.feeds import store_content, write_feed, write_radar
from tests.bus.nats_server import NatsServer

_streams = iter(range(10_000))


@pytest.fixture
def stream() -> str:
    """A stream name of its own for each test (one server serves them all)."""
    return f"T{next(_streams)}"


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("feeds")
    return [
        write_feed(folder / "feed.nmea", lines=3_000),
        write_radar(folder / "contacts.jsonl", contacts=600),
    ]


@pytest.fixture(scope="module")
def direct_store(tmp_path_factory: pytest.TempPathFactory, feeds: list[Path]) -> Path:
    """The feeds ingested straight into a store: what every bus run must equal."""
    path = tmp_path_factory.mktemp("direct") / "direct.duckdb"
    ingest_paths(feeds, store=path, nation="IND", chunk_bytes=64 * 1024)
    return path


def drain(bus: JetStreamBus, store_path: Path, *, expected_rows: int, timeout_s: float = 30) -> int:
    """Run a store writer on every partition until it has handled ``expected_rows``."""
    stop = threading.Event()
    handled = 0
    with open_store(store_path) as store:

        class Counting:
            def write(self, batch: IngestBatch) -> object:
                nonlocal handled
                result = store.write(batch)
                handled += batch.message_count
                if handled >= expected_rows:
                    stop.set()
                return result

        timer = threading.Timer(timeout_s, stop.set)
        timer.start()
        try:
            store_writer(bus, Counting(), range(bus.partitions), stop, group="w")
        finally:
            timer.cancel()
    return handled


def test_publish_consume_store_equals_direct_ingest(
    nats_server: NatsServer, stream: str, feeds: list[Path], direct_store: Path, tmp_path: Path
) -> None:
    url = f"{nats_server.url}?stream={stream}&partitions=4"
    summary = ingest_paths(feeds, bus=url, nation="IND", chunk_bytes=64 * 1024)
    assert summary.messages > 3_000
    store_path = tmp_path / "bus.duckdb"
    with JetStreamBus.from_url(url) as bus:
        assert drain(bus, store_path, expected_rows=summary.messages) == summary.messages
    assert store_content(store_path) == store_content(direct_store)
