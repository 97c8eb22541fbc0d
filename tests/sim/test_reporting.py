"""Reporting intervals follow ITU-R M.1371-5 Table 1 (class A) and the class B rates."""

from __future__ import annotations

import numpy as np
import pytest

from mista.sim.kinematics import STATUS_MOORED, STATUS_UNDER_WAY, Timeline, Trajectories
from mista.sim.reporting import STATIC_INTERVAL_S, position_interval_s, schedule, static_schedule


@pytest.mark.parametrize(
    ("cls", "cs", "sog", "status", "interval"),
    [
        ("A", False, 0.0, STATUS_MOORED, 180.0),
        ("A", False, 2.9, STATUS_MOORED, 180.0),
        ("A", False, 4.0, STATUS_MOORED, 10.0),
        ("A", False, 0.5, STATUS_UNDER_WAY, 10.0),
        ("A", False, 13.9, STATUS_UNDER_WAY, 10.0),
        ("A", False, 14.0, STATUS_UNDER_WAY, 6.0),
        ("A", False, 22.9, STATUS_UNDER_WAY, 6.0),
        ("A", False, 23.0, STATUS_UNDER_WAY, 2.0),
        ("B", False, 1.0, STATUS_UNDER_WAY, 180.0),
        ("B", False, 2.0, STATUS_UNDER_WAY, 180.0),
        ("B", False, 8.0, STATUS_UNDER_WAY, 30.0),
        ("B", False, 15.0, STATUS_UNDER_WAY, 15.0),
        ("B", False, 30.0, STATUS_UNDER_WAY, 5.0),
        ("B", True, 1.0, STATUS_UNDER_WAY, 180.0),
        ("B", True, 8.0, STATUS_UNDER_WAY, 30.0),
        ("B", True, 30.0, STATUS_UNDER_WAY, 30.0),
    ],
)
def test_interval_table(cls: str, cs: bool, sog: float, status: int, interval: float) -> None:
    got = position_interval_s([cls], np.array([cs]), np.array([sog]), np.array([status]))
    assert got.tolist() == [interval]


def _straight(speed_kn: float, hours: float) -> Timeline:
    tl = Timeline(-600.0, 10.0, 80.0)
    tl.stay(1200.0, STATUS_MOORED)  # moored until 600 s
    # Due east far enough to sail for the whole window.
    distance_deg = speed_kn * 1852.0 * hours / 111_000.0
    tl.go(np.array([10.0]), np.array([80.0 + distance_deg * 1.1]), speed_kn)
    return tl


@pytest.mark.parametrize(
    ("cls", "cs", "speed", "interval"),
    [
        ("A", False, 10.0, 10),
        ("A", False, 18.0, 6),
        ("A", False, 25.0, 2),
        ("B", False, 16.0, 15),
        ("B", True, 16.0, 30),
    ],
)
def test_schedule_spacing_matches_the_speed(
    cls: str, cs: bool, speed: float, interval: int
) -> None:
    traj = Trajectories([_straight(speed, 2.0)])
    sched = schedule(traj, [cls], np.array([cs]), 3600.0, np.array([7.0]), [[]])
    t = sched.t_s
    moored, sailing = t[t < 600], t[t >= 700]
    assert np.all(np.diff(moored) == 180) if cls == "A" else True
    gaps = np.diff(sailing)
    # Whole seconds: a 3.33 s or 6 s rhythm floors to steps within 1 s of it.
    assert np.all(np.abs(gaps - interval) <= 1), np.unique(gaps)
    assert sched.offsets.tolist() == [0, len(t)]


def test_no_transmission_while_off_and_statics_every_six_minutes() -> None:
    traj = Trajectories([_straight(10.0, 2.0), _straight(12.0, 2.0)])
    off = [[(1000.0, 2000.0)], []]
    sched = schedule(traj, ["A", "A"], np.array([False, False]), 3600.0, np.array([0.0, 3.0]), off)
    first = sched.t_s[sched.offsets[0] : sched.offsets[1]]
    assert not ((first >= 1000) & (first < 2000)).any()
    assert ((first >= 2000) & (first < 2100)).any()
    statics = static_schedule(2, 3600.0, np.array([0.0, 3.0]), off)
    second = statics.t_s[statics.offsets[1] : statics.offsets[2]]
    assert np.all(np.diff(second) == STATIC_INTERVAL_S)


def test_changing_course_reports_faster_for_thirty_seconds() -> None:
    tl = Timeline(0.0, 10.0, 80.0)
    tl.go(np.array([10.0]), np.array([80.2]), 10.0)  # east, ~4,400 s
    turn_at = tl.now
    tl.go(np.array([10.2]), np.array([80.2]), 10.0)  # then north
    traj = Trajectories([tl])
    sched = schedule(traj, ["A"], np.array([False]), 7200.0, np.array([5.0]), [[]])
    t = sched.t_s
    window = t[(t >= turn_at) & (t < turn_at + 30)]
    assert len(window) >= 8
    assert set(np.diff(window).tolist()) <= {3, 4}
    after = t[(t >= turn_at + 40) & (t < turn_at + 400)]
    assert set(np.diff(after).tolist()) == {10}
    before = t[(t > 100) & (t < turn_at - 20)]
    assert set(np.diff(before).tolist()) == {10}
    # A class B unit does not change rate when turning.
    b = schedule(traj, ["B"], np.array([True]), 7200.0, np.array([5.0]), [[]]).t_s
    assert set(np.diff(b[(b > 100) & (b < 7000)]).tolist()) == {30}
