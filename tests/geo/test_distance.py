"""Distances, bearings, destinations and CPA/TCPA against known values and a second formula."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mista.geo import EARTH_RADIUS_M, KNOT_M_S, bearing_deg, cpa_tcpa, destination, haversine_m

lats = st.floats(-89.0, 89.0)
lons = st.floats(-180.0, 180.0)
ONE_DEGREE_M = EARTH_RADIUS_M * math.pi / 180  # 111,195 m


def law_of_cosines_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    cos_angle = math.sin(phi1) * math.sin(phi2) + math.cos(phi1) * math.cos(phi2) * math.cos(
        math.radians(lon2 - lon1)
    )
    return EARTH_RADIUS_M * math.acos(min(1.0, max(-1.0, cos_angle)))


def test_known_distances() -> None:
    assert haversine_m(0.0, 0.0, 1.0, 0.0) == pytest.approx(111_195, abs=1)
    assert haversine_m(45.0, 10.0, 46.0, 10.0) == pytest.approx(ONE_DEGREE_M, rel=1e-9)
    assert haversine_m(0.0, 0.0, 0.0, 1.0) == pytest.approx(ONE_DEGREE_M, rel=1e-9)
    # a degree of longitude at 60 degrees north is half as long as at the equator
    assert haversine_m(60.0, 0.0, 60.0, 1.0) == pytest.approx(ONE_DEGREE_M / 2, rel=1e-4)
    assert haversine_m(0.0, 0.0, 90.0, 0.0) == pytest.approx(10_007_557, abs=1)
    assert haversine_m(10.0, 20.0, -10.0, -160.0) == pytest.approx(math.pi * EARTH_RADIUS_M)
    assert haversine_m(0.0, 179.5, 0.0, -179.5) == pytest.approx(ONE_DEGREE_M, rel=1e-9)


def test_scalars_give_floats_and_arrays_broadcast() -> None:
    assert type(haversine_m(1.0, 2.0, 3.0, 4.0)) is float
    lat_d, lon_d = destination(1.0, 2.0, 30.0, 1000.0)
    assert type(lat_d) is float
    assert type(lon_d) is float
    out = haversine_m(np.zeros(3), np.zeros(3), np.array([0.0, 1.0, 2.0]), 0.0)
    assert out.shape == (3,)
    np.testing.assert_allclose(out, [0.0, ONE_DEGREE_M, 2 * ONE_DEGREE_M])
    grid = bearing_deg(0.0, 0.0, np.array([[1.0], [-1.0]]), np.array([0.0, 1.0]))
    assert grid.shape == (2, 2)


@given(lats, lons, lats, lons)
def test_haversine_agrees_with_law_of_cosines(
    lat1: float, lon1: float, lat2: float, lon2: float
) -> None:
    expected = law_of_cosines_m(lat1, lon1, lat2, lon2)
    # the law of cosines loses precision for short distances: compare to within a metre
    assert haversine_m(lat1, lon1, lat2, lon2) == pytest.approx(expected, rel=1e-9, abs=1.0)
    assert haversine_m(lat1, lon1, lat2, lon2) == haversine_m(lat2, lon2, lat1, lon1)


def test_known_bearings() -> None:
    assert bearing_deg(0.0, 0.0, 1.0, 0.0) == pytest.approx(0.0)
    assert bearing_deg(0.0, 0.0, 0.0, 1.0) == pytest.approx(90.0)
    assert bearing_deg(0.0, 0.0, -1.0, 0.0) == pytest.approx(180.0)
    assert bearing_deg(0.0, 0.0, 0.0, -1.0) == pytest.approx(270.0)
    assert bearing_deg(0.0, 179.5, 0.0, -179.5) == pytest.approx(90.0)
    # the great circle from 60 N heading for a point due east starts north of east
    assert bearing_deg(60.0, 0.0, 60.0, 10.0) < 90.0


@given(lats, lons, st.floats(0.0, 359.999), st.floats(10.0, 5_000_000.0))
def test_destination_round_trip(lat: float, lon: float, bearing: float, distance: float) -> None:
    assume(abs(lat) < 85)
    lat2, lon2 = destination(lat, lon, bearing, distance)
    assert -90 <= lat2 <= 90
    assert -180 <= lon2 < 180
    assert haversine_m(lat, lon, lat2, lon2) == pytest.approx(distance, rel=1e-6, abs=1e-3)
    back = bearing_deg(lat, lon, lat2, lon2)
    assert abs((back - bearing + 180) % 360 - 180) < 1e-4


def test_destination_known_points() -> None:
    assert destination(0.0, 0.0, 0.0, ONE_DEGREE_M) == pytest.approx((1.0, 0.0))
    assert destination(0.0, 179.5, 90.0, ONE_DEGREE_M) == pytest.approx((0.0, -179.5))
    lat, lon = destination(np.array([0.0, 10.0]), 0.0, 180.0, ONE_DEGREE_M)
    np.testing.assert_allclose(lat, [-1.0, 9.0])
    np.testing.assert_allclose(lon, [0.0, 0.0], atol=1e-12)


def knots(metres_per_second: float) -> float:
    return metres_per_second / KNOT_M_S


def test_cpa_head_on() -> None:
    # 10 km apart on the equator, closing at 20 kn in total: they meet halfway
    separation = haversine_m(0.0, 0.0, 0.0, 10_000 / ONE_DEGREE_M)
    cpa, tcpa = cpa_tcpa(0.0, 0.0, 10.0, 90.0, 0.0, 10_000 / ONE_DEGREE_M, 10.0, 270.0)
    assert cpa == pytest.approx(0.0, abs=1e-6)
    assert tcpa == pytest.approx(separation / (20 * KNOT_M_S), rel=1e-6)


def test_cpa_head_on_with_offset() -> None:
    # passing 500 m apart: the offset is the CPA
    lat2 = 500 / ONE_DEGREE_M
    cpa, tcpa = cpa_tcpa(0.0, 0.0, 12.0, 90.0, lat2, 0.2, 8.0, 270.0)
    assert cpa == pytest.approx(500, rel=1e-3)
    assert tcpa == pytest.approx(0.2 * ONE_DEGREE_M / (20 * KNOT_M_S), rel=1e-3)


def test_cpa_overtaking() -> None:
    # same course north, the one behind 4 kn faster, 2 km behind, 300 m to the side
    lat_ahead = 2_000 / ONE_DEGREE_M
    lon_side = 300 / ONE_DEGREE_M
    cpa, tcpa = cpa_tcpa(0.0, 0.0, 14.0, 0.0, lat_ahead, lon_side, 10.0, 0.0)
    assert cpa == pytest.approx(300, rel=1e-3)
    assert tcpa == pytest.approx(2_000 / (4 * KNOT_M_S), rel=1e-3)


def test_cpa_parallel_same_speed_keeps_distance() -> None:
    cpa, tcpa = cpa_tcpa(5.0, 80.0, 10.0, 45.0, 5.01, 80.0, 10.0, 45.0)
    assert tcpa == 0.0
    assert cpa == pytest.approx(haversine_m(5.0, 80.0, 5.01, 80.0), rel=1e-3)
    stopped = cpa_tcpa(5.0, 80.0, 0.0, 0.0, 5.0, 80.01, 0.0, 200.0)
    assert stopped[1] == 0.0


def test_cpa_diverging_is_in_the_past() -> None:
    cpa, tcpa = cpa_tcpa(0.0, 0.0, 10.0, 270.0, 0.0, 0.05, 10.0, 90.0)
    assert tcpa < 0
    assert cpa == pytest.approx(0.0, abs=1e-6)


def test_cpa_broadcasts_and_crosses_the_antimeridian() -> None:
    cpa, tcpa = cpa_tcpa(
        np.zeros(3),
        np.array([179.99, 0.0, 0.0]),
        10.0,
        90.0,
        0.0,
        np.array([-179.99, 0.05, 0.1]),
        0.0,
        0.0,
    )
    assert cpa.shape == tcpa.shape == (3,)
    np.testing.assert_allclose(cpa, 0.0, atol=1e-6)
    np.testing.assert_allclose(
        tcpa, np.array([0.02, 0.05, 0.1]) * ONE_DEGREE_M / (10 * KNOT_M_S), rtol=1e-6
    )


@settings(deadline=None)
@given(
    st.floats(-60, 60),
    st.floats(-179, 179),
    st.floats(0, 30),
    st.floats(0, 360),
    st.floats(-20_000, 20_000),
    st.floats(-20_000, 20_000),
    st.floats(0, 30),
    st.floats(0, 360),
)
def test_cpa_is_the_minimum_over_time(
    lat: float,
    lon: float,
    sog1: float,
    cog1: float,
    east: float,
    north: float,
    sog2: float,
    cog2: float,
) -> None:
    # sample both straight tracks in the same flat plane and check no time is closer
    lat2 = lat + north / ONE_DEGREE_M
    lon2 = lon + east / (ONE_DEGREE_M * math.cos(math.radians((lat + lat2) / 2)))
    cpa, tcpa = cpa_tcpa(lat, lon, sog1, cog1, lat2, lon2, sog2, cog2)
    assert cpa <= math.hypot(east, north) + 1e-6
    times = np.linspace(-7200, 7200, 2001)
    v = [
        sog * KNOT_M_S * np.array([math.sin(math.radians(c)), math.cos(math.radians(c))])
        for sog, c in ((sog1, cog1), (sog2, cog2))
    ]
    rel = np.array([east, north])[:, None] + (v[1] - v[0])[:, None] * times
    sampled = np.hypot(rel[0], rel[1])
    # Below 1e-6 m/s of relative speed cpa_tcpa takes the distance as constant (its
    # docstring): over the ±2 h sampled it may then drift by up to 7.2 mm.
    still = float(np.hypot(*(v[1] - v[0]))) <= 1e-6
    assert cpa <= sampled.min() + 1e-6 + (1e-6 * 7200 if still else 0.0)
    if abs(tcpa) < 7200 and not still:
        assert cpa == pytest.approx(sampled.min(), abs=1e-6 + 20 * np.abs(v[1] - v[0]).sum())
