"""Radar: contacts associated to AIS tracks, dark tracks confirmed, false contacts ignored."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from mista.fuse import Fuser
from mista.fuse.chunk import Association, FusedChunk, TrackKind

from .builders import KNOT_M_S, M_PER_DEG, NO_LAND, T0, feed

RADAR = "IND-radar-test"
CENTRE = (10.0, 70.0)


def _scenario(
    seed: int, *, vessels: int = 20, minutes: int = 40, false_per_scan: float = 3.0
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """AIS vessels and one dark vessel near a radar scanning every 10 s (sigma 150 m,
    90 % detection) plus false contacts. Returns rows (time order) and, per radar row's
    seq, the vessel index it came from (-1 false, ``vessels`` the dark one)."""
    rng = np.random.default_rng(seed)
    coslat = math.cos(math.radians(CENTRE[0]))
    start = rng.uniform(-20_000, 20_000, (vessels + 1, 2))  # metres north, east
    speed = rng.uniform(3, 18, vessels + 1) * KNOT_M_S
    course = rng.uniform(0, 2 * math.pi, vessels + 1)
    rows: list[dict[str, Any]] = []
    truth: dict[int, int] = {}

    def where(v: int, t: float) -> tuple[float, float]:
        north = start[v, 0] + speed[v] * t * math.cos(course[v])
        east = start[v, 1] + speed[v] * t * math.sin(course[v])
        return CENTRE[0] + north / M_PER_DEG, CENTRE[1] + east / (M_PER_DEG * coslat)

    for v in range(vessels):
        phase = rng.uniform(0, 30)
        for k in range(minutes * 2):
            t = phase + 30 * k
            lat, lon = where(v, t)
            rows.append(
                {
                    "t": T0 + t,
                    "mmsi": 419_000_000 + v,
                    "lat": lat,
                    "lon": lon,
                    "speed_kn": speed[v] / KNOT_M_S,
                    "course_deg": math.degrees(course[v]) % 360,
                }
            )
    seq = 1_000_000
    for scan in range(minutes * 6):
        t = 10.0 * scan
        for v in range(vessels + 1):
            if rng.random() > 0.9:
                continue
            lat, lon = where(v, t)
            noise = rng.normal(0, 150, 2)
            seq += 1
            truth[seq] = v
            rows.append(
                _contact(seq, t, lat + noise[0] / M_PER_DEG, lon + noise[1] / (M_PER_DEG * coslat))
            )
        for _ in range(rng.poisson(false_per_scan)):
            north, east = rng.uniform(-30_000, 30_000, 2)
            seq += 1
            truth[seq] = -1
            rows.append(
                _contact(
                    seq, t, CENTRE[0] + north / M_PER_DEG, CENTRE[1] + east / (M_PER_DEG * coslat)
                )
            )
    rows.sort(key=lambda r: r["t"])
    for n, row in enumerate(rows):
        row.setdefault("seq", n + 1)
    return rows, truth


def _contact(seq: int, t: float, lat: float, lon: float) -> dict[str, Any]:
    return {
        "seq": seq,
        "t": T0 + t,
        "lat": lat,
        "lon": lon,
        "source_kind": "radar",
        "receiver": RADAR,
        "label_no": 2,
    }


def _run(rows: list[dict[str, Any]]) -> tuple[Fuser, list[FusedChunk]]:
    fuser = Fuser(land=NO_LAND)
    chunks = [fuser.push(feed(rows[k : k + 500])) for k in range(0, len(rows), 500)]
    chunks.append(fuser.flush())
    return fuser, chunks


def test_contacts_of_ais_vessels_are_associated_to_their_tracks() -> None:
    rows, truth = _scenario(seed=1)
    fuser, chunks = _run(rows)
    associations: dict[int, Association] = {}
    for chunk in chunks:
        for a in chunk.associations:
            assert a.seq not in associations
            associations[a.seq] = a
    assert set(associations) == set(truth)
    mmsi_of = {n: info.mmsi for n, info in fuser.tracks().items()}

    def mmsi_given(seq: int) -> int | None:
        track = associations[seq].track
        return None if track is None else mmsi_of.get(track)

    vessel_contacts = [s for s, v in truth.items() if 0 <= v < 20]
    right = [s for s in vessel_contacts if mmsi_given(s) == 419_000_000 + truth[s]]
    assert len(right) / len(vessel_contacts) >= 0.95
    false = [s for s, v in truth.items() if v == -1]
    wrongly_on_ais = [s for s in false if mmsi_given(s) is not None]
    assert len(wrongly_on_ais) / len(false) < 0.05
    # Associated contacts add no points to AIS tracks.
    for number, info in fuser.tracks().items():
        if info.kind == TrackKind.AIS:
            assert info.label_nos == frozenset({1})
            assert (fuser.history(number, 0.0).source != 2).all()


def test_a_dark_vessel_becomes_one_confirmed_dark_track_and_false_contacts_none() -> None:
    rows, truth = _scenario(seed=2, false_per_scan=5.0)
    fuser, chunks = _run(rows)
    dark = [info for info in fuser.tracks().values() if info.kind == TrackKind.DARK]
    assert len(dark) == 1
    (info,) = dark
    assert info.mmsi is None
    assert info.id.startswith(f"dark:{RADAR}:")
    dark_seqs = {s for s, v in truth.items() if v == 20}
    points = fuser.history(info.number, 0.0)
    on_track = set(points.seq.tolist())
    assert len(on_track & dark_seqs) / len(dark_seqs) >= 0.9
    assert len(on_track - dark_seqs) <= 2
    assert (points.mmsi == -1).all()
    assert info.label_nos == frozenset({2})
    # Its points reached the chunks too, once each.
    emitted = np.concatenate([c.points.seq[c.points.track == info.number] for c in chunks])
    assert len(emitted) == len(set(emitted.tolist())) == len(on_track)
    assert info.last_t - info.first_t >= 600


def test_a_dark_track_needs_ten_minutes_of_contacts() -> None:
    rows, _ = _scenario(seed=3, vessels=0, minutes=8, false_per_scan=0.0)
    fuser, _ = _run(rows)
    assert not [i for i in fuser.tracks().values() if i.kind == TrackKind.DARK]
    rows, _ = _scenario(seed=3, vessels=0, minutes=12, false_per_scan=0.0)
    fuser, _ = _run(rows)
    assert len([i for i in fuser.tracks().values() if i.kind == TrackKind.DARK]) == 1


def _alongside(minutes: int = 90) -> tuple[list[dict[str, Any]], set[int], set[int]]:
    """An AIS vessel and a dark one 200 m abeam, both at 8 kn north, seen by a radar that
    reports each target every 30 s (the AIS vessel at 0 s, the dark one at 10 s) with
    sigma 60 m; four more AIS vessels 3-12 km east (the radar's usual traffic, from which
    its report period is learned). Returns rows and the first AIS and the dark vessels'
    contact seqs."""
    rng = np.random.default_rng(5)
    coslat = math.cos(math.radians(CENTRE[0]))
    speed = 8 * KNOT_M_S
    rows: list[dict[str, Any]] = []
    ais_seqs: set[int] = set()
    dark_seqs: set[int] = set()
    seq = 1_000_000
    for k in range(minutes * 6):
        t = 10.0 * k
        north = speed * t
        lat = CENTRE[0] + north / M_PER_DEG
        for v in range(5):
            lon = CENTRE[1] + 3000.0 * v / (M_PER_DEG * coslat)
            rows.append(
                {"t": T0 + t, "mmsi": 419_000_001 + v, "lat": lat, "lon": lon}
                | {"speed_kn": 8.0, "course_deg": 0.0}
            )
            if v and k % 3 == 0:
                noise = rng.normal(0, 60, 2)
                seq += 1
                rows.append(
                    _contact(seq, t, lat + noise[0] / M_PER_DEG, lon + noise[1] / M_PER_DEG)
                )
        if k % 3 == 2:
            continue
        east = 0.0 if k % 3 == 0 else 200.0
        noise = rng.normal(0, 60, 2)
        seq += 1
        (ais_seqs if east == 0.0 else dark_seqs).add(seq)
        rows.append(
            _contact(
                seq,
                t,
                lat + noise[0] / M_PER_DEG,
                CENTRE[1] + (east + noise[1]) / (M_PER_DEG * coslat),
            )
        )
    rows.sort(key=lambda r: r["t"])
    for n, row in enumerate(rows):
        row.setdefault("seq", n + 1)
    return rows, ais_seqs, dark_seqs


def test_a_dark_vessel_alongside_an_ais_vessel_keeps_its_own_contacts() -> None:
    # The radar reports each target once in 30 s: the AIS track, given a contact 10 s
    # ago, does not take the next one (the dark vessel's), however near it is.
    rows, ais_seqs, dark_seqs = _alongside()
    fuser, chunks = _run(rows)
    placed = {a.seq: a.track for chunk in chunks for a in chunk.associations}
    kinds = {n: info.kind for n, info in fuser.tracks().items()}
    on_ais = {s for s, n in placed.items() if n is not None and kinds.get(n) == TrackKind.AIS}
    dark_tracks = {placed[s] for s in dark_seqs if placed[s] is not None and s not in on_ais}
    assert len(on_ais & ais_seqs) / len(ais_seqs) >= 0.9
    assert len(on_ais & dark_seqs) / len(dark_seqs) <= 0.2  # while the period is learned
    assert len(dark_tracks) == 1
