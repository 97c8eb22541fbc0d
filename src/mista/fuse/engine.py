"""The streaming fuser: FEED tables in (arrival order), fused chunks out (time order)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Protocol

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from mista.geo import LandMask

from ._kinematics import KNOT_M_S
from .buffer import ReorderBuffer
from .chunk import (
    Association,
    FusedChunk,
    IdentityEvent,
    IdentityKind,
    PointFlag,
    TrackInfo,
    TrackKind,
    TrackPoints,
)
from .config import FuseConfig
from .feed import REQUIRED_COLUMNS, PositionRows, StaticRows, split_feed
from .history import COLUMNS as HISTORY_COLUMNS
from .history import PointBlock
from .identity import Predecessors, change_events, identity_events, mmsi_events
from .radar import RadarTracker
from .segments import MmsiState, Segmenter, distance_m
from .tracks import Fix, Track

__all__ = ["Fuser", "LandLike"]

I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]
B = npt.NDArray[np.bool_]

_LATE = np.uint16(PointFlag.LATE)
_ON_LAND = np.uint16(PointFlag.ON_LAND)


class LandLike(Protocol):
    """What the fuser needs of ``mista.geo.LandMask`` (tests may pass a simpler coast)."""

    def on_land(self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]) -> B: ...


class _Chunk:
    """What one push gathers before it becomes a ``FusedChunk``."""

    def __init__(self) -> None:
        self.rows: list[PositionRows] = []
        self.track: list[I64] = []
        self.flags: list[U16] = []
        self.touched: set[int] = set()
        self.revised: dict[int, float] = {}
        self.identity: list[IdentityEvent] = []
        self.associations: list[Association] = []

    def add(self, rows: PositionRows, track: I64, flags: U16) -> None:
        self.rows.append(rows)
        self.track.append(track)
        self.flags.append(flags)

    def revise(self, track: int, t: float) -> None:
        self.revised[track] = min(self.revised.get(track, math.inf), t)

    def points(self) -> TrackPoints:
        if not self.rows:
            return TrackPoints.empty()
        rows = PositionRows.concat(self.rows)
        track = np.concatenate(self.track)
        flags = np.concatenate(self.flags)
        order = np.lexsort((rows.t, track))
        return TrackPoints(
            track=track[order],
            seq=rows.seq[order],
            t=rows.t[order],
            lat=rows.lat[order],
            lon=rows.lon[order],
            sog=rows.sog[order],
            cog=rows.cog[order],
            mmsi=rows.mmsi[order],
            label_no=rows.label_no[order],
            source=rows.source[order],
            flags=flags[order],
        )


def _block(rows: PositionRows, flags: U16, index: slice | npt.NDArray[np.intp]) -> PointBlock:
    return {
        "seq": rows.seq[index],
        "t": rows.t[index],
        "lat": rows.lat[index],
        "lon": rows.lon[index],
        "sog": rows.sog[index],
        "cog": rows.cog[index],
        "mmsi": rows.mmsi[index],
        "label_no": rows.label_no[index],
        "source": rows.source[index],
        "flags": flags[index],
    }


class Fuser:
    """Fuses reports into tracks, incrementally, with bounded memory.

    ``push`` takes FEED rows in arrival order and returns what could be released: the
    reports the watermark (newest time seen minus ``reorder_window_s``) has passed, in time
    order, placed on tracks; plus late reports (older than the watermark when they came),
    placed into history and flagged ``LATE``, their tracks listed in ``revised``.
    ``flush`` releases everything at the end of a stream. Rows that cannot be used (no
    time, no position, no MMSI on an AIS row) are counted in ``skipped``.
    """

    def __init__(self, config: FuseConfig | None = None, *, land: LandLike | None = None) -> None:
        self.config = config if config is not None else FuseConfig()
        self._land: LandLike = land if land is not None else LandMask.default()
        empty = split_feed(pa.table({name: pa.nulls(0) for name in REQUIRED_COLUMNS}))
        self._no_positions = empty.positions
        self._positions = ReorderBuffer(empty.positions)
        self._radar_rows = ReorderBuffer(empty.radar)
        self._statics = ReorderBuffer(empty.statics)
        self._newest = -math.inf
        self._watermark = -math.inf
        self._states: dict[int, MmsiState] = {}
        self._tracks: dict[int, Track] = {}
        self._ids: set[str] = set()
        self._next_number = 1
        self._latest_seen: dict[int, float] = {}
        self._segmenter = Segmenter(self.config, self._split_track)
        self._radar = RadarTracker(self.config, self._new_dark_track)
        self._evicted_at = -math.inf
        #: Rows that could not be used, and positions that are not vessels.
        self.skipped = 0
        self.not_vessel = 0

    # -- the public surface -------------------------------------------------------------

    @property
    def watermark(self) -> float:
        return self._watermark

    def held(self) -> tuple[int, int | None]:
        """How many reports the reorder buffer holds, and the smallest report number among
        them (``None`` when empty): a restart must replay from before that number."""
        buffers = (self._positions, self._radar_rows, self._statics)
        oldest = [seq for b in buffers if (seq := b.oldest_seq()) is not None]
        return sum(len(b) for b in buffers), (min(oldest) if oldest else None)

    def push(self, reports: pa.Table) -> FusedChunk:
        """Take reports in arrival order; return what the watermark released.

        Fusion by partition gives a fuser one partition's reports: its watermark then
        moves with its own vessels' reports only (``mista.detect.parts``)."""
        split = split_feed(reports)
        self.skipped += split.skipped
        self.not_vessel += split.not_vessel
        before = self._watermark
        self._note_latest(split.positions)
        late_positions = self._positions.add(split.positions, before)
        late_radar = self._radar_rows.add(split.radar, before)
        late_statics = self._statics.add(split.statics, before)
        for rows in (split.positions.t, split.radar.t, split.statics.t):
            if rows.shape[0]:
                self._newest = max(self._newest, float(rows.max()))
        self._watermark = max(self._watermark, self._newest - self.config.reorder_window_s)
        return self._fuse(
            self._positions.release(self._watermark),
            late_positions,
            StaticRows.concat([late_statics, self._statics.release(self._watermark)]),
            PositionRows.concat([late_radar, self._radar_rows.release(self._watermark)]),
            late_radar_count=len(late_radar),
        )

    def flush(self) -> FusedChunk:
        """End of stream: release everything buffered."""
        if self._newest > -math.inf:
            self._watermark = max(self._watermark, self._newest)
        return self._fuse(
            self._positions.release_all(),
            self._no_positions,
            self._statics.release_all(),
            self._radar_rows.release_all(),
            late_radar_count=0,
        )

    def history(self, track: int, since: float) -> TrackPoints:
        """The track's retained points with ``t >= since``, in time order."""
        found = self._tracks.get(track)
        if found is None:
            found = self._radar.dark_track(track)
        if found is None:
            return TrackPoints.empty()
        return found.history.points(track, since)

    def histories(self, wanted: Iterable[tuple[int, float]]) -> TrackPoints:
        """``history(track, since)`` of each ``(track, since)``, one after another in that
        order, copied once into one ``TrackPoints`` (detectors re-read hundreds of revised
        tracks per chunk: one small ``TrackPoints`` each, then joining them, cost more)."""
        picked: list[tuple[PointBlock, int]] = []  # a track's points, from which row
        numbers: list[int] = []
        counts: list[int] = []
        for track, since in wanted:
            found = self._tracks.get(track)
            if found is None:
                found = self._radar.dark_track(track)
            if found is None:
                continue
            cols = found.history.joined()
            t = cols["t"]
            start = int(t.searchsorted(since, side="left"))
            if start < t.shape[0]:
                picked.append((cols, start))
                numbers.append(track)
                counts.append(int(t.shape[0]) - start)
        if not picked:
            return TrackPoints.empty()
        columns = {
            name: np.concatenate([cols[name][start:] for cols, start in picked])
            for name in HISTORY_COLUMNS
        }
        track_column = np.repeat(np.asarray(numbers, np.int64), counts)
        return TrackPoints(track=track_column, **columns)

    def track_info(self, track: int) -> TrackInfo | None:
        found = self._tracks.get(track) or self._radar.dark_track(track)
        return None if found is None else found.info()

    def tracks(self) -> dict[int, TrackInfo]:
        """Every track not yet evicted (AIS and confirmed dark)."""
        out = {number: track.info() for number, track in self._tracks.items()}
        out.update({t.number: t.info() for t in self._radar.confirmed()})
        return out

    # -- track bookkeeping --------------------------------------------------------------

    def _new_number(self) -> int:
        number = self._next_number
        self._next_number += 1
        return number

    def _unique_id(self, base: str) -> str:
        if base not in self._ids:
            self._ids.add(base)
            return base
        k = 2
        while f"{base}/{k}" in self._ids:
            k += 1
        self._ids.add(f"{base}/{k}")
        return f"{base}/{k}"

    def _new_ais_track(self, state: MmsiState) -> Track:
        track = Track(
            self._new_number(), self._unique_id(f"ais:{state.mmsi}"), TrackKind.AIS, state.mmsi
        )
        track.name = state.name
        state.tracks.append(track)
        self._tracks[track.number] = track
        return track

    def _split_track(self, state: MmsiState) -> Track:
        """A second vessel on ``state``'s MMSI: its track (the event follows placement)."""
        return self._new_ais_track(state)

    def _shared_event(self, state: MmsiState, track: Track) -> list[IdentityEvent]:
        """SHARED_MMSI, once per MMSI, when its second track is split off."""
        if state.shared_reported or track.fix is None:
            return []
        state.shared_reported = True
        main = state.tracks[0]
        return [
            IdentityEvent(
                kind=IdentityKind.SHARED_MMSI,
                t=track.fix.t,
                track=main.number,
                mmsi=state.mmsi,
                lat=track.fix.lat,
                lon=track.fix.lon,
                before=None,
                after=str(state.mmsi),
                label_nos=frozenset(main.label_nos | track.label_nos),
                other_track=track.number,
            )
        ]

    def _new_dark_track(self, radar: str) -> tuple[int, str]:
        number = self._new_number()
        return number, self._unique_id(f"dark:{radar}:{number}")

    def _note_latest(self, rows: PositionRows) -> None:
        if len(rows) == 0:
            return
        order = np.argsort(rows.mmsi, kind="stable")
        mmsi = rows.mmsi[order]
        starts = np.flatnonzero(np.r_[True, mmsi[1:] != mmsi[:-1]])
        newest = np.maximum.reduceat(rows.t[order], starts)
        latest = self._latest_seen
        for m, t in zip(mmsi[starts].tolist(), newest.tolist(), strict=True):
            if t > latest.get(m, -math.inf):
                latest[m] = t

    # -- one release ----------------------------------------------------------------------

    def _fuse(
        self,
        released: PositionRows,
        late: PositionRows,
        statics: StaticRows,
        radar: PositionRows,
        *,
        late_radar_count: int,
    ) -> FusedChunk:
        chunk = _Chunk()
        if len(late):
            # Late for the stream but newer than everything on their MMSI's tracks (a
            # satellite pass delivered after the shore feed moved on): placed in order.
            appended = self._after_tracks(late)
            if not appended.all():
                self._place_late(late.take(~appended), chunk)
            if appended.any():
                self._place_released(late.take(appended), chunk, late=True)
        if len(released):
            self._place_released(released, chunk)
        if len(statics):
            self._apply_statics(statics, chunk)
        if len(radar):
            self._radar.associate(radar, list(self._tracks.values()), chunk)
        tracks = {n: self._tracks[n].info() for n in chunk.touched if n in self._tracks}
        for dark in self._radar.touched():
            tracks[dark.number] = dark.info()
        # After the chunk's tracks are described: a track placed on and evicted in one push
        # (input that jumps days ahead) still has its TrackInfo in the chunk.
        self._evict()
        return FusedChunk(
            watermark=self._watermark,
            points=chunk.points(),
            tracks=tracks,
            revised=chunk.revised,
            identity=chunk.identity,
            associations=chunk.associations,
        )

    def _land_flags(self, rows: PositionRows) -> U16:
        on_land = np.asarray(self._land.on_land(rows.lon, rows.lat), np.bool_)
        return np.where(on_land, _ON_LAND, np.uint16(0)).astype(np.uint16)

    def _after_tracks(self, rows: PositionRows) -> B:
        """Rows newer than every point on their MMSI's tracks (or of a new MMSI)."""
        newest = {
            m: max(t.last_t for t in state.tracks)
            for m in np.unique(rows.mmsi).tolist()
            if (state := self._states.get(m)) is not None and state.tracks
        }
        last = np.array([newest.get(m, -math.inf) for m in rows.mmsi.tolist()], np.float64)
        after: B = rows.t >= last
        return after

    def _place_released(self, rows: PositionRows, chunk: _Chunk, *, late: bool = False) -> None:
        """Released fixes (time order): grouped by MMSI, the plausible ones in one pass.
        Known MMSIs go first, so that a new MMSI is compared with up-to-date tracks.
        ``late`` fixes are flagged so and their tracks listed as revised."""
        parts = len(chunk.rows)
        land = self._land_flags(rows)
        if late:
            land |= _LATE
        order = np.argsort(rows.mmsi, kind="stable")
        rows = rows.take(order)
        land = land[order]
        mmsi = rows.mmsi
        starts = np.flatnonzero(np.r_[True, mmsi[1:] != mmsi[:-1]])
        counts = np.diff(np.r_[starts, len(rows)])
        known_group = np.array(
            [
                bool(s is not None and s.tracks)
                for s in map(self._states.get, mmsi[starts].tolist())
            ],
            np.bool_,
        )
        known = np.repeat(known_group, counts)
        if known.all():
            self._place_groups(rows, land, chunk)
        else:
            if known.any():
                self._place_groups(rows.take(known), land[known], chunk)
            self._place_groups(rows.take(~known), land[~known], chunk)
        if late:
            numbers = np.concatenate(chunk.track[parts:])
            times = np.concatenate([part.t for part in chunk.rows[parts:]])
            order = np.lexsort((times, numbers))
            numbers, times = numbers[order], times[order]
            first = np.flatnonzero(np.r_[True, numbers[1:] != numbers[:-1]])
            for number, t in zip(numbers[first].tolist(), times[first].tolist(), strict=True):
                chunk.revise(number, t)

    def _place_groups(self, rows: PositionRows, land: U16, chunk: _Chunk) -> None:
        mmsi = rows.mmsi
        starts = np.flatnonzero(np.r_[True, mmsi[1:] != mmsi[:-1]])
        stops = np.r_[starts[1:], len(rows)]
        states: list[MmsiState] = []
        started = np.zeros(starts.shape[0], np.bool_)
        predecessors: Predecessors | None = None
        for g, m in enumerate(mmsi[starts].tolist()):
            state = self._states.get(m)
            if state is None or not state.tracks:
                if predecessors is None:
                    ais = [t for t in self._tracks.values() if t.kind == TrackKind.AIS]
                    predecessors = Predecessors(ais, self.config)
                state = self._start_state(m, rows, int(starts[g]), predecessors, chunk)
                started[g] = True
            states.append(state)
        fast, flags = self._segmenter.screen(states, rows, starts, stops, started)
        flags |= land
        numbers = np.empty(len(rows), np.int64)
        block = _block(rows, flags, slice(None))
        uniform_label = (
            int(rows.label_no[0]) if rows.label_no.min() == rows.label_no.max() else None
        )
        last = stops - 1
        group_rows = zip(
            starts.tolist(),
            stops.tolist(),
            rows.t[starts].tolist(),
            rows.t[last].tolist(),
            rows.lat[last].tolist(),
            rows.lon[last].tolist(),
            rows.sog[last].tolist(),
            rows.cog[last].tolist(),
            fast.tolist(),
            started.tolist(),
            strict=True,
        )
        for g, (start, stop, t0, t1, lat1, lon1, sog1, cog1, is_fast, is_new) in enumerate(
            group_rows
        ):
            state = states[g]
            if is_fast:
                track = state.tracks[0]
                track.fix = Fix(t1, lat1, lon1, sog1, cog1)
                track.segment_fixes += stop - start - is_new
                track.extend(block, start, stop, t0, t1, lat1, lon1)
                if uniform_label is None:
                    track.label_nos.update(np.unique(rows.label_no[start:stop]).tolist())
                else:
                    track.label_nos.add(uniform_label)
                numbers[start:stop] = track.number
                chunk.touched.add(track.number)
                continue
            if is_new:
                track = state.tracks[0]
                track.add(_block(rows, flags, slice(start, start + 1)))
                numbers[start] = track.number
                chunk.touched.add(track.number)
                start += 1
                if start == stop:
                    continue
            part = slice(start, stop)
            placement = self._segmenter.place(state, rows.take(part))
            flags[part] |= placement.flags
            numbers[part] = placement.track
            for number, t in placement.revised.items():
                chunk.revise(number, t)
            for new_track in placement.new_tracks:
                chunk.identity.extend(self._shared_event(state, new_track))
            for number in np.unique(placement.track).tolist():
                index = np.flatnonzero(numbers == number)
                index = index[(index >= start) & (index < stop)]
                self._tracks[number].add(_block(rows, flags, index))
                chunk.touched.add(number)
        chunk.add(rows, numbers, flags)

    def _start_state(
        self, mmsi: int, rows: PositionRows, i: int, predecessors: Predecessors, chunk: _Chunk
    ) -> MmsiState:
        """A new MMSI at row ``i``: continue a track that just went silent nearby, or
        start one; either way the row starts the track's current segment."""
        state = self._states.get(mmsi) or MmsiState(mmsi)
        self._states[mmsi] = state
        t, lat, lon = float(rows.t[i]), float(rows.lat[i]), float(rows.lon[i])
        fix = Fix(t, lat, lon, float(rows.sog[i]), float(rows.cog[i]))
        old, continued = predecessors.find(
            mmsi=mmsi,
            t=t,
            lat=lat,
            lon=lon,
            sog=fix.sog,
            cog=fix.cog,
            latest_seen=self._latest_seen,
        )
        label_no = int(rows.label_no[i])
        if old is None or old.mmsi is None or not continued:
            track = self._new_ais_track(state)
            track.start_segment(fix)
            track.last_lat, track.last_lon = lat, lon
            if old is not None and old.mmsi is not None:
                # The old MMSI is of another partition: the change is reported and the
                # tracks linked, the track built as a fuser of this partition alone does.
                track.linked_from = old.id
                chunk.identity.extend(change_events(old, track, old.mmsi, mmsi, t, lat, lon))
            chunk.identity.extend(mmsi_events(state, track, t=t, msg_type=-1, label_no=label_no))
            return state
        old_mmsi = old.mmsi
        old_state = self._states.get(old_mmsi)
        if self.config.continue_across_mmsi_change:
            track = old
            if old_state is not None and old in old_state.tracks:
                old_state.tracks.remove(old)
                if not old_state.tracks:
                    del self._states[old_mmsi]
            track.mmsi = mmsi
            state.tracks.append(track)
        else:
            track = self._new_ais_track(state)
            track.linked_from = old.id
        if old_state is not None:
            state.name = state.name or old_state.name
            state.callsign = state.callsign or old_state.callsign
        track.start_segment(fix)
        chunk.identity.extend(change_events(old, track, old_mmsi, mmsi, t, lat, lon))
        chunk.identity.extend(mmsi_events(state, track, t=t, msg_type=-1, label_no=label_no))
        return state

    def _place_late(self, rows: PositionRows, chunk: _Chunk) -> None:
        """Late fixes older than their MMSI's newest point: into the history of the track
        they fit best, in time order (one merge per track)."""
        flags = self._land_flags(rows) | _LATE
        numbers = np.empty(len(rows), np.int64)
        for i, m in enumerate(rows.mmsi.tolist()):
            state = self._states[m]  # rows of MMSIs with no track are placed in order
            track, flag = self._late_track(state, rows, i)
            flags[i] |= np.uint16(flag)
            numbers[i] = track.number
        for number in np.unique(numbers).tolist():
            index = np.flatnonzero(numbers == number)
            self._tracks[number].add(_block(rows, flags, index), in_order=False)
            chunk.touched.add(number)
            chunk.revise(number, float(rows.t[index].min()))
        chunk.add(rows, numbers, flags)

    def _late_track(self, state: MmsiState, rows: PositionRows, k: int) -> tuple[Track, int]:
        """The track late fix ``k`` fits best (nearest to its neighbours in time), and
        its flags."""
        c = self.config
        t, lat, lon = float(rows.t[k]), float(rows.lat[k]), float(rows.lon[k])
        max_m_s = c.max_speed_kn * KNOT_M_S
        best: tuple[float, Track, int] | None = None

        for track in state.tracks:
            times = track.history.t
            if times.shape[0] == 0:
                continue
            i = int(np.searchsorted(times, t))
            neighbours = [j for j in (i - 1, i) if 0 <= j < times.shape[0]]
            lats = track.history.column("lat")
            lons = track.history.column("lon")
            worst = 0.0
            flag = 0
            for j in neighbours:
                d = distance_m(float(lats[j]), float(lons[j]), lat, lon)
                dt = abs(float(times[j]) - t)
                if dt <= c.duplicate_window_s and d <= c.duplicate_distance_m:
                    flag |= int(PointFlag.DUPLICATE)
                if max(d - c.position_noise_m, 0.0) > max_m_s * max(dt, c.speed_time_floor_s):
                    worst = max(worst, d)
            score = worst if worst > 0 else -1.0
            if worst > 0:
                flag |= int(PointFlag.IMPLAUSIBLE_SPEED | PointFlag.OUTLIER)
            if best is None or score < best[0]:
                best = (score, track, flag)
        if best is None:
            return state.tracks[0], 0
        return best[1], best[2]

    def _apply_statics(self, rows: StaticRows, chunk: _Chunk) -> None:
        """Names, call signs and IMO numbers, in time order."""
        order = np.argsort(rows.t, kind="stable")
        # Python lists once: indexing numpy arrays row by row costs more than the rules.
        times, mmsis = rows.t[order].tolist(), rows.mmsi[order].tolist()
        imos, label_nos = rows.imo[order].tolist(), rows.label_no[order].tolist()
        msg_types = rows.msg_type[order].tolist()
        names, callsigns = rows.name[order].tolist(), rows.callsign[order].tolist()
        for k, m in enumerate(mmsis):
            state = self._states.get(m)
            if state is None:
                state = self._states[m] = MmsiState(m)
            track = state.tracks[0] if state.tracks else None
            t = times[k]
            state.seen_t = max(state.seen_t, t)
            events = identity_events(
                state,
                track,
                t=t,
                name=names[k],
                callsign=callsigns[k],
                imo=imos[k],
                label_no=label_nos[k],
            )
            if track is not None:
                events += mmsi_events(
                    state, track, t=t, msg_type=msg_types[k], label_no=label_nos[k]
                )
            chunk.identity.extend(events)

    def _evict(self) -> None:
        """Forget tracks silent for ``retire_after_s`` (checked every ten minutes of data)."""
        c = self.config
        if self._watermark - self._evicted_at < 600.0:
            return
        self._evicted_at = self._watermark
        horizon = self._watermark - c.retire_after_s
        for number, track in list(self._tracks.items()):
            if track.last_t >= horizon:
                track.trim(c.history_s)
                continue
            del self._tracks[number]
            self._ids.discard(track.id)
            if track.mmsi is not None:
                state = self._states.get(track.mmsi)
                if state is not None and track in state.tracks:
                    state.tracks.remove(track)
                    if not state.tracks:
                        del self._states[track.mmsi]
                        self._latest_seen.pop(track.mmsi, None)
        for mmsi, state in list(self._states.items()):
            if not state.tracks and state.seen_t < horizon:
                del self._states[mmsi]
        for mmsi, t in list(self._latest_seen.items()):
            if t < horizon and mmsi not in self._states:
                del self._latest_seen[mmsi]
        self._ids.difference_update(self._radar.evict(horizon, c.history_s))
