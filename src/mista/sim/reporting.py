"""When each vessel transmits: ITU-R M.1371-5 reporting intervals, as data.

Position reports follow Table 1 of ITU-R M.1371-5 (class A) and the class B rates of its
Annex 7 (SOTDMA, "SO") and of IEC 62287-1 (carrier-sense, "CS"). Static and voyage data
(type 5 for class A, type 24 parts A and B for class B) go out every 6 minutes. Courses
change at knots; a class A ship reports at the "changing course" rate for 30 s after a
knot where its course turns by more than 5 degrees.

Transmission times are whole seconds from the scenario start, built for every vessel at
once from its segments (one ``np.repeat``), never one report at a time.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mista.sim.kinematics import STATUS_ANCHORED, STATUS_MOORED, Trajectories

__all__ = [
    "CLASS_A_INTERVALS",
    "CLASS_A_TURNING_INTERVALS",
    "CLASS_B_CS_INTERVALS",
    "CLASS_B_SO_INTERVALS",
    "STATIC_INTERVAL_S",
    "Schedule",
    "position_interval_s",
    "schedule",
]

#: ITU-R M.1371-5 Table 1, class A: (SOG below which the row applies, interval s). At anchor
#: or moored and not faster than 3 kn: 3 min (handled before this table).
CLASS_A_INTERVALS: tuple[tuple[float, float], ...] = ((14.0, 10.0), (23.0, 6.0), (1e9, 2.0))
CLASS_A_MOORED_INTERVAL_S = 180.0
#: Class A changing course (Table 1): 0-14 kn 3 1/3 s, faster 2 s.
CLASS_A_TURNING_INTERVALS: tuple[tuple[float, float], ...] = ((14.0, 10.0 / 3.0), (1e9, 2.0))
#: A course change of more than this at a knot counts as "changing course" ...
TURN_DEG = 5.0
#: ... for this long after the knot.
TURN_S = 30.0
#: Class B SOTDMA (ITU-R M.1371-5 Table 2): <= 2 kn 3 min, 2-14 kn 30 s, 14-23 kn 15 s, > 23 kn 5 s.
CLASS_B_SO_INTERVALS: tuple[tuple[float, float], ...] = (
    (2.0 + 1e-9, 180.0),
    (14.0, 30.0),
    (23.0, 15.0),
    (1e9, 5.0),
)
#: Class B CS (IEC 62287-1): <= 2 kn 3 min, otherwise 30 s.
CLASS_B_CS_INTERVALS: tuple[tuple[float, float], ...] = ((2.0 + 1e-9, 180.0), (1e9, 30.0))
#: Static and voyage related data: every 6 minutes (ITU-R M.1371-5 Table 1, note).
STATIC_INTERVAL_S = 360.0


def _lookup(
    table: tuple[tuple[float, float], ...], sog_kn: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]:
    bounds = np.array([b for b, _ in table])
    values = np.array([v for _, v in table])
    return values[np.minimum(np.searchsorted(bounds, sog_kn, side="right"), len(values) - 1)]


def position_interval_s(
    ais_class: npt.NDArray[np.str_] | list[str],
    class_b_cs: npt.NDArray[np.bool_],
    sog_kn: npt.NDArray[np.float64],
    status: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """Reporting interval (s) of each report for the unit's class, speed and status."""
    sog = np.asarray(sog_kn, np.float64)
    is_a = np.asarray(ais_class) == "A"
    a = _lookup(CLASS_A_INTERVALS, sog)
    still = np.isin(status, (STATUS_ANCHORED, STATUS_MOORED)) & (sog <= 3.0)
    a = np.where(still, CLASS_A_MOORED_INTERVAL_S, a)
    b = np.where(class_b_cs, _lookup(CLASS_B_CS_INTERVALS, sog), _lookup(CLASS_B_SO_INTERVALS, sog))
    return np.where(is_a, a, b)


@dataclass(frozen=True, slots=True)
class Schedule:
    """Transmission times (int64 s), sorted by (vessel, time); ``offsets[v]:offsets[v+1]``
    are vessel v's."""

    t_s: npt.NDArray[np.int64]
    offsets: npt.NDArray[np.int64]

    def vessel_of(self) -> npt.NDArray[np.int64]:
        counts = np.diff(self.offsets)
        return np.repeat(np.arange(len(counts), dtype=np.int64), counts)


