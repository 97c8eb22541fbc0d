"""End to end: with every report forwarded, the times heard follow the ITU-R M.1371-5 rates."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from mista.sim import simulate
from mista.sim.reporting import position_interval_s
from tests.sim._read import ais_files, decoded


@pytest.fixture(scope="module")
def every_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("every")
    simulate(out, hours=1.0, vessels=40, seed=4, forward_interval_s=0.0)
    return out


def test_heard_reports_are_spaced_by_the_interval_for_their_speed(every_report: Path) -> None:
    rows: dict[int, dict[int, tuple[int, float, int]]] = {}
    for path in ais_files(every_report):
        common, received, _, _ = decoded(path)
        for mmsi, kind, speed, status, t in zip(
            common.column("mmsi").to_pylist(), common.column("type").to_pylist(),
            common.column("speed").to_pylist(), common.column("status").to_pylist(),
            received.tolist(), strict=True,
        ):  # fmt: skip
            if kind in (1, 18) and speed is not None:
                rows.setdefault(mmsi, {})[int(t)] = (kind, speed, 15 if status is None else status)
    spaced = total = 0
    for by_time in rows.values():
        times = sorted(by_time)
        for a, b in itertools.pairwise(times):
            (kind_a, speed_a, status_a), (_kind_b, speed_b, status_b) = by_time[a], by_time[b]
            if (speed_a, status_a) != (speed_b, status_b):
                continue  # a new leg: the rhythm restarts
            cls = "A" if kind_a == 1 else "B"
            # Class B as SOTDMA: its rates divide the CS unit's 30 s.
            want = position_interval_s(
                [cls], np.array([False]), np.array([speed_a]), np.array([status_a])
            )[0]
            total += 1
            # A class A ship changing course: 3 1/3 s (whole seconds: 3 or 4) or 2 s.
            turning = cls == "A" and b - a in ((3, 4) if speed_a < 14 else (2,))
            spaced += (
                (b - a) % want == 0 or turning or (cls == "A" and want == 180.0 and b - a == 180)
            )
    assert total > 200
    assert spaced / total > 0.97, (spaced, total)
