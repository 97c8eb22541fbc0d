"""The compiled AIS track prediction that radar contacts are gated against computes what
the numpy formulation computes, bit for bit: interpolation between fixes (np.interp),
dead reckoning past the last, the nearest fix's age, longitudes across the antimeridian,
bad fixes left out unless all are."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.fuse import FuseConfig
from mista.fuse._kinematics import KNOT_M_S
from mista.fuse._radar_scan import M_PER_DEG, predict_track
from mista.fuse.chunk import PointFlag

F64 = npt.NDArray[np.float64]
BAD = int(PointFlag.OUTLIER | PointFlag.IMPLAUSIBLE_SPEED)


def _numpy_prediction(
    fixes: dict[str, npt.NDArray[np.generic]], when: F64, c: FuseConfig
) -> tuple[F64, F64, F64]:
    """The prediction in numpy, as the gate computed it before it was compiled."""
    all_t = fixes["t"].astype(np.float64)
    lo = max(int(np.searchsorted(all_t, when[0] - c.association_max_age_s)) - 1, 0)
    hi = int(np.searchsorted(all_t, when[-1] + c.association_max_age_s, side="right")) + 1
    window = slice(lo, hi)
    good = (fixes["flags"][window] & np.uint16(BAD)) == 0
    t = all_t[window][good]
    if t.shape[0] == 0:
        t = all_t[window]
        good = np.ones(t.shape[0], np.bool_)
    lat = fixes["lat"][window][good].astype(np.float64)
    lon = fixes["lon"][window][good].astype(np.float64)
    lon = (lon - lon[0] + 180.0) % 360.0 - 180.0 + lon[0]
    plat = np.interp(when, t, lat)
    plon = np.interp(when, t, lon)
    i = np.searchsorted(t, when)
    before = np.where(i > 0, when - t[np.maximum(i - 1, 0)], np.inf)
    after = np.where(i < t.shape[0], t[np.minimum(i, t.shape[0] - 1)] - when, np.inf)
    near_dt = np.minimum(before, after)
    late = when > t[-1]
    if late.any():
        sog = fixes["sog"][window][good].astype(np.float64)
        cog = fixes["cog"][window][good].astype(np.float64)
        speed = sog[-1] * KNOT_M_S if np.isfinite(sog[-1]) and np.isfinite(cog[-1]) else 0.0
        course = math.radians(float(cog[-1])) if speed else 0.0
        step = speed * (when[late] - t[-1])
        plat[late] = lat[-1] + step * math.cos(course) / M_PER_DEG
        plon[late] = lon[-1] + step * math.sin(course) / (
            M_PER_DEG * max(math.cos(math.radians(float(lat[-1]))), 0.01)
        )
    plon = (plon + 180.0) % 360.0 - 180.0
    sigma = np.minimum(
        c.prediction_sigma_m + c.prediction_sigma_growth_m_per_s * near_dt,
        c.prediction_sigma_cap_m,
    )
    sigma[near_dt > c.association_max_age_s] = np.nan
    return plat, plon, sigma


@st.composite
def _track(draw: st.DrawFn) -> tuple[dict[str, npt.NDArray[np.generic]], F64]:
    """Fixes (some at one time, some flagged bad, courses and speeds unknown at times,
    near the antimeridian or not) and sorted times to predict at, before, among and
    after them."""
    n = draw(st.integers(1, 25))
    steps = draw(st.lists(st.sampled_from([0.0, 1.5, 10.0, 95.0, 700.0, 2500.0]), min_size=n))
    t = 1.767e9 + np.cumsum(np.asarray(steps[:n]))
    lat0 = draw(st.floats(-70.0, 70.0))
    lon0 = draw(st.sampled_from([179.99, -179.99, 12.5]))
    drift = np.cumsum(np.asarray(draw(st.lists(st.floats(-0.01, 0.01), min_size=n, max_size=n))))
    lon = (lon0 + drift + 180.0) % 360.0 - 180.0
    unknown = st.sampled_from([math.nan])
    fixes: dict[str, npt.NDArray[np.generic]] = {
        "t": t,
        "lat": lat0 + drift / 2,
        "lon": lon,
        "sog": np.asarray(draw(st.lists(st.floats(0.0, 30.0) | unknown, min_size=n, max_size=n))),
        "cog": np.asarray(draw(st.lists(st.floats(0.0, 359.9) | unknown, min_size=n, max_size=n))),
        "flags": np.asarray(
            draw(st.lists(st.sampled_from([0, 0, int(PointFlag.OUTLIER)]), min_size=n, max_size=n)),
            np.uint16,
        ),
    }
    offsets = draw(st.lists(st.floats(-4000.0, float(t[-1] - t[0]) + 4000.0), min_size=1))
    when = np.sort(t[0] + np.asarray(offsets))
    # Some exactly at fixes' times.
    when = np.sort(np.concatenate([when, t[: draw(st.integers(0, 2))]]))
    return fixes, when


@settings(max_examples=300, deadline=None)
@given(_track())
def test_the_compiled_prediction_is_the_numpy_one_bit_for_bit(
    track: tuple[dict[str, npt.NDArray[np.generic]], F64],
) -> None:
    fixes, when = track
    c = FuseConfig()
    plat, plon, sigma = (np.empty(when.shape[0]) for _ in range(3))
    predict_track(
        fixes["t"].astype(np.float64),
        fixes["flags"].astype(np.uint16),
        fixes["lat"],
        fixes["lon"],
        fixes["sog"],
        fixes["cog"],
        when,
        BAD,
        c,
        plat,
        plon,
        sigma,
    )
    expect_lat, expect_lon, expect_sigma = _numpy_prediction(fixes, when, c)
    assert plat.tobytes() == expect_lat.tobytes()
    assert plon.tobytes() == expect_lon.tobytes()
    np.testing.assert_array_equal(sigma, expect_sigma)
