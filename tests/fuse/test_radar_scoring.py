"""Radar association scoring (``mista.evaluate.association``) over a small store and truth."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mista.evaluate.association import association, own_tracks
from mista.evaluate.scenario import Scenario
from mista.fuse.chunk import PointFlag
from mista.geo import destination

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


def _alongside(
    tmp_path: Path, *, lit_ship_plot: bool
) -> tuple[duckdb.DuckDBPyConnection, Scenario]:
    """Dark ship 1 and lit ship 2 (track ais:222) 10 m apart, 5 km from radar R; the
    radar's one plot names ship 1 and was placed on ship 2's track. With
    ``lit_ship_plot``, the radar also wrote a plot of ship 2 then (so it was resolved)."""
    site = (10.0, 80.0)
    ship1 = destination(site[0], site[1], 45.0, 5_000.0)
    ship2 = destination(site[0], site[1], 45.0, 5_010.0)
    (tmp_path / "truth").mkdir()
    (tmp_path / "scenario.json").write_text(
        json.dumps({"sources": {"R": {"lat": site[0], "lon": site[1], "range_km": 40.0}}})
    )
    t = T0 + 30
    plots = [("R", t, float(ship1[0]), float(ship1[1]), 1)]
    if lit_ship_plot:
        plots.append(("R", t + 20, float(ship2[0]), float(ship2[1]), 2))
    pq.write_table(
        pa.table(
            {
                "source": [p[0] for p in plots],
                "t": pa.array([p[1] * 1_000_000 for p in plots], pa.timestamp("us", tz="UTC")),
                "lat": [p[2] for p in plots],
                "lon": [p[3] for p in plots],
                "vessel": pa.array([p[4] for p in plots], pa.int32()),
            }
        ),
        tmp_path / "truth" / "radar.parquet",
    )
    c = duckdb.connect()
    c.execute(
        """
        CREATE TABLE reports (seq BIGINT, source_kind VARCHAR, mmsi INTEGER,
            observed_at TIMESTAMPTZ, lat DOUBLE, lon DOUBLE);
        CREATE TABLE track_points (seq BIGINT, track_id VARCHAR, flags USMALLINT);
        CREATE TABLE tracks (id VARCHAR, kind VARCHAR);
        INSERT INTO tracks VALUES ('ais:222', 'ais');
        INSERT INTO track_points VALUES (1, 'ais:222', 0);
        CREATE TEMP TABLE truth_positions (vessel INTEGER, minute BIGINT, lat DOUBLE,
            lon DOUBLE, mmsi BIGINT, ais_on BOOLEAN);
        """
    )
    c.execute(
        "INSERT INTO reports VALUES (1, 'ais-terrestrial', 222, to_timestamp(?), ?, ?)",
        [T0, float(ship2[0]), float(ship2[1])],
    )
    for minute in (T0 // 60, T0 // 60 + 1):
        c.execute(
            "INSERT INTO truth_positions VALUES (1, ?, ?, ?, -1, false), (2, ?, ?, ?, 222, true)",
            [minute, float(ship1[0]), float(ship1[1]), minute, float(ship2[0]), float(ship2[1])],
        )
    c.execute(
        f"""CREATE TEMP TABLE truth_radar AS SELECT epoch_us(t) AS t_us, round(lat, 6) AS lat,
            round(lon, 6) AS lon, vessel, (epoch(t) // 60)::BIGINT AS minute
            FROM read_parquet('{tmp_path / "truth" / "radar.parquet"}')"""
    )
    for seq, (_, when, lat, lon, _) in enumerate(plots, start=10):
        c.execute(
            "INSERT INTO reports VALUES (?, 'radar', NULL, to_timestamp(?), ?, ?)",
            [seq, when, lat, lon],
        )
        c.execute("INSERT INTO track_points VALUES (?, 'ais:222', 0)", [seq])
    scenario = Scenario(tmp_path, "IND", datetime.fromtimestamp(T0, UTC), 1.0, 2, 1, (), {}, None)
    return c, scenario


def test_a_plot_of_two_unresolved_ships_is_right_on_either_ones_track(tmp_path: Path) -> None:
    con, scenario = _alongside(tmp_path, lit_ship_plot=False)
    assert association(con)[0] == 0.0  # named for dark ship 1, placed on ship 2's track
    assert association(con, scenario)[0] == 1.0


def test_a_ship_with_its_own_plot_was_resolved(tmp_path: Path) -> None:
    con, scenario = _alongside(tmp_path, lit_ship_plot=True)
    # Ship 2's own plot is right; ship 1's plot on ship 2's track stays wrong.
    assert association(con, scenario)[0] == 0.5
