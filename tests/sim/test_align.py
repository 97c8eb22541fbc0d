"""Injected gaps are moved to where a node could see them (``align_gaps``)."""

from __future__ import annotations

import math

import numpy as np

from mista.sim.behaviours import Injected, Transmitter, align_gaps

H = 3600.0
DAY = 24 * H


class Sensors:
    """A made-up ship: heard, with others near it, only from ``heard_from`` on; next to a
    port until ``port_until``."""

    duration_s = DAY

    def __init__(self, heard_from: float, port_until: float = 0.0) -> None:
        self.heard_from = heard_from
        self.port_until = port_until

    def covered_fraction(self, v: int, a: float, b: float) -> float:
        if b <= self.heard_from:
            return 0.0
        return (b - max(a, self.heard_from)) / (b - a) if b > a else 1.0

    def port_m(self, v: int, t: float) -> float:
        return 5e3 if t < self.port_until else 200e3

    def exposure_min(self, v: int, a: float, b: float) -> int:
        return int(max(0.0, b - max(a, self.heard_from)) // 60)


def _one_gap(start: float, length: float) -> tuple[list[Transmitter], list[Injected]]:
    tx = [Transmitter(mmsi=[(-math.inf, 419000001)], name=[(-math.inf, "A")])]
    tx[0].off.append((start, start + length))
    return tx, [Injected("ais-gap", (0,), start, start + length, 0.0, 0.0, {})]


def test_a_gap_moves_to_where_its_start_is_heard_and_away_from_port() -> None:
    # Unheard before 3 h and next to a port before 4 h: a gap starting at 1 h could not
    # be seen; it moves to start later, keeping its place in the transmitter's off spans.
    tx, injected = _one_gap(1 * H, 15 * H)
    [moved] = align_gaps(tx, injected, Sensors(3 * H, 4 * H), np.random.default_rng(1), DAY)
    assert moved.start_s >= 4 * H
    assert 13 * H <= moved.end_s - moved.start_s <= 20 * H
    assert tx[0].off == [(moved.start_s, moved.end_s)]


def test_a_gap_that_can_be_seen_stays_where_it_is() -> None:
    tx, injected = _one_gap(2 * H, 15 * H)
    [kept] = align_gaps(tx, injected, Sensors(0.0), np.random.default_rng(1), DAY)
    assert (kept.start_s, kept.end_s) == (2 * H, 17 * H)


def test_other_behaviours_are_left_alone() -> None:
    tx, injected = _one_gap(2 * H, 15 * H)
    other = Injected("loitering", (0,), 1 * H, 3 * H, 0.0, 0.0, {})
    out = align_gaps(tx, [other, *injected], Sensors(0.0), np.random.default_rng(1), DAY)
    assert out[0] is other
