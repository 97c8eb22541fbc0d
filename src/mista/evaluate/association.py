"""Radar association accuracy against a scenario's truth.

The share of radar contacts placed right: a contact of a vessel whose AIS is on, on that
vessel's own track; of a vessel with AIS off, on a dark track that is mostly that vessel;
a false contact, on no track.

A vessel's own track is the track holding most of its AIS points, **doubtful ones
included**: a point flagged on land (a berth inside the coarse land mask), of implausible
speed or of an outlier segment still lies on a track, and the question here is which
track carries the vessel, not whether each fix is good. (Continuity, which asks whether
the vessel's good points are on one track, leaves them out.) A vessel moored where the
land mask says land has all its fixes flagged, and its contacts placed on its track are
right.

A plot a radar wrote for ships it could not resolve (``mista.sim.radar_resolution``: one
echo, one plot at its centre) names one of them in the truth, the ship whose report times
it keeps, but it stands for all of them: it is right where a contact of any of them would
be right (a lit one's track; a dark one's dark track). Which ships shared the echo is
found again from the truth positions (per minute, interpolated; ships in one echo are
nearly always moored or at anchor, where that is exact) with the simulator's own rule,
about each radar's site in ``scenario.json``; a ship of the echo counts only while the
radar wrote no plot of it (within a report period): a ship with plots of its own was
resolved, so another's plot does not stand for it (and a scenario simulated before the
radar had a resolution has no such plots).

Reads the store's reports, track points and tracks, and the temporary truth tables
``truth_positions`` and ``truth_radar`` that ``mista.evaluate.score`` loads.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt

from mista.detect.pipeline import ASSOCIATED_CONTACT
from mista.evaluate.scenario import Scenario
from mista.geo import bearing_deg, haversine_m
from mista.sim.radar_resolution import Echoes, echo_groups

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

#: A ship the radar wrote a plot of within this time (its longest report period, s) was
#: resolved then: it had its own plot, so another's plot does not stand for it.
_REPORT_PERIOD_S = 60.0

__all__ = ["association", "matched_points_sql", "own_tracks"]


def matched_points_sql(left_out_flags: int) -> str:
    """The WITH clauses ``points`` (AIS positions on tracks, without ``left_out_flags``)
    and ``candidates`` (each point's truth vessel of that MMSI and minute, ranked by
    distance: ``rank = 1`` is the vessel it is), shared by association and continuity."""
    return f"""
        WITH points AS (
            SELECT r.seq, r.mmsi, epoch(r.observed_at) AS t, r.lat, r.lon, tp.track_id
            FROM reports r JOIN track_points tp ON tp.seq = r.seq
            WHERE r.source_kind LIKE 'ais%' AND r.mmsi IS NOT NULL AND r.lat IS NOT NULL
              AND (tp.flags & {left_out_flags}) = 0
        ), candidates AS (
            SELECT p.seq, p.t, p.track_id, tp.vessel,
                   row_number() OVER (
                       PARTITION BY p.seq
                       ORDER BY (tp.lat - p.lat) ^ 2 + (tp.lon - p.lon) ^ 2
                   ) AS rank
            FROM points p JOIN truth_positions tp
              ON tp.mmsi = p.mmsi AND tp.minute = (p.t // 60)::BIGINT
        )"""


def own_tracks(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Each vessel's own track: the one holding most of its AIS points (any flags)."""
    rows = con.sql(
        f"""
        {matched_points_sql(ASSOCIATED_CONTACT)}
        SELECT vessel, arg_max(track_id, n) FROM (
            SELECT vessel, track_id, count(*) AS n FROM candidates WHERE rank = 1 GROUP BY ALL
        ) GROUP BY vessel
        """
    ).fetchall()
    return {int(vessel): str(track) for vessel, track in rows}


def association(
    con: duckdb.DuckDBPyConnection, scenario: Scenario | None = None
) -> tuple[float | None, int, dict[str, int]]:
    """Association accuracy, the number of radar contacts, and each dark track's vessel
    (the vessel most of its contacts are of). With ``scenario``, a plot of ships the
    radar could not resolve is right where any of theirs would be."""
    own = own_tracks(con)
    # The radar of each truth contact, for finding its echo's ships about the radar's site.
    sources = (
        f"""SELECT DISTINCT epoch_us(t) AS t_us, round(lat, 6) AS lat, round(lon, 6) AS lon,
                   source
            FROM read_parquet('{_sql_path(scenario.directory / "truth" / "radar.parquet")}')"""
        if scenario is not None
        else "SELECT NULL::BIGINT AS t_us, NULL::DOUBLE AS lat, NULL::DOUBLE AS lon, "
        "NULL::VARCHAR AS source WHERE false"
    )
    rows = con.sql(
        f"""
        WITH radar AS (
            SELECT r.seq, epoch_us(r.observed_at) AS t_us, round(r.lat, 6) AS lat,
                   round(r.lon, 6) AS lon
            FROM reports r WHERE r.source_kind = 'radar'
        ), placed AS (
            SELECT seq, min(track_id) AS track_id FROM track_points GROUP BY seq
        ), sources AS ({sources})
        SELECT tr.vessel, coalesce(tp.ais_on, false), p.track_id, t.kind, s.source, tr.t_us
        FROM truth_radar tr
        LEFT JOIN radar r ON r.t_us = tr.t_us AND r.lat = tr.lat AND r.lon = tr.lon
        LEFT JOIN placed p ON p.seq = r.seq
        LEFT JOIN tracks t ON t.id = p.track_id
        LEFT JOIN truth_positions tp ON tp.vessel = tr.vessel AND tp.minute = tr.minute
        LEFT JOIN sources s ON s.t_us = tr.t_us AND s.lat = tr.lat AND s.lon = tr.lon
        """
    ).fetchall()
    votes: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for vessel, _, track_id, kind, _, _ in rows:
        if kind == "dark" and track_id is not None:
            votes[track_id][int(vessel)] += 1
    dark_vessels = {
        track: max(counts.items(), key=lambda item: item[1])[0] for track, counts in votes.items()
    }
    others = _echo_ships(con, scenario, rows) if scenario is not None else {}
    lit = _lit(con) if others else set()

    def right(vessel: int, ais_on: bool, track_id: str | None, kind: str | None) -> bool:
        if ais_on:
            return track_id is not None and track_id == own.get(vessel)
        return kind == "dark" and dark_vessels.get(str(track_id)) == vessel

    correct = 0
    for i, (vessel, ais_on, track_id, kind, _, t_us) in enumerate(rows):
        vessel = int(vessel)
        if vessel < 0:
            correct += track_id is None
        elif right(vessel, bool(ais_on), track_id, kind):
            correct += 1
        else:
            minute = int(t_us) // 60_000_000
            correct += any(
                right(other, (other, minute) in lit, track_id, kind) for other in others.get(i, ())
            )
    accuracy = correct / len(rows) if rows else None
    return accuracy, len(rows), dark_vessels


def _lit(con: duckdb.DuckDBPyConnection) -> set[tuple[int, int]]:
    """(vessel, minute) pairs in which the vessel's AIS was on."""
    rows = con.sql("SELECT vessel, minute FROM truth_positions WHERE ais_on").fetchall()
    return {(int(v), int(m)) for v, m in rows}


def _echo_ships(
    con: duckdb.DuckDBPyConnection, scenario: Scenario, rows: list[tuple[object, ...]]
) -> dict[int, tuple[int, ...]]:
    """Per row of ``rows`` (vessel, _, _, _, radar, time in us) that is a plot of ships
    the radar could not resolve: the other ships of its echo, those the radar wrote no
    plot of within a report period (a ship with plots of its own was resolved)."""
    sites = json.loads((scenario.directory / "scenario.json").read_text(encoding="utf-8"))
    sources = sites.get("sources", {})
    grid = con.sql(
        "SELECT vessel, minute, lat, lon FROM truth_positions ORDER BY vessel, minute"
    ).fetchnumpy()
    if len(grid["vessel"]) == 0:
        return {}
    vessels = np.asarray(grid["vessel"], np.int64)
    minutes = np.asarray(grid["minute"], np.int64)
    first_minute = int(minutes.min())
    n_v = int(vessels.max()) + 1
    n_m = int(minutes.max()) - first_minute + 1
    lat = np.full((n_v, n_m), np.nan)
    lon = np.full((n_v, n_m), np.nan)
    lat[vessels, minutes - first_minute] = grid["lat"]
    lon[vessels, minutes - first_minute] = grid["lon"]
    by_radar: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        if int(str(row[0])) >= 0:
            by_radar[str(row[4])].append(i)
    out: dict[int, tuple[int, ...]] = {}
    for radar, index in by_radar.items():
        site = sources.get(radar)
        if not site or site.get("lat") is None or site.get("lon") is None:
            continue
        t_s = np.array([int(str(rows[i][5])) for i in index], np.float64) / 1e6
        owner = np.array([int(str(rows[i][0])) for i in index], np.int64)
        echoes = _echoes(lat, lon, first_minute, t_s, float(site["lat"]), float(site["lon"]),
                         float(site["range_km"]) * 1000.0)  # fmt: skip
        written = _plot_times(owner, t_s)
        for plot, ships in echo_groups(echoes, np.arange(len(index)), owner).items():
            hidden = tuple(v for v in ships if not _near_in_time(written, v, float(t_s[plot])))
            if hidden:
                out[index[plot]] = hidden
    return out


def _plot_times(vessel: I64, t_s: F64) -> dict[int, F64]:
    """Each ship's plot times (sorted)."""
    order = np.lexsort((t_s, vessel))
    v, t = vessel[order], t_s[order]
    cuts = np.flatnonzero(np.r_[True, v[1:] != v[:-1], True])
    return {int(v[a]): t[a:b] for a, b in zip(cuts[:-1].tolist(), cuts[1:].tolist(), strict=True)}


def _near_in_time(written: dict[int, F64], vessel: int, t: float) -> bool:
    """Whether the radar wrote a plot of ``vessel`` within a report period of ``t``."""
    times = written.get(vessel)
    if times is None:
        return False
    k = int(np.searchsorted(times, t))
    return any(0 <= j < len(times) and abs(times[j] - t) <= _REPORT_PERIOD_S for j in (k - 1, k))


def _echoes(
    lat: F64, lon: F64, first_minute: int, t_s: F64, site_lat: float, site_lon: float,
    range_m: float,
) -> Echoes:  # fmt: skip
    """Every ship within ``range_m`` of the site at each time of ``t_s`` (turn = index),
    positions interpolated between the truth's minutes."""
    f = t_s / 60.0 - first_minute
    i = np.clip(np.floor(f).astype(np.int64), 0, lat.shape[1] - 1)
    j = np.minimum(i + 1, lat.shape[1] - 1)
    w = f - i
    # Ships ever near the site (their minute positions), to keep the grid small.
    near = np.flatnonzero(
        np.fmin.reduce(np.asarray(haversine_m(lat, lon, site_lat, site_lon)), axis=1)
        <= range_m + 5_000.0
    )
    turn = np.repeat(np.arange(len(t_s)), len(near))
    ship = np.tile(near, len(t_s))
    ww = np.repeat(w, len(near))
    plat = lat[ship, np.repeat(i, len(near))] * (1 - ww) + lat[ship, np.repeat(j, len(near))] * ww
    plon = lon[ship, np.repeat(i, len(near))] * (1 - ww) + lon[ship, np.repeat(j, len(near))] * ww
    r = np.asarray(haversine_m(site_lat, site_lon, plat, plon), np.float64)
    inside = np.isfinite(r) & (r <= range_m + 100.0)
    brg = np.asarray(bearing_deg(site_lat, site_lon, plat[inside], plon[inside]), np.float64)
    return Echoes(turn[inside], ship[inside], r[inside], brg, plat[inside], plon[inside])


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")
