"""Reads inside ``DuckDBStore.reading`` run on each thread's own connection, beside other
readers and a writer: no errors, every answer a committed state, and the last one whole."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mista.labels import Label, Level
from mista.model import User
from mista.store import BBox
from mista.store.embedded import DuckDBStore
from tests.store.test_visibility import Row, batch_of

SHARED = Label(Level.RESTRICTED, "IND", frozenset({"USA"}))
OWN = Label(Level.SECRET, "IND")
WATCH = User("watch", "IND", Level.SECRET)
LIAISON = User("usa-lo", "USA", Level.RESTRICTED)
BATCHES = 12
ROWS = 20  # per batch, alternating labels


def test_readers_beside_a_writer_see_only_committed_states(tmp_path: Path) -> None:
    store = DuckDBStore(tmp_path / "s.duckdb")
    lock = threading.RLock()
    failures: list[BaseException] = []
    seen: dict[str, list[int]] = {}
    done = threading.Event()

    def write() -> None:
        try:
            for b in range(BATCHES):
                rows = [
                    Row(
                        SHARED if i % 2 else OWN,
                        419_000_000 + i,
                        b * 60 + i,
                        70 + b + i / 100,
                        "SHIP",
                    )
                    for i in range(ROWS)
                ]
                with lock:
                    store.write(batch_of(rows, f"b{b}.csv"))
        except BaseException as exc:  # the test reports it below
            failures.append(exc)
        finally:
            done.set()

    def read(name: str, viewer: User) -> None:
        counts = seen.setdefault(name, [])
        try:
            with store.reading():
                while True:
                    finished = done.is_set()
                    positions = store.positions(BBox(-180, -90, 180, 90), viewer=viewer)
                    store.vessels(viewer=viewer)
                    store.track(419_000_001, viewer=viewer)
                    counts.append(positions.num_rows)
                    if finished:
                        return
                    time.sleep(0.01)
        except BaseException as exc:
            failures.append(exc)

    readers = [
        threading.Thread(target=read, args=(f"r{i}", WATCH if i % 2 else LIAISON)) for i in range(4)
    ]
    writer = threading.Thread(target=write)
    for thread in (*readers, writer):
        thread.start()
    for thread in (writer, *readers):
        thread.join(timeout=120)
    store.close()

    assert not failures, failures
    for name, counts in seen.items():
        whole = BATCHES * ROWS if name in ("r1", "r3") else BATCHES * ROWS // 2
        per_batch = ROWS if name in ("r1", "r3") else ROWS // 2
        assert counts == sorted(counts), f"{name} went back in time"
        assert all(count % per_batch == 0 for count in counts), f"{name} saw half a batch"
        assert counts[-1] == whole
