"""The PostgreSQL write path's shortcuts keep the embedded store's behaviour: a batch whose
time window holds nothing stored skips the anti-joins and still drops its own repeats, a
batch reaching both stored and new days stores only what is new, seqs follow the input
order although rows are staged in a vessel's order, and a writer stages its batch before
it waits for another writer's lock. Every case is held to DuckDB's answers on the same
batches.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mista.ingest.batch import IngestBatch
from mista.store.embedded import DuckDBStore
from mista.store.postgres import PostgresStore
from mista.store.postgres_write import WRITE_LOCK
from tests.ingest.nmea_lines import position, tagged
from tests.store.conftest import drop_database, new_database
from tests.store.pg_server import PgServer
from tests.store.test_embedded import OPERATOR, T0, ais

#: The first dedupe-bucket boundary after T0 (2023-11-14T22:13:20Z): 22:14:00.
BOUNDARY = (T0 // 60 + 1) * 60
#: Two hours after T0: the next UTC day.
NEXT_DAY = T0 + 2 * 3600


@pytest.fixture
def stores(pg_server: PgServer, tmp_path: Path) -> Iterator[tuple[DuckDBStore, PostgresStore]]:
    url = new_database(pg_server)
    try:
        with DuckDBStore(tmp_path / "same.duckdb") as duck, PostgresStore(url) as pg:
            yield duck, pg
    finally:
        drop_database(pg_server, url)


def write_both(stores: tuple[DuckDBStore, PostgresStore], batch: IngestBatch) -> tuple[int, int]:
    """Write ``batch`` into both stores; (reports, receptions) added, the same in both."""
    duck, pg = stores
    expected, got = duck.write(batch), pg.write(batch)
    assert got == expected
    return got.reports, got.receptions


def assert_same(stores: tuple[DuckDBStore, PostgresStore]) -> None:
    duck, pg = stores
    assert pg.counts() == duck.counts()
    assert pg.report_feed(0, 10_000).equals(duck.report_feed(0, 10_000))
    assert pg.vessels(viewer=OPERATOR).equals(duck.vessels(viewer=OPERATOR))


def stored_in(pg: PostgresStore, table: str, column: str, since_s: int, until_s: int) -> bool:
    """Whether ``table`` holds a row with ``column`` in [since_s, until_s) (epoch seconds)."""
    from mista.store.postgres_write import _any_stored

    with psycopg.connect(pg.url) as con, con.cursor() as cur:
        window = f"(e.{column} >= to_timestamp(%(lo)s) AND e.{column} < to_timestamp(%(hi)s))"
        return _any_stored(cur, table, window, {"lo": since_s, "hi": until_s})


def test_a_batch_over_an_empty_window_drops_its_own_repeats_and_a_repeat_batch(
    stores: tuple[DuckDBStore, PostgresStore],
) -> None:
    _, pg = stores
    # Something stored a week earlier: the store is not empty, the batch's window is.
    write_both(stores, ais([tagged(position(366000001, 1.0, 1.0), epoch_s=T0 - 7 * 86_400)]))
    sentence = position(366053209, 37.8, -122.4)
    lines = [
        tagged(sentence, epoch_s=BOUNDARY - 2, receiver="rx-north"),
        tagged(sentence, epoch_s=BOUNDARY - 1, receiver="rx-south"),  # the same report
        tagged(sentence, epoch_s=BOUNDARY + 2, receiver="rx-east"),  # across the boundary
        tagged(sentence, epoch_s=BOUNDARY - 2, receiver="rx-north"),  # the same reception
        *(tagged(position(366100000 + i, 38.0, -122.0), epoch_s=BOUNDARY + i) for i in range(5)),
    ]
    batch = ais(lines)
    assert not stored_in(pg, "reports", "observed_at", BOUNDARY - 3600, BOUNDARY + 3600)
    assert not stored_in(pg, "receptions", "received_at", BOUNDARY - 3600, BOUNDARY + 3600)
    assert write_both(stores, batch) == (6, 8)
    assert stored_in(pg, "reports", "observed_at", BOUNDARY - 3600, BOUNDARY + 3600)
    # The same batch again goes through the anti-joins: nothing new.
    assert write_both(stores, batch) == (0, 0)
    assert_same(stores)


def test_a_batch_reaching_stored_and_new_days_stores_only_what_is_new(
    stores: tuple[DuckDBStore, PostgresStore],
) -> None:
    _, pg = stores
    early = [position(366200000 + i, 40.0, 10.0 + i) for i in range(4)]
    repeated = position(366300000, 41.0, 11.0)
    stored = [tagged(s, epoch_s=T0 + i, receiver="rx-a") for i, s in enumerate(early)]
    stored.append(tagged(repeated, epoch_s=BOUNDARY - 2, receiver="rx-a"))
    assert write_both(stores, ais(stored)) == (5, 5)
    assert not stored_in(pg, "reports", "observed_at", NEXT_DAY - 3600, NEXT_DAY + 3600)
    straddling = [
        stored[0],  # stored already
        tagged(early[1], epoch_s=T0 + 3, receiver="rx-b"),  # stored, heard later elsewhere
        tagged(repeated, epoch_s=BOUNDARY + 2, receiver="rx-b"),  # a stored one, next bucket
        tagged(position(366400000, 42.0, 12.0), epoch_s=T0 + 30),  # new, stored day
        *(tagged(s, epoch_s=NEXT_DAY + i) for i, s in enumerate(early)),  # new, new day
    ]
    assert write_both(stores, ais(straddling)) == (5, 7)
    assert write_both(stores, ais(straddling)) == (0, 0)
    assert_same(stores)
    assert pg.counts()["reports"] == 10


def test_seqs_follow_the_input_order_not_the_vessel_order(
    stores: tuple[DuckDBStore, PostgresStore],
) -> None:
    _, pg = stores
    mmsis = [366500009, 366500001, 366500005, 366500003]
    lines = [tagged(position(m, 43.0, 13.0), epoch_s=T0 + i) for i, m in enumerate(mmsis)]
    lines.insert(2, lines[0])  # a repeat leaves a gap in the seqs, as in DuckDB
    write_both(stores, ais(lines))
    feed = pg.report_feed(0, 100)
    assert feed.column("mmsi").to_pylist() == mmsis
    assert_same(stores)


def test_a_writer_stages_its_batch_before_waiting_for_the_lock(
    stores: tuple[DuckDBStore, PostgresStore],
) -> None:
    _, pg = stores
    batch = ais([tagged(position(366600000 + i, 44.0, 14.0), epoch_s=T0 + i) for i in range(50)])
    pg.write(ais([tagged(position(366699999, 44.0, 14.0), epoch_s=T0 - 60)]))  # partitions made
    done: list[int] = []
    with psycopg.connect(pg.url) as holder, psycopg.connect(pg.url, autocommit=True) as watcher:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        writer = threading.Thread(target=lambda: done.append(pg.write(batch).reports))
        writer.start()
        waiting = None
        for _ in range(200):
            waiting = watcher.execute(
                "SELECT backend_xid IS NOT NULL FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
            ).fetchone()
            if waiting is not None:
                break
            time.sleep(0.05)
        # Waiting for the lock with a transaction id: it has written (the staging COPY).
        assert waiting == (True,)
        assert not done
        holder.rollback()
    writer.join(30)
    assert done == [50]
