"""Radar association scoring (``mista.evaluate.association``) over a small store and truth."""

from __future__ import annotations

import duckdb
import pytest

from mista.evaluate.association import association, own_tracks
from mista.fuse.chunk import PointFlag

T0 = 1_767_225_600  # 2026-01-01T00:00Z


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    """Vessel 1 moored at a berth the land mask calls land (every AIS fix flagged
    ON_LAND) on track ais:111, vessel 2 with AIS off on dark track dark:r:1, and a false
    contact. Each has one radar contact."""
    c = duckdb.connect()
    c.execute(
        """
        CREATE TABLE reports (seq BIGINT, source_kind VARCHAR, mmsi INTEGER,
            observed_at TIMESTAMPTZ, lat DOUBLE, lon DOUBLE);
        CREATE TABLE track_points (seq BIGINT, track_id VARCHAR, flags USMALLINT);
        CREATE TABLE tracks (id VARCHAR, kind VARCHAR);
        CREATE TEMP TABLE truth_positions (vessel INTEGER, minute BIGINT, lat DOUBLE,
            lon DOUBLE, mmsi BIGINT, ais_on BOOLEAN);
        CREATE TEMP TABLE truth_radar (t_us BIGINT, lat DOUBLE, lon DOUBLE, vessel INTEGER,
            minute BIGINT);
        INSERT INTO tracks VALUES ('ais:111', 'ais'), ('dark:r:1', 'dark');
        """
    )
    minute = T0 // 60
    for i in range(3):  # vessel 1's AIS fixes, all on land
        c.execute(
            "INSERT INTO reports VALUES (?, 'ais-terrestrial', 111, to_timestamp(?), 10.0, 80.0)",
            [i + 1, T0 + 10 * i],
        )
        c.execute(
            "INSERT INTO track_points VALUES (?, 'ais:111', ?)", [i + 1, int(PointFlag.ON_LAND)]
        )
    c.execute(
        """
        INSERT INTO truth_positions VALUES (1, $m, 10.0, 80.0, 111, true),
            (2, $m, 10.1, 80.1, -1, false);
        """,
        {"m": minute},
    )
    contacts: list[tuple[int, int, float, float, str | None]] = [
        (10, 1, 10.0, 80.0, "ais:111"),
        (11, 2, 10.1, 80.1, "dark:r:1"),
        (12, -1, 10.2, 80.2, None),
    ]
    for seq, vessel, lat, lon, track in contacts:
        c.execute(
            "INSERT INTO reports VALUES (?, 'radar', NULL, to_timestamp(?), ?, ?)",
            [seq, T0 + 30, lat, lon],
        )
        c.execute(
            "INSERT INTO truth_radar VALUES (?, ?, ?, ?, ?)",
            [(T0 + 30) * 1_000_000, lat, lon, vessel, minute],
        )
        if track is not None:
            c.execute("INSERT INTO track_points VALUES (?, ?, 0)", [seq, track])
    return c


def test_a_vessel_whose_fixes_are_all_flagged_still_has_its_own_track(
    con: duckdb.DuckDBPyConnection,
) -> None:
    assert own_tracks(con) == {1: "ais:111"}


def test_contacts_placed_right_count_right(con: duckdb.DuckDBPyConnection) -> None:
    accuracy, contacts, dark = association(con)
    assert contacts == 3
    assert dark == {"dark:r:1": 2}
    assert accuracy == 1.0


def test_a_contact_on_another_track_is_wrong(con: duckdb.DuckDBPyConnection) -> None:
    con.execute("UPDATE track_points SET track_id = 'dark:r:1' WHERE seq = 10")
    accuracy, _, _ = association(con)
    # Vessel 1's contact is now on vessel 2's dark track (which stays vessel 2's: a tie
    # goes to either, so only the count of right contacts is checked).
    assert accuracy is not None
    assert accuracy <= 2 / 3
