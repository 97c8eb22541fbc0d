"""Radar tracklets: ships alongside told apart by their report times and history; the
assignment never gives one contact two tracks or one track two contacts of a scan; the
report period is learned; per-radar sigmas."""

from __future__ import annotations

import math
import pickle
from collections import Counter, defaultdict
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import ConfigError
from mista.fuse import FuseConfig, Fuser
from mista.fuse.chunk import FusedChunk, SourceCode, TrackKind
from mista.fuse.radar_tracklet import RadarState, Tracklet

from .builders import KNOT_M_S, M_PER_DEG, NO_LAND, T0, feed

RADAR = "IND-radar-pair"
CENTRE = (12.0, 72.0)
COSLAT = math.cos(math.radians(CENTRE[0]))


def _contact(seq: int, t: float, north: float, east: float) -> dict[str, Any]:
    return {
        "seq": seq,
        "t": T0 + t,
        "lat": CENTRE[0] + north / M_PER_DEG,
        "lon": CENTRE[1] + east / (M_PER_DEG * COSLAT),
        "source_kind": "radar",
        "receiver": RADAR,
        "label_no": 2,
    }


def _ais(mmsi: int, t: float, north: float, east: float, speed_kn: float) -> dict[str, Any]:
    return {
        "t": T0 + t,
        "mmsi": mmsi,
        "lat": CENTRE[0] + north / M_PER_DEG,
        "lon": CENTRE[1] + east / (M_PER_DEG * COSLAT),
        "speed_kn": speed_kn,
        "course_deg": 0.0,
    }


