"""True motion: positions at knots are the knots, speeds are the distances over time."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.geo import haversine_m
from mista.sim.kinematics import STATUS_MOORED, STATUS_UNDER_WAY, Timeline, Trajectories

legs = st.lists(
    st.tuples(
        st.floats(-0.5, 0.5), st.floats(-0.5, 0.5), st.floats(1.0, 30.0), st.floats(0.0, 7200.0)
    ),
    min_size=1,
    max_size=6,
)


@settings(max_examples=60, deadline=None)
@given(st.lists(legs, min_size=1, max_size=4), st.floats(-3600.0, 0.0))
def test_positions_follow_the_knots(
    plans: list[list[tuple[float, float, float, float]]], t0: float
) -> None:
    timelines = []
    for plan in plans:
        tl = Timeline(t0, 10.0, 80.0)
        for d_lat, d_lon, speed, stay in plan:
            lat, lon = tl.here
            tl.go(np.array([lat + d_lat]), np.array([lon + d_lon]), speed)
            tl.stay(stay + 1.0, STATUS_MOORED)
        timelines.append(tl)
    traj = Trajectories(timelines)
    for v, tl in enumerate(timelines):
        t = np.asarray(tl.t)
        at = traj.positions_at(np.full(len(t), v), t)
        assert np.allclose(at.lat, tl.lat)
        assert np.allclose(at.lon, tl.lon)
        # Inside each segment the speed is its length over its duration.
        mid = (t[:-1] + t[1:]) / 2
        seg = traj.positions_at(np.full(len(mid), v), mid)
        dist = np.asarray(haversine_m(np.asarray(tl.lat[:-1]), np.asarray(tl.lon[:-1]),
                                      np.asarray(tl.lat[1:]), np.asarray(tl.lon[1:])))  # fmt: skip
        assert np.allclose(seg.sog_kn * (t[1:] - t[:-1]) * 1852 / 3600, dist, rtol=1e-6, atol=1e-3)
        moving = dist > 1.0
        assert np.all(seg.status[moving] == STATUS_UNDER_WAY)
        assert np.all(seg.status[~moving] == STATUS_MOORED)
        # Before the first knot and after the last one, the vessel is at its ends.
        ends = traj.positions_at(np.array([v, v]), np.array([t[0] - 100.0, t[-1] + 100.0]))
        assert np.allclose(ends.lat, [tl.lat[0], tl.lat[-1]])
