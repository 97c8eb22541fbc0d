"""Radar contacts: associated to AIS tracks through radar tracklets, or followed as dark
tracks.

Per radar, contacts are taken scan by scan (contacts within ``scan_s``). Every AIS track
near the radar is predicted to every scan (interpolated between fixes, dead-reckoned past
the last one) and gated against every contact in one vectorised pass
(``radar_gate``), with the radar's sigma (``FuseConfig.radar_sigma``) and the
prediction's growing error. Then, scan by scan:

1. each contact continues a **tracklet** (``radar_tracklet``): one that follows an AIS
   track gated for the contact, or a free one whose line passes near it, and in either
   case whose last contact is a whole number of report periods earlier (a radar reports
   a target once per period; the period is learned per radar); otherwise it starts one.
   A free tracklet that missed more than a few reports costs more per report missed,
   and past ``radar_new_tracklet_cost`` the contact starts a tracklet rather than
   continue it;
2. each tracklet folds the contact's gated AIS tracks into its moving scores;
3. the scan's tracklets are assigned to AIS tracks (``scipy.optimize.linear_sum_assignment``
   when two want one track) by those scores: a tracklet takes an AIS track whose average
   cost is at most ``radar_max_mean_cost`` unless another live tracklet follows that
   track with a lower average (by ``radar_owner_margin``). So two ships alongside each
   keep their own contacts, and a dark ship alongside an AIS ship is not given to it;
4. a contact whose tracklet follows no AIS track is dark: a tentative dark track is
   confirmed after ``dark_confirm_contacts`` contacts over ``dark_confirm_span_s``
   (scattered false contacts never line up) and dropped when it misses for
   ``dark_tentative_timeout_s`` before that. Confirmed dark tracks
   (``dark:<radar>:<n>``) have their own points; contacts on AIS tracks confirm them
   without adding points (AIS tracks stay AIS-only).

One contact goes to at most one track, and one track takes at most one contact per scan.
Steps 1-4 run compiled, scan by scan (``_radar_scan.run_scans``); this module prepares a
radar's scans and gated pairs, and makes and fills the confirmed dark tracks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Protocol

import numpy as np
import numpy.typing as npt

from ._radar_scan import run_scans
from .chunk import Association, TrackKind
from .config import FuseConfig
from .feed import PositionRows
from .radar_gate import AisSnapshot
from .radar_tracklet import RadarState, Tracklet
from .tracks import Track

__all__ = ["RadarTracker"]

I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]


class _Sink(Protocol):
    associations: list[Association]
    touched: set[int]

    def add(self, rows: PositionRows, track: I64, flags: U16) -> None: ...


class RadarTracker:
    def __init__(self, config: FuseConfig, new_dark: Callable[[str], tuple[int, str]]) -> None:
        self._config = config
        self._new_dark = new_dark
        self._radars: dict[str, RadarState] = {}
        self._confirmed: dict[int, Track] = {}
        self._touched: set[int] = set()
        self._pending: dict[int, list[int]] = {}  # dark track -> row indexes to place
        self._decay = 1.0 - 1.0 / config.radar_memory_contacts
        self._gate2 = config.gate_sigmas**2

    def dark_track(self, number: int) -> Track | None:
        return self._confirmed.get(number)

    def confirmed(self) -> Iterator[Track]:
        return iter(self._confirmed.values())

    def touched(self) -> Iterator[Track]:
        touched, self._touched = self._touched, set()
        return (self._confirmed[n] for n in touched if n in self._confirmed)

    def evict(self, horizon: float, history_s: float) -> list[str]:
        """Forget confirmed dark tracks silent since before ``horizon`` (their ids are
        returned) and trim the rest."""
        gone = []
        for number, track in list(self._confirmed.items()):
            if track.last_t < horizon:
                del self._confirmed[number]
                gone.append(track.id)
            else:
                track.trim(history_s)
        return gone

    def associate(self, rows: PositionRows, ais: list[Track], sink: _Sink) -> None:
        """Associate contacts (time order) to AIS tracks, else to dark tracks."""
        radars = np.asarray([r if isinstance(r, str) else "radar" for r in rows.receiver.tolist()])
        order = np.lexsort((rows.t, radars))
        rows = rows.take(order)
        radars = radars[order]
        bounds = np.flatnonzero(np.r_[True, radars[1:] != radars[:-1], True])
        snapshot = AisSnapshot(ais)
        for start, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            part = rows.take(slice(start, stop))
            self._one_radar(str(radars[start]), part, snapshot, sink)
            self._place_pending(part, sink)

    def _one_radar(
        self, radar: str, rows: PositionRows, snapshot: AisSnapshot, sink: _Sink
    ) -> None:
        c = self._config
        state = self._radars.setdefault(radar, RadarState())
        sigma_m = c.radar_sigma(radar)
        starts = np.flatnonzero(np.r_[True, np.diff(rows.t) > c.scan_s])
        counts = np.diff(np.r_[starts, len(rows)])
        scan_t = np.add.reduceat(rows.t, starts) / counts
        scan_of = np.repeat(np.arange(starts.shape[0]), counts)
        # Pairs one sigma beyond the gate: a tracklet may continue with a contact that is
        # a little outside its AIS track's gate (1 % are); only gated ones associate.
        pairs = snapshot.gate(rows, scan_of, scan_t, sigma_m, c, c.gate_sigmas + 1.0)
        run_scans(
            state,
            c,
            sigma_m,
            self._gate2,
            self._decay,
            starts,
            scan_t,
            pairs,
            rows,
            sink.associations,
            self._pending,
            partial(self._confirm, radar, sink),
        )

    def _place_pending(self, rows: PositionRows, sink: _Sink) -> None:
        """Contacts won by confirmed dark tracks in this radar's rows: one add per track."""
        for number, index in self._pending.items():
            track = self._confirmed.get(number)
            if track is not None:
                self._place(track, rows.take(np.asarray(index, np.intp)), sink)
        self._pending = {}

    def _confirm(self, radar: str, sink: _Sink, tracklet: Tracklet) -> None:
        number, track_id = self._new_dark(radar)
        track = Track(number, track_id, TrackKind.DARK, None)
        tracklet.track = track
        self._confirmed[number] = track
        self._place(track, _pending_rows(tracklet.pending), sink)
        tracklet.pending = []

    def _place(self, track: Track, rows: PositionRows, sink: _Sink) -> None:
        flags = np.zeros(len(rows), np.uint16)
        numbers = np.full(len(rows), track.number, np.int64)
        track.add(
            {
                "seq": rows.seq,
                "t": rows.t,
                "lat": rows.lat,
                "lon": rows.lon,
                "sog": rows.sog,
                "cog": rows.cog,
                "mmsi": np.full(len(rows), -1, np.int64),
                "label_no": rows.label_no,
                "source": rows.source,
                "flags": flags,
            }
        )
        sink.add(rows, numbers, flags)
        self._touched.add(track.number)


def _pending_rows(pending: list[tuple[PositionRows, int]]) -> PositionRows:
    """A tentative dark track's contacts (row ``i`` of ``rows``, in order) as rows: one
    take per run of contacts from the same rows."""
    parts = []
    start = 0
    for k in range(1, len(pending) + 1):
        if k == len(pending) or pending[k][0] is not pending[start][0]:
            index = np.asarray([i for _, i in pending[start:k]], np.intp)
            parts.append(pending[start][0].take(index))
            start = k
    return PositionRows.concat(parts)
