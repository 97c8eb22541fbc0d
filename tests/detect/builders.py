"""Readable builders for detector tests: tracks of points, a small real history, chunks.

``Memory`` is a real ``History``: it holds each track's points as the fuser would, and
``feed`` pushes points through a detector chunk by chunk, the way the pipeline does.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import shapely

from mista.detect._common import concat
from mista.detect.base import AlertDraft, Detector
from mista.detect.config import DetectConfig
from mista.detect.statics import StaticLog
from mista.detect.transmitters import SecondTransmitters
from mista.fuse.chunk import FusedChunk, IdentityEvent, TrackInfo, TrackKind, TrackPoints
from mista.fuse.feed import StaticRows
from mista.geo import LandMask, Ports, Zone, Zones
from mista.labels import Label, Level
from mista.model import AlertStatus

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
MINUTE = 60.0
HOUR = 3600.0
M_PER_DEG = 111_195.0

#: Open sea far from any land or port of the test geography (below).
SEA = (10.0, 80.0)


@cache
def island_land() -> LandMask:
    """One island, 1 degree square, at lat 0..1, lon 70..71."""
    return LandMask([shapely.box(70.0, 0.0, 71.0, 1.0)])


@cache
def island_ports() -> Ports:
    """One port on the island's east shore, one far away."""
    return Ports(["Islandport", "Farport"], [71.0, 100.0], [0.5, -30.0])


@cache
def box_zones() -> Zones:
    """One square zone at lat 5..6, lon 75..76."""
    label = Label(Level.RESTRICTED, "IND", frozenset({"IND"}))
    return Zones([Zone("box", "The box", label, shapely.box(75.0, 5.0, 76.0, 6.0))])


def settings(config: DetectConfig | None = None) -> dict[str, object]:
    return {
        "config": config or DetectConfig(),
        "land": island_land(),
        "ports": island_ports(),
        "zones": box_zones(),
        "statics": StaticLog(),
        "second_transmitters": SecondTransmitters(),
    }


def static_rows(
    rows: Sequence[tuple[float, int, str | None, str | None, int]], label_no: int = 1
) -> StaticRows:
    """Static reports (type 5): ``(t, mmsi, name, call sign, IMO)`` each."""
    n = len(rows)
    return StaticRows(
        seq=np.arange(n, dtype=np.int64),
        t=np.array([r[0] for r in rows], np.float64),
        mmsi=np.array([r[1] for r in rows], np.int64),
        msg_type=np.full(n, 5, np.int64),
        lat=np.full(n, np.nan),
        lon=np.full(n, np.nan),
        label_no=np.full(n, label_no, np.int32),
        imo=np.array([r[4] for r in rows], np.int64),
        name=np.array([r[2] for r in rows], object),
        callsign=np.array([r[3] for r in rows], object),
    )


def north_of(lat: float, metres: float) -> float:
    return lat + metres / M_PER_DEG


def east_of(lat: float, lon: float, metres: float) -> float:
    return lon + metres / (M_PER_DEG * math.cos(math.radians(lat)))


def track(
    number: int,
    t: Sequence[float] | np.ndarray,
    lat: float | Sequence[float] | np.ndarray,
    lon: float | Sequence[float] | np.ndarray,
    *,
    sog: float | Sequence[float] | np.ndarray = 0.5,
    cog: float | Sequence[float] | np.ndarray = 90.0,
    flags: int | Sequence[int] | np.ndarray = 0,
    label_no: int = 1,
    seq_from: int | None = None,
) -> TrackPoints:
    """Points of one track at times ``t``; scalars are repeated."""
    times = np.asarray(t, np.float64)
    n = times.shape[0]

    def col(value: object, dtype: type) -> np.ndarray:
        return np.broadcast_to(np.asarray(value, dtype), (n,)).copy()

    first = seq_from if seq_from is not None else number * 1_000_000
    return TrackPoints(
        track=np.full(n, number, np.int64),
        seq=np.arange(first, first + n, dtype=np.int64),
        t=times,
        lat=col(lat, np.float64),
        lon=col(lon, np.float64),
        sog=col(sog, np.float64),
        cog=col(cog, np.float64),
        mmsi=np.full(n, 419_000_000 + number, np.int64),
        label_no=np.full(n, label_no, np.int32),
        source=np.zeros(n, np.uint8),
        flags=col(flags, np.uint16),
    )


