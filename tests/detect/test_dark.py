"""dark-vessel: a confirmed DARK track is one alert, OPEN while seen, CLOSED when lost."""

from __future__ import annotations

import numpy as np

from mista.detect.base import AlertDraft
from mista.detect.dark import DarkVesselDetector
from mista.fuse.chunk import TrackKind
from mista.model import AlertStatus
from tests.detect.builders import HOUR, MINUTE, SEA, T0, Memory, feed, settings, standing, track

LAT, LON = SEA


def dark(contacts: int, step_s: float, *, finish: bool = True) -> list[AlertDraft]:
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


def two_tracks(gap_s: float, north_m: float) -> list[AlertDraft]:
    """Dark track 9 for 30 min, then track 10 starting ``gap_s`` later, ``north_m`` on."""
    memory = Memory(kinds={9: TrackKind.DARK, 10: TrackKind.DARK})
    first_t = T0 + np.arange(16) * 2 * MINUTE
    second_t = first_t[-1] + gap_s + np.arange(16) * 2 * MINUTE
    first = track(9, first_t, LAT, LON, sog=np.nan, cog=np.nan)
    second = track(10, second_t, LAT + north_m / 111_195.0, LON, sog=np.nan, cog=np.nan)
    return feed(DarkVesselDetector(settings()), [first, second], memory=memory)


def test_a_new_dark_track_where_one_was_lost_continues_its_alert() -> None:
    drafts = two_tracks(2 * MINUTE, 800.0)
    [alert] = standing(drafts)
    assert alert.tracks == ("dark:9", "dark:10")
    assert alert.start == T0
    assert alert.end == T0 + (15 * 2 + 2 + 15 * 2) * MINUTE
    assert alert.evidence["dark_tracks"] == 2
    assert alert.evidence["contacts"] == 32
    assert len({d.key for d in drafts}) == 1


def test_a_new_dark_track_beyond_reach_is_another_vessel() -> None:
    # 20 km in 2 min is 320 kn: not the lost vessel.
    assert len(standing(two_tracks(2 * MINUTE, 20_000.0))) == 2


def test_a_new_dark_track_long_after_the_loss_is_another_alert() -> None:
    assert len(standing(two_tracks(2 * HOUR, 800.0))) == 2


def handover(lost_track_after: np.ndarray) -> list[AlertDraft]:
    """Dark track 9 every 2 min for 30 min, then (its vessel handed to a new track) track
    10 every minute from a minute later, 800 m on, for 15 min; track 9 has contacts again
    at ``lost_track_after`` (seconds after its 30 min). All in one chunk, as a fuser that
    handed over within one step delivers them."""
    memory = Memory(kinds={9: TrackKind.DARK, 10: TrackKind.DARK})
    first_t = T0 + np.arange(16) * 2 * MINUTE
    first_t = np.r_[first_t, first_t[-1] + lost_track_after]
    second_t = T0 + 31 * MINUTE + np.arange(16) * MINUTE
    first = track(9, first_t, LAT, LON, sog=np.nan, cog=np.nan)
    second = track(10, second_t, LAT + 800.0 / 111_195.0, LON, sog=np.nan, cog=np.nan)
    detector = DarkVesselDetector(settings())
    return feed(detector, [first, second], memory=memory, chunk_s=2 * HOUR)


def test_a_stray_contact_on_the_lost_track_does_not_make_the_new_one_another_vessel() -> None:
    # Clutter 12 minutes after the lost track's last contact, near its line.
    [alert] = standing(handover(np.array([12 * MINUTE])))
    assert alert.tracks == ("dark:9", "dark:10")


def test_the_vessel_back_on_its_lost_track_after_the_new_one_is_one_vessel() -> None:
    # Track 10 ends at 45 min; the vessel's contacts go back to track 9 from 47 min.
    [alert] = standing(handover(17 * MINUTE + np.arange(8) * 2 * MINUTE))
    assert alert.tracks == ("dark:9", "dark:10")


def test_a_track_seen_all_along_beside_the_new_one_is_another_vessel() -> None:
    # Track 9 goes on every 2 minutes while track 10 is seen: two boats.
    assert len(standing(handover(np.arange(1, 9) * 2 * MINUTE))) == 2


def test_the_track_an_alert_took_last_is_followed_while_its_older_one_goes_on() -> None:
    # Track 10 takes over from lost track 9 (one alert); track 9's line then has contacts
    # again and goes on (another boat at its berth, say: one vessel on both, one at a
    # time), so it is the alert's newest track; track 10's vessel is lost at 61 min and
    # found again as track 11 a minute later, 600 m on. Track 11 continues the alert
    # through track 10 (Port Hedland: otherwise a second alert on the same vessel).
    north = 800.0 / 111_195.0
    memory = Memory(kinds={9: TrackKind.DARK, 10: TrackKind.DARK, 11: TrackKind.DARK})
    nine_t = np.r_[T0 + np.arange(16) * 2 * MINUTE, T0 + 63 * MINUTE + np.arange(30) * 2 * MINUTE]
    ten_t = T0 + 31 * MINUTE + np.arange(31) * MINUTE
    eleven_t = T0 + 62 * MINUTE + np.arange(30) * MINUTE
    nine = track(9, nine_t, LAT, LON, sog=np.nan, cog=np.nan)
    ten = track(10, ten_t, LAT + north, LON, sog=np.nan, cog=np.nan)
    eleven = track(11, eleven_t, LAT + 1.75 * north, LON, sog=np.nan, cog=np.nan)
    drafts = feed(DarkVesselDetector(settings()), [nine, ten, eleven], memory=memory)
    [alert] = standing(drafts)
    assert alert.tracks == ("dark:9", "dark:10", "dark:11")
    assert len({d.key for d in drafts}) == 1
