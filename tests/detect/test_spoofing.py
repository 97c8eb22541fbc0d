"""spoofing: runs of flagged points; reasons speed, land and circle."""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import numpy as np
import pytest

from mista.detect._common import concat
from mista.detect.base import AlertDraft
from mista.detect.identity import SharedMmsiDetector
from mista.detect.spoofing import SpoofingDetector, fit_circle
from mista.detect.transmitters import SecondTransmitters
from mista.fuse.chunk import IdentityEvent, IdentityKind, PointFlag, TrackPoints
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    SEA,
    T0,
    Memory,
    east_of,
    feed,
    minutes,
    north_of,
    settings,
    standing,
    track,
)

LAT, LON = SEA
OUTLIER = int(PointFlag.OUTLIER)
SPEED = int(PointFlag.IMPLAUSIBLE_SPEED)
LAND = int(PointFlag.ON_LAND)


def spoof(flags: list[int], *, lat: Any = LAT, lon: Any = LON) -> list[AlertDraft]:
    t = T0 + np.arange(len(flags)) * MINUTE
    return feed(SpoofingDetector(settings()), track(4, t, lat, lon, flags=flags))


def test_three_implausible_jumps_are_spoofing_for_speed() -> None:
    [alert] = standing(spoof([0, SPEED, 0, SPEED, 0, SPEED, 0]))
    assert alert.kind == "spoofing"
    assert alert.status == AlertStatus.CLOSED
    assert alert.evidence["reason"] == "speed"
    assert alert.evidence["points"] == 3
    assert alert.evidence["thresholds"]["max_speed_kn"] == 30.0


def test_two_are_not() -> None:
    assert standing(spoof([0, SPEED, 0, SPEED, 0])) == []


def test_positions_well_inland_are_spoofing_for_land() -> None:
    # The test island is lat 0..1, lon 70..71; its port is on the east shore (0.5, 71).
    # Heard first (nothing known before), the run is judged by how the track leaves it:
    # here by a jump to the sea west of the island (55 km in a minute).
    lon = [70.5, 70.5, 70.5, 70.5, 69.99]
    [alert] = standing(spoof([LAND, LAND, LAND, LAND, 0], lat=0.5, lon=lon))
    assert alert.evidence["reason"] == "land"
    assert alert.evidence["points"] == 4


def test_a_track_first_heard_inland_is_no_spoof_unless_it_jumps_out() -> None:
    # Nothing before and nothing after: a vessel on a river the coarse map lacks.
    assert standing(spoof([LAND] * 4, lat=0.5, lon=70.5)) == []
    # First heard 20 km inland, then down the river at 10 kn to the sea.
    river = 70.18 - np.arange(80) * 0.0027
    river_flags = np.where(river > 70.0, LAND, 0)
    slow = track(4, T0 + np.arange(80) * MINUTE, 0.5, river, flags=river_flags)
    assert standing(feed(SpoofingDetector(settings()), slow)) == []
    # Nothing is raised while the run lasts: whether it is one is known when it ends.
    inland = track(4, T0 + np.arange(4) * MINUTE, 0.5, 70.5, flags=LAND)
    assert feed(SpoofingDetector(settings()), inland, finish=False) == []


def test_a_jump_onto_land_is_spoofing_a_passage_up_a_river_is_not() -> None:
    t = T0 + np.arange(8) * MINUTE
    flags = [0, 0, 0, LAND, LAND, LAND, LAND, LAND]
    # From the sea west of the island straight to its middle (55 km in a minute).
    lon = [69.9, 69.9, 69.9, 70.5, 70.5, 70.5, 70.5, 70.5]
    jump = feed(SpoofingDetector(settings()), track(4, t, 0.5, lon, flags=flags))
    assert [d.evidence["reason"] for d in standing(jump)] == ["land"]
    # At 10 kn (300 m a minute) from the shore 20 km inland: a vessel on a river.
    river = 69.99 + np.arange(80) * 0.0027
    river_flags = np.where(river > 70.0, LAND, 0)
    slow = track(4, T0 + np.arange(80) * MINUTE, 0.5, river, flags=river_flags)
    assert standing(feed(SpoofingDetector(settings()), slow)) == []


