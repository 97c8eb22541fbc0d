"""Sea lanes: paths stay at sea, offsets go to starboard, ports are by the sea."""

from __future__ import annotations

import numpy as np
import pytest

from mista.geo import LandMask, Ports, bearing_deg, haversine_m
from mista.sim.routes import (
    LANE_ASHORE_MAX_M,
    Lanes,
    _searoute,
    ashore_m,
    offset_path,
    seaward,
)


@pytest.fixture(scope="module")
def lanes() -> Lanes:
    return Lanes(Ports.default(), LandMask.default())


def _ashore(path: tuple[np.ndarray, np.ndarray], land: LandMask) -> float:
    lat, lon = path
    points = []
    for i in range(len(lat) - 1):
        k = max(int(haversine_m(lat[i], lon[i], lat[i + 1], lon[i + 1]) // 1000), 1)
        f = np.arange(k) / k
        points.append((lat[i] + f * (lat[i + 1] - lat[i]), lon[i] + f * (lon[i + 1] - lon[i])))
    la = np.concatenate([p[0] for p in points])[5:-5]
    lo = np.concatenate([p[1] for p in points])[5:-5]
    return float(np.asarray(land.on_land(lo, la)).mean())


def test_a_straight_line_over_a_cape_is_moved_to_sea() -> None:
    land = LandMask.default()
    # Across the southern tip of India (Kanyakumari), 40 km inland at its middle.
    path = (np.array([8.6, 8.2, 8.6]), np.array([76.6, 77.5, 78.3]))
    before = _ashore(path, land)
    after = _ashore(seaward(path, land, step_m=5000.0), land)
    assert before > 0.2
    assert after < before


def test_lane_paths_are_at_sea_and_offset_to_starboard(lanes: Lanes) -> None:
    rng = np.random.default_rng(3)
    checked = 0
    for _ in range(12):
        a, b = (int(x) for x in rng.choice(lanes.hubs, 2, replace=False))
        path = lanes.route(a, b)
        if path is None:
            continue
        assert _ashore(path, lanes.land) < 0.02
        shifted = offset_path(path, 2000.0)
        mid = len(path[0]) // 2
        heading = bearing_deg(
            path[0][mid - 1], path[1][mid - 1], path[0][mid + 1], path[1][mid + 1]
        )
        side = bearing_deg(path[0][mid], path[1][mid], shifted[0][mid], shifted[1][mid])
        if haversine_m(path[0][mid], path[1][mid], shifted[0][mid], shifted[1][mid]) > 1000:
            assert 30 < (side - heading) % 360 < 150  # starboard
        assert haversine_m(path[0][0], path[1][0], shifted[0][0], shifted[1][0]) < 1.0
        checked += 1
    assert checked >= 8


def test_ports_are_by_the_sea(lanes: Lanes) -> None:
    assert 50 < len(lanes) < len(Ports.default())
    assert len(lanes.hubs) == 40
    assert len(set(lanes.hubs.tolist())) == 40


def test_a_lane_still_over_land_once_moved_to_sea_is_refused(lanes: Lanes) -> None:
    # searoute's network joins Tottori (Sea of Japan) to the Seto Inland Sea over Honshu.
    tottori, takamatsu = lanes.names.index("Tottori"), lanes.names.index("Takamatsu")
    path = _searoute(
        lanes.lon[tottori], lanes.lat[tottori], lanes.lon[takamatsu], lanes.lat[takamatsu]
    )
    assert path is not None
    assert ashore_m(seaward(path, lanes.land), lanes.land) > 50_000.0
    assert lanes.route(tottori, takamatsu) is None
    # A lane that rounds capes only is kept.
    singapore, madras = lanes.names.index("Singapore"), lanes.names.index("Madras")
    kept = lanes.route(singapore, madras)
    assert kept is not None
    assert ashore_m(kept, lanes.land) <= LANE_ASHORE_MAX_M
