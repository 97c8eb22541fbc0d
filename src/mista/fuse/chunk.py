"""What fusion hands detection: track points as numpy columns, tracks, identity events.

The contract between ``mista.fuse`` (which builds these) and ``mista.detect`` (which reads
them). Times are epoch seconds (float64) on the hot path; ``NaN`` is "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntFlag, StrEnum

import numpy as np
import numpy.typing as npt

__all__ = [
    "Association",
    "FusedChunk",
    "IdentityEvent",
    "IdentityKind",
    "PointFlag",
    "SourceCode",
    "TrackInfo",
    "TrackKind",
    "TrackPoints",
]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U16 = npt.NDArray[np.uint16]
U8 = npt.NDArray[np.uint8]


class PointFlag(IntFlag):
    """Why a point is doubtful. Flagged points are kept in the track, never dropped."""

    NONE = 0
    DUPLICATE = 1  # same vessel, time and place as a point already in the track
    IMPLAUSIBLE_SPEED = 2  # implied speed from the previous good point > max_speed_kn
    ON_LAND = 4  # the position is on land
    LATE = 8  # arrived after the watermark had passed its time (out of order)
    OUTLIER = 16  # belongs to a short-lived segment of a split MMSI (a jump, a spoof)


class SourceCode:
    """Small integer codes of ``mista.model.SourceKind`` for numpy columns."""

    AIS_TERRESTRIAL = 0
    AIS_SATELLITE = 1
    RADAR = 2
    OTHER = 3


class TrackKind(StrEnum):
    AIS = "ais"  # built from AIS reports, identified by MMSI
    DARK = "dark"  # built from radar contacts no AIS track explains


@dataclass(frozen=True, slots=True)
class TrackPoints:
    """Points, one row per report placed on a track, sorted by (track, t).

    ``track`` is the engine's track number (``TrackInfo.number``); ``seq`` the store's
    report sequence number; ``label_no`` the store's label number; ``mmsi`` -1 for dark
    tracks. All arrays have the same length.
    """

    track: I64
    seq: I64
    t: F64
    lat: F64
    lon: F64
    sog: F64
    cog: F64
    mmsi: I64
    label_no: I32
    source: U8
    flags: U16

    def __len__(self) -> int:
        return int(self.track.shape[0])

    @classmethod
    def empty(cls) -> TrackPoints:
        f = np.empty(0, np.float64)
        return cls(
            track=np.empty(0, np.int64),
            seq=np.empty(0, np.int64),
            t=f,
            lat=f,
            lon=f,
            sog=f,
            cog=f,
            mmsi=np.empty(0, np.int64),
            label_no=np.empty(0, np.int32),
            source=np.empty(0, np.uint8),
            flags=np.empty(0, np.uint16),
        )

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> TrackPoints:
        """The rows at ``index`` (an integer index or a boolean mask)."""
        return TrackPoints(
            track=self.track[index],
            seq=self.seq[index],
            t=self.t[index],
            lat=self.lat[index],
            lon=self.lon[index],
            sog=self.sog[index],
            cog=self.cog[index],
            mmsi=self.mmsi[index],
            label_no=self.label_no[index],
            source=self.source[index],
            flags=self.flags[index],
        )

    def good(self) -> npt.NDArray[np.bool_]:
        """Rows with no flag that makes the position doubtful (duplicates and late points
        are fine positions; speed, land and outlier flags are not)."""
        doubtful = PointFlag.IMPLAUSIBLE_SPEED | PointFlag.ON_LAND | PointFlag.OUTLIER
        mask: npt.NDArray[np.bool_] = (self.flags & np.uint16(doubtful)) == 0
        return mask


@dataclass(frozen=True, slots=True)
class TrackInfo:
    """A track as it stands: its stable id, kind, identity and extent."""

    number: int
    id: str  # stable text id, e.g. "ais:419000123", "ais:419000123/2", "dark:IND-radar-3:17"
    kind: TrackKind
    mmsi: int | None
    first_t: float
    last_t: float
    lat: float
    lon: float
    points: int
    label_nos: frozenset[int]
    name: str | None = None
    linked_from: str | None = None  # id of the track this one continues (identity change)


class IdentityKind(StrEnum):
    NAME_CHANGE = "name-change"
    CALLSIGN_CHANGE = "callsign-change"
    FLAG_CHANGE = "flag-change"  # the MMSI's MID (flag state) changed
    MMSI_CHANGE = "mmsi-change"  # a vessel went silent on one MMSI and went on under another
    SHARED_MMSI = "shared-mmsi"  # two vessels transmitting one MMSI at once
    INVALID_MMSI = "invalid-mmsi"
    INVALID_IMO = "invalid-imo"


@dataclass(frozen=True, slots=True)
class IdentityEvent:
    kind: IdentityKind
    t: float
    track: int
    mmsi: int | None
    lat: float
    lon: float
    before: str | None
    after: str | None
    label_nos: frozenset[int]
    other_track: int | None = None  # the second track (shared MMSI) or previous (MMSI change)


@dataclass(frozen=True, slots=True)
class Association:
    """A radar contact placed on a track (an AIS track, or a dark track), or on none."""

    seq: int
    t: float
    track: int | None  # None: unassociated and not (yet) part of a dark track
    distance_m: float | None


@dataclass(frozen=True, slots=True)
class FusedChunk:
    """Everything one ``Fuser.push`` produced.

    ``watermark`` is the stream time up to which input is taken as complete (the newest
    time seen minus the reorder window); detectors may close what ends before it.
    ``revised`` maps a track to the earliest time late data changed on it: detectors
    re-evaluate that track from there (``Fuser.history``).
    """

    watermark: float
    points: TrackPoints
    tracks: dict[int, TrackInfo] = field(default_factory=dict)
    revised: dict[int, float] = field(default_factory=dict)
    identity: list[IdentityEvent] = field(default_factory=list)
    associations: list[Association] = field(default_factory=list)
