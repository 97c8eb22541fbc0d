"""``Detection``: every registered detector over each fused chunk."""

from __future__ import annotations

import math
import time
from collections.abc import Collection, Mapping
from typing import Any

from mista.detect.base import REGISTRY, AlertDraft, Detector, History
from mista.detect.config import DetectConfig
from mista.detect.statics import StaticLog
from mista.detect.transmitters import SecondTransmitters
from mista.fuse.chunk import FusedChunk
from mista.geo import LandMask, Ports, Zones


class Detection:
    """Runs every detector in ``REGISTRY`` (built once, with this config and geography), or
    only those of ``kinds`` (a fusion part's, ``mista.detect.parts``).

    Each factory receives the mapping ``{"config": DetectConfig, "land": LandMask,
    "ports": Ports, "zones": Zones | None, "statics": StaticLog, "second_transmitters":
    SecondTransmitters}`` (the last passes findings from the spoofing detector to the
    shared-mmsi one). Whoever feeds the fuser records its static rows in ``statics``
    before each ``update`` (the pipeline does); without them, identity alerts rest on the
    fuser's events alone. ``seconds`` holds the time each detector has taken so far, by
    kind (for profiles and benchmarks).
    """

    kind = "all"  # runs every kind (and so is a Detector itself)

    def __init__(
        self,
        config: DetectConfig | None = None,
        *,
        land: LandMask | None = None,
        ports: Ports | None = None,
        zones: Zones | None = None,
        kinds: Collection[str] | None = None,
    ) -> None:
        unknown = set(kinds or ()) - REGISTRY.keys()
        if unknown:
            raise ValueError(f"no detector of kind {', '.join(sorted(unknown))}")
        self.config = config if config is not None else DetectConfig()
        self.statics = StaticLog()
        settings: Mapping[str, Any] = {
            "config": self.config,
            "land": land if land is not None else LandMask.default(),
            "ports": ports if ports is not None else Ports.default(),
            "zones": zones,
            "statics": self.statics,
            "second_transmitters": SecondTransmitters(),
        }
        self._geography = {key: settings[key] for key in ("config", "land", "ports", "zones")}
        self.detectors: dict[str, Detector] = {
            kind: factory(settings)
            for kind, factory in sorted(REGISTRY.items())
            if kinds is None or kind in kinds
        }
        self.seconds: dict[str, float] = dict.fromkeys(self.detectors, 0.0)

    def shared_parts(self) -> dict[str, object]:
        """The read-only things every detector shares (configuration, land, ports, zones),
        by name: a checkpoint stores these names, not the things (``mista.detect.checkpoint``)."""
        return {f"detect_{key}": item for key, item in self._geography.items()}

    def update(self, chunk: FusedChunk, history: History) -> list[AlertDraft]:
        """Every detector's drafts for one chunk (new, revised, closed, withdrawn alerts)."""
        if not math.isfinite(chunk.watermark):
            return []  # nothing fused yet (every report so far unfusable): nothing to see
        out: list[AlertDraft] = []
        for kind, detector in self.detectors.items():
            started = time.perf_counter()
            out += detector.update(chunk, history)
            self.seconds[kind] += time.perf_counter() - started
        return out

    def finish(self, watermark: float, history: History) -> list[AlertDraft]:
        """End of a finite stream: every detector closes what it holds open."""
        if not math.isfinite(watermark):
            return []  # nothing was ever fused: nothing is open
        out: list[AlertDraft] = []
        for detector in self.detectors.values():
            out += detector.finish(watermark, history)
        return out