def _pair(
    seed: int, *, apart_m: float, sigma_m: float, dark_second: bool, minutes: int = 120
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Two ships ``apart_m`` abeam at 6 kn north, reported by a radar every 40 s (the
    first at 0 s, the second at 20 s, 90 % detection, error ``sigma_m``), and eight lone
    AIS ships 4-32 km east that the radar also reports (from which it learns its
    period). Ship 1 transmits AIS unless ``dark_second``. Returns rows and, per contact
    seq, the ship (0, 1, or 2 + lone ship)."""
    rng = np.random.default_rng(seed)
    speed = 6 * KNOT_M_S
    rows: list[dict[str, Any]] = []
    truth: dict[int, int] = {}
    seq = 1_000_000
    easts = [0.0, apart_m, *(4000.0 * k for k in range(1, 9))]
    for step in range(minutes * 6):
        t = 10.0 * step
        north = speed * t
        for ship, east in enumerate(easts):
            if ship == 1 and dark_second:
                continue
            rows.append(_ais(419_000_000 + ship, t, north, east, 6.0))
        if step % 2:
            continue
        slot = (step // 2) % 2  # a 40 s period: ship 1 at 20 s, the others at 0 s
        for ship, east in enumerate(easts):
            if (ship == 1) != (slot == 1) or rng.random() > 0.9:
                continue
            noise = rng.normal(0, sigma_m, 2)
            seq += 1
            truth[seq] = ship
            rows.append(_contact(seq, t, north + noise[0], east + noise[1]))
    _in_time_order(rows)
    return rows, truth


def _in_time_order(rows: list[dict[str, Any]]) -> None:
    """Sort contacts by time and number those without a seq in that order."""
    rows.sort(key=lambda r: r["t"])
    for n, row in enumerate(rows):
        row.setdefault("seq", n + 1)


def _run(
    rows: list[dict[str, Any]], config: FuseConfig | None = None
) -> tuple[Fuser, list[FusedChunk]]:
    fuser = Fuser(config, land=NO_LAND) if config is not None else Fuser(land=NO_LAND)
    chunks = [fuser.push(feed(rows[k : k + 400])) for k in range(0, len(rows), 400)]
    chunks.append(fuser.flush())
    return fuser, chunks


def _placed(chunks: list[FusedChunk]) -> dict[int, int | None]:
    """Each contact's track: its association, or the dark track it was placed on."""
    out: dict[int, int | None] = {}
    for chunk in chunks:
        for a in chunk.associations:
            out[a.seq] = a.track
    for chunk in chunks:
        radar = chunk.points.source == SourceCode.RADAR
        for seq, track in zip(
            chunk.points.seq[radar].tolist(), chunk.points.track[radar].tolist(), strict=True
        ):
            out[seq] = track
    return out


def test_two_ais_ships_ninety_metres_apart_keep_their_own_contacts() -> None:
    # Contact by contact, 90 m apart with 100 m errors, about a third would go to the
    # other ship; reported 20 s apart in a 40 s period, the chains do not mix once the
    # period is learned (counted from 15 minutes on).
    rows, truth = _pair(11, apart_m=90.0, sigma_m=100.0, dark_second=False)
    fuser, chunks = _run(rows)
    placed = _placed(chunks)
    mmsi = {n: info.mmsi for n, info in fuser.tracks().items()}
    times = {r["seq"]: r["t"] for r in rows}
    for ship in (0, 1):
        seqs = [s for s, v in truth.items() if v == ship and times[s] >= T0 + 900]
        right = sum(mmsi.get(placed[s]) == 419_000_000 + ship for s in seqs)  # type: ignore[arg-type]
        assert right / len(seqs) >= 0.95, (ship, right, len(seqs))


def test_a_dark_ship_ninety_metres_from_an_ais_ship_is_a_dark_track() -> None:
    rows, truth = _pair(12, apart_m=90.0, sigma_m=100.0, dark_second=True)
    fuser, chunks = _run(rows)
    placed = _placed(chunks)
    infos = fuser.tracks()
    times = {r["seq"]: r["t"] for r in rows}
    ais_seqs = [s for s, v in truth.items() if v == 0 and times[s] >= T0 + 900]
    dark_seqs = [s for s, v in truth.items() if v == 1 and times[s] >= T0 + 900]
    on_own = sum(placed[s] is not None and infos[placed[s]].mmsi == 419_000_000 for s in ais_seqs)  # type: ignore[index]
    assert on_own / len(ais_seqs) >= 0.95
    dark_tracks = Counter(
        placed[s]
        for s in dark_seqs
        if placed[s] is not None and infos[placed[s]].kind == TrackKind.DARK  # type: ignore[index]
    )
    assert len(dark_tracks) == 1
    (count,) = dark_tracks.values()
    assert count / len(dark_seqs) >= 0.9


@st.composite
def _crowd(draw: st.DrawFn) -> list[dict[str, Any]]:
    """AIS ships and contacts in a few kilometres, several per scan, some from no ship."""
    ships = draw(st.integers(1, 6))
    scans = draw(st.integers(5, 40))
    period = draw(st.sampled_from([10.0, 12.0, 30.0]))
    rows: list[dict[str, Any]] = []
    start = [(draw(st.floats(-2000, 2000)), draw(st.floats(-2000, 2000))) for _ in range(ships)]
    speeds = [draw(st.floats(0, 15)) for _ in range(ships)]
    for k in range(int(scans * period / 10) + 1):
        t = 10.0 * k
        for ship, (north, east) in enumerate(start):
            rows.append(
                _ais(419_100_000 + ship, t, north + speeds[ship] * KNOT_M_S * t, east, speeds[ship])
            )
    seq = 2_000_000
    for scan in range(scans):
        t = scan * period + draw(st.sampled_from([0.0, 0.5]))
        for _ in range(draw(st.integers(0, ships + 2))):
            seq += 1
            rows.append(
                _contact(seq, t, draw(st.floats(-3000, 3000)), draw(st.floats(-3000, 3000)))
            )
        for ship, (north, east) in enumerate(start):
            if draw(st.booleans()):
                seq += 1
                moved = north + speeds[ship] * KNOT_M_S * t
                rows.append(_contact(seq, t, moved + draw(st.floats(-150, 150)), east))
    _in_time_order(rows)
    return rows


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_crowd())
def test_no_contact_on_two_tracks_and_no_track_twice_in_a_scan(rows: list[dict[str, Any]]) -> None:
    fuser, chunks = _run(rows, FuseConfig(reorder_window_s=60.0))
    contacts = {r["seq"]: r["t"] for r in rows if r.get("source_kind") == "radar"}
    associated: dict[int, int | None] = {}
    for chunk in chunks:
        for a in chunk.associations:
            assert a.seq not in associated, "a contact associated twice"
            associated[a.seq] = a.track
    assert set(associated) == set(contacts)
    # A contact placed on a dark track is on that one track only.
    on_dark: dict[int, int] = {}
    for chunk in chunks:
        radar = chunk.points.source == SourceCode.RADAR
        for seq, track in zip(
            chunk.points.seq[radar].tolist(), chunk.points.track[radar].tolist(), strict=True
        ):
            assert on_dark.setdefault(seq, track) == track
            assert associated[seq] in (None, track)
    # One track, one contact per scan (contacts within a second of each other).
    by_scan: dict[tuple[int, float], list[int]] = defaultdict(list)
    for seq, track in associated.items():
        track = on_dark.get(seq, track)
        if track is not None:
            by_scan[(track, round(contacts[seq]))].append(seq)
    assert all(len(seqs) == 1 for seqs in by_scan.values()), by_scan
    kinds = {info.kind for info in fuser.tracks().values()}
    assert kinds <= {TrackKind.AIS, TrackKind.DARK}


