"""port-visit: within 3 km of a port to enter, beyond 4 km to leave, >= 30 min inside."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from mista.detect.base import AlertDraft
from mista.detect.port_visit import PortVisitDetector
from mista.fuse.chunk import PointFlag, SourceCode, TrackPoints
from mista.geo import Ports
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    T0,
    Memory,
    east_of,
    feed,
    settings,
    standing,
    track,
)

#: Islandport is at lat 0.5, lon 71.
LAT = 0.5


def at(metres: float) -> float:
    return east_of(LAT, 71.0, metres)


def visit(
    distances_m: np.ndarray, *, step_s: float = MINUTE, finish: bool = True
) -> list[AlertDraft]:
    t = T0 + np.arange(distances_m.shape[0]) * step_s
    lon = np.array([at(d) for d in distances_m])
    return feed(PortVisitDetector(settings()), track(3, t, LAT, lon, sog=0.0), finish=finish)


def approach(inside_min: int, *, inside_m: float = 1_000.0) -> np.ndarray:
    """From 10 km out, ``inside_min`` minutes at ``inside_m``, back out to 10 km."""
    out: np.ndarray = np.r_[
        np.full(10, 10_000.0), np.full(inside_min + 1, inside_m), np.full(10, 10_000.0)
    ]
    return out


def test_forty_minutes_within_a_kilometre_is_a_visit() -> None:
    [alert] = standing(visit(approach(40)))
    assert alert.kind == "port-visit"
    assert alert.status == AlertStatus.CLOSED
    assert alert.evidence["port"] == "Islandport"
    assert alert.end - alert.start == 40 * MINUTE
    assert alert.evidence["min_distance_m"] == pytest.approx(1_000, rel=0.01)


def test_a_drive_by_of_29_minutes_is_not() -> None:
    assert standing(visit(approach(29))) == []


@pytest.mark.parametrize(("inside_m", "expected"), [(2_900.0, 1), (3_100.0, 0)])
def test_the_entry_distance(inside_m: float, expected: int) -> None:
    assert len(standing(visit(approach(60, inside_m=inside_m)))) == expected


def test_between_3_and_4_km_keeps_the_vessel_inside() -> None:
    # In at 2 km for 20 min, 3.5 km for 20 min (still inside), out: a 40-minute visit.
    d = np.r_[np.full(5, 10_000.0), np.full(20, 2_000.0), np.full(20, 3_500.0), np.full(5, 9e3)]
    [alert] = standing(visit(d))
    assert alert.end - alert.start == 39 * MINUTE


def test_between_3_and_4_km_does_not_enter() -> None:
    assert standing(visit(np.r_[np.full(5, 10_000.0), np.full(90, 3_500.0)])) == []


def test_open_while_in_port() -> None:
    drafts = visit(np.r_[np.full(5, 10_000.0), np.full(120, 500.0)], finish=False)
    assert [d.status for d in drafts] == [AlertStatus.OPEN]
    assert drafts[0].end - drafts[0].start >= 30 * MINUTE


def test_a_silence_in_port_does_not_end_the_visit() -> None:
    t = T0 + np.r_[0.0, 60, 120, 10 * HOUR, 10 * HOUR + 60]
    lon = [at(10_000.0), at(500.0), at(500.0), at(500.0), at(10_000.0)]
    drafts = feed(PortVisitDetector(settings()), track(3, t, LAT, lon))
    [alert] = standing(drafts)
    assert alert.end - alert.start == 10 * HOUR - 60


def test_berths_the_coarse_land_mask_puts_on_land_are_still_visits() -> None:
    t = T0 + np.arange(45) * MINUTE
    lon = [at(10_000.0)] * 5 + [at(500.0)] * 35 + [at(10_000.0)] * 5
    flags = [0] * 5 + [int(PointFlag.ON_LAND)] * 35 + [0] * 5
    points = track(3, t, LAT, lon, sog=0.0, flags=flags)
    [alert] = standing(feed(PortVisitDetector(settings()), points))
    assert alert.end - alert.start == 34 * MINUTE
    outliers = track(3, t, LAT, lon, sog=0.0, flags=int(PointFlag.OUTLIER))
    assert feed(PortVisitDetector(settings()), outliers) == []


def satellite_pass(inside_sog: float, *, then_out_after_s: float) -> list[AlertDraft]:
    """Three fixes a minute apart 1 km from the port, then one 20 km out later."""
    t = T0 + np.array([0.0, MINUTE, 2 * MINUTE, 2 * MINUTE + then_out_after_s])
    lon = np.array([at(1_000.0)] * 3 + [at(20_000.0)])
    sog = np.array([inside_sog] * 3 + [12.0])
    return feed(PortVisitDetector(settings()), track(3, t, LAT, lon, sog=sog))


def test_a_stopped_vessel_seen_by_one_satellite_pass_is_on_a_visit() -> None:
    # Seen for 2 min, stopped, then not until 3 h later outside: it was not seen leaving.
    [alert] = standing(satellite_pass(0.0, then_out_after_s=3 * HOUR))
    assert alert.evidence["presumed_duration_s"] == pytest.approx(3 * HOUR + 2 * MINUTE)
    assert alert.end - alert.start == 2 * MINUTE


def test_a_vessel_under_way_seen_by_one_pass_is_a_drive_by() -> None:
    assert standing(satellite_pass(8.0, then_out_after_s=3 * HOUR)) == []


def test_a_stopped_vessel_seen_leaving_soon_after_is_no_visit() -> None:
    # The next fix, 20 min later, is already outside: at most 22 min in port.
    assert standing(satellite_pass(0.0, then_out_after_s=20 * MINUTE)) == []


def test_a_stopped_vessel_last_heard_in_port_stays_in_port() -> None:
    t = T0 + np.array([0.0, MINUTE, 2 * MINUTE])
    detector = PortVisitDetector(settings())
    drafts = feed(detector, track(3, t, LAT, at(1_000.0), sog=0.0), finish=False)
    assert standing(drafts) == []  # only 10 min of stream time so far
    assert standing(drafts + detector.finish(T0 + HOUR, Memory())) != []


def test_a_radar_track_in_port_is_no_port_visit() -> None:
    t = T0 + np.arange(60) * MINUTE
    contacts = track(3, t, LAT, at(1_000.0), sog=0.0)
    contacts = replace(contacts, source=np.full(len(contacts), SourceCode.RADAR, np.uint8))
    assert standing(feed(PortVisitDetector(settings()), contacts)) == []
    assert len(standing(visit(np.full(60, 1_000.0)))) == 1  # the same as AIS is a visit


def under_way_pass(distances_m: list[float], *, next_after_s: float, next_m: float) -> TrackPoints:
    """Fixes a minute apart at ``distances_m`` east of the port at 10 kn, then one more
    ``next_after_s`` after the last, ``next_m`` east of the port, also at 10 kn."""
    t = (
        T0
        + np.r_[
            np.arange(len(distances_m)) * MINUTE, (len(distances_m) - 1) * MINUTE + next_after_s
        ]
    )
    lon = np.array([at(d) for d in [*distances_m, next_m]])
    return track(3, t, LAT, lon, sog=10.0)


def test_a_vessel_heard_heading_in_and_next_far_off_hours_later_was_in_port() -> None:
    # In at 10 kn (2.5 km to 1.5 km), then 6 h of silence and next heard 20 km off:
    # 20 km take 65 min at 10 kn, so it spent some 4.9 h somewhere, likely in port.
    heading_in = under_way_pass(
        [2_500.0, 2_200.0, 1_800.0, 1_500.0], next_after_s=6 * HOUR, next_m=20_000.0
    )
    [alert] = standing(feed(PortVisitDetector(settings()), heading_in))
    spare = 6 * HOUR - 18_500.0 / (10 * 1852 / 3600)
    assert alert.evidence["presumed_duration_s"] == pytest.approx(3 * MINUTE + spare / 2, rel=0.01)


def test_a_vessel_heard_heading_out_after_a_long_silence_was_in_port() -> None:
    # Mirror image: heard 20 km off, silent 6 h, then heard heading out.
    t = T0 + np.r_[0.0, 6 * HOUR + np.arange(4) * MINUTE]
    lon = np.array([at(d) for d in (20_000.0, 1_500.0, 1_800.0, 2_200.0, 2_500.0)])
    [alert] = standing(feed(PortVisitDetector(settings()), track(3, t, LAT, lon, sog=10.0)))
    assert alert.evidence["presumed_duration_s"] > HOUR


def test_a_drive_by_heard_on_two_passes_had_no_time_to_spare() -> None:
    # Through the port's radius at 10 kn, next heard 3 h later where 10 kn takes it:
    # no time was left over for a visit; nor when heading away from the port.
    sailed = 3 * HOUR * 10 * 1852 / 3600
    drive_by = under_way_pass(
        [2_500.0, 2_200.0, 1_800.0, 1_500.0], next_after_s=3 * HOUR, next_m=sailed
    )
    assert standing(feed(PortVisitDetector(settings()), drive_by)) == []
    leaving = under_way_pass(
        [1_500.0, 1_800.0, 2_200.0, 2_500.0], next_after_s=6 * HOUR, next_m=20_000.0
    )
    assert standing(feed(PortVisitDetector(settings()), leaving)) == []


def test_a_vessel_heard_once_inside_under_way_counts_the_spare_time_either_side() -> None:
    # Heard once, 1.5 km from the port at 10 kn (heading unknown), next 20 km off 6 h
    # later: some 4.9 h spare, spent in port most likely.
    once = under_way_pass([1_500.0], next_after_s=6 * HOUR, next_m=20_000.0)
    [alert] = standing(feed(PortVisitDetector(settings()), once))
    spare = 6 * HOUR - 18_500.0 / (10 * 1852 / 3600)
    assert alert.evidence["presumed_duration_s"] == pytest.approx(spare / 2, rel=0.01)
    # The same single fix on a vessel sailing straight on: no time to spare.
    sailed = 3 * HOUR * 10 * 1852 / 3600
    drive_by = under_way_pass([1_500.0], next_after_s=3 * HOUR, next_m=1_500.0 + sailed)
    assert standing(feed(PortVisitDetector(settings()), drive_by)) == []


def test_a_vessel_heading_in_and_not_heard_since_is_presumed_in_port() -> None:
    t = T0 + np.arange(4) * MINUTE
    lon = np.array([at(d) for d in (2_500.0, 2_200.0, 1_800.0, 1_500.0)])
    detector = PortVisitDetector(settings())
    drafts = feed(detector, track(3, t, LAT, lon, sog=10.0), finish=False)
    assert standing(drafts) == []  # 10 minutes of silence so far
    drafts += detector.finish(T0 + 2 * HOUR, Memory())
    [alert] = standing(drafts)
    assert alert.evidence["presumed_duration_s"] == pytest.approx(
        3 * MINUTE + (2 * HOUR - 3 * MINUTE) / 2
    )
    # Heading out and not heard since: it left.
    detector = PortVisitDetector(settings())
    drafts = feed(detector, track(3, t, LAT, lon[::-1], sog=10.0), finish=False)
    assert standing(drafts + detector.finish(T0 + 2 * HOUR, Memory())) == []


def test_stopped_at_one_port_then_at_another_with_no_fix_between_is_two_visits() -> None:
    # Two ports 60 km apart; a satellite pass hears the vessel stopped at the first, the
    # next ones (5 h and 7 h later) stopped at the second.
    ports = Ports(["Westport", "Eastport"], [71.0, east_of(LAT, 71.0, 60_000.0)], [LAT, LAT])
    config = {**settings(), "ports": ports}
    t = T0 + np.r_[np.arange(3) * MINUTE, 5 * HOUR + np.arange(3) * MINUTE, 7 * HOUR]
    lon = np.r_[np.full(3, at(500.0)), np.full(4, east_of(LAT, 71.0, 60_500.0))]
    alerts = standing(feed(PortVisitDetector(config), track(3, t, LAT, lon, sog=0.0)))
    assert sorted(a.evidence["port"] for a in alerts) == ["Eastport", "Westport"]
