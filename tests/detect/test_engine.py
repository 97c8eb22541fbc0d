"""Detection: every registered detector, run together over one stream."""

from __future__ import annotations

import json

import numpy as np

import mista.detect as detect
from mista.detect import REGISTRY, DetectConfig, Detection
from mista.fuse.chunk import FusedChunk, PointFlag, TrackPoints
from mista.model import AlertStatus
from tests.detect.builders import (
    SEA,
    T0,
    Memory,
    box_zones,
    east_of,
    feed,
    island_land,
    island_ports,
    minutes,
    north_of,
    standing,
    track,
)

CONTRACT_KINDS = {
    "ais-gap",
    "encounter",
    "loitering",
    "port-visit",
    "spoofing",
    "zone-entry",
    "dark-vessel",
    "close-approach",
    "identity-change",
    "shared-mmsi",
}


def detection() -> Detection:
    return Detection(DetectConfig(), land=island_land(), ports=island_ports(), zones=box_zones())


def test_every_contract_kind_is_registered_and_built() -> None:
    assert set(REGISTRY) == CONTRACT_KINDS
    assert set(detection().detectors) == CONTRACT_KINDS
    assert all(d.kind == kind for kind, d in detection().detectors.items())
    assert sorted(detect.__all__) == sorted(set(detect.__all__))


def test_an_empty_chunk_raises_nothing() -> None:
    chunk = FusedChunk(watermark=T0, points=TrackPoints.empty())
    assert detection().update(chunk, Memory()) == []
    assert detection().finish(T0, Memory()) == []


def test_a_mixed_stream_gives_each_behaviour_with_its_evidence() -> None:
    lat, lon = SEA
    t = minutes(0, 3)
    far = east_of(0.5, 71.0, 60_000.0)  # 60 km east of the island: loitering waters
    streams = [
        track(1, t, 0.5, far, label_no=1),  # loiters, and meets track 2
        track(2, t, north_of(0.5, 200.0), far, label_no=2),
        track(3, t[t < T0 + 3600], lat, lon, sog=10.0, label_no=3),  # then a long silence
        track(3, [T0 + 14 * 3600], lat, lon, sog=10.0, label_no=3, seq_from=9),
        # heard 11 km from track 3 all round it, all along: track 3 would have been heard too
        *[
            track(6 + k, T0 + np.arange(0, 14 * 3600, 600.0), lat + north, lon + east, label_no=6)
            for k, (north, east) in enumerate(((0.1, 0.0), (0.0, 0.1), (-0.1, 0.0), (0.0, -0.1)))
        ],
        # inland on the island, then at sea 60 km away a minute later: a jump
        track(4, t[:6], 0.5, 70.5, sog=8.0, flags=int(PointFlag.ON_LAND), label_no=4),
        track(4, t[6:7], 0.5, 69.95, sog=8.0, label_no=4, seq_from=4_000_006),
        track(5, t[:20], 5.5, 75.5, sog=8.0, label_no=5),  # in the zone
    ]
    drafts = feed(detection(), streams)
    kinds = {d.kind for d in standing(drafts)}
    assert {"loitering", "encounter", "ais-gap", "spoofing", "zone-entry"} <= kinds
    for draft in drafts:
        assert draft.kind in CONTRACT_KINDS
        assert draft.tracks
        assert draft.label_nos
        assert draft.end >= draft.start
        assert isinstance(draft.status, AlertStatus)
        json.dumps(dict(draft.evidence), allow_nan=False)
        assert len(draft.evidence.get("report_seqs", [])) <= 20
    [zone] = [d for d in standing(drafts) if d.kind == "zone-entry"]
    assert zone.evidence["zone"] == "box"
    assert zone.label_nos == frozenset({5})
    assert np.isfinite([zone.lat, zone.lon]).all()
