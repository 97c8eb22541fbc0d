"""Scoring a replayed scenario against its ground truth.

- **Behaviours**: a true behaviour and an alert match when they are of the same kind, name
  the same vessels (the same MMSIs; for pairs, both; for a dark vessel, the alert's dark
  track is mostly that vessel's radar contacts) and overlap in time (each span widened by
  ``tolerance_s``). Matching is one-to-one. Precision is matched alerts / alerts, recall is
  matched truths / truths the sensors delivered enough of to be seen at all (each vessel
  with a few position reports in the span; a gap with reports before and after it; a dark
  vessel with radar contacts; a name change with static reports stating a name before and
  after it; an MMSI change with the old MMSI heard shortly before and the new one shortly
  after, or both stating their IMO number; a port visit with one of the vessel's own
  reports in it, two visits to one port with none of the vessel away between them
  counting as one: ``mista.evaluate.port_visits``); recall over every true behaviour is
  given too. Withdrawn alerts and ``ais-gap`` alerts at the 6 h "possible" level are not
  counted as predictions.
- **Continuity**: the share of true vessel-hours (hours in which a vessel's AIS was fused
  at least once into a good point) in which every good point of the vessel lies on the
  vessel's own track (the one holding most of its points) and that track holds no other
  vessel's points in that hour.
- **Association**: the share of radar contacts placed right: a lit vessel's contact on its
  AIS track, a dark vessel's contact on a dark track that is mostly that vessel, a false
  contact on no track.

Everything is read from the store and the scenario's truth files, so the score is of what
an analyst would see.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mista.detect.pipeline import ASSOCIATED_CONTACT
from mista.evaluate.association import association, matched_points_sql
from mista.evaluate.port_visits import port_visits_seen
from mista.evaluate.scenario import Scenario, TruthEvent, load_truth_events
from mista.fuse.chunk import PointFlag

__all__ = ["BEHAVIOURS", "KindScore", "Score", "score"]

#: The behaviours scored, in report order.
BEHAVIOURS = (
    "ais-gap",
    "encounter",
    "loitering",
    "port-visit",
    "spoofing",
    "zone-entry",
    "dark-vessel",
    "close-approach",
    "identity-change",
    "shared-mmsi",
)
_PAIR_KINDS = frozenset({"encounter", "close-approach"})
_ANY_MMSI_KINDS = frozenset({"identity-change"})
#: Doubtful positions do not count for continuity (they are kept, flagged, on purpose).
_DOUBTFUL = int(PointFlag.IMPLAUSIBLE_SPEED | PointFlag.ON_LAND | PointFlag.OUTLIER)


@dataclass(frozen=True, slots=True)
class KindScore:
    truth: int
    alerts: int
    matched_truth: int
    matched_alerts: int
    observable: int = 0
    matched_observable: int = 0

    @property
    def precision(self) -> float | None:
        return self.matched_alerts / self.alerts if self.alerts else None

    @property
    def recall(self) -> float | None:
        """Found / true behaviours the node's sensors delivered enough of to see."""
        return self.matched_observable / self.observable if self.observable else None

    @property
    def recall_all(self) -> float | None:
        """Found / every true behaviour, seen by the sensors or not."""
        return self.matched_truth / self.truth if self.truth else None


@dataclass(slots=True)
class Score:
    behaviours: dict[str, KindScore] = field(default_factory=dict)
    other_alerts: dict[str, int] = field(default_factory=dict)
    continuity: float | None = None
    vessel_hours: int = 0
    association: float | None = None
    radar_contacts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "behaviours": {
                kind: {
                    "precision": result.precision,
                    "recall": result.recall,
                    "truth": result.truth,
                    "observable": result.observable,
                    "recall_all": result.recall_all,
                    "alerts": result.alerts,
                }
                for kind, result in self.behaviours.items()
            },
            "continuity": self.continuity,
            "association": self.association,
            "vessel_hours": self.vessel_hours,
            "radar_contacts": self.radar_contacts,
            "other_alerts": self.other_alerts,
        }


