"""Which true behaviours the sensors delivered enough of to be seen (recall's denominator)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from mista.evaluate.scenario import TruthEvent
from mista.evaluate.score import _observable

HOUR = 3600.0
T0 = 1_767_225_600.0
OLD, NEW = 419_000_001, 636_000_001


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        """
        CREATE TABLE reports (seq BIGINT, mmsi INTEGER, observed_at TIMESTAMPTZ,
                              lat DOUBLE, lon DOUBLE, name VARCHAR, imo INTEGER)
        """
    )
    yield connection
    connection.close()


def add(
    con: duckdb.DuckDBPyConnection,
    mmsi: int,
    hours: float,
    *,
    position: bool = False,
    name: str | None = None,
    imo: int | None = None,
    lat: float = 10.0,
) -> None:
    seq = con.execute("SELECT count(*) FROM reports").fetchall()[0][0]
    con.execute(
        "INSERT INTO reports VALUES (?, ?, to_timestamp(?), ?, ?, ?, ?)",
        [seq, mmsi, T0 + hours * HOUR, lat if position else None, 100.0, name, imo],
    )


def change(*mmsis: int) -> TruthEvent:
    """An identity change at T0 + 10 h (an MMSI change: off for 5 minutes)."""
    end = T0 + 10 * HOUR + (300.0 if len(mmsis) == 2 else 0.0)
    return TruthEvent("identity-change", (0,), mmsis, T0 + 10 * HOUR, end, 0.0, 0.0, True)


def seen(con: duckdb.DuckDBPyConnection, event: TruthEvent) -> bool:
    [result] = _observable(con, [event], T0 + 24 * HOUR)
    return result


def test_a_name_change_is_seen_through_static_reports_on_both_sides(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Positions all around the change show nothing of a name.
    for hours in (9.8, 9.9, 10.1, 10.2):
        add(con, OLD, hours, position=True)
    assert not seen(con, change(OLD))
    add(con, OLD, 4.0, name="SEA STAR")
    assert not seen(con, change(OLD))  # the new name never heard
    add(con, OLD, 15.0, name="OCEAN STAR")
    assert seen(con, change(OLD))


def test_an_mmsi_change_is_seen_by_positions_close_to_it_or_by_imo_statements(
    con: duckdb.DuckDBPyConnection,
) -> None:
    add(con, OLD, 6.0, position=True)  # 4 h before: too long ago to link by position
    add(con, NEW, 11.0, position=True)
    assert not seen(con, change(OLD, NEW))
    add(con, OLD, 8.0, position=True)
    assert seen(con, change(OLD, NEW))


def test_an_mmsi_change_linked_by_imo_needs_both_statements(
    con: duckdb.DuckDBPyConnection,
) -> None:
    add(con, OLD, 2.0, imo=9_074_729)
    assert not seen(con, change(OLD, NEW))
    add(con, NEW, 20.0, imo=9_074_729)
    assert seen(con, change(OLD, NEW))
    # One side by position, the other by statement, is no link of either kind.
    other = change(OLD, 636_000_002)
    add(con, 636_000_002, 11.0, position=True)
    assert not seen(con, other)


def test_a_behaviour_of_a_vessel_with_no_ais_is_not_seen(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # No alert can name a vessel that sent no MMSI, so nothing could match it; a vessel
    # heard loitering is seen (port visits: ``test_port_visits_seen``).
    start, end = T0 + HOUR, T0 + 5 * HOUR
    dark_stop = TruthEvent("loitering", (7,), (), start, end, 0.0, 0.0, False)
    dark_pass = TruthEvent("close-approach", (7, 8), (), start, end, 0.0, 0.0, False)
    add(con, OLD, 2.0, position=True)
    add(con, OLD, 3.0, position=True)
    heard_stop = TruthEvent("loitering", (1,), (OLD,), start, end, 0.0, 0.0, False)
    assert _observable(con, [dark_stop, dark_pass, heard_stop], T0 + 24 * HOUR) == [
        False,
        False,
        True,
    ]


def test_a_gap_is_seen_only_where_others_were_heard_near_the_silent_ship(
    con: duckdb.DuckDBPyConnection,
) -> None:
    # Vessel 0 (OLD) is silent from 2 h to 16 h, lying at 10N 100E all along; its ends
    # are heard. Whether a silence is a gap depends on others heard near it meanwhile.
    con.execute(
        """
        CREATE TABLE truth_positions AS
        SELECT 0 AS vessel, m::BIGINT AS minute, 10.0 AS lat, 100.0 AS lon
        FROM range((?)::BIGINT, (?)::BIGINT) t(m)
        """,
        [int(T0 // 60), int((T0 + 24 * HOUR) // 60)],
    )
    gap = TruthEvent("ais-gap", (0,), (OLD,), T0 + 2 * HOUR, T0 + 16 * HOUR, 10.0, 100.0, True)
    add(con, OLD, 1.5, position=True)
    add(con, OLD, 16.5, position=True)
    assert not seen(con, gap)  # no one heard anywhere near: a hole in coverage
    for minute in range(9):  # 55 km off, in 9 minutes of the silence (two in one)
        add(con, NEW, 5.0 + minute / 60, position=True, lat=10.5)
    add(con, NEW, 5.0 + 30 / 3600, position=True, lat=10.5)
    add(con, NEW, 7.0, position=True, lat=13.0)  # 330 km off: not near
    add(con, NEW, 1.0, position=True, lat=10.5)  # before the silence
    assert not seen(con, gap)
    add(con, NEW, 9.0, position=True, lat=10.5)  # a tenth minute
    assert seen(con, gap)
