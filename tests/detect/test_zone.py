"""zone-entry: 2 consecutive points inside to enter, 2 outside to exit; one alert a visit."""

from __future__ import annotations

import numpy as np

from mista.detect.base import AlertDraft
from mista.detect.zone import ZoneEntryDetector
from mista.model import AlertStatus
from tests.detect.builders import (
    HOUR,
    MINUTE,
    T0,
    Memory,
    feed,
    final,
    push,
    settings,
    standing,
    track,
)

#: The test zone "box" is lat 5..6, lon 75..76.
IN, OUT = 75.5, 74.5


def cross(lons: list[float], *, finish: bool = True) -> list[AlertDraft]:
    t = T0 + np.arange(len(lons)) * MINUTE
    return feed(ZoneEntryDetector(settings()), track(5, t, 5.5, lons), finish=finish)


def test_two_points_inside_enter_two_outside_leave() -> None:
    [alert] = standing(cross([OUT, IN, IN, IN, OUT, OUT]))
    assert alert.kind == "zone-entry"
    assert alert.status == AlertStatus.CLOSED
    assert alert.evidence["zone"] == "box"
    assert alert.evidence["zone_name"] == "The box"
    assert alert.start == T0 + MINUTE
    assert alert.end == T0 + 3 * MINUTE
    assert alert.key == ("zone-entry", "ais:5", "box", T0 + MINUTE)


def test_one_point_inside_is_not_an_entry() -> None:
    assert cross([OUT, IN, OUT, IN, OUT, OUT]) == []


def test_one_point_outside_is_not_an_exit() -> None:
    [alert] = standing(cross([IN, IN, OUT, IN, IN, OUT, OUT]))
    assert alert.end - alert.start == 4 * MINUTE


def test_open_while_inside() -> None:
    drafts = cross([OUT, IN, IN, IN], finish=False)
    assert [d.status for d in drafts] == [AlertStatus.OPEN]


def test_each_visit_is_an_alert() -> None:
    assert len(standing(cross([IN, IN, OUT, OUT, IN, IN, OUT, OUT]))) == 2


def test_no_zones_no_alerts() -> None:
    detector = ZoneEntryDetector({**settings(), "zones": None})
    assert feed(detector, track(5, [T0, T0 + 60], 5.5, IN)) == []


def test_late_points_outside_split_the_visit_keeping_the_first_key() -> None:
    memory = Memory()
    detector = ZoneEntryDetector(settings())
    t = T0 + np.arange(10) * MINUTE
    lons = [OUT] + [IN] * 8 + [OUT]
    drafts = push(detector, memory, track(5, t, 5.5, lons), T0 + 10 * MINUTE)
    drafts += push(detector, memory, track(5, [t[-1] + 60], 5.5, OUT, seq_from=50), t[-1] + 60)
    [alert] = standing(drafts)
    late = track(5, t[4] + np.r_[20.0, 40.0], 5.5, OUT, seq_from=90)  # two outside, mid-visit
    revision = push(detector, memory, late, T0 + HOUR, revised={5: late.t[0]})
    after = standing(drafts + revision)
    assert len(after) == 2
    assert final(revision)[alert.key].end == t[4]
