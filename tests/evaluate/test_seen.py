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
                              lat DOUBLE, name VARCHAR, imo INTEGER)
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
) -> None:
    seq = con.execute("SELECT count(*) FROM reports").fetchall()[0][0]
    con.execute(
        "INSERT INTO reports VALUES (?, ?, to_timestamp(?), ?, ?, ?)",
        [seq, mmsi, T0 + hours * HOUR, 10.0 if position else None, name, imo],
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
