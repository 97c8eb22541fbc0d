"""Radar resolution: ships a coastal radar cannot tell apart return one plot.

A pulse radar separates two echoes when they differ in range by more than its range
resolution (c·τ/2: 37.5 m for a 0.25 µs pulse, a surveillance radar's medium pulse) or in
bearing by more than its horizontal beamwidth (1°, an antenna of about 2.5 m at X band:
35 m across at 2 km, 175 m at 10 km, 700 m at 40 km). Ships nearer each other than both
in one antenna turn form one echo, and the plot extractor reports one target at the
echo's centre: two ships moored alongside or anchored close together are one plot, as
they are on a real radar's screen.

Echoes are taken as points of equal strength at the ships' positions (a hull's own
length, 20-300 m, would merge more of them, so this errs towards resolving). Which ships
form one echo is decided per antenna turn on their true positions; the group's plot keeps
the report times of its lowest-numbered ship (the target the extractor was already
following) and the others write no plot while they are merged. The truth file names that
ship as the plot's vessel.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

__all__ = ["BEAMWIDTH_DEG", "RANGE_RESOLUTION_M", "Echoes", "echo_groups", "merge_unresolved"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
B = npt.NDArray[np.bool_]

#: Two echoes closer than this in range ...
RANGE_RESOLUTION_M = 37.5
#: ... and than this in bearing are one echo.
BEAMWIDTH_DEG = 1.0


@dataclass(frozen=True, slots=True)
class Echoes:
    """Every ship inside one radar's coverage at every antenna turn that writes a plot:
    turn number, ship, range (m) and bearing (degrees) from the radar, true position."""

    turn: I64
    vessel: I64
    range_m: F64
    bearing_deg: F64
    lat: F64
    lon: F64


def _pairs(echoes: Echoes) -> tuple[I64, I64]:
    """Indexes (a, b) of the echo pairs one turn cannot resolve."""
    order = np.lexsort((echoes.range_m, echoes.turn))
    turn = echoes.turn[order]
    rng = echoes.range_m[order]
    brg = echoes.bearing_deg[order]
    firsts: list[I64] = []
    seconds: list[I64] = []
    # Sorted by (turn, range), the echoes within the range resolution of one another are
    # neighbours: compare each with the next k until no pair is that close in range.
    k = 1
    while k < len(order):
        close = (turn[k:] == turn[:-k]) & (rng[k:] - rng[:-k] < RANGE_RESOLUTION_M)
        if not close.any():
            break
        apart = np.abs((brg[k:] - brg[:-k] + 180.0) % 360.0 - 180.0)
        hit = np.flatnonzero(close & (apart < BEAMWIDTH_DEG))
        firsts.append(order[hit])
        seconds.append(order[hit + k])
        k += 1
    if not firsts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(firsts), np.concatenate(seconds)


def merge_unresolved(echoes: Echoes, turn: I64, vessel: I64) -> tuple[B, B, F64, F64]:
    """For plots of ``vessel`` at antenna ``turn`` (each present in ``echoes``): whether
    the plot is written (its ship is alone, or the lowest-numbered of its echo's ships),
    whether its echo is merged, and the merged echo's centre (the mean of its ships'
    positions; NaN for a ship alone)."""
    n = len(echoes.turn)
    m = len(turn)
    keep = np.ones(m, np.bool_)
    merged = np.zeros(m, np.bool_)
    lat = np.full(m, np.nan)
    lon = np.full(m, np.nan)
    if n == 0 or m == 0:
        return keep, merged, lat, lon
    # The plots' echoes, by (turn, vessel).
    width = int(max(int(echoes.vessel.max()), int(vessel.max()))) + 1
    key = echoes.turn * width + echoes.vessel
    by_key = np.argsort(key, kind="stable")
    wanted = turn * width + vessel
    where = by_key[np.minimum(np.searchsorted(key[by_key], wanted), n - 1)]
    if not np.array_equal(key[where], wanted):
        raise ValueError("every plot needs its echo")
    group, size = _groups(echoes)
    merged = size[group[where]] > 1
    if not merged.any():
        return keep, merged, lat, lon
    # Per group of two or more: its lowest-numbered ship and its centre.
    owner = np.full(n, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(owner, group, echoes.vessel)
    # Longitudes are averaged as offsets from one ship of the group (a group spans
    # metres, so this is right across the antimeridian too).
    first = np.zeros(n, np.int64)
    first[group[::-1]] = np.arange(n - 1, -1, -1)
    offset = (echoes.lon - echoes.lon[first[group]] + 180.0) % 360.0 - 180.0
    mean_lat = np.bincount(group, echoes.lat, minlength=n) / np.maximum(size, 1)
    mean_offset = np.bincount(group, offset, minlength=n) / np.maximum(size, 1)
    g = group[where[merged]]
    keep[merged] = vessel[merged] == owner[g]
    lat[merged] = mean_lat[g]
    lon[merged] = (echoes.lon[first[g]] + mean_offset[g] + 180.0) % 360.0 - 180.0
    return keep, merged, lat, lon


def _groups(echoes: Echoes) -> tuple[I64, I64]:
    """Each echo's group (echoes one turn cannot resolve, chained) and each group's size."""
    n = len(echoes.turn)
    a, b = _pairs(echoes)
    if len(a) == 0:
        return np.arange(n, dtype=np.int64), np.ones(n, np.int64)
    graph = coo_matrix((np.ones(len(a)), (a, b)), shape=(n, n))
    _, group = connected_components(graph, directed=False)
    group = np.asarray(group, np.int64)
    return group, np.bincount(group, minlength=n)


def echo_groups(echoes: Echoes, turn: I64, vessel: I64) -> dict[int, tuple[int, ...]]:
    """For plots of ``vessel`` at ``turn``: the index of each plot whose ship shares its
    echo with others, and those other ships (plots without an echo are left out)."""
    if len(echoes.turn) == 0 or len(turn) == 0:
        return {}
    group, size = _groups(echoes)
    width = int(max(int(echoes.vessel.max()), int(vessel.max()))) + 1
    key = echoes.turn * width + echoes.vessel
    by_key = np.argsort(key, kind="stable")
    wanted = turn * width + vessel
    where = by_key[np.minimum(np.searchsorted(key[by_key], wanted), len(key) - 1)]
    found = key[where] == wanted
    shared = np.flatnonzero(found & (size[group[where]] > 1))
    if len(shared) == 0:
        return {}
    members: dict[int, list[int]] = defaultdict(list)
    in_groups = np.flatnonzero(size[group] > 1)
    for e, g in zip(in_groups.tolist(), group[in_groups].tolist(), strict=True):
        members[g].append(int(echoes.vessel[e]))
    out: dict[int, tuple[int, ...]] = {}
    for plot in shared.tolist():
        own = int(vessel[plot])
        out[plot] = tuple(v for v in members[int(group[where[plot]])] if v != own)
    return out
