"""Which true port visits the sensors delivered enough of to be seen, and which of them a
node could tell apart at all.

- A visit is seen when the vessel was heard during it: a position report of its MMSI in
  the visit's span, within ``OWN_REPORT_M`` of where the vessel truly was that minute. A
  report of the MMSI far off is another vessel's (a shared MMSI: the scenario's other
  transmitter thousands of km away), and says nothing of this vessel's port call.
- Two visits of one vessel to the same port with no report of it between them beyond the
  exit radius (none while it was away) look like one stay to any node: it was heard in
  port before and after, and nothing shows it left (a fix 3-4 km out, inside the exit
  radius, does not show it either). They count as one behaviour to find,
  found when an alert matches either (``groups``); recall over every visit still counts
  each.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from mista.evaluate.scenario import TruthEvent
from mista.geo import METRES_PER_DEGREE

__all__ = ["OWN_REPORT_M", "port_visits_seen"]

#: A report is the vessel's own when it lies this close to the vessel's true position in
#: the same minute (a vessel at 20 kn covers 620 m in a minute; AIS positions are GPS fixes).
OWN_REPORT_M = 2000.0
#: The truth's exit radius (``mista.sim.truth``, as ``PortVisitConfig.exit_m``).
EXIT_M = 4000.0


def port_visits_seen(
    con: duckdb.DuckDBPyConnection, events: list[TruthEvent]
) -> tuple[list[bool], list[int]]:
    """Per visit: seen or not, and its group (visits that a node could not tell apart
    share one). Needs the ``reports`` table and the ``truth_positions`` temp table."""
    if not events:
        return [], []
    order = sorted(range(len(events)), key=lambda i: (events[i].vessels, events[i].start))
    # Windows: the visit's span (part 0), and the time since the vessel's previous visit
    # to the same port ended (part 1), when there was one.
    # (idx, part, vessel, mmsi, lo, hi); a visit's port is its position
    rows: list[tuple[int, int, int, int, float, float]] = []
    previous: dict[int, int] = {}
    before: dict[int, int] = {}
    for i in order:
        event = events[i]
        if len(event.vessels) != 1:
            continue
        (number,) = event.vessels
        rows += [(i, 0, number, m, event.start, event.end) for m in event.mmsis]
        last = previous.get(number)
        if last is not None and _same_port(events[last], event):
            before[i] = last
            gap = (events[last].end, event.start)
            rows += [(i, 1, number, m, *gap) for m in events[last].mmsis + event.mmsis]
        previous[number] = i
    heard: set[tuple[int, int]] = set()
    if rows:
        columns = list(zip(*rows, strict=True))
        windows = pa.table(
            {
                "idx": pa.array(columns[0], pa.int32()),
                "part": pa.array(columns[1], pa.int32()),
                "vessel": pa.array(columns[2], pa.int32()),
                "mmsi": pa.array(columns[3], pa.int64()),
                "lo": pa.array(columns[4], pa.float64()),
                "hi": pa.array(columns[5], pa.float64()),
                "port_lat": pa.array([events[i].lat for i in columns[0]], pa.float64()),
                "port_lon": pa.array([events[i].lon for i in columns[0]], pa.float64()),
            }
        )
        con.register("port_visit_windows", windows)
        try:
            found = con.execute(
                f"""
                SELECT DISTINCT w.idx, w.part
                FROM port_visit_windows w
                JOIN reports r
                  ON r.mmsi = w.mmsi AND r.lat IS NOT NULL
                 AND epoch(r.observed_at) > w.lo AND epoch(r.observed_at) < w.hi
                JOIN truth_positions p
                  ON p.vessel = w.vessel AND p.minute = (epoch(r.observed_at) // 60)::BIGINT
                WHERE {_metres("r.lat", "r.lon", "p.lat", "p.lon")} <= {OWN_REPORT_M}
                  AND (w.part = 0
                       OR {_metres("r.lat", "r.lon", "w.port_lat", "w.port_lon")} > {EXIT_M})
                """
            ).fetchall()
        finally:
            con.unregister("port_visit_windows")
        heard = {(int(i), int(p)) for i, p in found}
    seen = [(i, 0) in heard for i in range(len(events))]
    groups = list(range(len(events)))
    for i in order:  # a vessel's visits in time order: the previous one is grouped first
        last = before.get(i)
        if last is not None and (i, 1) not in heard:
            groups[i] = groups[last]
    return seen, groups


def _metres(lat1: str, lon1: str, lat2: str, lon2: str) -> str:
    """SQL for the distance between two positions (flat, good to well under 1 %)."""
    return (
        f"{METRES_PER_DEGREE} * sqrt(pow({lat1} - {lat2}, 2) "
        f"+ pow(({lon1} - {lon2}) * cos(radians({lat2})), 2))"
    )


def _same_port(a: TruthEvent, b: TruthEvent) -> bool:
    """Both visits at one port (a visit's position is its port's)."""
    return a.lat == b.lat and a.lon == b.lon
