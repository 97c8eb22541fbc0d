"""What vessels said about themselves: names, call signs and IMO numbers over time.

The fuser turns static rows (AIS types 5 and 24) into identity events at the moment a
change shows; detectors need more of the static history than the event carries: when
the old name was last stated (the change happened after that), and which MMSIs stated
one IMO number (the permanent hull number: a vessel that changes MMSI keeps it). The
pipeline records every static row here before detection runs; bounded by
``retain_s`` of stream time.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

from mista.fuse.feed import StaticRows
from mista.fuse.identity import normalise_text
from mista.fuse.mmsi import is_valid_imo

__all__ = ["ImoLink", "StaticLog"]

#: Times kept per MMSI and stated value (older ones are dropped first).
_MAX_TIMES = 64
#: How often (stream seconds) entries older than the retention are dropped.
_PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True, slots=True)
class ImoLink:
    """Two MMSIs that stated one IMO number; ``first_t`` is when each first did."""

    imo: int
    mmsis: tuple[int, int]
    first_t: tuple[float, float]


class StaticLog:
    """Per MMSI, when it stated each name and call sign; per IMO, the MMSIs that stated it."""

    def __init__(self, retain_s: float = 48 * 3600.0) -> None:
        self.retain_s = retain_s
        self._stated: dict[tuple[int, str, str], list[float]] = {}  # (mmsi, field, value)
        # imo -> mmsi -> (first, last) time it stated it
        self._imo_mmsis: dict[int, dict[int, tuple[float, float]]] = {}
        self._imo_of: dict[int, int] = {}  # mmsi -> the IMO it stated last
        self._links: list[ImoLink] = []
        self._newest = float("-inf")
        self._pruned_at = float("-inf")

    def add(self, rows: StaticRows) -> None:
        """Record static rows (any order)."""
        stated_at = rows.t.tolist()
        self._newest = max([self._newest, *stated_at])
        # A vessel states the same IMO over and over: each distinct one is checked once
        # per call (``normalise_text`` keeps its own cache of names and call signs).
        valid: dict[int, bool] = {}
        added: dict[tuple[int, str, str], list[float]] = {}  # new times, by what was stated
        for mmsi, t, name, callsign, imo in zip(
            rows.mmsi.tolist(),
            stated_at,
            rows.name.tolist(),
            rows.callsign.tolist(),
            rows.imo.tolist(),
            strict=True,
        ):
            for field, raw in (("name", name), ("callsign", callsign)):
                value = normalise_text(raw)
                if value is not None:
                    added.setdefault((mmsi, field, value), []).append(t)
            if imo > 0:
                ok = valid.get(imo)
                if ok is None:
                    ok = valid[imo] = is_valid_imo(imo)
                if ok:
                    self._state_imo(imo, mmsi, t)
        for key, new in added.items():
            # The newest ``_MAX_TIMES`` of all times, as inserting them one by one keeps.
            times = self._stated.setdefault(key, [])
            times += new
            times.sort()
            del times[:-_MAX_TIMES]
        if self._newest - self._pruned_at >= _PRUNE_EVERY_S:
            self._prune()

    def _state_imo(self, imo: int, mmsi: int, t: float) -> None:
        self._imo_of[mmsi] = imo
        stated = self._imo_mmsis.setdefault(imo, {})
        if mmsi in stated:
            first, last = stated[mmsi]
            stated[mmsi] = (min(first, t), max(last, t))
            return
        for other, (other_first, _) in stated.items():
            self._links.append(ImoLink(imo, (other, mmsi), (other_first, t)))
        stated[mmsi] = (t, t)

    def last_stated(self, mmsi: int, field: str, value: str | None, before: float) -> float | None:
        """The latest time at or before ``before`` that ``mmsi`` stated ``value`` as its
        ``field`` (``"name"`` or ``"callsign"``); ``None`` if it did not (in retention)."""
        text = normalise_text(value)
        if text is None:
            return None
        times = self._stated.get((mmsi, field, text), [])
        i = bisect.bisect_right(times, before)
        return times[i - 1] if i > 0 else None

    def same_imo(self, mmsi: int) -> list[int]:
        """The other MMSIs that stated the IMO number ``mmsi`` stated last."""
        imo = self._imo_of.get(mmsi)
        if imo is None:
            return []
        return [other for other in self._imo_mmsis.get(imo, {}) if other != mmsi]

    def new_links(self) -> list[ImoLink]:
        """Pairs of MMSIs found stating one IMO since the last call."""
        links, self._links = self._links, []
        return links

    def _prune(self) -> None:
        self._pruned_at = self._newest
        horizon = self._newest - self.retain_s
        stale = [key for key, times in self._stated.items() if times[-1] < horizon]
        for key in stale:
            del self._stated[key]
        for imo, stated in list(self._imo_mmsis.items()):
            if all(span[1] >= horizon for span in stated.values()):
                continue  # nothing to drop
            kept = {mmsi: span for mmsi, span in stated.items() if span[1] >= horizon}
            for mmsi in stated.keys() - kept.keys():
                if self._imo_of.get(mmsi) == imo:
                    del self._imo_of[mmsi]
            if kept:
                self._imo_mmsis[imo] = kept
            else:
                del self._imo_mmsis[imo]