def test_two_transmitters_heard_in_turn_inland_are_no_jump_onto_land() -> None:
    # Two vessels on one MMSI up a river 5 km apart: each flags the other's positions as
    # implausible, which says nothing of how either got there.
    lon = np.tile([70.5, 70.545], 10)
    flags = np.tile([LAND, LAND | SPEED | OUTLIER], 10)
    assert standing(spoof(flags.tolist(), lat=0.5, lon=lon)) == []


def test_a_first_run_inland_is_judged_by_a_fix_hours_later() -> None:
    # Heard inland, then nothing for three hours (the run has ended): the next fix, at
    # the next satellite pass, decides. Far out at sea, the inland fixes were a jump.
    t = T0 + np.r_[np.arange(4) * MINUTE, 3 * HOUR]
    flags = [LAND, LAND, LAND, LAND, 0]
    far = track(4, t, 0.5, [70.5, 70.5, 70.5, 70.5, 66.0], flags=flags)
    [alert] = standing(feed(SpoofingDetector(settings()), far))
    assert (alert.evidence["reason"], alert.status) == ("land", AlertStatus.CLOSED)
    assert alert.end == T0 + 3 * MINUTE
    # Off the coast, 60 km in three hours: a vessel that came down a river.
    near = track(4, t, 0.5, [70.5, 70.5, 70.5, 70.5, 69.99], flags=flags)
    assert standing(feed(SpoofingDetector(settings()), near)) == []


def test_land_beside_a_port_or_a_coast_is_a_berth_or_a_coarse_coastline() -> None:
    assert standing(spoof([LAND] * 4, lat=0.5, lon=70.95)) == []  # 5.5 km from the port
    assert standing(spoof([LAND] * 4, lat=0.02, lon=70.5)) == []  # 2 km from the coast


def test_good_points_are_never_spoofing() -> None:
    assert spoof([0] * 50) == []


def test_flagged_points_hours_apart_are_separate_runs() -> None:
    t = T0 + np.r_[0.0, 60, 120, 3 * HOUR, 3 * HOUR + 60]
    # The second run is 330 km from the first's end: no vessel went from one to the other.
    lat = LAT + np.r_[0.0, 0.0, 0.0, 3.0, 3.0]
    drafts = feed(SpoofingDetector(settings()), track(4, t, lat, LON, flags=SPEED))
    [alert] = standing(drafts)
    assert alert.evidence["points"] == 3


