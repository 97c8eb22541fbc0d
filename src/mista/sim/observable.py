"""Where and when a node could notice a ship: what the injected behaviours are placed by.

A behaviour no sensor could have delivered tests nothing, so spoofs and gaps are moved
to times their ship is within hearing (``mista.sim.behaviours.align_spoofs`` and
``align_gaps``). This answers, from the true minute-by-minute positions and the sensors,
how much of a window some AIS sensor would hear the ship, how far it is from a port, and
for how long others were heard near it: the evidence a gap detector has that reception
was expected (GFW measures reception from other vessels' positions received).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mista.geo import Ports, haversine_m
from mista.sim.sensors import Pass, Source, covered

__all__ = ["NEIGHBOUR_M", "Observability"]

#: Others within this distance count as heard near a ship (about a degree: the gap
#: detector's coarse reception cell, and well inside a satellite's footprint).
NEIGHBOUR_M = 100e3


class Observability:
    """Questions about vessel ``v`` over windows of scenario seconds."""

    def __init__(
        self,
        sources: list[Source],
        passes: list[Pass],
        minute_lat: npt.NDArray[np.float64],
        minute_lon: npt.NDArray[np.float64],
        transmitting: npt.NDArray[np.bool_],
        ports: Ports,
        duration_s: float,
    ) -> None:
        self.duration_s = duration_s
        self._sources = sources
        self._passes = passes
        self._lat = minute_lat
        self._lon = minute_lon
        self._transmitting = transmitting  # per vessel: ever sends AIS
        self._ports = ports
        self._n_min = minute_lat.shape[1]
        self._neighbours: dict[int, npt.NDArray[np.int64]] = {}

    def _minutes(self, a: float, b: float) -> tuple[int, int]:
        i0 = min(max(int(a // 60), 0), self._n_min - 1)
        return i0, min(max(int(b // 60), i0 + 1), self._n_min)

    def _covered(self, v: int, i0: int, i1: int) -> npt.NDArray[np.bool_]:
        t = np.arange(i0, i1, dtype=np.float64) * 60.0
        return covered(self._sources, self._passes, self._lat[v, i0:i1], self._lon[v, i0:i1], t)

    def covered_fraction(self, v: int, a: float, b: float) -> float:
        """The share of minutes from ``a`` to ``b`` some AIS sensor would hear ``v``."""
        return float(self._covered(v, *self._minutes(a, b)).mean())

    def port_m(self, v: int, t: float) -> float:
        """How far ``v`` is from the nearest port at ``t`` (metres)."""
        i, _ = self._minutes(t, t)
        lat, lon = self._lat[v, i : i + 1], self._lon[v, i : i + 1]
        return float(self._ports.nearest(lon, lat)[1][0])

    def exposure_min(self, v: int, a: float, b: float) -> int:
        """Minutes from ``a`` to ``b`` in which some sensor would hear ``v`` and two or
        more other transmitting vessels are within :data:`NEIGHBOUR_M` of it: what a
        node could hear of others near a silent ship."""
        i0, i1 = self._minutes(a, b)
        if v not in self._neighbours:
            d = np.asarray(haversine_m(self._lat, self._lon, self._lat[v], self._lon[v]))
            near = (d <= NEIGHBOUR_M) & self._transmitting[:, None]
            near[v] = False
            self._neighbours[v] = near.sum(axis=0)
        busy = self._neighbours[v][i0:i1] >= 2
        return int((busy & self._covered(v, i0, i1)).sum())
