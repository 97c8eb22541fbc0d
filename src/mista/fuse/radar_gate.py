"""Gating radar contacts against AIS tracks, vectorised over one radar's contacts.

The AIS tracks near a radar are predicted to every scan time at once (interpolated
between fixes, dead-reckoned past the last one), and every contact is compared with every
such track in one numpy pass. What comes out is only the gated pairs (contact, track,
normalised squared distance), grouped by contact: the sequential tracker then touches a
handful of pairs per contact instead of every track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._kinematics import KNOT_M_S
from .chunk import PointFlag
from .config import FuseConfig
from .feed import PositionRows
from .tracks import Track

__all__ = ["AisSnapshot", "GatedPairs", "flat_m"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_BAD = int(PointFlag.OUTLIER | PointFlag.IMPLAUSIBLE_SPEED)
M_PER_DEG = 111_195.0
#: AIS tracks further than this beyond a radar's contacts are not considered for it.
_SEARCH_MARGIN_M = 30_000.0
#: Contacts compared with the tracks in one numpy pass (bounds the pass's memory).
_BLOCK = 4096


@dataclass(frozen=True, slots=True)
class GatedPairs:
    """Per contact ``i``, the pairs ``ptr[i]:ptr[i + 1]``: AIS track ``number``, squared
    distance over the combined variance ``x`` (chi-square, two degrees of freedom) and the
    distance in metres."""

    ptr: I64
    number: I64
    x: F64
    distance_m: F64

    @classmethod
    def empty(cls, contacts: int) -> GatedPairs:
        return cls(
            np.zeros(contacts + 1, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, np.float64),
            np.zeros(0, np.float64),
        )


def flat_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> tuple[F64, F64]:
    """North and east offsets (m) from point 1 to point 2 on a local flat earth (tracks
    near one radar: tens of km), broadcasting; much cheaper than great circles."""
    north: F64 = (lat2 - lat1) * M_PER_DEG
    east: F64 = ((lon2 - lon1 + 180.0) % 360.0 - 180.0) * M_PER_DEG * np.cos(np.radians(lat2))
    return north, east


class AisSnapshot:
    """AIS tracks' last positions, to pick those near a radar's contacts."""

    def __init__(self, tracks: list[Track]) -> None:
        self.tracks = [t for t in tracks if len(t.history)]
        self.last_t = np.array([t.last_t for t in self.tracks], np.float64)
        self.lat = np.array([t.last_lat for t in self.tracks], np.float64)
        self.lon = np.array([t.last_lon for t in self.tracks], np.float64)

    def gate(
        self,
        rows: PositionRows,
        scan: I64,
        scan_t: F64,
        radar_sigma_m: float,
        c: FuseConfig,
        gate_sigmas: float,
    ) -> GatedPairs:
        """The AIS tracks within ``gate_sigmas`` of each contact (``rows`` in time order,
        ``scan[i]`` the index into ``scan_t`` of contact ``i``'s scan)."""
        n = len(rows)
        predicted = self._predict(rows, scan_t, c)
        if predicted is None:
            return GatedPairs.empty(n)
        numbers, plat, plon, psigma = predicted
        gate2 = gate_sigmas**2
        parts: list[tuple[I64, I64, F64, F64]] = []
        for start in range(0, n, _BLOCK):
            stop = min(start + _BLOCK, n)
            k = scan[start:stop]
            north, east = flat_m(
                plat[:, k].T, plon[:, k].T, rows.lat[start:stop, None], rows.lon[start:stop, None]
            )
            d2 = north**2 + east**2
            x = d2 / (psigma[:, k].T ** 2 + radar_sigma_m**2)
            i, j = np.nonzero(x <= gate2)
            parts.append((i + start, j, x[i, j], np.sqrt(d2[i, j])))
        contact = np.concatenate([p[0] for p in parts])
        track = np.concatenate([p[1] for p in parts])
        ptr = np.zeros(n + 1, np.int64)
        np.cumsum(np.bincount(contact, minlength=n), out=ptr[1:])
        return GatedPairs(
            ptr,
            numbers[track],
            np.concatenate([p[2] for p in parts]),
            np.concatenate([p[3] for p in parts]),
        )

    def _predict(
        self, rows: PositionRows, scan_t: F64, c: FuseConfig
    ) -> tuple[I64, F64, F64, F64] | None:
        """Track numbers and their predicted lat, lon and sigma (m) at each scan time
        (arrays tracks x scans), for the tracks near these contacts; ``None`` if none."""
        if not self.tracks:
            return None
        margin_deg = _SEARCH_MARGIN_M / M_PER_DEG
        lat_lo, lat_hi = float(rows.lat.min()) - margin_deg, float(rows.lat.max()) + margin_deg
        coslat = max(math.cos(math.radians(float(np.abs(rows.lat).max()) + margin_deg)), 0.05)
        lon_lo = float(rows.lon.min()) - margin_deg / coslat
        lon_hi = float(rows.lon.max()) + margin_deg / coslat
        near = (
            (self.last_t >= float(scan_t[0]) - c.association_max_age_s)
            & (self.lat >= lat_lo)
            & (self.lat <= lat_hi)
            & (self.lon >= lon_lo)
            & (self.lon <= lon_hi)
        )
        index = np.flatnonzero(near)
        if index.shape[0] == 0:
            return None
        n, m = index.shape[0], scan_t.shape[0]
        plat = np.empty((n, m))
        plon = np.empty((n, m))
        sigma = np.empty((n, m))
        numbers = np.empty(n, np.int64)
        for row, i in enumerate(index.tolist()):
            track = self.tracks[i]
            numbers[row] = track.number
            plat[row], plon[row], sigma[row] = _predict_track(track, scan_t, c)
        return numbers, plat, plon, sigma


def _predict_track(track: Track, when: F64, c: FuseConfig) -> tuple[F64, F64, F64]:
    """A track's position at times ``when``: between fixes interpolated, after the last
    dead-reckoned, before the first held; sigma grows with the time to the nearest fix
    (NaN, which gates nothing, with no fix within ``association_max_age_s``)."""
    history = track.history
    # Only the fixes that can matter: within the age limit of the scans (and the last).
    all_t = history.t
    lo = max(int(np.searchsorted(all_t, when[0] - c.association_max_age_s)) - 1, 0)
    hi = int(np.searchsorted(all_t, when[-1] + c.association_max_age_s, side="right")) + 1
    window = slice(lo, hi)
    good = (history.flags[window] & np.uint16(_BAD)) == 0
    t = all_t[window][good]
    if t.shape[0] == 0:
        t = all_t[window]
        good = np.ones(t.shape[0], np.bool_)
    lat = history.column("lat")[window][good].astype(np.float64)
    lon = history.column("lon")[window][good].astype(np.float64)
    # Longitudes made continuous from the first (a window of fixes spans far less than
    # 180 degrees); cheaper than np.unwrap.
    lon = (lon - lon[0] + 180.0) % 360.0 - 180.0 + lon[0]
    plat = np.interp(when, t, lat)
    plon = np.interp(when, t, lon)
    i = np.searchsorted(t, when)
    before = np.where(i > 0, when - t[np.maximum(i - 1, 0)], np.inf)
    after = np.where(i < t.shape[0], t[np.minimum(i, t.shape[0] - 1)] - when, np.inf)
    near_dt = np.minimum(before, after)
    late = when > t[-1]
    if late.any():
        sog = history.column("sog")[window][good].astype(np.float64)
        cog = history.column("cog")[window][good].astype(np.float64)
        # Dead reckoning on a local flat earth: at most association_max_age_s of travel.
        speed = sog[-1] * KNOT_M_S if np.isfinite(sog[-1]) and np.isfinite(cog[-1]) else 0.0
        course = math.radians(float(cog[-1])) if speed else 0.0
        step = speed * (when[late] - t[-1])
        plat[late] = lat[-1] + step * math.cos(course) / M_PER_DEG
        plon[late] = lon[-1] + step * math.sin(course) / (
            M_PER_DEG * max(math.cos(math.radians(float(lat[-1]))), 0.01)
        )
    plon = (plon + 180.0) % 360.0 - 180.0
    sigma = np.minimum(
        c.prediction_sigma_m + c.prediction_sigma_growth_m_per_s * near_dt, c.prediction_sigma_cap_m
    )
    sigma[near_dt > c.association_max_age_s] = np.nan
    return plat, plon, sigma
