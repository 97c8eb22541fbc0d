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

A plot a radar wrote for ships it could not resolve stands, in the truth, for the ship
whose reports the plot carries (``mista.sim.radar_resolution``): it is right where that
ship's contact would be.

Reads the store's reports, track points and tracks, and the temporary truth tables
``truth_positions`` and ``truth_radar`` that ``mista.evaluate.score`` loads.
"""

from __future__ import annotations

from collections import defaultdict

import duckdb

from mista.detect.pipeline import ASSOCIATED_CONTACT

__all__ = ["association", "own_tracks"]


def own_tracks(con: duckdb.DuckDBPyConnection) -> dict[int, str]:
    """Each vessel's own track: the one holding most of its AIS points (any flags)."""
    rows = con.sql(
        f"""
        WITH points AS (
            SELECT r.seq, r.mmsi, epoch(r.observed_at) AS t, r.lat, r.lon, tp.track_id
            FROM reports r JOIN track_points tp ON tp.seq = r.seq
            WHERE r.source_kind LIKE 'ais%' AND r.mmsi IS NOT NULL AND r.lat IS NOT NULL
              AND (tp.flags & {ASSOCIATED_CONTACT}) = 0
        ), candidates AS (
            SELECT p.seq, p.track_id, tp.vessel,
                   row_number() OVER (
                       PARTITION BY p.seq
                       ORDER BY (tp.lat - p.lat) ^ 2 + (tp.lon - p.lon) ^ 2
                   ) AS rank
            FROM points p JOIN truth_positions tp
              ON tp.mmsi = p.mmsi AND tp.minute = (p.t // 60)::BIGINT
        )
        SELECT vessel, arg_max(track_id, n) FROM (
            SELECT vessel, track_id, count(*) AS n FROM candidates WHERE rank = 1 GROUP BY ALL
        ) GROUP BY vessel
        """
    ).fetchall()
    return {int(vessel): str(track) for vessel, track in rows}


def association(con: duckdb.DuckDBPyConnection) -> tuple[float | None, int, dict[str, int]]:
    """Association accuracy, the number of radar contacts, and each dark track's vessel
    (the vessel most of its contacts are of)."""
    own = own_tracks(con)
    rows = con.sql(
        """
        WITH radar AS (
            SELECT r.seq, epoch_us(r.observed_at) AS t_us, round(r.lat, 6) AS lat,
                   round(r.lon, 6) AS lon
            FROM reports r WHERE r.source_kind = 'radar'
        ), placed AS (
            SELECT seq, min(track_id) AS track_id FROM track_points GROUP BY seq
        )
        SELECT tr.vessel, coalesce(tp.ais_on, false), p.track_id, t.kind
        FROM truth_radar tr
        LEFT JOIN radar r ON r.t_us = tr.t_us AND r.lat = tr.lat AND r.lon = tr.lon
        LEFT JOIN placed p ON p.seq = r.seq
        LEFT JOIN tracks t ON t.id = p.track_id
        LEFT JOIN truth_positions tp ON tp.vessel = tr.vessel AND tp.minute = tr.minute
        """
    ).fetchall()
    votes: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
    for vessel, _, track_id, kind in rows:
        if kind == "dark" and track_id is not None:
            votes[track_id][int(vessel)] += 1
    dark_vessels = {
        track: max(counts.items(), key=lambda item: item[1])[0] for track, counts in votes.items()
    }
    correct = 0
    for vessel, ais_on, track_id, kind in rows:
        vessel = int(vessel)
        if vessel < 0:
            correct += track_id is None
        elif ais_on:
            correct += track_id is not None and track_id == own.get(vessel)
        else:
            correct += kind == "dark" and dark_vessels.get(track_id) == vessel
    accuracy = correct / len(rows) if rows else None
    return accuracy, len(rows), dark_vessels
