"""PostgreSQL stopped for 30 s under a steady feed, with real processes: a publisher feeds
JetStream, ``mista bus write`` (its own process) commits into PostgreSQL + PostGIS, and
the database is stopped by pid and started again on the same data directory and port.

The writer backs off and resumes (one log line per attempt, no traceback, no restart),
the publisher is slowed by the writers' lag (``max_lag``) instead of piling messages on
the bus, and the store ends holding every report published, once.

``MISTA_PG_OUTAGE_S`` shortens or lengthens the outage (30 s by default, as the issue asks).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from mista.bus.jetstream import JetStreamBus
from mista.ingest.batch import IngestBatch
from mista.ingest.sources import SourceConfig
from mista.ingest.streams import ByteSource, FileSource
from mista.node import IngestSummary, ingest_paths, open_store, read_batches
from mista.store.postgres import PostgresStore
from tests.bus.feeds import write_feed
from tests.bus.nats_server import NatsServer
from tests.bus.pg import new_database, restart_pg, stop_pg
from tests.bus.test_faults import writer_process
from tests.store.pg_server import PgServer

OUTAGE_S = float(os.environ.get("MISTA_PG_OUTAGE_S", "30"))
#: The publisher waits while the writers are more than this many messages behind.
MAX_LAG = 12
PARTITIONS = 3
CHUNK_BYTES = 4 * 1024


def _published_ids(feed: Path) -> pa.Array:
    """The distinct report ids (32 hex digits, as the store prints them) of the feed."""
    batches = read_batches(FileSource(feed), SourceConfig.default("IND"), name="feed")
    tables = [b.messages.select(["id_hi", "id_lo"]) for b in batches if b.message_count]
    both = pa.concat_tables(tables)
    hexed = [
        f"{hi:016x}{lo:016x}"
        for hi, lo in zip(
            both.column("id_hi").to_pylist(), both.column("id_lo").to_pylist(), strict=True
        )
    ]
    return pc.unique(pa.array(hexed))


def _stored_ids(store: PostgresStore) -> list[str]:
    ids: list[str] = []
    after = 0
    while True:
        page = store.report_feed(after, 10_000)
        if not page.num_rows:
            return ids
        ids += page.column("id").to_pylist()
        after = int(page.column("seq")[-1].as_py())


def _stored_reports(url: str) -> int:
    with open_store(url) as store:
        return int(store.counts()["reports"])


def test_postgres_stopped_under_a_steady_feed(
    nats_server: NatsServer, postgres: PgServer, tmp_path: Path
) -> None:
    feed = write_feed(tmp_path / "feed.nmea", lines=2_000, seed=23)
    store_url = new_database(postgres, "outage")
    direct = tmp_path / "direct.duckdb"
    ingest_paths([feed], store=direct, nation="IND", chunk_bytes=CHUNK_BYTES)
    bus_url = f"{nats_server.url}?stream=OUTAGE&partitions={PARTITIONS}&max_lag={MAX_LAG}"
    log = tmp_path / "writer.log"
    writer = writer_process(bus_url, store_url, log)
    with JetStreamBus.from_url(bus_url) as bus:
        # Back-pressure starts once the writers' consumers exist (a group that has read
        # nothing slows no one).
        deadline = time.monotonic() + 30
        while None in bus.pending("store").values():
            assert time.monotonic() < deadline, f"the writer never started:\n{log.read_text()}"
            time.sleep(0.1)

    published: list[tuple[float, int]] = []  # (time, reports published so far)
    done: list[IngestSummary] = []
    failed: list[BaseException] = []
    observed_lag: list[tuple[float, int]] = []
    watching = threading.Event()

    def progress(source: ByteSource, batch: IngestBatch, summary: IngestSummary) -> None:
        published.append((time.monotonic(), summary.messages))
        time.sleep(0.03)  # a steady feed, not a burst

    def publish() -> None:
        try:
            done.append(
                ingest_paths(
                    [feed], bus=bus_url, nation="IND", chunk_bytes=CHUNK_BYTES, progress=progress
                )
            )
        except BaseException as exc:  # reported by the test thread
            failed.append(exc)

    def watch(bus: JetStreamBus) -> None:
        while not watching.is_set():
            behind = bus.lag("store")
            if behind is not None:
                observed_lag.append((time.monotonic(), behind))
            watching.wait(0.1)

    try:
        with JetStreamBus.from_url(bus_url) as bus:
            watcher = threading.Thread(target=watch, args=(bus,))
            watcher.start()
            publisher = threading.Thread(target=publish)
            publisher.start()
            try:
                deadline = time.monotonic() + 30
                while _stored_reports(store_url) == 0:
                    assert time.monotonic() < deadline, "the writer never committed"
                    assert writer.poll() is None, log.read_text()
                    time.sleep(0.1)
                stop_pg(postgres)
                stopped = time.monotonic()
                time.sleep(OUTAGE_S)
                assert writer.poll() is None, "the writer died while the store was away"
                restarted = time.monotonic()
                restart_pg(postgres)
                publisher.join(90)
                assert not publisher.is_alive()
                assert not failed, failed
                deadline = time.monotonic() + 45
                while bus.lag("store") != 0:
                    assert time.monotonic() < deadline, f"writer stuck:\n{log.read_text()}"
                    time.sleep(0.2)
            finally:
                watching.set()
                watcher.join()
    finally:
        writer.send_signal(signal.SIGTERM)
        writer.wait(30)
    text = log.read_text()

    # Writers back off and resume, saying so in one line per attempt; no crash, no restart.
    assert writer.returncode == 0, text
    assert "Traceback" not in text
    failures = text.count("writing failed")
    assert 1 <= failures <= 12, text
    assert text.count("writing resumed") == 1, text
    assert text.count("writing partitions") == 1  # one start: the same process throughout

    # Back-pressure: the bus never held more unwritten messages than max_lag plus what one
    # publish adds after its check (a 4 kB batch is at most one message per partition),
    # and the source stopped while the store was away.
    assert max(lag for _, lag in observed_lag) <= MAX_LAG + PARTITIONS
    late_in_outage = [n for t, n in published if stopped + 5 < t < restarted]
    assert len(late_in_outage) <= 1, "the publisher kept sending while the store was away"
    assert done[0].messages > 0

    # Nothing lost, nothing doubled: every report id published is stored, once.
    with PostgresStore(store_url) as store:
        stored = _stored_ids(store)
        counts = store.counts()
    assert len(stored) == len(set(stored))
    assert sorted(stored) == sorted(_published_ids(feed).to_pylist())
    with open_store(direct, read_only=True) as reference:
        expected = reference.counts()
    for table in ("reports", "receptions", "quarantine", "vessel_latest", "vessels"):
        assert counts[table] == expected[table], table
