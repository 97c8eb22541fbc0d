"""Per-track state: identity, extent, the segment's last good fix, retained history."""

from __future__ import annotations

import numpy as np

from .chunk import TrackInfo, TrackKind
from .history import PointBlock, TrackHistory

__all__ = ["Fix", "Track"]


class Fix:
    """A position at a time, with the reported speed and course (NaN when unknown)."""

    __slots__ = ("cog", "lat", "lon", "sog", "t")

    def __init__(self, t: float, lat: float, lon: float, sog: float, cog: float) -> None:
        self.t = t
        self.lat = lat
        self.lon = lon
        self.sog = sog
        self.cog = cog


class Track:
    """One fused track. ``fix`` is the last good fix of its current segment, from which
    the next fix's plausibility is judged; ``segment_fixes`` and ``segment_first_t``
    measure that segment."""

    __slots__ = (
        "first_t",
        "fix",
        "history",
        "id",
        "kind",
        "label_nos",
        "last_lat",
        "last_lon",
        "last_t",
        "linked_from",
        "mmsi",
        "name",
        "number",
        "points",
        "segment_first_t",
        "segment_fixes",
    )

    def __init__(self, number: int, id: str, kind: TrackKind, mmsi: int | None) -> None:
        self.number = number
        self.id = id
        self.kind = kind
        self.mmsi = mmsi
        self.history = TrackHistory()
        self.first_t = float("inf")
        self.last_t = float("-inf")
        self.last_lat = float("nan")
        self.last_lon = float("nan")
        self.points = 0
        self.label_nos: set[int] = set()
        self.name: str | None = None
        self.linked_from: str | None = None
        self.fix: Fix | None = None
        self.segment_fixes = 0
        self.segment_first_t = float("nan")

    def add(self, block: PointBlock, *, in_order: bool = True) -> None:
        """Place points on the track (``in_order``: none older than its newest point)."""
        t = block["t"]
        k = int(t.shape[0])
        if k == 0:
            return
        if in_order:
            self.history.append(block)
        else:
            self.history.insert(block)
        self.points += k
        self.first_t = min(self.first_t, float(t.min()))
        i = int(np.argmax(t))
        if float(t[i]) >= self.last_t:
            self.last_t = float(t[i])
            self.last_lat = float(block["lat"][i])
            self.last_lon = float(block["lon"][i])
        labels = block["label_no"]
        self.label_nos.update(np.unique(labels).tolist())

    def extend(
        self,
        block: PointBlock,
        start: int,
        stop: int,
        first_t: float,
        last_t: float,
        last_lat: float,
        last_lon: float,
    ) -> None:
        """Place ``block[start:stop]`` (time order, after every point of the track) given
        its first and last times and last position; the caller adds the labels."""
        self.history.append_slice(block, start, stop)
        self.points += stop - start
        if first_t < self.first_t:
            self.first_t = first_t
        self.last_t = last_t
        self.last_lat = last_lat
        self.last_lon = last_lon

    def trim(self, history_s: float) -> None:
        """Forget points more than ``history_s`` older than the newest (with a tenth's slack
        so that trimming is rare)."""
        if self.history.first_t < self.last_t - history_s * 1.1:
            self.history.trim(self.last_t - history_s)

    def start_segment(self, fix: Fix, fixes: int = 1, first_t: float | None = None) -> None:
        self.fix = fix
        self.segment_fixes = fixes
        self.segment_first_t = fix.t if first_t is None else first_t

    def info(self) -> TrackInfo:
        return TrackInfo(
            number=self.number,
            id=self.id,
            kind=self.kind,
            mmsi=self.mmsi,
            first_t=self.first_t,
            last_t=self.last_t,
            lat=self.last_lat,
            lon=self.last_lon,
            points=self.points,
            label_nos=frozenset(self.label_nos),
            name=self.name,
            linked_from=self.linked_from,
        )
