"""A fusion step on PostgreSQL is all or nothing even when its process dies mid-step.

A real process writes large fusion steps (points, a track, an alert and the cursor each) in
a loop and is killed with SIGKILL at a random moment, most likely inside a step's
transaction. The store must then hold exactly the steps its cursor says were written, and
the next writer must go on at once from there.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator

import psycopg
import pytest

from mista.store.postgres import PostgresStore
from tests.store.conftest import drop_database, new_database
from tests.store.pg_server import PgServer
from tests.store.test_fusion_tables import OPERATOR

#: Points per step (and a tenth as many tracks and alerts): each part of a step takes a
#: good part of its transaction, the transaction most of the writer's time.
STEP_POINTS = 12_000
_PER_STEP = {
    "track_points": STEP_POINTS,
    "tracks": STEP_POINTS // 10,
    "alerts": STEP_POINTS // 10,
    "alert_changes": STEP_POINTS // 10,
    "visible alerts": STEP_POINTS // 10,
}
_WRITER = """
import sys
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa

from mista.labels import Label, Level
from mista.model import Alert, AlertStatus, Track
from mista.store.postgres import PostgresStore

url, per_step = sys.argv[1], int(sys.argv[2])
label = Label(Level.RESTRICTED, "IND", frozenset({"USA"}))
t0 = datetime(2026, 1, 1, tzinfo=UTC)
with PostgresStore(url) as store:
    step = store.fusion_cursor() // per_step
    print("ready", flush=True)
    while True:
        step += 1
        seqs = np.arange((step - 1) * per_step + 1, step * per_step + 1, dtype=np.int64)
        points = pa.table({
            "seq": seqs,
            "track_id": pa.array([f"ais:{step}"] * per_step),
            "flags": pa.array(np.zeros(per_step, dtype=np.uint16)),
        })
        tracks = [
            Track(id=f"ais:{step}:{i}", kind="ais", first_at=t0, last_at=t0, lat=1.0,
                  lon=2.0, points=1, label=label, mmsi=i)
            for i in range(per_step // 10)
        ]
        alerts = [
            Alert(id=f"gap-{step}:{i}", kind="ais-gap", status=AlertStatus.OPEN, start=t0,
                  end=t0 + timedelta(hours=1), lat=1.0, lon=2.0, label=label, mmsis=(i,))
            for i in range(per_step // 10)
        ]
        store.write_fusion(cursor=step * per_step, tracks=tracks, points=points,
                           alerts=alerts)
"""


@pytest.fixture
def url(pg_server: PgServer) -> Iterator[str]:
    made = new_database(pg_server)
    yield made
    drop_database(pg_server, made)


def _start_writer(url: str) -> subprocess.Popen[str]:
    writer = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, str(STEP_POINTS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert writer.stdout is not None
    assert writer.stdout.readline().strip() == "ready"
    return writer


def _kill(writer: subprocess.Popen[str]) -> None:
    os.kill(writer.pid, signal.SIGKILL)
    writer.wait(timeout=10)
    if writer.stdout is not None:
        writer.stdout.close()


def _steps_held(url: str) -> tuple[int, dict[str, int]]:
    """(steps the cursor says were written, rows per table)."""
    with PostgresStore(url, read_only=True) as store:
        cursor = store.fusion_cursor()
        assert cursor % STEP_POINTS == 0
        counts = store.counts()
        rows = {name: counts[name] for name in ("track_points", "tracks", "alerts")}
        rows["alert_changes"] = counts["alert_changes"]
        rows["visible alerts"] = store.alerts(viewer=OPERATOR).num_rows
    return cursor // STEP_POINTS, rows


def _kill_inside_a_step(
    url: str, writer: subprocess.Popen[str], after_steps: int, rng: random.Random
) -> None:
    """SIGKILL ``writer`` once it has committed ``after_steps`` steps and is inside the
    transaction of another (its server process seen in a transaction, not idle), at a
    random moment of that transaction."""
    deadline = time.monotonic() + 60
    with psycopg.connect(url, autocommit=True) as con:
        while time.monotonic() < deadline:
            row = con.execute(
                "SELECT (SELECT seq FROM fusion_cursor), (SELECT count(*) FROM "
                "pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND xact_start IS NOT NULL "
                "AND state IN ('active', 'idle in transaction'))"
            ).fetchone()
            assert row is not None
            if row[0] >= after_steps * STEP_POINTS and row[1]:
                time.sleep(rng.uniform(0.0, 0.3))
                _kill(writer)
                return
            time.sleep(0.005)
    _kill(writer)
    pytest.fail("the writer never got inside a step")


def test_a_writer_killed_mid_step_leaves_whole_steps_only(url: str) -> None:
    rng = random.Random()
    steps = 0
    for _ in range(3):
        writer = _start_writer(url)
        _kill_inside_a_step(url, writer, steps + 1, rng)
        held, rows = _steps_held(url)
        assert held >= steps + 1
        assert rows == {name: held * count for name, count in _PER_STEP.items()}
        steps = held
