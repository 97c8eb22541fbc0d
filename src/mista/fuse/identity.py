"""Identity history: names and call signs over time, MMSI and IMO validity, MMSI changes.

Static rows (type 5, 24, any row with a name, call sign or IMO) update what is known of
an MMSI; a change of a non-blank name or call sign is an event. An MMSI change is found
by position: a track goes silent and a new MMSI starts where it would be by now.
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np
import numpy.typing as npt

from mista.partitions import mmsi_partition

from ._kinematics import dead_reckon, haversine_m
from .chunk import IdentityEvent, IdentityKind
from .config import FuseConfig
from .mmsi import is_valid_imo, is_valid_ship_mmsi, mid
from .segments import MmsiState
from .tracks import Track

__all__ = ["Predecessors", "identity_events", "mmsi_events", "normalise_text"]

F64 = npt.NDArray[np.float64]

#: Message types a ship sends (positions, static and voyage data); -1: no type (files).
SHIP_MESSAGE_TYPES = frozenset({-1, 1, 2, 3, 5, 18, 19, 24, 27})
_SPACES = re.compile(r"\s+")
#: Below this speed (knots) a vessel is not taken as moving for MMSI-change matching.
_MOVING_KN = 1.0


def normalise_text(text: object) -> str | None:
    """A name or call sign as compared: '@' padding and spaces trimmed, upper case;
    blank is ``None``."""
    if not isinstance(text, str):
        return None
    return _normalised(text)


@functools.lru_cache(maxsize=65_536)
def _normalised(text: str) -> str | None:
    # A vessel states the same name every six minutes: clean each distinct one once.
    cleaned = _SPACES.sub(" ", text.replace("@", " ")).strip().upper()
    return cleaned or None


def identity_events(
    state: MmsiState,
    track: Track | None,
    *,
    t: float,
    name: object,
    callsign: object,
    imo: int,
    label_no: int,
) -> list[IdentityEvent]:
    """Record a static row; return name, call sign and IMO events it reveals."""
    events: list[IdentityEvent] = []
    new_name = normalise_text(name)
    new_callsign = normalise_text(callsign)
    # With two vessels on one MMSI a static row cannot be told apart: record, no events.
    report = track is not None and len(state.tracks) == 1
    labels = frozenset({label_no, *state.identity_labels})

    def event(kind: IdentityKind, before: str | None, after: str | None) -> None:
        assert track is not None
        events.append(
            IdentityEvent(
                kind=kind,
                t=t,
                track=track.number,
                mmsi=state.mmsi,
                lat=track.last_lat,
                lon=track.last_lon,
                before=before,
                after=after,
                label_nos=labels,
            )
        )

    if new_name is not None:
        if report and state.name is not None and new_name != state.name:
            event(IdentityKind.NAME_CHANGE, state.name, new_name)
        state.name = new_name
        if track is not None:
            track.name = new_name
    if new_callsign is not None:
        if report and state.callsign is not None and new_callsign != state.callsign:
            event(IdentityKind.CALLSIGN_CHANGE, state.callsign, new_callsign)
        state.callsign = new_callsign
    if imo > 0 and imo not in state.imos_checked and track is not None:
        state.imos_checked.add(imo)
        if not is_valid_imo(imo):
            event(IdentityKind.INVALID_IMO, None, str(imo))
    state.identity_labels = frozenset({label_no})
    return events


def mmsi_events(
    state: MmsiState, track: Track, *, t: float, msg_type: int, label_no: int
) -> list[IdentityEvent]:
    """An INVALID_MMSI event the first time a ship message comes from an invalid MMSI."""
    if state.invalid_reported or msg_type not in SHIP_MESSAGE_TYPES:
        return []
    state.invalid_reported = True
    if is_valid_ship_mmsi(state.mmsi):
        return []
    return [
        IdentityEvent(
            kind=IdentityKind.INVALID_MMSI,
            t=t,
            track=track.number,
            mmsi=state.mmsi,
            lat=track.last_lat,
            lon=track.last_lon,
            before=None,
            after=str(state.mmsi),
            label_nos=frozenset({label_no}),
        )
    ]


def change_events(
    old: Track, new: Track, old_mmsi: int, new_mmsi: int, t: float, lat: float, lon: float
) -> list[IdentityEvent]:
    """MMSI_CHANGE (and FLAG_CHANGE when the MID differs) for a linked pair of tracks."""
    labels = frozenset(old.label_nos | new.label_nos)
    common = {"t": t, "track": new.number, "mmsi": new_mmsi, "lat": lat, "lon": lon}
    events = [
        IdentityEvent(
            kind=IdentityKind.MMSI_CHANGE,
            before=str(old_mmsi),
            after=str(new_mmsi),
            label_nos=labels,
            other_track=old.number,
            **common,  # type: ignore[arg-type]
        )
    ]
    old_mid, new_mid = mid(old_mmsi), mid(new_mmsi)
    if old_mid != new_mid:
        events.append(
            IdentityEvent(
                kind=IdentityKind.FLAG_CHANGE,
                before=None if old_mid is None else str(old_mid),
                after=None if new_mid is None else str(new_mid),
                label_nos=labels,
                other_track=old.number,
                **common,  # type: ignore[arg-type]
            )
        )
    return events


class Predecessors:
    """The AIS tracks a new MMSI could continue: a snapshot of their last good fixes.

    With ``mmsi_partitions`` set, only tracks whose MMSI is in the new MMSI's partition
    are continued (the one rule of fusion that spans MMSIs stays within a partition);
    others are linked."""

    def __init__(self, tracks: list[Track], config: FuseConfig) -> None:
        self._config = config
        self._tracks = [track for track in tracks if track.fix is not None]
        fixes = [track.fix for track in self._tracks]
        self._t = np.array([f.t for f in fixes if f is not None], np.float64)
        self._lat = np.array([f.lat for f in fixes if f is not None], np.float64)
        self._lon = np.array([f.lon for f in fixes if f is not None], np.float64)
        self._sog = np.array([f.sog for f in fixes if f is not None], np.float64)
        self._cog = np.array([f.cog for f in fixes if f is not None], np.float64)
        self._used = np.zeros(len(self._tracks), np.bool_)
        # Moving with a known course (a predecessor must be): the same for every find.
        self._moving = (self._sog >= _MOVING_KN) & np.isfinite(self._cog)
        self._partitions = config.mmsi_partitions
        self._partition = (
            mmsi_partition([track.mmsi or 0 for track in self._tracks], self._partitions)
            if self._partitions > 0
            else None
        )

    def find(
        self,
        *,
        mmsi: int,
        t: float,
        lat: float,
        lon: float,
        sog: float,
        cog: float,
        latest_seen: dict[int, float],
    ) -> tuple[Track | None, bool]:
        """The one track that went silent within the window before ``t`` and would be
        near ``(lat, lon)`` now at a similar speed and course (``None`` if none or
        several), and whether the new MMSI continues it.

        With ``mmsi_partitions``, a track of ``mmsi``'s partition is continued; failing
        one, a track of another partition is only *linked* (the change is reported, the
        new MMSI starts a track of its own): a fuser given one partition (fusion by
        partition) finds none there, and builds the same tracks as one given them all."""
        if not self._tracks:
            return None, False
        # Only moving vessels with known speed and course: in a port many vessels fall
        # silent and start up near each other, and an unknown course matches anything.
        # (Asked first: most new MMSIs are not moving, and the rest is array work.)
        if not (sog >= _MOVING_KN and math.isfinite(cog)):
            return None, False
        age = t - self._t
        near_in_time = (age > 0) & (age <= self._config.mmsi_change_window_s) & self._moving
        if self._partition is None:
            index = self._match(near_in_time & ~self._used, age, t, lat, lon, sog, cog, latest_seen)
            if index is None:
                return None, False
            self._used[index] = True
            return self._tracks[index], True
        mine = self._partition == int(mmsi_partition(mmsi, self._partitions))
        index = self._match(
            near_in_time & mine & ~self._used, age, t, lat, lon, sog, cog, latest_seen
        )
        if index is not None:
            self._used[index] = True
            return self._tracks[index], True
        # Linking marks nothing used: a fuser of the other partition, which cannot see
        # this link, must still find what this one finds there.
        index = self._match(near_in_time & ~mine, age, t, lat, lon, sog, cog, latest_seen)
        return (None, False) if index is None else (self._tracks[index], False)

    def _match(
        self,
        near_in_time: npt.NDArray[np.bool_],
        age: F64,
        t: float,
        lat: float,
        lon: float,
        sog: float,
        cog: float,
        latest_seen: dict[int, float],
    ) -> int | None:
        c = self._config
        index = np.flatnonzero(near_in_time)
        # Speed and course compared only for those few (element by element, as before).
        old_sog, old_cog = self._sog[index], self._cog[index]
        alike = np.abs(old_sog - sog) <= c.mmsi_change_speed_kn
        course_gap = np.abs((old_cog - cog + 180.0) % 360.0 - 180.0)
        alike &= course_gap <= c.mmsi_change_course_deg
        index = index[alike]
        if index.shape[0] == 0:
            return None
        # Dead-reckoned only for the few alike in speed and course (the costly part).
        plat, plon = dead_reckon(
            self._lat[index], self._lon[index], self._sog[index], self._cog[index], age[index]
        )
        gate = c.mmsi_change_distance_m + c.mmsi_change_growth_m_per_s * age[index]
        candidates = index[haversine_m(plat, plon, lat, lon) <= gate]
        found = [
            int(i)
            for i in candidates
            if latest_seen.get(self._tracks[int(i)].mmsi or -1, math.inf) < t
        ]
        return found[0] if len(found) == 1 else None
