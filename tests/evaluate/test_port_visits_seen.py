"""Which true port visits are seen, and which a node could tell apart (recall's count)."""

from __future__ import annotations

from collections.abc import Iterator

import duckdb
import pytest

from mista.evaluate.port_visits import port_visits_seen
from mista.evaluate.scenario import TruthEvent
from mista.evaluate.score import _Alert, _match_kind

HOUR = 3600.0
T0 = 1_767_225_600.0
MMSI = 419_000_001
PORT = (10.0, 80.0)
KM = 1 / 111.195  # degrees of latitude


@pytest.fixture
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'UTC'")
    connection.execute(
        "CREATE TABLE reports (seq BIGINT, mmsi INTEGER, observed_at TIMESTAMPTZ, "
        "lat DOUBLE, lon DOUBLE)"
    )
    connection.execute(
        "CREATE TEMP TABLE truth_positions (vessel INTEGER, minute BIGINT, lat DOUBLE, lon DOUBLE)"
    )
    yield connection
    connection.close()


def heard(
    con: duckdb.DuckDBPyConnection, hours: float, km_north: float, *, true_km: float | None = None
) -> None:
    """A report of the vessel ``km_north`` of the port; the vessel truly was ``true_km``
    north of it then (the same place unless given)."""
    t = T0 + hours * HOUR
    lat = PORT[0] + km_north * KM
    true_lat = PORT[0] + (km_north if true_km is None else true_km) * KM
    seq = con.execute("SELECT count(*) FROM reports").fetchall()[0][0]
    con.execute(
        "INSERT INTO reports VALUES (?, ?, to_timestamp(?), ?, ?)", [seq, MMSI, t, lat, PORT[1]]
    )
    con.execute(
        "INSERT INTO truth_positions VALUES (0, ?, ?, ?)", [int(t // 60), true_lat, PORT[1]]
    )


def visit(start_h: float, end_h: float) -> TruthEvent:
    return TruthEvent(
        "port-visit", (0,), (MMSI,), T0 + start_h * HOUR, T0 + end_h * HOUR, *PORT, False
    )


def test_a_visit_is_seen_only_through_the_vessel_s_own_reports(
    con: duckdb.DuckDBPyConnection,
) -> None:
    heard(con, 2.0, 5_000.0, true_km=0.5)  # the MMSI's other transmitter, 5,000 km off
    assert port_visits_seen(con, [visit(1, 3)]) == ([False], [0])
    heard(con, 2.5, 0.5)
    assert port_visits_seen(con, [visit(1, 3)]) == ([True], [0])


def test_two_stays_with_no_report_away_between_them_count_as_one(
    con: duckdb.DuckDBPyConnection,
) -> None:
    visits = [visit(1, 3), visit(5, 8)]
    heard(con, 2.0, 0.5)
    heard(con, 6.0, 0.5)
    heard(con, 4.0, 3.5)  # between, but 3.5 km out: inside the exit radius, shows nothing
    seen, groups = port_visits_seen(con, visits)
    assert seen == [True, True]
    assert groups[0] == groups[1]
    # One alert over both finds the one stay a node could see.
    alert = _Alert("a", "port-visit", T0 + 2 * HOUR, T0 + 6 * HOUR, frozenset({MMSI}), ("ais:1",))
    score = _match_kind(visits, [alert], {}, 1800.0, seen, groups)
    assert (score.observable, score.matched_observable, score.matched_truth) == (1, 1, 1)
    heard(con, 4.0, 9.0)  # heard 9 km out between them: two visits
    seen, groups = port_visits_seen(con, visits)
    assert groups[0] != groups[1]
    score = _match_kind(visits, [alert], {}, 1800.0, seen, groups)
    assert (score.observable, score.matched_observable) == (2, 1)


def test_a_port_call_of_a_vessel_with_no_ais_is_not_seen(con: duckdb.DuckDBPyConnection) -> None:
    heard(con, 2.0, 0.5)
    dark = TruthEvent("port-visit", (0,), (), T0 + HOUR, T0 + 3 * HOUR, *PORT, False)
    assert port_visits_seen(con, [dark]) == ([False], [0])