def circle(
    n: int, radius_m: float, arc_deg: float = 360.0
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    angle = np.radians(np.linspace(0, arc_deg, n, endpoint=arc_deg < 360))
    lat = north_of(LAT, 0.0) + radius_m * np.cos(angle) / 111_195.0
    lon = LON + radius_m * np.sin(angle) / (111_195.0 * np.cos(np.radians(LAT)))
    return lat, lon


def test_outlier_positions_on_a_circle_are_spoofing_for_circle() -> None:
    lat, lon = circle(12, 2_000.0)
    [alert] = standing(spoof([OUTLIER] * 12, lat=lat, lon=lon))
    assert alert.evidence["reason"] == "circle"
    assert alert.evidence["radius_m"] == pytest.approx(2_000.0, rel=0.01)


def test_outliers_scattered_or_on_a_short_arc_are_not_a_circle() -> None:
    rng = np.random.default_rng(3)
    lat = LAT + rng.uniform(-0.1, 0.1, 12)
    lon = LON + rng.uniform(-0.1, 0.1, 12)
    [scattered] = standing(spoof([OUTLIER] * 12, lat=lat, lon=lon))
    assert scattered.evidence["reason"] == "speed"
    lat, lon = circle(12, 2_000.0, arc_deg=90.0)
    [arc] = standing(spoof([OUTLIER] * 12, lat=lat, lon=lon))
    assert arc.evidence["reason"] == "speed"


def test_the_circle_fit_finds_centre_and_radius() -> None:
    lat, lon = circle(20, 5_000.0)
    centre_lat, centre_lon, radius, residual, arc = fit_circle(lat, lon) or (0, 0, 0, 1, 0)
    assert centre_lat == pytest.approx(LAT, abs=1e-4)
    assert centre_lon == pytest.approx(LON, abs=1e-4)
    assert radius == pytest.approx(5_000.0, rel=1e-3)
    assert residual < 0.01
    assert arc > 340


def test_a_long_spoof_is_open_while_it_lasts() -> None:
    t = minutes(0, 1)
    drafts = feed(SpoofingDetector(settings()), track(4, t, LAT, LON, flags=SPEED), finish=False)
    assert [d.status for d in drafts] == [AlertStatus.OPEN]


def shared_mmsi(
    far_lat_step: float,
    *,
    far: tuple[float, float] = (LAT + 10.0, LON),
    flag: int = OUTLIER,
    hours: float = 7.0,
) -> list[AlertDraft]:
    """A vessel heard every minute at sea; every 2 h for 5 minutes its MMSI is heard at
    ``far`` (flagged ``flag``), the far positions moving ``far_lat_step`` degrees a time."""
    t = T0 + np.arange(0, hours * HOUR, MINUTE)
    away = (t - T0) % (2 * HOUR) < 5 * MINUTE
    lat = np.where(away, far[0] + far_lat_step * ((t - T0) // (2 * HOUR)), LAT)
    lon = np.where(away, far[1], LON)
    flags = np.where(away, flag, 0).tolist()
    return feed(SpoofingDetector(settings()), track(4, t, lat, lon, flags=flags))


def test_a_second_transmitter_that_keeps_coming_back_is_no_spoofing() -> None:
    # 0.1 degree (11 km) in 2 h: the far positions are one vessel's path.
    drafts = shared_mmsi(0.1)
    assert standing(drafts) == []
    raised = {d.key for d in drafts if d.status != AlertStatus.WITHDRAWN}
    assert raised  # the first excursion was raised, then withdrawn when the next came
    assert {d.key for d in drafts if d.status == AlertStatus.WITHDRAWN} == raised


def test_excursions_no_vessel_could_link_are_each_spoofing() -> None:
    # 2 degrees (220 km) in 2 h is 60 kn: separate jumps.
    assert len(standing(shared_mmsi(2.0))) == 4


def test_a_second_transmitter_whose_path_crosses_land_is_no_spoofing() -> None:
    # The far positions are inland on the test island (lat 0..1, lon 70..71).
    inland = (0.3, 70.5)
    once = shared_mmsi(0.1, far=inland, flag=LAND | OUTLIER, hours=1.0)
    assert [d.evidence["reason"] for d in standing(once)] == ["land"]
    assert standing(shared_mmsi(0.1, far=inland, flag=LAND | OUTLIER)) == []


def test_jumps_on_a_track_the_fuser_found_two_vessels_on_are_no_spoofing() -> None:
    # One run of jumps (4 points), then the fuser reports a second vessel on the MMSI
    # (their reports heard interleaved): the raised alert is withdrawn, and a run within
    # a day after is not raised. A day and more later, jumps are spoofing again.
    t = T0 + np.arange(0, 40 * HOUR, 10 * MINUTE)
    jumps = ((t - T0) % (10 * HOUR) < 40 * MINUTE) & ((t - T0) < 30 * HOUR)
    jumps |= t >= T0 + 38 * HOUR
    # Each run 10 degrees further north than the last: no one vessel's path (60 kn).
    lat = np.where(jumps, LAT + 10.0 * ((t - T0) // (10 * HOUR) + 1), LAT)
    points = track(4, t, lat, LON, flags=np.where(jumps, SPEED, 0))
    clash = IdentityEvent(
        kind=IdentityKind.SHARED_MMSI,
        t=T0 + 2 * HOUR,
        track=4,
        mmsi=419_000_004,
        lat=LAT,
        lon=LON,
        before=None,
        after=None,
        label_nos=frozenset({1}),
        other_track=5,
    )
    alone = standing(feed(SpoofingDetector(settings()), points))
    assert [round((d.start - T0) / HOUR) for d in alone] == [0, 10, 20, 38]
    drafts = feed(SpoofingDetector(settings()), points, identity=[clash])
    assert [round((d.start - T0) / HOUR) for d in standing(drafts)] == [38]
    assert [d.status for d in drafts if d.start == T0][-1] == AlertStatus.WITHDRAWN
    # Another vessel's name and call sign at once in the static data tell the same.
    swap = [
        dataclasses.replace(clash, kind=kind, other_track=None, before="A", after="B")
        for kind in (IdentityKind.NAME_CHANGE, IdentityKind.CALLSIGN_CHANGE)
    ]
    drafts = feed(SpoofingDetector(settings()), points, identity=swap)
    assert [round((d.start - T0) / HOUR) for d in standing(drafts)] == [38]


def test_a_second_transmitter_that_keeps_coming_back_is_a_shared_mmsi() -> None:
    # The vessel is heard every minute all along; another keeps coming back along its own
    # path far away: the spoofing detector tells the shared-mmsi detector.
    config = settings()
    t = T0 + np.arange(0, 7 * HOUR, MINUTE)
    away = (t - T0) % (2 * HOUR) < 5 * MINUTE
    lat = np.where(away, LAT + 10.0 + 0.1 * ((t - T0) // (2 * HOUR)), LAT)
    points = track(4, t, lat, LON, flags=np.where(away, OUTLIER, 0))
    assert standing(feed(SpoofingDetector(config), points)) == []
    shared = standing(feed(SharedMmsiDetector(config), points))
    assert [(d.kind, d.tracks, d.mmsis) for d in shared] == [
        ("shared-mmsi", ("ais:4",), (419_000_004,))
    ]
    assert shared[0].start == T0 + 2 * HOUR  # the first jump found to go on from another


def test_a_spoof_at_the_start_of_a_track_is_no_shared_mmsi() -> None:
    # The track starts on spoofed positions that then fall silent; the true vessel is
    # heard afterwards only as flagged jumps along its own path: not two vessels at once.
    config = settings()
    t = T0 + np.arange(0, 7 * HOUR, MINUTE)
    spoofed = t < T0 + HOUR
    heard = spoofed | ((t - T0) % (2 * HOUR) < 5 * MINUTE)
    lat = np.where(spoofed, LAT, LAT + 10.0 + 0.1 * ((t - T0) // (2 * HOUR)))
    points = track(4, t[heard], lat[heard], LON, flags=np.where(spoofed, 0, OUTLIER)[heard])
    feed(SpoofingDetector(config), points)
    assert standing(feed(SharedMmsiDetector(config), points)) == []


def circling(cog: Any, *, turns_deg: float = 216.0, n: int = 10) -> tuple[Any, ...]:
    """A track's first ``n`` fixes, a minute apart, going clockwise round a 2 km circle
    (one turn in 15 minutes, 14 kn reported) with no flag: plausible fix to fix."""
    lat, lon = circle(n, 2_000.0, arc_deg=turns_deg)
    t = T0 + np.arange(n) * MINUTE
    return t, lat, lon, cog


def test_a_circle_of_good_fixes_against_a_steady_course_is_spoofing_for_circle() -> None:
    # The MMSI's first fixes are the spoof (no true position to jump from): the fuser
    # flags nothing, but the positions go round while the reported course stays east.
    t, lat, lon, cog = circling(90.0)
    detector = SpoofingDetector(settings())
    [alert] = standing(feed(detector, track(4, t, lat, lon, sog=14.0, cog=cog)))
    assert alert.evidence["reason"] == "circle"
    assert alert.evidence["radius_m"] == pytest.approx(2_000.0, rel=0.01)
    # What it keeps per watched track is plain data (the pipeline checkpoints it).
    assert pickle.loads(pickle.dumps(detector._watched)) == detector._watched


def test_a_vessel_turning_a_circle_with_its_course_is_not_spoofing() -> None:
    # Same positions, the reported course following the turn (the tangent).
    t, lat, lon, _ = circling(0.0)
    angle = np.linspace(0.0, 216.0, len(t))
    tangent = (angle + 90.0) % 360.0
    assert (
        standing(feed(SpoofingDetector(settings()), track(4, t, lat, lon, sog=14.0, cog=tangent)))
        == []
    )


def test_a_course_lagging_one_sharp_turn_is_not_spoofing() -> None:
    # East at 14 kn, a sharp turn north whose first fix still says east, then north.
    step = 14 * 1852 / 60  # metres a minute
    east = [LON + k * step / (111_195.0 * np.cos(np.radians(LAT))) for k in range(10)]
    lon = np.r_[east, np.full(10, east[-1])]
    lat = np.r_[np.full(10, LAT), LAT + np.arange(1, 11) * step / 111_195.0]
    cog = np.r_[np.full(11, 90.0), np.full(9, 0.0)]
    t = T0 + np.arange(20) * MINUTE
    assert (
        standing(feed(SpoofingDetector(settings()), track(4, t, lat, lon, sog=14.0, cog=cog))) == []
    )


def northbound_with_an_excursion(excursion_kn: float) -> tuple[Any, Any]:
    """A vessel northbound at 13 kn, a fix a minute for 20 min; minutes 8-12 are heard 300
    km east (flagged: a jump), moving north at ``excursion_kn`` and reporting it."""
    t = T0 + np.arange(20) * MINUTE
    step = 13 * 1852 / 60
    lat = np.array([north_of(LAT, k * step) for k in range(20)])
    lon = np.full(20, LON)
    sog = np.full(20, 13.0)
    flags = np.zeros(20, np.int64)
    far = slice(8, 13)
    away = 300_000.0 / (111_195.0 * np.cos(np.radians(LAT)))
    lat[far] = [north_of(LAT, 8 * step + k * excursion_kn * 1852 / 60) for k in range(5)]
    lon[far] = LON + away
    sog[far] = excursion_kn
    flags[far] = OUTLIER | SPEED
    return t, track(4, t, lat, lon, sog=sog, cog=0.0, flags=flags)


def test_a_jump_moving_at_the_vessels_own_speed_is_spoofing() -> None:
    # False positions of the vessel's own receiver carry its own speed.
    _, points = northbound_with_an_excursion(13.0)
    [alert] = standing(feed(SpoofingDetector(settings()), points))
    assert alert.evidence["reason"] == "speed"


def test_a_jump_sailing_at_another_speed_is_another_vessel_on_the_mmsi() -> None:
    # 300 km off, sailing at the 19 kn it reports while the track says 13 kn: a second
    # vessel sending the MMSI, handed to the shared-mmsi detector.
    _, points = northbound_with_an_excursion(19.0)
    found = SecondTransmitters()
    detector = SpoofingDetector({**settings(), "second_transmitters": found})
    assert standing(feed(detector, points)) == []
    [second] = found.take()
    assert second.track == 4


def test_the_tracks_own_speed_is_the_one_before_the_jump_whatever_came_first() -> None:
    # The fixes after the jump report 19 kn as well (the fuser took the other vessel's as
    # the track) and were delivered before the jump's (another satellite's, say): the
    # track's own speed is still the 13 kn reported before the jump.
    _, points = northbound_with_an_excursion(19.0)
    after = points.t >= T0 + 13 * MINUTE
    points = dataclasses.replace(points, sog=np.where(after, 19.0, points.sog))
    jump = (points.flags & SPEED) != 0
    memory, detector = Memory(), SpoofingDetector(settings())
    drafts = feed(detector, points.take(~jump), memory=memory, finish=False)
    drafts += feed(detector, points.take(jump), memory=memory)
    assert standing(drafts) == []


def test_a_circle_after_the_true_track_is_fitted_from_where_it_starts() -> None:
    # Heard east at 14 kn with its course for 40 min (one report with a lagging course
    # at minute 5 gets it watched), then (the fuser took the spoofed positions as the
    # track) going round a 2 km circle with the course still east.
    step = 14 * 1852 / 60
    lat_circle, lon_circle = circle(10, 2_000.0, arc_deg=216.0)
    line_lon = [east_of(LAT, float(lon_circle[0]), -(40 - k) * step) for k in range(40)]
    lat = np.r_[np.full(40, lat_circle[0]), lat_circle]
    lon = np.r_[line_lon, lon_circle]
    cog = np.full(50, 90.0)
    cog[5] = 270.0
    t = T0 + np.arange(50) * MINUTE
    [alert] = standing(feed(SpoofingDetector(settings()), track(4, t, lat, lon, sog=14.0, cog=cog)))
    assert alert.evidence["reason"] == "circle"
    assert alert.evidence["radius_m"] == pytest.approx(2_000.0, rel=0.05)
    assert alert.start >= T0 + 39 * MINUTE


def jump_and_back(*, back_m: float = 0.0, shifted_sog: float = 12.0) -> list[AlertDraft]:
    """East at 12 kn a fix a minute for 30 min, then 80 fixes shifted 50 km north (the
    fuser flags the jump away and takes the rest as the track), then back on the own
    path (flagged again) ``back_m`` north of where it would be, for 20 min."""
    t = T0 + np.arange(130) * MINUTE
    metres = np.arange(130) * 12 * 1852 / 60  # 12 kn, a minute apart
    lon = np.array([east_of(LAT, LON, m) for m in metres])
    lat = np.full(130, LAT)
    lat[30:110] = north_of(LAT, 50_000.0)
    lat[110:] = north_of(LAT, back_m)
    flags = np.zeros(130, np.int64)
    flags[[30, 110]] = SPEED
    sog = np.full(130, 12.0)
    sog[30:110] = shifted_sog
    points = track(4, t, lat, lon, sog=sog, cog=90.0, flags=flags)
    return feed(SpoofingDetector(settings()), points)


def test_what_is_kept_of_excursions_is_forgotten_once_no_re_read_reaches_it() -> None:
    # Memory bounded by active vessels: the jump back, the runs checked and the second
    # transmitters' runs of a track are forgotten two days on.
    detector = SpoofingDetector(settings())
    t = T0 + np.arange(130) * MINUTE
    metres = np.arange(130) * 12 * 1852 / 60
    lon = np.array([east_of(LAT, LON, m) for m in metres])
    lat = np.full(130, LAT)
    lat[30:110] = north_of(LAT, 50_000.0)
    flags = np.zeros(130, np.int64)
    flags[[30, 110]] = SPEED
    feed(detector, track(4, t, lat, lon, sog=12.0, cog=90.0, flags=flags), finish=False)
    assert detector._ended
    assert detector._checked
    later = T0 + 3 * 86_400.0 + np.arange(3) * MINUTE
    feed(detector, track(5, later, LAT, LON, sog=12.0), finish=False)
    assert (detector._ended, detector._checked, detector._shared) == ({}, {}, set())


def test_a_jump_away_and_back_onto_the_own_path_is_one_spoofing_excursion() -> None:
    [alert] = standing(jump_and_back())
    assert alert.evidence["reason"] == "speed"
    assert alert.evidence["returned_to_own_path"] is True
    assert alert.evidence["points"] == 80
    assert (alert.start, alert.end) == (T0 + 30 * MINUTE, T0 + 109 * MINUTE)


def test_a_jump_back_elsewhere_or_a_vessel_at_its_own_speed_is_no_excursion() -> None:
    assert standing(jump_and_back(back_m=20_000.0)) == []  # not where its path would be
    assert standing(jump_and_back(shifted_sog=18.0)) == []  # another vessel's own speed


def unflagged_jump_and_back(*, back_m: float = 0.0, shifted_sog: float = 12.0) -> list[AlertDraft]:
    """Heard at satellite passes: east at 12 kn at minutes 0-5; 150 km north of its
    path at minutes 300-305 (plausible from minute 5, so the fuser flags nothing and
    takes it as the track); back on the own path (``back_m`` north of it) at minutes
    360-362, an impossible step from minute 305 (flagged)."""
    minute = np.r_[np.arange(0, 6), np.arange(300, 306), np.arange(360, 363)]
    t = T0 + minute * MINUTE
    lon = np.array([east_of(LAT, LON, m * 12 * 1852 / 60) for m in minute])
    lat = np.full(len(minute), north_of(LAT, back_m))
    lat[:6] = LAT
    lat[6:12] = north_of(LAT, 150_000.0)
    flags = np.zeros(len(minute), np.int64)
    flags[12:] = SPEED | OUTLIER
    sog = np.full(len(minute), 12.0)
    sog[6:12] = shifted_sog
    points = track(4, t, lat, lon, sog=sog, cog=90.0, flags=flags)
    return feed(SpoofingDetector(settings()), points)


def test_a_jump_back_onto_the_own_path_shows_a_jump_away_the_fuser_did_not_flag() -> None:
    # The positions at minutes 300-305 are where the vessel was not: the jump back lands
    # where minute 5's fix, held on course and speed, would be by minute 360.
    [alert] = standing(unflagged_jump_and_back())
    assert alert.evidence["returned_to_own_path"] is True
    assert (alert.start, alert.end) == (T0 + 300 * MINUTE, T0 + 305 * MINUTE)


def test_an_unflagged_run_is_no_excursion_unless_the_jump_back_lands_on_the_own_path() -> None:
    # Landing 20 km off the own path, the jump back is itself the odd run (3 flagged
    # points: spoofing on its own); a run sailing at another speed is another vessel's.
    [alert] = standing(unflagged_jump_and_back(back_m=20_000.0))
    assert alert.start == T0 + 360 * MINUTE
    assert "returned_to_own_path" not in alert.evidence
    assert all(
        "returned_to_own_path" not in a.evidence
        for a in standing(unflagged_jump_and_back(shifted_sog=18.0))
    )


def test_the_vessel_heard_back_on_its_own_path_after_a_spoof_is_no_second_spoof() -> None:
    # East at 12 kn at minutes 0-5; at minute 180 a false position 100 km north that the
    # fuser takes as the track (plausible from minute 5), then false ones flagged (the
    # spoof, 181-184); at minutes 280-284 the vessel is heard again on its own path, an
    # impossible step from minute 180's fix (flagged too), where minute 5's fix held on
    # course and speed would be: the vessel itself, not a second spoof.
    minute = np.r_[np.arange(0, 6), np.arange(180, 185), np.arange(280, 285)]
    t = T0 + minute * MINUTE
    lon = np.array([east_of(LAT, LON, m * 12 * 1852 / 60) for m in minute])
    lat = np.full(len(minute), LAT)
    lat[6:11] = north_of(LAT, 100_000.0) + np.arange(5) * 0.01
    flags = np.zeros(len(minute), np.int64)
    flags[7:] = SPEED | OUTLIER
    points = track(4, t, lat, lon, sog=12.0, cog=90.0, flags=flags)
    [alert] = standing(feed(SpoofingDetector(settings()), points))
    assert (alert.start, alert.end) == (T0 + 181 * MINUTE, T0 + 184 * MINUTE)


def twin_heard_in_place() -> tuple[Any, SecondTransmitters]:
    """East at 12 kn a fix a minute for 200 min at ``LAT``; a twin on the MMSI sails the
    same way and speed 150 km north. The twin is heard at minutes 5-7 (flagged jumps),
    then in the vessel's place from minute 100 (the fuser flags the jump and takes the
    rest as the track) until the vessel is heard again at minute 180 (flagged)."""
    n = 200
    t = T0 + np.arange(n) * MINUTE
    metres = np.arange(n) * 12 * 1852 / 60
    lon = np.array([east_of(LAT, LON, m) for m in metres])
    lat = np.full(n, LAT)
    twin = np.zeros(n, np.bool_)
    twin[5:8] = True
    twin[100:180] = True
    lat[twin] = north_of(LAT, 150_000.0)
    flags = np.zeros(n, np.int64)
    flags[[5, 6, 7, 100, 180]] = SPEED
    found = SecondTransmitters()
    detector = SpoofingDetector({**settings(), "second_transmitters": found})
    drafts = feed(detector, track(4, t, lat, lon, sog=12.0, cog=90.0, flags=flags))
    return drafts, found


def test_a_twin_heard_in_the_vessels_place_is_no_spoofing_excursion() -> None:
    # The jump away at minute 100 goes on from the twin's earlier jumps along one
    # plausible path: a second transmitter, so the jump back at minute 180 ends no
    # excursion even though the twin reports the vessel's own speed.
    drafts, found = twin_heard_in_place()
    assert standing(drafts) == []
    assert [round((f.t - T0) / MINUTE) for f in found.take()] == [100]


def two_vessels_in_one_run(moored_sog: float) -> tuple[Any, SecondTransmitters]:
    """A track east at 17 kn a fix a minute; minutes 30-31 are flagged (the fuser had a
    fix of the MMSI far away as the track's latest), and at minute 37 the MMSI is heard
    300 km south, reporting ``moored_sog`` (flagged too): one run of three points."""
    t = T0 + np.arange(60) * MINUTE
    metres = np.arange(60) * 17 * 1852 / 60
    lon = np.array([east_of(LAT, LON, m) for m in metres])
    lat = np.full(60, LAT)
    sog = np.full(60, 17.0)
    flags = np.zeros(60, np.int64)
    flags[[30, 31, 37]] = SPEED | OUTLIER
    lat[37] = north_of(LAT, -300_000.0)
    sog[37] = moored_sog
    found = SecondTransmitters()
    detector = SpoofingDetector({**settings(), "second_transmitters": found})
    drafts = feed(detector, track(4, t, lat, lon, sog=sog, cog=90.0, flags=flags))
    return drafts, found


def test_a_run_holding_two_vessels_at_their_own_speeds_is_a_second_transmitter() -> None:
    # The step to minute 37 is impossible and the speed reported there is the twin's own
    # (0 kn, moored), not the 17 kn of the points before: two vessels, no spoofing.
    drafts, found = two_vessels_in_one_run(0.0)
    assert standing(drafts) == []
    [second] = found.take()
    assert (second.track, second.t) == (4, T0 + 30 * MINUTE)
    # The same jump reporting the vessel's own speed is a spoof's false position.
    drafts, found = two_vessels_in_one_run(17.0)
    assert [d.evidence["reason"] for d in standing(drafts)] == ["speed"]
    assert found.take() == []


# -- a pass off the vessel's own reckoning ---------------------------------------------------

KNOT = 1852.0 / 3600.0


def passes(
    starts_h: list[float], *, sog: float = 14.0, shift_m: dict[int, float] | None = None
) -> TrackPoints:
    """A vessel sailing north at ``sog``, heard for 5 minutes at each pass; pass ``i`` is
    heard ``shift_m[i]`` metres north of where it is (a spoof when not 0)."""
    shift_m = shift_m or {}
    out = []
    for i, start in enumerate(starts_h):
        t = T0 + start * HOUR + np.arange(5) * MINUTE
        lat = north_of(LAT, 0.0) + (sog * KNOT * (t - T0) + shift_m.get(i, 0.0)) / 111_195.0
        out.append(track(4, t, lat, LON, sog=sog, cog=0.0, seq_from=4_000_000 + 10 * i))
    return concat(out)


def test_a_pass_where_the_vessels_own_course_and_speed_do_not_lead_is_spoofing() -> None:
    # Heard 50 km behind where 14 kn north for 1.6 h leads (it made good 2 kn the wrong
    # way), then 10 h later where the first pass's motion leads: the middle one is false.
    [alert] = standing(feed(SpoofingDetector(settings()), passes([0, 1.6, 12], shift_m={1: -50e3})))
    assert alert.evidence["reason"] == "speed"
    assert alert.evidence["off_own_reckoning"] is True
    assert (alert.start, alert.end) == (T0 + 1.6 * HOUR, T0 + 1.6 * HOUR + 4 * MINUTE)
    assert alert.evidence["points"] == 5


def test_a_pass_is_no_spoof_unless_the_next_is_on_the_vessels_own_reckoning() -> None:
    detector = SpoofingDetector(settings())
    assert standing(feed(detector, passes([0, 1.6, 12]))) == []  # all on it
    # The vessel really went elsewhere: the pass after is off as well.
    assert (
        standing(
            feed(SpoofingDetector(settings()), passes([0, 1.6, 12], shift_m={1: -50e3, 2: -100e3}))
        )
        == []
    )
    # Slow vessels drift, turn and fish: what they report says too little.
    assert (
        standing(
            feed(SpoofingDetector(settings()), passes([0, 1.6, 12], sog=5.0, shift_m={1: -20e3}))
        )
        == []
    )


def test_a_pass_reporting_another_course_is_a_turn_not_a_spoof() -> None:
    points = passes([0, 1.6, 12], shift_m={1: -50e3})
    cog = np.where((points.t >= T0 + 1.6 * HOUR) & (points.t < T0 + 2 * HOUR), 180.0, 0.0)
    turned = dataclasses.replace(points, cog=cog)
    assert standing(feed(SpoofingDetector(settings()), turned)) == []