@dataclass(frozen=True, slots=True)
class _Alert:
    id: str
    kind: str
    start: float
    end: float
    mmsis: frozenset[int]
    tracks: tuple[str, ...]


def _alerts(con: duckdb.DuckDBPyConnection) -> list[_Alert]:
    rows = con.sql(
        """
        SELECT id, kind, epoch(start_at), epoch(end_at), mmsis, tracks, evidence
        FROM alerts WHERE status <> 'withdrawn'
        """
    ).fetchall()
    alerts = []
    for alert_id, kind, start, end, mmsis, tracks, evidence in rows:
        if kind == "ais-gap" and json.loads(evidence or "{}").get("level") == "possible":
            continue
        alerts.append(
            _Alert(
                id=alert_id,
                kind=kind,
                start=float(start),
                end=float(end),
                mmsis=frozenset(int(m) for m in mmsis or ()),
                tracks=tuple(tracks or ()),
            )
        )
    return alerts


def _subjects_match(truth: TruthEvent, alert: _Alert, dark_vessels: dict[str, int]) -> bool:
    if truth.kind == "dark-vessel":
        return any(dark_vessels.get(track) in truth.vessels for track in alert.tracks)
    wanted = frozenset(truth.mmsis)
    if not wanted:
        return False
    if truth.kind in _PAIR_KINDS:
        # The same vessels: a pass with a boat that sent no AIS (a dark boat) names one
        # MMSI, and an alert naming a second reports a pass with that vessel instead.
        return wanted == alert.mmsis
    if truth.kind in _ANY_MMSI_KINDS:
        return bool(wanted & alert.mmsis)
    return bool(wanted & alert.mmsis)


def _match_kind(
    truths: list[TruthEvent],
    alerts: list[_Alert],
    dark_vessels: dict[str, int],
    tolerance_s: float,
    observable: list[bool] | None = None,
    groups: list[int] | None = None,
) -> KindScore:
    """One-to-one matching, greedily by largest time overlap. Every true behaviour may
    match (an alert on one the sensors barely saw is still right); recall is counted over
    the ``observable`` ones (all when ``None``). True behaviours sharing a group (ones no
    node could tell apart) count once for recall, found when any of them matched."""
    candidates: list[tuple[float, int, int]] = []
    by_mmsi: dict[int, list[int]] = defaultdict(list)
    for index, alert in enumerate(alerts):
        for mmsi in alert.mmsis:
            by_mmsi[mmsi].append(index)
    for t_index, truth in enumerate(truths):
        pool: set[int] = set()
        if truth.mmsis:
            for mmsi in truth.mmsis:
                pool.update(by_mmsi.get(mmsi, ()))
        else:
            pool = set(range(len(alerts)))
        for a_index in pool:
            alert = alerts[a_index]
            overlap = min(truth.end, alert.end) - max(truth.start, alert.start)
            if overlap < -tolerance_s:
                continue
            if _subjects_match(truth, alert, dark_vessels):
                candidates.append((overlap, t_index, a_index))
    candidates.sort(reverse=True)
    used_truth: set[int] = set()
    used_alert: set[int] = set()
    for _, t_index, a_index in candidates:
        if t_index in used_truth or a_index in used_alert:
            continue
        used_truth.add(t_index)
        used_alert.add(a_index)
    seen = observable if observable is not None else [True] * len(truths)
    group = groups if groups is not None else list(range(len(truths)))
    seen_groups = {group[index] for index, ok in enumerate(seen) if ok}
    return KindScore(
        truth=len(truths),
        alerts=len(alerts),
        matched_truth=len(used_truth),
        matched_alerts=len(used_alert),
        observable=len(seen_groups),
        matched_observable=len({group[index] for index in used_truth} & seen_groups),
    )