def minutes(start_h: float, end_h: float, step_s: float = MINUTE) -> np.ndarray:
    """Times every ``step_s`` from ``start_h`` to ``end_h`` hours after T0 (inclusive)."""
    return T0 + np.arange(start_h * HOUR, end_h * HOUR + step_s / 2, step_s)


def by_track_and_time(points: TrackPoints) -> TrackPoints:
    return points.take(np.lexsort((points.t, points.track)))


@dataclass
class Memory:
    """A real ``History``: every point ever pushed, per track."""

    points: dict[int, TrackPoints] = field(default_factory=dict)
    kinds: dict[int, TrackKind] = field(default_factory=dict)

    def add(self, points: TrackPoints) -> None:
        for number in np.unique(points.track).tolist():
            mine = points.take(points.track == number)
            merged = concat([self.points.get(number, TrackPoints.empty()), mine])
            self.points[number] = merged.take(np.argsort(merged.t, kind="stable"))

    def history(self, track: int, since: float) -> TrackPoints:
        points = self.points.get(track, TrackPoints.empty())
        return points.take(points.t >= since)

    def histories(self, wanted: Iterable[tuple[int, float]]) -> TrackPoints:
        return concat([self.history(track, since) for track, since in wanted])

    def track_info(self, track: int) -> TrackInfo | None:
        points = self.points.get(track)
        if points is None or len(points) == 0:
            return None
        kind = self.kinds.get(track, TrackKind.AIS)
        return TrackInfo(
            number=track,
            id=f"{kind}:{track}",
            kind=kind,
            mmsi=int(points.mmsi[0]) if kind == TrackKind.AIS else None,
            first_t=float(points.t[0]),
            last_t=float(points.t[-1]),
            lat=float(points.lat[-1]),
            lon=float(points.lon[-1]),
            points=len(points),
            label_nos=frozenset(points.label_no.tolist()),
        )

    def infos(self, numbers: Iterable[int]) -> dict[int, TrackInfo]:
        found = {n: self.track_info(n) for n in numbers}
        return {n: info for n, info in found.items() if info is not None}


def feed(
    detector: Detector,
    points: TrackPoints | Sequence[TrackPoints],
    *,
    memory: Memory | None = None,
    chunk_s: float = 600.0,
    finish: bool = True,
    identity: Sequence[IdentityEvent] = (),
) -> list[AlertDraft]:
    """Push ``points`` through ``detector`` in chunks of ``chunk_s`` of stream time (the
    watermark is each chunk's end), then finish; every draft emitted, in order."""
    memory = memory if memory is not None else Memory()
    if not isinstance(points, TrackPoints):
        points = concat(list(points))
    out: list[AlertDraft] = []
    if len(points) == 0:
        return out
    start = math.floor(points.t.min() / chunk_s) * chunk_s
    end = points.t.max()
    edge = start
    events = list(identity)
    while edge <= end:
        here = points.take((points.t >= edge) & (points.t < edge + chunk_s))
        here = by_track_and_time(here)
        memory.add(here)
        now = [e for e in events if edge <= e.t < edge + chunk_s]
        chunk = FusedChunk(
            watermark=edge + chunk_s,
            points=here,
            tracks=memory.infos(np.unique(here.track).tolist()),
            identity=now,
        )
        out += detector.update(chunk, memory)
        edge += chunk_s
    if finish:
        out += detector.finish(edge, memory)
    return out


def push(
    detector: Detector,
    memory: Memory,
    points: TrackPoints,
    watermark: float,
    *,
    revised: dict[int, float] | None = None,
) -> list[AlertDraft]:
    """One chunk (late data: pass ``revised``)."""
    points = by_track_and_time(points)
    memory.add(points)
    chunk = FusedChunk(
        watermark=watermark,
        points=points,
        tracks=memory.infos(np.unique(points.track).tolist()),
        revised=revised or {},
    )
    return detector.update(chunk, memory)


def final(drafts: Iterable[AlertDraft]) -> dict[tuple[object, ...], AlertDraft]:
    """The last state of each alert, by key."""
    last: dict[tuple[object, ...], AlertDraft] = {}
    for draft in drafts:
        last[draft.key] = draft
    return last


def standing(drafts: Iterable[AlertDraft], kind: str | None = None) -> list[AlertDraft]:
    """Alerts whose last state is not withdrawn."""
    return [
        d
        for d in final(drafts).values()
        if d.status != AlertStatus.WITHDRAWN and (kind is None or d.kind == kind)
    ]
