"""The fuser as a whole: nothing dropped, garbage counted, memory bounded."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import InputError
from mista.fuse import FuseConfig, Fuser
from mista.fuse.chunk import FusedChunk

from .builders import NO_LAND, T0, feed, numbered, sail

_positions = st.fixed_dictionaries(
    {
        "t": st.floats(T0, T0 + 6 * 3600),
        "mmsi": st.sampled_from([419000001, 419000002, 563000003, 12345]),
        "lat": st.floats(9.0, 11.0),
        "lon": st.floats(69.0, 71.0),
        "speed_kn": st.one_of(st.none(), st.floats(0, 30)),
        "course_deg": st.one_of(st.none(), st.floats(0, 359)),
        "source_kind": st.sampled_from(["ais-terrestrial", "ais-satellite"]),
    }
)
_contacts = st.fixed_dictionaries(
    {
        "t": st.floats(T0, T0 + 6 * 3600),
        "lat": st.floats(9.0, 11.0),
        "lon": st.floats(69.0, 71.0),
        "source_kind": st.just("radar"),
        "receiver": st.sampled_from(["IND-radar-a", "IND-radar-b", None]),
    }
)
_garbage = st.fixed_dictionaries(
    {
        "t": st.one_of(st.none(), st.just(math.nan), st.floats(T0, T0 + 3600)),
        "mmsi": st.one_of(st.none(), st.just(419000001)),
        "lat": st.one_of(st.none(), st.just(math.nan), st.just(91.0), st.floats(9.0, 11.0)),
        "lon": st.one_of(st.none(), st.just(math.inf), st.floats(69.0, 71.0)),
    }
).filter(
    lambda r: (
        r["t"] is None
        or math.isnan(r["t"])
        or r["mmsi"] is None
        or r["lat"] is None
        or r["lon"] is None
        or not (abs(r["lat"]) <= 90 and abs(r["lon"]) <= 180)
    )
)


def _near_copies(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Some rows again, a second later (copies from other receivers)."""
    return [{**r, "t": r["t"] + 1.0} for r in rows[::3]]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    positions=st.lists(_positions, max_size=120),
    contacts=st.lists(_contacts, max_size=60),
    garbage=st.lists(_garbage, max_size=10),
    tracks=st.lists(st.sampled_from([419000001, 419000002, 563000003]), max_size=3),
    cuts=st.lists(st.integers(1, 80), min_size=1, max_size=12),
    shuffle=st.randoms(use_true_random=False),
)
def test_every_position_is_placed_once_and_every_contact_associated_once(
    positions: list[dict[str, Any]],
    contacts: list[dict[str, Any]],
    garbage: list[dict[str, Any]],
    tracks: list[int],
    cuts: list[int],
    shuffle: Any,
) -> None:
    sailed = [r for m in tracks for r in sail(m, count=40, every_s=45)]
    good = numbered(sailed + positions + _near_copies(positions))
    radar = numbered(contacts, first=100_000)
    rows = good + radar + numbered(garbage, first=200_000)
    # Arrival order: mostly in time, with random disorder (some beyond the window).
    rows.sort(
        key=lambda r: (
            (r["t"] if isinstance(r["t"], float) and not math.isnan(r["t"]) else T0)
            + shuffle.uniform(0, 1800)
        )
    )
    fuser = Fuser(FuseConfig(reorder_window_s=600), land=NO_LAND)
    chunks: list[FusedChunk] = []
    start = 0
    for cut in itertools.cycle(cuts):
        if start >= len(rows):
            break
        chunks.append(fuser.push(feed(rows[start : start + cut])))
        start += cut
    chunks.append(fuser.flush())
    position_seqs = [r["seq"] for r in good]
    placed = [s for c in chunks for s in c.points.seq.tolist()]
    contact_seqs = {r["seq"] for r in radar}
    ais_placed = [s for s in placed if s not in contact_seqs]
    assert sorted(ais_placed) == sorted(position_seqs)
    associated = [a.seq for c in chunks for a in c.associations]
    assert sorted(associated) == sorted(contact_seqs)
    assert len(set(placed)) == len(placed)
    assert fuser.skipped == len(garbage)
    for chunk in chunks:
        for number in chunk.points.track.tolist():
            assert fuser.track_info(number) is not None


def test_garbage_rows_are_counted_and_never_stop_the_stream() -> None:
    rows = numbered(
        [
            {"t": None, "mmsi": 419000001, "lat": 10.0, "lon": 70.0},
            {"t": T0, "mmsi": None, "lat": 10.0, "lon": 70.0},
            {"t": T0, "mmsi": 419000001, "lat": math.nan, "lon": 70.0},
            {"t": T0, "mmsi": 419000001, "lat": 91.0, "lon": 181.0},
            {"t": T0, "source_kind": "radar", "lat": None, "lon": 70.0},
            {"t": T0, "mmsi": 4190001, "lat": 10.0, "lon": 70.0, "msg_type": 4},  # base station
            {"t": T0 + 1, "mmsi": 419000001, "lat": 10.0, "lon": 70.0},
        ]
    )
    fuser = Fuser(land=NO_LAND)
    fuser.push(feed(rows))
    chunk = fuser.flush()
    assert chunk.points.seq.tolist() == [7]
    assert fuser.skipped == 5
    assert fuser.not_vessel == 1


def test_an_empty_table_and_a_table_without_feed_columns() -> None:
    fuser = Fuser(land=NO_LAND)
    assert len(fuser.push(feed([])).points) == 0
    assert fuser.flush().watermark == -math.inf
    with pytest.raises(InputError, match="observed_at"):
        fuser.push(pa.table({"seq": [1], "mmsi": [1]}))


def test_silent_tracks_are_evicted_and_history_is_bounded() -> None:
    config = FuseConfig(history_s=1800, retire_after_s=3600)
    brief = sail(419000001, count=30, every_s=60)
    long = sail(419000002, count=5 * 60, every_s=60, lat=11.0)
    rows = numbered(sorted(brief + long, key=lambda r: r["t"]))
    fuser = Fuser(config, land=NO_LAND)
    numbers: dict[int, int] = {}
    for k in range(0, len(rows), 40):
        chunk = fuser.push(feed(rows[k : k + 40]))
        numbers.update({info.mmsi or 0: n for n, info in chunk.tracks.items()})
    fuser.flush()
    assert fuser.track_info(numbers[419000001]) is None
    assert len(fuser.history(numbers[419000001], 0.0)) == 0
    assert [info.mmsi for info in fuser.tracks().values()] == [419000002]
    history = fuser.history(numbers[419000002], 0.0)
    assert history.t[-1] - history.t[0] <= 1.1 * 1800 + 600
    assert fuser.track_info(numbers[419000002]).points == 300  # type: ignore[union-attr]


def test_a_track_placed_and_evicted_in_one_push_is_still_described() -> None:
    fuser = Fuser(FuseConfig(retire_after_s=3600), land=NO_LAND)
    fuser.push(feed(numbered(sail(419000001, count=5))))
    days_later = sail(419000002, count=3, start_t=T0 + 4 * 86400, lat=11.0)
    chunk = fuser.push(feed(numbered(days_later, first=10)))
    assert set(chunk.points.track.tolist()) <= set(chunk.tracks)
    assert {i.mmsi for i in chunk.tracks.values()} == {419000001}