#: How much of a behaviour the sensors must have delivered for it to be seen: per kind,
#: the window around the true span (seconds before start, after end) and how many
#: position reports of each vessel (of its MMSIs) the store must hold in it.
_SEEN_WINDOW: dict[str, tuple[float, float, int]] = {
    "encounter": (0.0, 0.0, 2),
    "loitering": (0.0, 0.0, 2),
    "spoofing": (0.0, 0.0, 2),
    "zone-entry": (0.0, 0.0, 2),
    "shared-mmsi": (0.0, 0.0, 4),
    "close-approach": (900.0, 900.0, 2),
}
#: An AIS gap is seen when its two ends are: a report within this long before it
#: starts and after it ends (before only, when it runs past the scenario's end).
_GAP_ENDS_S = 3 * 3600.0
#: An AIS gap is seen only where reception was expected (GFW's definition: GFW measures
#: reception by the positions of other vessels received): others' positions were received
#: within this distance of the silent ship's true position in this many minutes of the
#: silence. In empty ocean no node could tell a ship switched off from no one listening.
_GAP_NEAR_M = 100e3
_GAP_HEARD_MIN = 10
#: A spoofed position is told apart only next to a true one: a report of the vessel
#: within this long before the spoofing starts or after it ends (satellite passes come
#: every 1.5-3.5 h; the fuser judges a jump from the last good fix however old).
_SPOOF_CONTEXT_S = 3 * 3600.0
#: A dark vessel is seen when radars wrote this many of its contacts during the span.
_DARK_CONTACTS = 5
#: What a window counts: position reports, static reports stating a name, or stating an
#: IMO number.
_POSITION, _NAME, _IMO = 0, 1, 2
#: An identity change shows only in what the vessel said about itself before and after it,
#: within this long (a day: the node keeps that much of a track's history).
_IDENTITY_S = 24 * 3600.0


def _identity_windows(
    index: int, event: TruthEvent
) -> list[tuple[int, int, int, int, float, float, int, int]]:
    """The seen rule of an identity change (see ``_observable``).

    A name change (one MMSI) is seen when the MMSI stated a name (static data) before it
    and after it: positions say nothing of a name. An MMSI change (old, new) is seen when
    either the old MMSI was heard shortly before and the new one shortly after (a
    position link, like a gap's ends) or both stated their IMO number (an identity link):
    (A and B) or (C and D), written as the four parts (A or C), (A or D), (B or C), (B or D).
    """
    start, end = event.start, event.end
    if len(event.mmsis) == 1:
        (mmsi,) = event.mmsis
        return [
            (index, 0, 0, mmsi, start - _IDENTITY_S, start, 1, _NAME),
            (index, 1, 0, mmsi, end, end + _IDENTITY_S, 1, _NAME),
        ]
    if len(event.mmsis) != 2:
        return []
    old, new = event.mmsis
    heard = [(old, start - _GAP_ENDS_S, start, _POSITION), (new, end, end + _GAP_ENDS_S, _POSITION)]
    stated = [(old, start - _IDENTITY_S, start, _IMO), (new, end, end + _IDENTITY_S, _IMO)]
    rows = []
    for part, (a, b) in enumerate((x, y) for x in heard for y in stated):
        for alt, (mmsi, lo, hi, what) in enumerate((a, b)):
            rows.append((index, part, alt, mmsi, lo, hi, 1, what))
    return rows