def test_the_report_period_is_learned_despite_misses_and_neighbours() -> None:
    state = RadarState()
    rng = np.random.default_rng(3)
    for k in range(400):
        t = 42.5 * k
        for track in range(5):
            if rng.random() < 0.8:  # a missed report makes a gap of two periods
                state.learn_period(track, t + 8.5 * track, scan_s=1.0)
        if k % 4 == 0:  # a neighbour's contacts near track 0, 17 s after its own
            state.learn_period(0, t + 17.0, scan_s=1.0)
    assert state.period == pytest.approx(42.5, abs=0.3)


def test_each_radar_has_its_own_sigma_and_bad_entries_are_refused() -> None:
    config = FuseConfig(radar_sigmas_m=(("IND-radar-a", 60.0),))
    assert config.radar_sigma("IND-radar-a") == 60.0
    assert config.radar_sigma("IND-radar-b") == config.radar_sigma_m
    for bad in ((("IND-radar-a", 0.0),), (("IND-radar-a",),), ((3, 50.0),)):
        with pytest.raises(ConfigError, match="radar_sigmas_m"):
            FuseConfig(radar_sigmas_m=bad)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="radar_memory_contacts"):
        FuseConfig(radar_memory_contacts=0.5)


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(1.0, 120.0),
            st.floats(-0.01, 0.01),
            st.floats(-0.01, 0.01),
            st.sampled_from([-1, -1, -1, 7]),
        ),
        min_size=3,
        max_size=300,
    )
)
def test_a_free_tracklet_predicts_on_the_least_squares_line_of_its_last_contacts(
    steps: list[tuple[float, float, float, int]],
) -> None:
    # Whether or not it followed an AIS track (``ais``) on the way.
    tracklet = Tracklet()
    t, lat, lon = 1.767e9, 10.0, 179.99
    times, lats, lons = [], [], []
    for dt, dlat, dlon, ais in steps:
        t, lat, lon = t + dt, lat + dlat, lon + dlon
        tracklet.ais = ais
        tracklet.add(t, lat, lon, 16)
        times.append(t)
        lats.append(lat)
        lons.append(lon)
    tracklet.ais = -1
    kept = slice(-16, None)
    x = np.asarray(times[kept]) - times[-1]
    when = t + 40.0
    plat, plon, radius = tracklet.predict(when, 100.0, FuseConfig())
    if x[-1] - x[0] < 30.0:
        assert (plat, plon) == (lat, lon)
        return
    expect_lat = np.polyval(np.polyfit(x, lats[kept], 1), 40.0)
    expect_lon = np.polyval(np.polyfit(x, lons[kept], 1), 40.0)
    assert plat == pytest.approx(expect_lat, abs=1e-7)
    assert plon == pytest.approx(expect_lon, abs=1e-7)
    assert radius > 0


