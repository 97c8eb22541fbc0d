"""What a transmission carries: the MMSI, name and (possibly false) position sent at a time."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mista.geo import destination
from mista.sim.behaviours import Spoof, Transmitter
from mista.sim.kinematics import Trajectories

__all__ = ["is_on", "sent_mmsi", "sent_names", "sent_positions", "spoof_centre"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


def _slices(vessel: I64) -> tuple[I64, I64]:
    """Rows in a stable order by vessel, and the vessels in that order."""
    order = np.argsort(vessel, kind="stable")
    return order, vessel[order]


def _rows_of(order: I64, sorted_v: I64, v: int) -> I64:
    lo, hi = np.searchsorted(sorted_v, [v, v + 1])
    return order[lo:hi]


def sent_mmsi(tx: list[Transmitter], vessel: I64, t_s: F64) -> I64:
    """The MMSI each vessel sends at each time (-1 when its transmitter is off)."""
    first = np.array([spans.mmsi[0][1] for spans in tx], np.int64)
    out = first[vessel]
    order, sorted_v = _slices(vessel)
    for v, spans in enumerate(tx):
        if len(spans.mmsi) == 1 and not spans.off:
            continue
        rows = _rows_of(order, sorted_v, v)
        if len(rows) == 0:
            continue
        t = t_s[rows]
        starts = np.array([s for s, _ in spans.mmsi])
        values = np.array([m for _, m in spans.mmsi], np.int64)
        out[rows] = values[np.searchsorted(starts, t, side="right") - 1]
        for a, b in spans.off:
            out[rows[(t >= a) & (t < b)]] = -1
    return out


def is_on(tx: list[Transmitter], vessel: I64, t_s: F64) -> npt.NDArray[np.bool_]:
    return sent_mmsi(tx, vessel, t_s) >= 0


def sent_names(tx: list[Transmitter], vessel: I64, t_s: F64) -> list[str]:
    """The name in each vessel's static data at each time."""
    names = [spans.name[0][1] for spans in tx]
    out = [names[v] for v in vessel.tolist()]
    order, sorted_v = _slices(vessel)
    for v, spans in enumerate(tx):
        if len(spans.name) == 1:
            continue
        rows = _rows_of(order, sorted_v, v)
        starts = np.array([s for s, _ in spans.name])
        which = np.searchsorted(starts, t_s[rows], side="right") - 1
        for r, k in zip(rows.tolist(), which.tolist(), strict=True):
            out[r] = spans.name[k][1]
    return out


def _spoofed(
    spoof: Spoof, traj: Trajectories, v: int, t: F64, lat: F64, lon: F64
) -> tuple[F64, F64]:
    if spoof.mode == "jump":
        la, lo = destination(lat, lon, spoof.bearing_deg, spoof.distance_m)
        return np.asarray(la, np.float64), np.asarray(lo, np.float64)
    if spoof.mode == "land":
        # A slow wander of ~1 km around the inland point.
        angle = (t - spoof.start_s) / 600.0 * 360.0
        la, lo = destination(spoof.lat, spoof.lon, angle % 360.0, 800.0)
        return np.asarray(la, np.float64), np.asarray(lo, np.float64)
    start = traj.positions_at(np.array([v]), np.array([spoof.start_s]))
    c_lat, c_lon = destination(
        float(start.lat[0]), float(start.lon[0]), spoof.bearing_deg, spoof.centre_m
    )
    angle = (t - spoof.start_s) / spoof.period_s * 360.0
    la, lo = destination(float(c_lat), float(c_lon), angle % 360.0, spoof.distance_m)
    return np.asarray(la, np.float64), np.asarray(lo, np.float64)


def sent_positions(
    tx: list[Transmitter], traj: Trajectories, vessel: I64, t_s: F64, lat: F64, lon: F64
) -> tuple[F64, F64]:
    """Positions as sent: the true ones, except inside a spoofing window."""
    out_lat, out_lon = lat.copy(), lon.copy()
    order, sorted_v = _slices(vessel)
    for v, spans in enumerate(tx):
        if not spans.spoofs:
            continue
        rows = _rows_of(order, sorted_v, v)
        for spoof in spans.spoofs:
            sel = rows[(t_s[rows] >= spoof.start_s) & (t_s[rows] < spoof.end_s)]
            if len(sel):
                out_lat[sel], out_lon[sel] = _spoofed(spoof, traj, v, t_s[sel], lat[sel], lon[sel])
    return out_lat, out_lon


def spoof_centre(spoof: Spoof, traj: Trajectories, v: int) -> tuple[float, float]:
    """Where a spoof's false positions are (for the truth record)."""
    if spoof.mode == "land":
        return spoof.lat, spoof.lon
    start = traj.positions_at(np.array([v]), np.array([spoof.start_s]))
    if spoof.mode == "jump":
        la, lo = destination(
            float(start.lat[0]), float(start.lon[0]), spoof.bearing_deg, spoof.distance_m
        )
    else:
        la, lo = destination(
            float(start.lat[0]), float(start.lon[0]), spoof.bearing_deg, spoof.centre_m
        )
    return float(la), float(lo)
