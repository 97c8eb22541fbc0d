"""Memory bounded by active vessels, not by history: what detectors keep per track or per
alert is forgotten once no late data can reach it (two days)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mista.detect import Detection
from mista.detect._common import SETTLED_KEPT_S, Ledger
from mista.detect.base import AlertDraft
from mista.model import AlertStatus
from tests.detect.builders import HOUR, MINUTE, SEA, T0, Memory, feed, track

LAT, LON = SEA
DAY = 24 * HOUR


def kept(obj: object, depth: int = 0) -> int:
    """Entries in every dict, set and list an object holds, and in those of the mista
    objects it holds (two levels down): what grows if something is never forgotten."""
    total = 0
    for value in vars(obj).values() if hasattr(obj, "__dict__") else ():
        if isinstance(value, dict | set | list):
            total += len(value)
            members = value.values() if isinstance(value, dict) else value
            if depth < 2:
                total += sum(kept(m, depth + 1) for m in members if _ours(m))
        elif _ours(value) and depth < 2:
            total += kept(value, depth + 1)
    return total


def _ours(value: Any) -> bool:
    return type(value).__module__.startswith("mista.detect") and hasattr(value, "__dict__")


def a_day_at_sea(day: int) -> list[Any]:
    """Ten vessels heard every minute for three hours on day ``day``, each a new track
    (the fuser retires silent tracks; a vessel heard again starts a new one), slow
    enough (0.5 kn, offshore) to loiter, two of them side by side."""
    start = T0 + day * DAY
    t = start + np.arange(0, 3 * HOUR, MINUTE)
    return [track(100 * day + k, t, LAT + 0.02 * k + (0.0 if k else 0.001), LON) for k in range(10)]


def test_what_detection_keeps_stops_growing_once_old_days_are_forgotten() -> None:
    detection = Detection()
    memory = Memory()
    sizes = []
    for day in range(8):
        feed(detection, a_day_at_sea(day), memory=memory, chunk_s=HOUR, finish=False)
        sizes.append(kept(detection))
    # What is kept grows for four days (a gap is watched for two days after its last
    # fix, and a settled alert kept two more); from then on as much is forgotten as added.
    assert sizes[4] > 0
    assert max(sizes[4:]) == min(sizes[4:]), sizes


def draft(key: str, end: float, status: AlertStatus = AlertStatus.CLOSED) -> AlertDraft:
    return AlertDraft("ais-gap", (key,), status, end - HOUR, end, LAT, LON, (), (), frozenset())


def test_a_ledger_forgets_settled_alerts_two_days_older_than_its_newest() -> None:
    ledger = Ledger()
    ledger.emit(draft("closed", T0), [1])
    ledger.emit(draft("open", T0, AlertStatus.OPEN), [2])
    ledger.emit(draft("recent", T0 + SETTLED_KEPT_S - HOUR), [3])
    assert ledger.get(("closed",)) is not None
    ledger.emit(draft("newest", T0 + SETTLED_KEPT_S + HOUR), [4])
    assert ledger.get(("closed",)) is None
    assert ledger.of_track(1) == []
    assert ledger.get(("open",)) is not None  # an open alert stays until it ends
    assert ledger.get(("recent",)) is not None