def test_a_fuser_pickled_mid_stream_associates_the_rest_as_the_one_that_was_not() -> None:
    # The tracklets, scores, report periods and pending dark contacts are compiled state:
    # a checkpoint must carry all of it.
    rows, _ = _pair(13, apart_m=90.0, sigma_m=100.0, dark_second=True, minutes=60)
    parts = [feed(rows[k : k + 400]) for k in range(0, len(rows), 400)]
    fuser = Fuser(land=NO_LAND)
    for part in parts[: len(parts) // 2]:
        fuser.push(part)
    restored = pickle.loads(pickle.dumps(fuser))
    outputs = []
    for one in (fuser, restored):
        chunks = [one.push(part) for part in parts[len(parts) // 2 :]] + [one.flush()]
        outputs.append(
            (
                [(a.seq, a.t, a.track, a.distance_m) for c in chunks for a in c.associations],
                [(c.points.seq.tolist(), c.points.track.tolist()) for c in chunks],
            )
        )
    assert outputs[0][0], "no contacts after the checkpoint"
    assert any(a[2] is not None for a in outputs[0][0])
    assert outputs[0] == outputs[1]


def test_a_tracklet_pickles_with_its_contacts_and_scores() -> None:
    tracklet = Tracklet()
    for k in range(60):  # more than radar_fit_contacts: the oldest are dropped
        tracklet.add(T0 + 10.0 * k, 12.0 + 1e-4 * k, 72.0 + 2e-4 * k, 48)
    tracklet.ais = 419_000_001
    restored = pickle.loads(pickle.dumps(tracklet))
    assert len(restored.kept) == 48
    assert restored.kept == tracklet.kept
    assert restored.ais == tracklet.ais
    config = FuseConfig()
    assert restored.predict(T0 + 700.0, 100.0, config) == tracklet.predict(
        T0 + 700.0, 100.0, config
    )


def test_a_radar_with_two_hundred_targets_in_a_scan_gives_each_its_own_contacts() -> None:
    # Far more contacts per scan than the per-scan buffers start with, and conflicts
    # checked over a set: 200 AIS ships 1.5 km apart, all reported in each 30 s scan.
    rng = np.random.default_rng(5)
    grid = [(1500.0 * (k // 20), 1500.0 * (k % 20)) for k in range(200)]
    rows: list[dict[str, Any]] = []
    truth: dict[int, int] = {}
    seq = 3_000_000
    for step in range(20):
        t = 30.0 * step
        for ship, (north, east) in enumerate(grid):
            rows.append(_ais(419_200_000 + ship, t, north + 2.0 * t, east, 3.9))
            seq += 1
            truth[seq] = 419_200_000 + ship
            noise = rng.normal(0, 50.0, 2)
            rows.append(_contact(seq, t + 0.2, north + 2.0 * t + noise[0], east + noise[1]))
    _in_time_order(rows)
    fuser, chunks = _run(rows)
    placed = _placed(chunks)
    mmsi = {n: info.mmsi for n, info in fuser.tracks().items()}
    right = sum(mmsi.get(placed[s]) == ship for s, ship in truth.items())  # type: ignore[arg-type]
    assert right / len(truth) >= 0.95, right


def _moored_then_crossed(seed: int) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """Dark ship A moored at the origin gets under way south at 6 kn at 40 min; dark ship
    B, westbound at 8 kn on a line 600 m south, is last reported 2 min before that (it
    went on out of the radar's sight) and would have crossed A's way 4 min after A left.
    Both are reported in the same slot of a 40 s period (95 %), as are eight moored AIS
    ships east of them (from which the radar learns its period). Returns rows and each
    contact's ship ("A" or "B"; the AIS ships' are left out)."""
    rng = np.random.default_rng(seed)
    a_starts, b_silent, crosses = 2400.0, 2280.0, 2640.0
    rows: list[dict[str, Any]] = []
    truth: dict[int, str] = {}
    seq = 4_000_000
    for step in range(90 * 6):
        t = 10.0 * step
        moored = [(0.0, 6000.0 + 4000.0 * k) for k in range(8)]
        rows += [_ais(419_300_000 + k, t, n, e, 0.0) for k, (n, e) in enumerate(moored)]
        if step % 4:
            continue
        ships = [(None, n, e) for n, e in moored]
        ships.append(("A", -6 * KNOT_M_S * max(0.0, t - a_starts), 0.0))
        if t < b_silent:
            ships.append(("B", -600.0, 8 * KNOT_M_S * (crosses - t)))
        for ship, north, east in ships:
            if rng.random() > 0.95:
                continue
            noise = rng.normal(0, 60.0, 2)
            seq += 1
            if ship is not None:
                truth[seq] = ship
            rows.append(_contact(seq, t, north + noise[0], east + noise[1]))
    _in_time_order(rows)
    return rows, truth


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_line_extrapolated_through_silence_does_not_take_a_ship_getting_under_way(
    seed: int,
) -> None:
    # B's tracklet, silent for minutes, still extrapolates its line towards where A is
    # going, and a ship getting under way leaves its own (moored) line behind: without a
    # cost per missed report, some of A's contacts are taken by B's silent line (Ishigaki).
    rows, truth = _moored_then_crossed(seed)
    for config, taken in (
        (FuseConfig(), 0),
        (FuseConfig(radar_missed_report_cost=0.0, radar_new_tracklet_cost=1e9), None),
    ):
        _, chunks = _run(rows, config)
        placed = _placed(chunks)
        (b_track, _), *_ = Counter(placed[s] for s, v in truth.items() if v == "B").most_common()
        assert b_track is not None
        on_b = sum(placed[s] == b_track for s, v in truth.items() if v == "A")
        if taken is None:
            assert on_b > 0  # the case is one the cost decides
        else:
            assert on_b == taken
