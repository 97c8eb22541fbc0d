"""Behaviour detection: one detector per behaviour, all listed in ``REGISTRY``.

``Detection`` runs them all over each ``FusedChunk``; ``DetectConfig`` holds their
thresholds (node.toml ``[detect.<kind>]``). Importing this package registers every
built-in detector.
"""

from mista.detect import (
    close_approach,
    dark,
    encounter,
    gap,
    identity,
    loitering,
    port_visit,
    spoofing,
    zone,
)
from mista.detect.base import REGISTRY, AlertDraft, Detector, History, register
from mista.detect.config import DetectConfig
from mista.detect.engine import Detection

__all__ = ["REGISTRY", "AlertDraft", "DetectConfig", "Detection", "Detector", "History", "register"]

#: The modules of the built-in detectors (imported above so ``REGISTRY`` is full).
DETECTOR_MODULES = (
    close_approach,
    dark,
    encounter,
    gap,
    identity,
    loitering,
    port_visit,
    spoofing,
    zone,
)
