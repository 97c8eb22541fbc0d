"""Gating radar contacts against AIS tracks, vectorised over one radar's contacts.

The AIS tracks near a radar are predicted to every scan time at once (interpolated
between fixes, dead-reckoned past the last one; compiled, ``_radar_scan.predict_track``),
and every contact is compared with every
such track in one numpy pass. What comes out is only the gated pairs (contact, track,
normalised squared distance), grouped by contact: the sequential tracker then touches a
handful of pairs per contact instead of every track.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from ._radar_scan import M_PER_DEG, predict_track
from .chunk import PointFlag
from .config import FuseConfig
from .feed import PositionRows
from .tracks import Track

__all__ = ["AisSnapshot", "GatedPairs", "flat_m"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

_BAD = int(PointFlag.OUTLIER | PointFlag.IMPLAUSIBLE_SPEED)
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
            history = track.history
            predict_track(
                history.t,
                history.flags,
                history.column("lat"),
                history.column("lon"),
                history.column("sog"),
                history.column("cog"),
                scan_t,
                _BAD,
                c,
                plat[row],
                plon[row],
                sigma[row],
            )
        return numbers, plat, plon, sigma
