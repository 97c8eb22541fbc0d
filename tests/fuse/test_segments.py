"""Segmenting an MMSI: duplicates, jumps, circles, positions inland, shared MMSIs."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mista.fuse import Fuser
from mista.fuse.chunk import FusedChunk, IdentityKind, PointFlag

from .builders import M_PER_DEG, NO_LAND, T0, BoxLand, feed, numbered, sail


def _run(rows: list[dict[str, Any]], fuser: Fuser | None = None) -> tuple[Fuser, list[FusedChunk]]:
    fuser = fuser or Fuser(land=NO_LAND)
    rows = sorted(rows, key=lambda r: r["t"])
    chunks = [fuser.push(feed(rows[k : k + 50])) for k in range(0, len(rows), 50)]
    chunks.append(fuser.flush())
    return fuser, chunks


def _flags_by_seq(chunks: list[FusedChunk]) -> dict[int, int]:
    out: dict[int, int] = {}
    for chunk in chunks:
        for seq, flags in zip(chunk.points.seq.tolist(), chunk.points.flags.tolist(), strict=True):
            assert seq not in out
            out[seq] = flags
    return out


def test_a_copy_from_another_receiver_within_2_s_and_50_m_is_a_duplicate() -> None:
    rows = sail(419000001, count=20)
    copy = {**rows[10], "t": rows[10]["t"] + 1.5, "lat": rows[10]["lat"] + 20 / M_PER_DEG}
    later = {**rows[10], "t": rows[10]["t"] + 3.0}
    fuser, chunks = _run(numbered([*rows, copy, later]))
    flags = _flags_by_seq(chunks)
    assert flags[21] & PointFlag.DUPLICATE
    assert not flags[22] & PointFlag.DUPLICATE
    assert sum(1 for f in flags.values() if f & PointFlag.DUPLICATE) == 1
    assert len(fuser.tracks()) == 1


def test_a_jump_is_an_outlier_and_the_track_goes_on() -> None:
    rows = sail(419000001, count=60, every_s=60)
    for k in range(30, 33):  # three fixes 1 degree north, then back on the line
        rows[k] = {**rows[k], "lat": rows[k]["lat"] + 1.0}
    fuser, chunks = _run(numbered(rows))
    flags = _flags_by_seq(chunks)
    assert flags[31] & PointFlag.IMPLAUSIBLE_SPEED
    assert flags[31] & PointFlag.OUTLIER
    assert flags[32] & PointFlag.OUTLIER
    assert flags[33] & PointFlag.OUTLIER
    clean = [s for s in flags if s not in (31, 32, 33)]
    assert all(flags[s] == 0 for s in clean)
    assert len(fuser.tracks()) == 1


def test_a_spoofed_circle_is_flagged_and_the_real_track_is_not() -> None:
    rows = sail(419000001, count=60, every_s=30)
    centre_lat, centre_lon = 10.4, 70.3
    circle = list(range(20, 36))
    for j, k in enumerate(circle):
        angle = math.radians(j * 90.0)
        rows[k] = {
            **rows[k],
            "lat": centre_lat + 3000 * math.cos(angle) / M_PER_DEG,
            "lon": centre_lon + 3000 * math.sin(angle) / M_PER_DEG,
        }
    fuser, chunks = _run(numbered(rows))
    flags = _flags_by_seq(chunks)
    on_circle = [k + 1 for k in circle]
    assert all(flags[s] & PointFlag.OUTLIER for s in on_circle)
    assert all(flags[s] == 0 for s in flags if s not in on_circle)
    history = fuser.history(next(iter(fuser.tracks())), 0.0)
    assert int(history.good().sum()) == 60 - len(circle)


def test_positions_inland_are_flagged_on_land() -> None:
    land = BoxLand(9.9, 10.1, 70.05, 70.08)
    rows = numbered(sail(419000001, count=30, every_s=60, speed_kn=10))
    _, chunks = _run(rows, Fuser(land=land))
    flags = _flags_by_seq(chunks)
    inland = {r["seq"] for r in rows if 70.05 <= r["lon"] <= 70.08}
    assert inland
    assert {s for s, f in flags.items() if f & PointFlag.ON_LAND} == inland


def test_two_vessels_heard_only_by_satellite_passes_are_told_apart() -> None:
    passes = [T0 + 5400 * k for k in range(4)]
    a = [r for p in passes for r in sail(419000001, count=3, every_s=120, start_t=p)]
    b = [
        r
        for p in passes
        for r in sail(419000001, count=3, every_s=120, start_t=p + 30, lat=20.0, lon=80.0)
    ]
    fuser, chunks = _run(numbered(a + b))
    assert len(fuser.tracks()) == 2
    events = [e for c in chunks for e in c.identity if e.kind == IdentityKind.SHARED_MMSI]
    assert len(events) == 1


def test_two_vessels_on_one_mmsi_become_two_tracks_and_one_event() -> None:
    a = sail(419000001, count=120, every_s=60, lat=10.0, lon=70.0)
    b = sail(419000001, count=120, every_s=60, lat=11.0, lon=71.0, start_t=T0 + 20)
    rows = numbered(a + b)
    fuser, chunks = _run(rows)
    tracks = fuser.tracks()
    assert sorted(info.id for info in tracks.values()) == ["ais:419000001", "ais:419000001/2"]
    events = [e for c in chunks for e in c.identity]
    shared = [e for e in events if e.kind == IdentityKind.SHARED_MMSI]
    assert len(shared) == 1
    assert {shared[0].track, shared[0].other_track} == set(tracks)
    # Each track's retained history holds one vessel: all near one latitude, no outliers.
    for number in tracks:
        history = fuser.history(number, 0.0)
        lats = history.lat
        assert np.ptp(lats) < 0.1
        assert history.good().all()
        assert len(history) == 120


def test_a_vessel_that_reappears_far_away_after_going_quiet_keeps_its_track() -> None:
    before = sail(419000001, count=30, every_s=60)
    # Two hours later, 5 degrees away: implausible at 30 kn, and the old segment is quiet.
    after = sail(419000001, count=60, every_s=60, lat=15.0, start_t=T0 + 3 * 3600)
    fuser, chunks = _run(numbered(before + after))
    assert len(fuser.tracks()) == 1
    number = next(iter(fuser.tracks()))
    assert not any(e.kind == IdentityKind.SHARED_MMSI for c in chunks for e in c.identity)
    history = fuser.history(number, 0.0)
    # The new segment's early outliers were cleared; the jump itself stays implausible.
    assert history.good().sum() == 89
    assert history.flags[30] == PointFlag.IMPLAUSIBLE_SPEED
    assert any(number in c.revised for c in chunks)
