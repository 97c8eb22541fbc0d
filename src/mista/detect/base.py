"""The detector contract: one class per behaviour, all listed in one registry.

A detector reads each ``FusedChunk`` and returns ``AlertDraft`` changes: a new alert, a
revision (same ``key``, new span or evidence), a close, or a withdrawal. The pipeline
turns drafts into ``mista.model.Alert`` records with a combined label and stores them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from mista.fuse.chunk import FusedChunk, TrackInfo, TrackPoints
from mista.model import AlertStatus

__all__ = ["REGISTRY", "AlertDraft", "Detector", "History", "register"]


@dataclass(frozen=True, slots=True)
class AlertDraft:
    """An alert as a detector states it; ``key`` names it stably across revisions
    (e.g. ``("ais-gap", "ais:419000123", 1767225600)``: kind, subjects, first start)."""

    kind: str
    key: tuple[Any, ...]
    status: AlertStatus
    start: float  # epoch seconds
    end: float
    lat: float
    lon: float
    tracks: tuple[str, ...]  # TrackInfo.id of every track involved
    mmsis: tuple[int, ...]
    label_nos: frozenset[int]  # labels of every report the evidence rests on
    evidence: Mapping[str, Any] = field(default_factory=dict)  # JSON-able


class History(Protocol):
    """What detectors may ask the fuser about the past (bounded retention)."""

    def history(self, track: int, since: float) -> TrackPoints:
        """The track's retained points with ``t >= since``, in time order."""
        ...

    def histories(self, wanted: Iterable[tuple[int, float]]) -> TrackPoints:
        """``history(track, since)`` of each ``(track, since)``, one after another."""
        ...

    def track_info(self, track: int) -> TrackInfo | None: ...


class Detector(Protocol):
    """One behaviour. ``update`` sees every chunk; ``finish`` closes what is open at the
    end of a finite stream."""

    kind: str

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]: ...

    def finish(self, watermark: float, history: History) -> list[AlertDraft]: ...


#: kind -> factory taking the detection config section for that kind (a mapping).
REGISTRY: dict[str, Callable[[Mapping[str, Any]], Detector]] = {}


def register(
    kind: str,
) -> Callable[[Callable[[Mapping[str, Any]], Detector]], Callable[[Mapping[str, Any]], Detector]]:
    """Class decorator: list a detector in ``REGISTRY`` under ``kind``."""

    def add(
        factory: Callable[[Mapping[str, Any]], Detector],
    ) -> Callable[[Mapping[str, Any]], Detector]:
        if kind in REGISTRY:
            raise ValueError(f"two detectors registered as {kind!r}")
        REGISTRY[kind] = factory
        return factory

    return add
