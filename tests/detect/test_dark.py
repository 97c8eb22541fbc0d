"""dark-vessel: a confirmed DARK track is one alert, OPEN while seen, CLOSED when lost."""

from __future__ import annotations

import numpy as np

from mista.detect.dark import DarkVesselDetector
from mista.fuse.chunk import TrackKind
from mista.model import AlertStatus
from tests.detect.builders import HOUR, MINUTE, SEA, T0, Memory, feed, settings, standing, track

LAT, LON = SEA


def dark(contacts: int, step_s: float, *, finish: bool = True):
    memory = Memory(kinds={9: TrackKind.DARK})
    t = T0 + np.arange(contacts) * step_s
    points = track(9, t, LAT, LON, sog=np.nan, cog=np.nan)
    return feed(DarkVesselDetector(settings()), points, memory=memory, finish=finish)


def test_six_contacts_over_25_minutes_are_a_dark_vessel() -> None:
    drafts = dark(6, 5 * MINUTE)
    [alert] = standing(drafts)
    assert alert.kind == "dark-vessel"
    assert alert.status == AlertStatus.CLOSED
    assert alert.tracks == ("dark:9",)
    assert alert.mmsis == ()
    assert alert.start == T0
    assert alert.end == T0 + 25 * MINUTE
    assert [d.status for d in drafts] == [AlertStatus.OPEN, AlertStatus.CLOSED]


def test_four_contacts_are_not_confirmed() -> None:
    assert dark(4, 5 * MINUTE) == []


def test_many_contacts_over_nine_minutes_are_not_confirmed() -> None:
    assert dark(10, 60) == []


def test_it_closes_when_the_track_is_lost() -> None:
    memory = Memory(kinds={9: TrackKind.DARK})
    points = track(9, T0 + np.arange(12) * MINUTE, LAT, LON, sog=np.nan, cog=np.nan)
    detector = DarkVesselDetector(settings())
    drafts = feed(detector, points, memory=memory, finish=False)
    assert [d.status for d in drafts] == [AlertStatus.OPEN]
    other = track(1, [T0 + 2 * HOUR], LAT, LON)
    drafts += feed(detector, other, memory=memory, finish=False)
    assert [d.status for d in drafts] == [AlertStatus.OPEN, AlertStatus.CLOSED]


def test_ais_tracks_are_never_dark() -> None:
    points = track(9, T0 + np.arange(20) * MINUTE, LAT, LON)
    assert feed(DarkVesselDetector(settings()), points) == []
