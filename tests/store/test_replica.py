"""Users' reads from a streaming replica: a real PostgreSQL primary and a hot standby made
with pg_basebackup, both on 127.0.0.1. The replica answers what the primary does once it
has replayed, and the reads really go there (a paused replay hides new writes from them)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from mista.config import init_node_dir, load_node_config
from mista.errors import ConfigError, InputError
from mista.labels import Label, Level
from mista.model import User
from mista.node import open_store
from mista.store.postgres import PostgresStore
from tests.store.pg_server import PgServer, require_pg, start_pg, start_standby
from tests.store.test_visibility import Row, batch_of

IND = Label(Level.RESTRICTED, "IND", frozenset())
WATCH = User("watch", "IND", Level.SECRET)


@pytest.fixture(scope="module")
def primary_and_standby(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PgServer, PgServer]]:
    require_pg()
    primary = start_pg(tmp_path_factory.mktemp("primary"))
    try:
        PostgresStore(primary.url).close()  # the schema, before the standby copies it
        standby = start_standby(primary, tmp_path_factory.mktemp("standby"))
        try:
            yield primary, standby
        finally:
            standby.stop()
    finally:
        primary.stop()


def replayed(primary: PgServer, standby: PgServer, timeout_s: float = 30) -> None:
    """Wait until the standby has replayed everything the primary has written."""
    with psycopg.connect(primary.url, autocommit=True) as con:
        # The insert position: with synchronous_commit off, a commit may not be written yet.
        row = con.execute("SELECT pg_current_wal_insert_lsn()").fetchone()
    assert row is not None
    target = row[0]
    deadline = time.monotonic() + timeout_s
    with psycopg.connect(standby.url, autocommit=True) as con:
        while True:
            row = con.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()
            if row and row[0]:
                return
            assert time.monotonic() < deadline, "the standby never caught up"
            time.sleep(0.05)


def set_replay(standby: PgServer, *, paused: bool) -> None:
    with psycopg.connect(standby.url, autocommit=True) as con:
        con.execute("SELECT pg_wal_replay_pause()" if paused else "SELECT pg_wal_replay_resume()")


def test_reads_come_from_the_replica_and_writes_go_to_the_primary(
    primary_and_standby: tuple[PgServer, PgServer],
) -> None:
    primary, standby = primary_and_standby
    with (
        PostgresStore(primary.url, replica=standby.url) as split,
        PostgresStore(primary.url) as direct,
    ):
        split.write(batch_of([Row(IND, 419_000_001, 0, 71.0, "ONE")], "a.csv"))
        replayed(primary, standby)
        assert split.vessels(viewer=WATCH).equals(direct.vessels(viewer=WATCH))
        assert split.track(419_000_001, viewer=WATCH).equals(
            direct.track(419_000_001, viewer=WATCH)
        )
        assert split.feed_ends() == direct.feed_ends()
        set_replay(standby, paused=True)
        try:
            split.write(batch_of([Row(IND, 419_000_002, 60, 72.0, "TWO")], "b.csv"))
            # The primary has it; the replica, not replaying, does not show it yet.
            assert direct.vessels(viewer=WATCH).num_rows == 2
            assert split.vessels(viewer=WATCH).num_rows == 1
            assert split.feed_ends()[0] < direct.feed_ends()[0]
            assert split.counts()["reports"] == 2  # not a user's read: on the primary
        finally:
            set_replay(standby, paused=False)
        replayed(primary, standby)
        assert split.vessels(viewer=WATCH).equals(direct.vessels(viewer=WATCH))


def test_a_replica_is_for_a_postgresql_store_only(
    primary_and_standby: tuple[PgServer, PgServer], tmp_path: Path
) -> None:
    _, standby = primary_and_standby
    with pytest.raises(InputError, match="replica serves a PostgreSQL store"):
        open_store(tmp_path / "file.duckdb", replica=standby.url)
    with pytest.raises(InputError, match="not a postgresql:// URL"):
        PostgresStore(standby.url, replica="replica.duckdb")
    directory = tmp_path / "ind"
    init_node_dir(directory, "IND", port=8443)
    node_file = directory / "node.toml"
    text = node_file.read_text()
    node_file.write_text(f'store_replica = "{standby.url}"\n' + text)  # before any [table]
    with pytest.raises(ConfigError, match="store_replica needs store to be a postgresql"):
        load_node_config(directory)
    node_file.write_text(node_file.read_text().replace(standby.url, "nats://x:4222"))
    with pytest.raises(ConfigError, match="must be a postgresql:// URL"):
        load_node_config(directory)
