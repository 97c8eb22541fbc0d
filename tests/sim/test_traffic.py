"""Where background traffic moors: ships of one port spread over its harbour area."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from mista.geo import LandMask, Ports, haversine_m
from mista.sim.routes import Lanes
from mista.sim.traffic import HARBOUR_RADIUS_M, Planner


@pytest.fixture(scope="module")
def planner() -> Planner:
    land = LandMask.default()
    return Planner(Lanes(Ports.default(), land), land, 86_400.0)


def test_calls_at_one_port_moor_apart_at_sea_inside_the_harbour(planner: Planner) -> None:
    rng = np.random.default_rng(5)
    land = planner.land
    typical: list[float] = []
    for port in (int(p) for p in planner.lanes.hubs[:6]):
        lat0, lon0 = float(planner.lanes.lat[port]), float(planner.lanes.lon[port])
        spots = np.array([planner.berth(rng, port) for _ in range(40)])
        far = np.asarray(haversine_m(lat0, lon0, spots[:, 0], spots[:, 1]))
        assert far.max() <= HARBOUR_RADIUS_M + 1.0
        assert not np.asarray(land.on_land(spots[:, 1], spots[:, 0])).any()
        metres = np.column_stack(
            [spots[:, 0] * 111_195.0, spots[:, 1] * 111_195.0 * np.cos(np.radians(lat0))]
        )
        nearest, _ = cKDTree(metres).query(metres, k=2)
        typical.append(float(np.median(nearest[:, 1])))
    # 40 ships at one port: the typical one has no neighbour within a ship's length or
    # two (when all moored within 250 m of one point, the median nearest was 23-42 m).
    assert float(np.median(typical)) > 120.0, typical
