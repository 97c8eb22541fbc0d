"""The fused-picture pipeline: new reports from the store → fusion → detection → the store.

One ``step`` reads the next reports after the store's fusion cursor, fuses them, runs every
detector, and writes track points, tracks and alerts together with the new cursor in one
transaction, so a crash between steps loses nothing and repeats nothing that was written.
Alert ids come from the detectors' stable keys, so a revision replaces its alert.

The fuser's and detectors' memory is saved in the store every ``checkpoint_s``
(``mista.detect.checkpoint``). A new pipeline on the store loads it and reads again from
where it was taken; the reports between then and the last step written are fused again
(their points and tracks come out as they were written) but their alerts are not written
twice: the store already holds them, at the revisions they had. So a fuser killed
mid-run and restarted leaves the alerts a run without the fault leaves.

A pipeline may be one *part* of the node's fusion (``mista.detect.parts``): it fuses every
report but runs only its part's detectors, keeps its own cursors and checkpoint, and
writes tracks and track points only when it is part 0. Parts run side by side, one
process each, and together leave what one pipeline with every detector leaves.

With fusion by partition, a part reads only the reports of some bus partitions (the
vessels whose MMSI hashes into them) and writes those vessels' tracks and points
(``TrackWrites.AIS``), while part 0 reads every report and writes only the dark tracks
and the radar contacts' points (``TrackWrites.RADAR``).
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np
import pyarrow as pa

from mista.detect.base import AlertDraft
from mista.detect.checkpoint import dump_state, load_state
from mista.detect.config import DetectConfig
from mista.detect.engine import Detection
from mista.errors import LabelError
from mista.fuse import FuseConfig, Fuser
from mista.fuse.chunk import FusedChunk, SourceCode, TrackInfo, TrackKind, TrackPoints
from mista.fuse.feed import split_feed
from mista.geo import LandMask, Ports, Zones
from mista.labels import Label, combine
from mista.model import Alert, Track, content_id
from mista.partitions import VesselPartitions
from mista.store import Store

__all__ = ["CHECKPOINT_S", "POINT_SCHEMA", "Pipeline", "StepResult", "TrackWrites"]

_log = logging.getLogger(__name__)

#: How often (seconds of work) the pipeline saves its memory in the store by default.
CHECKPOINT_S = 60.0

#: What the pipeline writes per placed report (and per associated radar contact).
POINT_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64(), nullable=False),
        pa.field("track_id", pa.string(), nullable=False),
        pa.field("flags", pa.uint16(), nullable=False),
    ]
)

#: A radar contact associated to a track is written with this bit set in ``flags`` (above
#: every ``PointFlag``), so readers tell confirmations from the track's own points.
ASSOCIATED_CONTACT = 1 << 15


class TrackWrites(StrEnum):
    """Which tracks and track points a pipeline writes."""

    ALL = "all"  # every one (a whole fuser, part 0 of detector parts)
    NONE = "none"  # none (the other detector parts: part 0 writes the same ones)
    AIS = "ais"  # AIS tracks and their own points (a partition part)
    RADAR = "radar"  # dark tracks, their contacts, contacts associated to AIS tracks


def _utc(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(slots=True)
class StepResult:
    """What one step read and wrote."""

    reports: int = 0
    points: int = 0
    tracks: int = 0
    alerts: int = 0
    cursor: int = 0
    not_fusable: int = 0  # reports whose label the node itself may not see
    kinds: dict[str, int] = field(default_factory=dict)

    def add(self, other: StepResult) -> None:
        """Count ``other`` (a later step) into these totals."""
        self.reports += other.reports
        self.points += other.points
        self.tracks += other.tracks
        self.alerts += other.alerts
        self.cursor = max(self.cursor, other.cursor)
        self.not_fusable += other.not_fusable
        for kind, count in other.kinds.items():
            self.kinds[kind] = self.kinds.get(kind, 0) + count


class _TrackBook:
    """The fuser's history, and what every track was when last seen: detectors close
    alerts (an open gap at the end of the input) on tracks the fuser has since evicted,
    and the alert still names its track and MMSI. Bounded: tracks not seen for a week are
    forgotten once many are kept."""

    _KEEP_S = 7 * 86_400.0
    _PRUNE_AT = 200_000

    def __init__(self, fuser: Fuser) -> None:
        self._fuser = fuser
        self._seen: dict[int, TrackInfo] = {}

    def learn(self, chunk: FusedChunk) -> None:
        self._seen.update(chunk.tracks)
        if len(self._seen) > self._PRUNE_AT:
            horizon = chunk.watermark - self._KEEP_S
            self._seen = {n: info for n, info in self._seen.items() if info.last_t >= horizon}

    def history(self, track: int, since: float) -> TrackPoints:
        return self._fuser.history(track, since)

    def histories(self, wanted: Iterable[tuple[int, float]]) -> TrackPoints:
        return self._fuser.histories(wanted)

    def track_info(self, track: int) -> TrackInfo | None:
        return self._fuser.track_info(track) or self._seen.get(track)


class Pipeline:
    """Fusion and detection over a store's reports, incrementally.

    ``node`` is the nation that combines labels (it originates tracks and alerts). The
    fuser and the detectors keep their state in memory, bounded by active vessels, and save
    it in the store every ``checkpoint_s`` seconds (None: never; ``checkpoint()`` saves it
    at once). A new pipeline on an existing store resumes from the saved memory, or after
    the stored cursor with fresh memory when there is none.

    ``part`` and ``kinds``: this pipeline is fusion part ``part`` running the detectors of
    ``kinds`` (None: every one); only part 0 writes tracks and track points unless
    ``writes`` says otherwise. ``partitions``: read only those vessels' reports.
    """

    def __init__(
        self,
        store: Store,
        *,
        node: str,
        fuse_config: FuseConfig | None = None,
        detect_config: DetectConfig | None = None,
        land: LandMask | None = None,
        ports: Ports | None = None,
        zones: Zones | None = None,
        batch_reports: int = 20_000,
        checkpoint_s: float | None = CHECKPOINT_S,
        part: int = 0,
        kinds: Collection[str] | None = None,
        partitions: VesselPartitions | None = None,
        writes: TrackWrites | None = None,
    ) -> None:
        self._store = store
        self._part = part
        self._partitions = partitions
        if writes is None:
            writes = TrackWrites.ALL if part == 0 else TrackWrites.NONE
        self._writes = writes
        self._node = node
        self._land = land if land is not None else LandMask.default()
        self._fuse_config = fuse_config
        self._fresh_detection = functools.partial(
            Detection,
            detect_config or DetectConfig(),
            land=self._land,
            ports=ports if ports is not None else Ports.default(),
            zones=zones,
            kinds=kinds,
        )
        self._fresh_memory()
        self._zone_labels: dict[str, Label] = (
            {zone.id: zone.label for zone in zones.zones} if zones is not None else {}
        )
        self._batch = batch_reports
        self._labels: dict[int, Label] = {}
        self._combined: dict[frozenset[int], Label] = {}
        # Two cursors: how far the feed has been read, and how far every report has been
        # fused and written. The fuser's reorder buffer holds reports between the two; the
        # store keeps the second, so a restart replays what the buffer held.
        self._cursor = store.fusion_cursor(part)
        self._read = self._cursor
        # Reports up to here were fused and their alerts written before this pipeline
        # started: when a checkpoint sends it back before them, they are not alerted twice.
        self._written_to = self._cursor
        self._checkpoint_s = checkpoint_s
        self._checkpoint_at = time.monotonic()
        # A step that failed part way (the store away at its write) left the memory ahead
        # of the store: the next step starts again as a new process would.
        self._stale = False
        self._resume()

    def _fresh_memory(self) -> None:
        """A new fuser, track book and detectors, and the parts of them a checkpoint
        shares rather than saves."""
        self._fuser = Fuser(self._fuse_config or FuseConfig(), land=self._land)
        self._book = _TrackBook(self._fuser)
        self._detection = self._fresh_detection()
        self._shared: dict[str, object] = {"land": self._land, "fuse_config": self._fuse_config}
        self._shared.update(self._detection.shared_parts())

    def _start_again(self) -> None:
        """Memory as a process starting now would have it: the checkpoint's, or fresh
        after the store's cursor."""
        self._fresh_memory()
        self._cursor = self._store.fusion_cursor(self._part)
        self._read = self._written_to = self._cursor
        self._resume()
        self._stale = False
        _log.info("fusion part %d started again after a failed step", self._part)

    def _resume(self) -> None:
        """Load the saved memory, if any fits this store's cursors."""
        saved = self._store.fusion_state(self._part)
        if saved is None:
            return
        read, blob = saved
        written_to = max(self._store.fusion_read(self._part), self._cursor)
        if read > written_to:
            _log.warning(
                "fusion checkpoint at report %d is past the last step written (%d); starting fresh",
                read,
                written_to,
            )
            return
        state = load_state(blob, self._shared)
        if not isinstance(state, tuple) or len(state) != 4:
            return
        fuser, detection, book, partitions = state
        if partitions != self._partitions:
            _log.warning(
                "fusion part %d's checkpoint fused %s, the part now fuses %s (the node's "
                "partitions changed): starting fresh after its cursor",
                self._part,
                partitions or "every report",
                self._partitions or "every report",
            )
            return
        if not isinstance(fuser, Fuser) or not isinstance(detection, Detection):
            return
        if not isinstance(book, _TrackBook):
            return
        if detection.detectors.keys() != self._detection.detectors.keys():
            _log.warning(
                "fusion part %d's checkpoint ran %s, the part now runs %s (the node's parts "
                "changed): starting fresh after its cursor",
                self._part,
                ", ".join(detection.detectors),
                ", ".join(self._detection.detectors),
            )
            return
        self._fuser, self._detection, self._book = fuser, detection, book
        self._read = read
        self._written_to = written_to
        _log.info(
            "fusion resumes from its checkpoint at report %d (reports to %d fused again, "
            "their alerts already written)",
            read,
            written_to,
        )

    def checkpoint(self) -> None:
        """Save the fuser's and detectors' memory in the store now (between steps only:
        it must match what the store holds; not after a failed step, whose memory does not)."""
        if self._stale:
            return
        state = (self._fuser, self._detection, self._book, self._partitions)
        blob = dump_state(state, self._shared)
        self._store.save_fusion_state(self._read, blob, self._part)
        self._checkpoint_at = time.monotonic()

    def _checkpoint_due(self) -> None:
        if self._checkpoint_s is None:
            return
        if time.monotonic() - self._checkpoint_at >= self._checkpoint_s:
            self.checkpoint()

    @property
    def cursor(self) -> int:
        return self._cursor

    @property
    def part(self) -> int:
        return self._part

    def _feed(self) -> pa.Table:
        if self._partitions is None:
            return self._store.report_feed(self._read, self._batch)
        return self._store.report_feed(self._read, self._batch, partitions=self._partitions)

    def step(self, *, whole_batch: bool = False) -> StepResult:
        """Fuse and detect the next batch of reports; ``reports == 0`` when caught up.

        ``whole_batch``: only when a whole batch (``batch_reports``) is there to read, so
        steps begin and end at the same reports whenever the store is written: a step's
        alert revisions follow its boundaries.

        A step that raises (the store away) changes nothing in the store; the next one
        first starts again from the checkpoint, so no report goes unfused."""
        if self._stale:
            self._start_again()
        self._stale = True
        result = self._step(whole_batch=whole_batch)
        self._stale = False
        if result.reports:
            self._checkpoint_due()
        return result

    def _step(self, *, whole_batch: bool) -> StepResult:
        feed = self._feed()
        if whole_batch and feed.num_rows < self._batch:
            return StepResult(cursor=self._cursor)
        again = False  # reports an earlier run fused and alerted: fused again, not alerted
        if self._read < self._written_to and feed.num_rows:
            earlier = pa.compute.less_equal(feed.column("seq"), self._written_to)
            again = bool(pa.compute.any(earlier).as_py())
            if again:
                feed = feed.filter(earlier)
        if feed.num_rows == 0:
            return StepResult(cursor=self._cursor)
        cursor = int(pa.compute.max(feed.column("seq")).as_py())
        fusable = self._fusable(feed)
        fused = feed if fusable is None else feed.filter(fusable)
        self._record_statics(fused)
        chunk = self._fuser.push(fused)
        self._book.learn(chunk)
        drafts = self._detection.update(chunk, self._book)
        if again:
            drafts = []  # in the store already, at the revisions they reached
        self._read = cursor
        result = self._write(chunk, drafts, self._durable_cursor())
        result.reports = feed.num_rows
        result.not_fusable = 0 if fusable is None else feed.num_rows - int(fusable.sum())
        return result

    def _record_statics(self, feed: pa.Table) -> None:
        """Names, call signs and IMO numbers, for the identity detectors (the fuser's
        events say what changed, not when the old value was last stated)."""
        if not {"name", "callsign", "imo"} <= set(feed.column_names):
            return
        given = pa.compute.or_(
            pa.compute.or_(feed.column("name").is_valid(), feed.column("callsign").is_valid()),
            pa.compute.greater(pa.compute.fill_null(feed.column("imo"), 0), 0),
        )
        statics = feed.filter(given)
        if statics.num_rows:
            self._detection.statics.add(split_feed(statics).statics)

    def _fusable(self, feed: pa.Table) -> np.ndarray | None:
        """Rows the node itself may see (None: all of them). A report not releasable to the
        node cannot be combined into its tracks and alerts; it stays in the store, unfused
        (a source config whose label leaves out the node's own nation makes such rows)."""
        numbers = np.asarray(feed.column("label_no").to_numpy(zero_copy_only=False))
        unknown = set(np.unique(numbers).tolist()) - self._labels.keys()
        if unknown:
            self._labels = self._store.labels()
        refused = [
            number
            for number in np.unique(numbers).tolist()
            if number in self._labels and self._node not in self._labels[number].releasable_to
        ]
        if not refused:
            return None
        return np.asarray(~np.isin(numbers, refused))

    def finish(self) -> StepResult:
        """End of a finite stream: release the fuser's reorder buffer, close what is open."""
        chunk = self._fuser.flush()
        self._book.learn(chunk)
        drafts = self._detection.update(chunk, self._book)
        drafts += self._detection.finish(chunk.watermark, self._book)
        result = self._write(chunk, drafts, self._read)
        if self._checkpoint_s is not None:
            self.checkpoint()  # what is closed stays closed for the next run on this store
        return result

    def _durable_cursor(self) -> int:
        """The last report number below which nothing waits in the fuser's buffer."""
        _, oldest_held = self._fuser.held()
        if oldest_held is None:
            return self._read
        return max(self._cursor, min(self._read, oldest_held - 1))

    def run(self, progress: Callable[[StepResult], None] | None = None) -> StepResult:
        """Step until caught up with the store; returns the totals."""
        total = StepResult(cursor=self._cursor)
        while True:
            result = self.step()
            if result.reports == 0:
                return total
            total.add(result)
            if progress is not None:
                progress(total)

    # -- writing ---------------------------------------------------------------------------

    def _label(self, numbers: Iterable[int], extra: Sequence[Label] = ()) -> Label:
        key = frozenset(numbers)
        if not extra and key in self._combined:
            return self._combined[key]
        missing = [number for number in key if number not in self._labels]
        if missing:
            self._labels = self._store.labels()
        try:
            inputs = [self._labels[number] for number in key]
        except KeyError as exc:
            raise LabelError(f"label number {exc.args[0]} is not in the store") from None
        label = combine([*inputs, *extra], self._node)
        if not extra:
            self._combined[key] = label
        return label

    def _track_record(self, info: TrackInfo) -> Track:
        return Track(
            id=info.id,
            kind=str(info.kind),
            first_at=_utc(info.first_t),
            last_at=_utc(info.last_t),
            lat=info.lat,
            lon=info.lon,
            points=info.points,
            label=self._label(info.label_nos),
            mmsi=info.mmsi,
            name=info.name,
            linked_from=info.linked_from,
        )

    def alert_record(self, draft: AlertDraft) -> Alert:
        """The stored form of a detector's draft: a stable id and a combined label (the
        zone's label too, for a zone entry)."""
        zone = draft.evidence.get("zone") if isinstance(draft.evidence, Mapping) else None
        extra = (
            [self._zone_labels[zone]] if isinstance(zone, str) and zone in self._zone_labels else []
        )
        return Alert(
            id=content_id("alert", self._node, *draft.key),
            kind=draft.kind,
            status=draft.status,
            start=_utc(draft.start),
            end=_utc(max(draft.end, draft.start)),
            lat=draft.lat,
            lon=draft.lon,
            label=self._label(draft.label_nos, extra),
            mmsis=tuple(draft.mmsis),
            tracks=tuple(draft.tracks),
            evidence=json.dumps(_jsonable(draft.evidence), sort_keys=True, separators=(",", ":")),
        )

    def _points_table(self, chunk: FusedChunk) -> pa.Table:
        points: TrackPoints = chunk.points
        ids = {number: info.id for number, info in chunk.tracks.items()}
        radar = points.source == SourceCode.RADAR
        keep: slice | np.ndarray = slice(None)
        if self._writes is TrackWrites.AIS:
            keep = ~radar
        elif self._writes is TrackWrites.RADAR:
            keep = radar
        seqs: list[np.ndarray] = [points.seq[keep]]
        flags: list[np.ndarray] = [points.flags[keep]]
        numbers: list[np.ndarray] = [points.track[keep]]
        # A contact on a dark track is one of that track's points already.
        placed = set(points.seq[radar].tolist())
        associated = [a for a in chunk.associations if a.track is not None and a.seq not in placed]
        if associated and self._writes is not TrackWrites.AIS:
            seqs.append(np.array([a.seq for a in associated], np.int64))
            numbers.append(np.array([a.track for a in associated], np.int64))
            flags.append(np.full(len(associated), ASSOCIATED_CONTACT, np.uint16))
        all_numbers = np.concatenate(numbers)
        track_ids: list[str] = []
        for number in all_numbers.tolist():
            track_id = ids.get(number)
            if track_id is None:
                info = self._book.track_info(number)
                track_id = info.id if info is not None else f"track:{number}"
                ids[number] = track_id
            track_ids.append(track_id)
        return pa.table(
            {
                "seq": pa.array(np.concatenate(seqs), pa.int64()),
                "track_id": pa.array(track_ids, pa.string()),
                "flags": pa.array(np.concatenate(flags), pa.uint16()),
            },
            schema=POINT_SCHEMA,
        )

    def _write(self, chunk: FusedChunk, drafts: list[AlertDraft], cursor: int) -> StepResult:
        alerts = [self.alert_record(draft) for draft in drafts]
        if self._writes is TrackWrites.NONE:  # part 0 writes them; the same fuser makes them
            tracks, points = [], POINT_SCHEMA.empty_table()
        else:
            infos: list[TrackInfo] = list(chunk.tracks.values())
            if self._writes is TrackWrites.AIS:
                infos = [info for info in infos if info.kind == TrackKind.AIS]
            elif self._writes is TrackWrites.RADAR:
                infos = [info for info in infos if info.kind != TrackKind.AIS]
            tracks = [self._track_record(info) for info in infos]
            points = self._points_table(chunk)
        self._store.write_fusion(
            cursor=cursor,
            tracks=tracks,
            points=points,
            alerts=alerts,
            read=self._read,
            part=self._part,
        )
        self._cursor = cursor
        kinds: dict[str, int] = {}
        for alert in alerts:
            kinds[alert.kind] = kinds.get(alert.kind, 0) + 1
        return StepResult(
            points=points.num_rows,
            tracks=len(tracks),
            alerts=len(alerts),
            cursor=cursor,
            kinds=kinds,
        )


def _jsonable(value: Any) -> Any:
    """Evidence as plain JSON values (numpy scalars and tuples made plain, NaN as null)."""
    if isinstance(value, Mapping):
        return {str(key): _jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(item) for item in value]
    if isinstance(value, np.generic):
        return _jsonable(value.item())
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value