def _observable(
    con: duckdb.DuckDBPyConnection, events: list[TruthEvent], scenario_end: float
) -> list[bool]:
    """Which true behaviours the node's sensors delivered enough of to be seen at all.

    Each behaviour has parts that must all hold; a part may have alternatives (any one
    will do): rows of (behaviour, part, alternative, mmsi, from, to, reports needed, what
    is counted: positions, or static reports stating a name or an IMO number)."""
    rows: list[tuple[int, int, int, int, float, float, int, int]] = []
    for index, event in enumerate(events):
        if event.kind == "ais-gap":
            for mmsi in event.mmsis:
                rows.append(
                    (index, 0, 0, mmsi, event.start - _GAP_ENDS_S, event.start, 1, _POSITION)
                )
                if event.end < scenario_end - 60:
                    rows.append(
                        (index, 1, 0, mmsi, event.end, event.end + _GAP_ENDS_S, 1, _POSITION)
                    )
        elif event.kind == "identity-change":
            rows += _identity_windows(index, event)
        elif event.kind in _SEEN_WINDOW:
            before, after, need = _SEEN_WINDOW[event.kind]
            for part, mmsi in enumerate(event.mmsis):
                rows.append(
                    (index, part, 0, mmsi, event.start - before, event.end + after, need, _POSITION)
                )
            if event.kind == "spoofing":
                for mmsi in event.mmsis:
                    part = len(event.mmsis)
                    lo, hi = event.start - _SPOOF_CONTEXT_S, event.end + _SPOOF_CONTEXT_S
                    rows.append((index, part, 0, mmsi, lo, event.start, 1, _POSITION))
                    rows.append((index, part, 1, mmsi, event.end, hi, 1, _POSITION))
    # A behaviour of vessels that sent no AIS at all (no MMSI: a port call or close pass
    # of a dark vessel) names no MMSI an alert could match (``_subjects_match``), so no
    # detector can find it: it is not seen. Dark vessels are seen by their radar contacts.
    seen = [False] * len(events)
    if rows:
        columns = list(zip(*rows, strict=True))
        windows = pa.table(
            {
                "idx": pa.array(columns[0], pa.int32()),
                "part": pa.array(columns[1], pa.int32()),
                "alt": pa.array(columns[2], pa.int32()),
                "mmsi": pa.array(columns[3], pa.int64()),
                "lo": pa.array(columns[4], pa.float64()),
                "hi": pa.array(columns[5], pa.float64()),
                "need": pa.array(columns[6], pa.int32()),
                "what": pa.array(columns[7], pa.int32()),
            }
        )
        con.register("seen_windows_input", windows)
        con.execute("CREATE OR REPLACE TEMP TABLE seen_windows AS SELECT * FROM seen_windows_input")
        con.unregister("seen_windows_input")
        counted = con.execute(
            f"""
            SELECT idx, bool_and(ok) FROM (
                SELECT idx, part, bool_or(n >= need) AS ok FROM (
                    SELECT sw.idx, sw.part, sw.alt, sw.mmsi, sw.need, count(r.seq) AS n
                    FROM seen_windows sw LEFT JOIN reports r
                      ON r.mmsi = sw.mmsi
                     AND epoch(r.observed_at) BETWEEN sw.lo AND sw.hi
                     AND CASE sw.what
                         WHEN {_NAME} THEN r.name IS NOT NULL
                         WHEN {_IMO} THEN coalesce(r.imo, 0) > 0
                         ELSE r.lat IS NOT NULL END
                    GROUP BY ALL
                ) GROUP BY idx, part
            ) GROUP BY idx
            """
        ).fetchall()
        for index, ok in counted:
            seen[int(index)] = bool(ok)
    gaps = [i for i, event in enumerate(events) if event.kind == "ais-gap" and seen[i]]
    for index in gaps:
        seen[index] = _reception_expected(con, events[index])
    for index, event in enumerate(events):
        if event.kind == "dark-vessel":
            row = con.execute(
                "SELECT count(*) FROM truth_radar WHERE vessel = ANY($vessels) "
                "AND t_us BETWEEN $lo AND $hi",
                {
                    "vessels": list(event.vessels),
                    "lo": int(event.start * 1e6),
                    "hi": int(event.end * 1e6),
                },
            ).fetchall()[0]
            seen[index] = int(row[0]) >= _DARK_CONTACTS
    return seen


def _reception_expected(con: duckdb.DuckDBPyConnection, gap: TruthEvent) -> bool:
    """Others were heard near the ship while it was silent (``_GAP_HEARD_MIN``)."""
    row = con.execute(
        """
        WITH ship AS (
            SELECT minute, lat, lon FROM truth_positions
            WHERE vessel = $vessel AND minute BETWEEN $lo // 60 AND $hi // 60
        ), others AS (
            SELECT (epoch(observed_at) // 60)::BIGINT AS minute, lat, lon FROM reports
            WHERE lat IS NOT NULL AND mmsi IS NOT NULL AND NOT list_contains($mmsis, mmsi)
              AND epoch(observed_at) BETWEEN $lo AND $hi
        )
        SELECT count(DISTINCT ship.minute) FROM ship JOIN others USING (minute)
        WHERE 6371008.8 * sqrt(pow(radians(others.lat - ship.lat), 2)
              + pow(radians(others.lon - ship.lon) * cos(radians(ship.lat)), 2)) <= $near
        """,
        {
            "vessel": gap.vessels[0],
            "mmsis": list(gap.mmsis),
            "lo": gap.start,
            "hi": gap.end,
            "near": _GAP_NEAR_M,
        },
    ).fetchall()[0]
    return int(row[0]) >= _GAP_HEARD_MIN


