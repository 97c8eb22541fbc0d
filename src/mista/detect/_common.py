"""What every detector shares: the ledger of emitted drafts, draft building, point helpers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from mista.detect.base import AlertDraft, History
from mista.detect.config import DetectConfig
from mista.fuse.chunk import TrackPoints
from mista.model import AlertStatus

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Key = tuple[Any, ...]

#: Evidence lists at most this many report seqs.
MAX_SEQS = 20
KNOT_M_S = 1852.0 / 3600.0
EARTH_RADIUS_M = 6_371_008.8

_T = TypeVar("_T")
_FIELDS = tuple(f.name for f in fields(TrackPoints))


def setting(settings: Mapping[str, Any], name: str, kind: type[_T]) -> _T:
    """One entry of the mapping ``Detection`` hands each detector factory."""
    value = settings.get(name)
    if not isinstance(value, kind):
        raise TypeError(f"detector setting {name!r} must be a {kind.__name__}, not {value!r}")
    return value


def config_of(settings: Mapping[str, Any]) -> DetectConfig:
    return setting(settings, "config", DetectConfig)


def track_id(history: History, number: int) -> str:
    info = history.track_info(number)
    return info.id if info is not None else f"track:{number}"


def track_mmsi(history: History, number: int) -> int | None:
    info = history.track_info(number)
    return info.mmsi if info is not None else None


#: Settled alerts (closed or withdrawn) that ended this long before the newest one a
#: ledger recorded are forgotten: no late data re-reads that far back (a track's history
#: and the fuser's retirement of silent tracks are shorter), and memory must stay bounded
#: by active vessels, not by history.
SETTLED_KEPT_S = 48 * 3600.0


class Ledger:
    """The last draft emitted under each key, so only changes are emitted again, and the
    keys each track is part of, so late data can revise or withdraw them."""

    def __init__(self) -> None:
        self._last: dict[Key, AlertDraft] = {}
        self._by_track: dict[int, set[Key]] = {}
        self.touched: set[Key] | None = None  # keys emitted (changed or not) while set
        self._newest_end = -math.inf
        self._pruned_at = -math.inf

    def emit(self, draft: AlertDraft, tracks: Iterable[int]) -> AlertDraft | None:
        """Record ``draft``; return it when it differs from the last one under its key."""
        if self.touched is not None:
            self.touched.add(draft.key)
        for track in tracks:
            self._by_track.setdefault(track, set()).add(draft.key)
        if self._last.get(draft.key) == draft:
            return None
        self._last[draft.key] = draft
        if draft.end > self._newest_end:
            self._newest_end = draft.end
            if draft.end - self._pruned_at >= 3600.0:  # hourly, in stream time
                self._prune(draft.end - SETTLED_KEPT_S)
        return draft

    def _prune(self, horizon: float) -> None:
        self._pruned_at = self._newest_end
        old = {
            key
            for key, draft in self._last.items()
            if draft.end < horizon and draft.status != AlertStatus.OPEN
        }
        if not old:
            return
        for key in old:
            del self._last[key]
        for track in list(self._by_track):
            keys = self._by_track[track] - old
            if keys:
                self._by_track[track] = keys
            else:
                del self._by_track[track]

    def get(self, key: Key) -> AlertDraft | None:
        return self._last.get(key)

    def of_track(self, track: int) -> list[AlertDraft]:
        """The track's alerts that stand (not withdrawn), oldest first."""
        keys = self._by_track.get(track)
        if not keys:  # most tracks (asked about for each revised track by each detector)
            return []
        drafts = [self._last[key] for key in keys]
        return sorted(
            (d for d in drafts if d.status != AlertStatus.WITHDRAWN), key=lambda d: d.start
        )

    def withdraw(self, key: Key) -> AlertDraft | None:
        last = self._last.get(key)
        if last is None or last.status == AlertStatus.WITHDRAWN:
            return None
        draft = _replace_status(last, AlertStatus.WITHDRAWN)
        self._last[key] = draft
        return draft


def _replace_status(draft: AlertDraft, status: AlertStatus) -> AlertDraft:
    return AlertDraft(
        kind=draft.kind,
        key=draft.key,
        status=status,
        start=draft.start,
        end=draft.end,
        lat=draft.lat,
        lon=draft.lon,
        tracks=draft.tracks,
        mmsis=draft.mmsis,
        label_nos=draft.label_nos,
        evidence=draft.evidence,
    )


def reach_back(since: float, stands: Sequence[AlertDraft]) -> float:
    """The earliest time to re-read a track from so that no standing alert that could be
    touched by a change at ``since`` is cut in two."""
    moved = True
    while moved:
        moved = False
        for draft in stands:
            if draft.start < since <= max(draft.end, draft.start) or (
                draft.status == AlertStatus.OPEN and draft.start < since
            ):
                since = draft.start
                moved = True
    return since


@dataclass(slots=True)
class Evidence:
    """Labels and report seqs a span of points rests on."""

    label_nos: set[int] = field(default_factory=set)
    seqs: list[int] = field(default_factory=list)

    def add(self, points: TrackPoints, index: npt.NDArray[np.intp] | slice) -> None:
        labels = points.label_no[index]
        if labels.shape[0]:
            self.label_nos.update(np.unique(labels).tolist())
        room = MAX_SEQS - len(self.seqs)
        if room > 0:
            self.seqs.extend(points.seq[index][:room].tolist())

    def add_one(self, label_no: int, seq: int) -> None:
        self.label_nos.add(label_no)
        if len(self.seqs) < MAX_SEQS:
            self.seqs.append(seq)