def _from_rows(vessel: npt.NDArray[np.int64], t_s: npt.NDArray[np.int64], n: int) -> Schedule:
    key = np.sort(vessel * (1 << 32) + t_s)
    # Sort and drop repeats (np.unique hashes, and is far slower on tens of millions).
    key = key[np.concatenate([[True], key[1:] != key[:-1]])] if len(key) else key
    v = key >> 32
    t = key - (v << 32)
    offsets = np.searchsorted(v, np.arange(n + 1))
    return Schedule(t.astype(np.int64), offsets.astype(np.int64))


def schedule(
    traj: Trajectories,
    ais_class: list[str],
    class_b_cs: npt.NDArray[np.bool_],
    duration_s: float,
    phase_s: npt.NDArray[np.float64],
    off: list[list[tuple[float, float]]],
) -> Schedule:
    """Position report times of every vessel in [0, duration_s), none while its
    transmitter is off (``off[v]``: (from, to) intervals)."""
    vessel = traj.vessel
    seg = np.flatnonzero(np.r_[vessel[1:] == vessel[:-1], False])
    t0, t1 = traj.t[seg], traj.t[seg + 1]
    v = vessel[seg]
    speed, course = traj.speed_kn[seg], traj.course_deg[seg]
    interval = position_interval_s(np.asarray(ais_class)[v], class_b_cs[v], speed, traj.status[seg])
    # A class A ship changing course reports faster for TURN_S after the knot.
    same = np.r_[False, v[1:] == v[:-1]]
    prev_speed = np.r_[0.0, speed[:-1]]
    bend = np.abs((course - np.r_[0.0, course[:-1]] + 180.0) % 360.0 - 180.0)
    turn = same & (speed > 0.5) & (prev_speed > 0.5) & (bend > TURN_DEG)
    turn &= np.asarray(ais_class)[v] == "A"
    turn_end = np.where(turn, np.minimum(t0 + TURN_S, t1), t0)
    # Steady pieces: [max(turn_end, 0), t1) at the table rate, in the vessel's phase.
    a = np.maximum(turn_end, 0.0)
    first = a + np.mod(phase_s[v] - a, interval)
    # Turning pieces: [max(t0, 0), turn_end) at the changing-course rate, from the knot.
    ta = np.maximum(t0, 0.0)
    t_interval = _lookup(CLASS_A_TURNING_INTERVALS, speed)
    first = np.concatenate([first, ta + np.mod(t0 - ta, t_interval)])
    end = np.concatenate([np.minimum(t1, duration_s), np.minimum(turn_end, duration_s)])
    step_s = np.concatenate([interval, t_interval])
    owner = np.concatenate([v, v])
    counts = np.where(end > first, np.ceil((end - first) / step_s), 0).astype(np.int64)
    rows = np.repeat(np.arange(len(first)), counts)
    step = np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
    t = np.floor(first[rows] + step * step_s[rows]).astype(np.int64)
    tv = owner[rows]
    order = np.argsort(tv, kind="stable")
    tv, t = tv[order], t[order]
    keep = _transmitting(tv, t, off)
    return _from_rows(tv[keep], t[keep], traj.n_vessels)


def static_schedule(
    n_vessels: int,
    duration_s: float,
    phase_s: npt.NDArray[np.float64],
    off: list[list[tuple[float, float]]],
) -> Schedule:
    """Static data times (every :data:`STATIC_INTERVAL_S`) of every vessel."""
    per = int(np.ceil(duration_s / STATIC_INTERVAL_S)) + 1
    v = np.repeat(np.arange(n_vessels, dtype=np.int64), per)
    t = np.floor(
        np.mod(phase_s, STATIC_INTERVAL_S)[v]
        + np.tile(np.arange(per), n_vessels) * STATIC_INTERVAL_S
    ).astype(np.int64)
    keep = (t < duration_s) & _transmitting(v, t, off)
    return _from_rows(v[keep], t[keep], n_vessels)


def _transmitting(
    vessel: npt.NDArray[np.int64], t_s: npt.NDArray[np.int64], off: list[list[tuple[float, float]]]
) -> npt.NDArray[np.bool_]:
    keep = np.ones(len(t_s), np.bool_)
    for v, spans in enumerate(off):
        if not spans:
            continue
        lo, hi = np.searchsorted(vessel, [v, v + 1])
        if hi == lo:
            continue
        tt = t_s[lo:hi]
        for start, end in spans:
            keep[lo:hi] &= ~((tt >= start) & (tt < end))
    return keep
