"""The latest state names each vessel's source kind and originator (what the map colours
by), and a store from before migration 6 gains the source kind of the positions it holds."""

from __future__ import annotations

from pathlib import Path

import duckdb

from mista.labels import Label, Level
from mista.model import User
from mista.store.embedded import DuckDBStore
from tests.store.test_visibility import Row, batch_of

USA_SHARED = Label(Level.RESTRICTED, "USA", frozenset({"IND"}))
WATCH = User("watch", "IND", Level.SECRET)


def test_vessels_carry_source_kind_and_originator(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        store.write(batch_of([Row(USA_SHARED, 419_000_001, 0, 70.0, "ONE")], "a.csv"))
        vessels = store.vessels(viewer=WATCH).to_pylist()
        kinds = store.connection.execute("SELECT DISTINCT source_kind FROM reports").fetchall()
    assert [(v["mmsi"], v["originator"]) for v in vessels] == [(419_000_001, "USA")]
    assert [(v["source_kind"],) for v in vessels] == kinds


def test_a_version_5_store_gains_the_source_kind(tmp_path: Path) -> None:
    path = tmp_path / "old.duckdb"
    with DuckDBStore(path) as store:
        store.write(batch_of([Row(USA_SHARED, 419_000_002, 0, 71.0, "TWO")], "b.csv"))
        expected = store.vessels(viewer=WATCH).column("source_kind").to_pylist()
    with duckdb.connect(str(path)) as con:  # back to how version 5 left it
        con.execute("ALTER TABLE vessel_latest DROP COLUMN source_kind")
        con.execute("DROP TABLE fusion_part_state")  # and every later migration
        con.execute("DROP TABLE fusion_part_cursor")
        con.execute("DROP TABLE fusion_state")
        con.execute("ALTER TABLE fusion_cursor DROP COLUMN read_seq")
        con.execute("DELETE FROM schema_migrations WHERE version >= 6")
    with DuckDBStore(path) as store:
        assert store.schema_version() >= 6
        assert store.vessels(viewer=WATCH).column("source_kind").to_pylist() == expected
    assert expected[0]
