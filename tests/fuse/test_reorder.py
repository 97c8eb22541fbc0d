"""The reorder buffer and late data: time order out, late fixes flagged and revised."""

from __future__ import annotations

import numpy as np

from mista.fuse import FuseConfig, Fuser
from mista.fuse.chunk import FusedChunk, PointFlag, TrackPoints

from .builders import NO_LAND, T0, feed, numbered, sail


def _all_points(chunks: list[FusedChunk]) -> TrackPoints:
    points = [c.points for c in chunks if len(c.points)]
    if not points:
        return TrackPoints.empty()
    return TrackPoints(
        **{
            name: np.concatenate([getattr(p, name) for p in points])
            for name in TrackPoints.__slots__
        }
    )


def test_nothing_is_released_until_the_watermark_passes() -> None:
    fuser = Fuser(FuseConfig(reorder_window_s=600), land=NO_LAND)
    rows = numbered(sail(419000001, count=10, every_s=60))  # 9 minutes
    chunk = fuser.push(feed(rows))
    assert len(chunk.points) == 0
    assert chunk.watermark == T0 + 540 - 600
    assert fuser.held() == (10, 1)
    assert len(fuser.flush().points) == 10
    assert fuser.held() == (0, None)


def test_shuffled_arrival_within_the_window_comes_out_in_time_order() -> None:
    rows = numbered(sail(419000001, count=60, every_s=30))
    rng = np.random.default_rng(3)
    # Shuffle within blocks of 10 rows (5 minutes: inside the 10-minute window).
    arrival = [i for b in range(0, 60, 10) for i in (b + rng.permutation(10)).tolist()]
    fuser = Fuser(land=NO_LAND)
    chunks = [fuser.push(feed([rows[i] for i in arrival[k : k + 7]])) for k in range(0, 60, 7)]
    chunks.append(fuser.flush())
    points = _all_points(chunks)
    assert len(points) == 60
    assert not (points.flags & PointFlag.LATE).any()
    for chunk in chunks:
        assert (np.diff(chunk.points.t) >= 0).all()
    assert np.array_equal(fuser.history(int(points.track[0]), 0.0).seq, np.arange(1, 61))


def test_a_fix_older_than_the_watermark_is_late_placed_in_order_and_revised() -> None:
    rows = numbered(sail(419000001, count=40, every_s=60))
    held_back = rows.pop(5)  # T0 + 300
    fuser = Fuser(land=NO_LAND)
    first = fuser.push(feed(rows))
    assert first.watermark > held_back["t"]
    late = fuser.push(feed([held_back]))
    assert len(late.points) == 1
    assert late.points.flags[0] & PointFlag.LATE
    track = int(late.points.track[0])
    assert late.revised == {track: held_back["t"]}
    history = fuser.history(track, 0.0)
    assert (np.diff(history.t) > 0).all()
    assert history.seq[5] == held_back["seq"]
    assert not (history.flags[history.seq != held_back["seq"]] & PointFlag.LATE).any()
    assert late.tracks[track].points == 30  # 29 released before it, the last 10 min held


def test_late_fix_far_from_its_track_is_flagged_implausible() -> None:
    rows = numbered(sail(419000001, count=40, every_s=60))
    fuser = Fuser(land=NO_LAND)
    fuser.push(feed(rows))
    jump = {**rows[5], "seq": 99, "lat": rows[5]["lat"] + 1.0}
    late = fuser.push(feed([jump]))
    flags = int(late.points.flags[0])
    assert flags & PointFlag.LATE
    assert flags & PointFlag.IMPLAUSIBLE_SPEED


def test_flush_releases_everything_and_the_watermark_reaches_the_newest_time() -> None:
    fuser = Fuser(land=NO_LAND)
    fuser.push(feed(numbered(sail(419000001, count=5))))
    chunk = fuser.flush()
    assert len(chunk.points) == 5
    assert chunk.watermark == T0 + 240
    assert len(fuser.flush().points) == 0


def test_a_late_satellite_pass_newer_than_its_track_is_segmented_like_live_data() -> None:
    shore = numbered(sail(419000009, count=120, every_s=30, lat=12.0))  # moves the watermark
    a = sail(419000001, count=4, every_s=60)
    b = sail(419000001, count=4, every_s=60, start_t=T0 + 30, lat=14.0)
    satellite = numbered(
        sorted(a + b, key=lambda r: r["t"]), first=1000
    )  # interleaved: two vessels on one MMSI
    fuser = Fuser(land=NO_LAND)
    fuser.push(feed(shore))
    chunk = fuser.push(feed([{**r, "source_kind": "ais-satellite"} for r in satellite]))
    assert (chunk.points.flags[chunk.points.mmsi == 419000001] & PointFlag.LATE).all()
    ids = sorted(i.id for i in fuser.tracks().values() if i.mmsi == 419000001)
    assert ids == ["ais:419000001", "ais:419000001/2"]
    assert [e.kind for e in chunk.identity] == ["shared-mmsi"]
    assert set(chunk.revised) == {n for n, i in fuser.tracks().items() if i.mmsi == 419000001}