def _load_truth_tables(con: duckdb.DuckDBPyConnection, scenario: Scenario) -> None:
    truth = scenario.directory / "truth"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE truth_positions AS
        SELECT vessel, (epoch(t) // 60)::BIGINT AS minute, lat, lon, mmsi, ais_on
        FROM read_parquet('{_sql_path(truth / "positions.parquet")}')
        """
    )
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE truth_radar AS
        SELECT epoch_us(t) AS t_us, round(lat, 6) AS lat, round(lon, 6) AS lon, vessel,
               (epoch(t) // 60)::BIGINT AS minute
        FROM read_parquet('{_sql_path(truth / "radar.parquet")}')
        """
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


def _continuity(con: duckdb.DuckDBPyConnection) -> tuple[float | None, int]:
    """Continuity and the number of vessel-hours (each vessel's own track is the one
    holding most of its good points)."""
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE point_vessels AS
        {matched_points_sql(_DOUBTFUL | ASSOCIATED_CONTACT)}
        SELECT seq, vessel, track_id, (t // 3600)::BIGINT AS hour
        FROM candidates WHERE rank = 1
        """
    )
    row = con.execute(
        """
        WITH own AS (
            SELECT vessel, arg_max(track_id, n) AS track_id FROM (
                SELECT vessel, track_id, count(*) AS n FROM point_vessels GROUP BY ALL
            ) GROUP BY vessel
        ), mixed AS (
            SELECT track_id, hour, count(DISTINCT vessel) > 1 AS mixed
            FROM point_vessels GROUP BY ALL
        ), hours AS (
            SELECT pv.vessel, pv.hour,
                   bool_and(pv.track_id = own.track_id AND NOT mixed.mixed) AS ok
            FROM point_vessels pv
            JOIN own USING (vessel)
            JOIN mixed ON mixed.track_id = pv.track_id AND mixed.hour = pv.hour
            GROUP BY ALL
        )
        SELECT avg(ok::INTEGER), count(*) FROM hours
        """
    ).fetchall()[0]
    continuity = float(row[0]) if row[0] is not None else None
    return continuity, int(row[1])


def score(
    con: duckdb.DuckDBPyConnection, scenario: Scenario, *, tolerance_s: float = 1800.0
) -> Score:
    """Score the alerts, tracks and associations in the store ``con`` against the truth."""
    _load_truth_tables(con, scenario)
    result = Score()
    result.continuity, result.vessel_hours = _continuity(con)
    # Association's own rules (mista.evaluate.association): a lit vessel's own track keeps
    # its doubtful fixes, and a plot of ships a radar could not resolve stands for them all.
    result.association, result.radar_contacts, dark_vessels = association(con, scenario)
    truths: dict[str, list[TruthEvent]] = defaultdict(list)
    for event in load_truth_events(scenario):
        truths[event.kind].append(event)
    alerts: dict[str, list[_Alert]] = defaultdict(list)
    for alert in _alerts(con):
        alerts[alert.kind].append(alert)
    scenario_end = scenario.start.timestamp() + scenario.hours * 3600.0
    for kind in BEHAVIOURS:
        events = truths.get(kind, [])
        groups = None
        if kind == "port-visit":
            seen, groups = port_visits_seen(con, events)
        else:
            seen = _observable(con, events, scenario_end)
        result.behaviours[kind] = _match_kind(
            events, alerts.get(kind, []), dark_vessels, tolerance_s, seen, groups
        )
    result.other_alerts = {
        kind: len(items) for kind, items in sorted(alerts.items()) if kind not in BEHAVIOURS
    }
    return result