def track_starts(track: I64) -> npt.NDArray[np.intp]:
    """Index of the first row of each track (rows sorted by track)."""
    if track.shape[0] == 0:
        return np.empty(0, np.intp)
    starts: npt.NDArray[np.intp] = np.flatnonzero(np.r_[True, track[1:] != track[:-1]])
    return starts


def speed_kn(points: TrackPoints) -> F64:
    """Reported speed, or where it is unknown (radar) the speed implied by the previous
    point of the same track."""
    speed = points.sog.copy()
    unknown = ~np.isfinite(speed)
    if unknown.any() and len(points) > 1:
        same = points.track[1:] == points.track[:-1]
        dt = points.t[1:] - points.t[:-1]
        metres = flat_distance_m(points.lat[:-1], points.lon[:-1], points.lat[1:], points.lon[1:])
        with np.errstate(divide="ignore", invalid="ignore"):
            implied = np.where(same & (dt > 0), metres / dt / KNOT_M_S, np.nan)
        speed[1:] = np.where(unknown[1:], implied, speed[1:])
    return speed


def flat_distance_m(lat1: F64, lon1: F64, lat2: F64, lon2: F64) -> F64:
    """Distance on a local flat approximation (good to < 0.1 % below ~50 km)."""
    mean_lat = np.radians((lat1 + lat2) / 2.0)
    dy = np.radians(lat2 - lat1)
    dlon = (lon2 - lon1 + 180.0) % 360.0 - 180.0
    dx = np.radians(dlon) * np.cos(mean_lat)
    result: F64 = EARTH_RADIUS_M * np.hypot(dx, dy)
    return result


def to_xyz_m(lat: F64, lon: F64) -> npt.NDArray[np.float64]:
    """Earth-centred coordinates in metres, for chord-distance neighbour searches."""
    la = np.radians(lat)
    lo = np.radians(lon)
    c = np.cos(la)
    xyz: npt.NDArray[np.float64] = EARTH_RADIUS_M * np.column_stack(
        (c * np.cos(lo), c * np.sin(lo), np.sin(la))
    )
    return xyz


def make_draft(
    kind: str,
    key: Key,
    status: AlertStatus,
    *,
    start: float,
    end: float,
    lat: float,
    lon: float,
    tracks: Sequence[int],
    history: History,
    label_nos: Iterable[int],
    evidence: dict[str, Any],
    seqs: Sequence[int] = (),
) -> AlertDraft:
    """A draft naming its tracks by id and listing its MMSIs (from the tracks)."""
    # One ``track_info`` per track (it builds a whole ``TrackInfo``): ids and MMSIs from it.
    infos = [history.track_info(number) for number in tracks]
    mmsis = []
    for info in infos:
        mmsi = info.mmsi if info is not None else None
        if mmsi is not None and mmsi >= 0 and mmsi not in mmsis:
            mmsis.append(mmsi)
    if seqs:
        evidence = {**evidence, "report_seqs": [int(s) for s in seqs[:MAX_SEQS]]}
    return AlertDraft(
        kind=kind,
        key=key,
        status=status,
        start=float(start),
        end=float(max(end, start)),
        lat=float(lat),
        lon=float(lon),
        tracks=tuple(
            info.id if info is not None else f"track:{number}"
            for number, info in zip(tracks, infos, strict=True)
        ),
        mmsis=tuple(mmsis),
        label_nos=frozenset(int(n) for n in label_nos),
        evidence=evidence,
    )


def without_tracks(points: TrackPoints, tracks: Iterable[int]) -> TrackPoints:
    """The points not on ``tracks``."""
    numbers = np.fromiter(tracks, np.int64)
    if numbers.shape[0] == 0 or len(points) == 0:
        return points
    return points.take(~np.isin(points.track, numbers))


def concat(parts: Sequence[TrackPoints]) -> TrackPoints:
    """One ``TrackPoints`` of several, in the given order."""
    kept = [p for p in parts if len(p)]
    if not kept:
        return TrackPoints.empty()
    if len(kept) == 1:
        return kept[0]
    return TrackPoints(
        **{name: np.concatenate([getattr(p, name) for p in kept]) for name in _FIELDS}
    )


class DistanceMemo:
    """Per track, the last position where an expensive distance (to shore, to a port) was
    computed, and that distance: a point ``d`` metres from it is within ``d`` of that
    distance (triangle inequality), so most points need no new computation."""

    def __init__(self) -> None:
        self._memo: dict[int, tuple[float, float, float]] = {}

    def forget(self, tracks: Iterable[int]) -> None:
        for number in tracks:
            self._memo.pop(number, None)

    def bounds(self, track: I64, lat: F64, lon: F64) -> tuple[F64, F64]:
        """Lower and upper bounds of each point's distance (NaN where nothing is known)."""
        if track.shape[0] == 0:
            empty = np.empty(0)
            return empty, empty
        numbers, inverse = np.unique(track, return_inverse=True)
        unknown = (math.nan, math.nan, math.nan)
        memo = np.array([self._memo.get(n, unknown) for n in numbers.tolist()], np.float64)
        memo = memo.reshape(-1, 3)[inverse]
        moved = flat_distance_m(memo[:, 0], memo[:, 1], lat, lon)
        low: F64 = memo[:, 2] - moved
        high: F64 = memo[:, 2] + moved
        return low, high

    def remember(self, track: I64, lat: F64, lon: F64, distance: F64) -> None:
        """Keep each track's last computed point (rows grouped by track, in time order)."""
        last = np.flatnonzero(np.r_[track[1:] != track[:-1], True]) if track.shape[0] else track
        for number, la, lo, d in zip(
            track[last].tolist(),
            lat[last].tolist(),
            lon[last].tolist(),
            distance[last].tolist(),
            strict=True,
        ):
            self._memo[number] = (la, lo, d)
