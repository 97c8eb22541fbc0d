"""The store writer: a worker that commits the batches of some partitions into a store.

Each batch is one store transaction; its messages are acknowledged only after the commit,
so a writer that dies mid-batch leaves them to be delivered again, and the store's
idempotence (content ids) makes the second write add nothing that was already there.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

from mista.ingest.batch import IngestBatch

if TYPE_CHECKING:
    from mista.bus.jetstream import ConsumeStats, JetStreamBus

__all__ = ["BatchWriter", "store_writer"]


class BatchWriter(Protocol):
    """What a store writer needs of a store (``mista.store.Store.write``)."""

    def write(self, batch: IngestBatch) -> object: ...


def store_writer(
    bus: JetStreamBus,
    store: BatchWriter,
    partitions: Iterable[int],
    stop: threading.Event,
    *,
    group: str = "store",
    ack_wait_s: float = 10.0,
    fetch_messages: int = 16,
    max_merge_rows: int = 250_000,
    linger_s: float = 0.5,
    lock: threading.Lock | threading.RLock | None = None,
    idle_s: float | None = None,
) -> ConsumeStats:
    """Commit every batch published on ``partitions`` into ``store`` until ``stop``.

    ``group`` names the durable consumers (``<group>-<partition>``): writers of one
    group share the work, another group reads everything again. ``lock``, when given,
    is held around each write (a node's store lock). ``idle_s``, when given, also ends
    the writer once it has had nothing to write for that long (batch runs, tests). The
    other options are ``JetStreamBus.consume``'s. A write that
    raises a ``MistaError`` (the store is away) hands the batch back to the bus and is
    tried again after a pause; the bus slows down rather than lose it.
    """

    last_write = [time.monotonic()]
    ending = threading.Event()

    writing = threading.Event()

    def write(batch: IngestBatch) -> None:
        writing.set()
        try:
            if lock is None:
                store.write(batch)
            else:
                with lock:
                    store.write(batch)
        finally:
            last_write[0] = time.monotonic()
            writing.clear()

    def watch() -> None:
        while not ending.is_set():
            quiet_s = time.monotonic() - last_write[0]
            idle = idle_s is not None and not writing.is_set() and quiet_s >= idle_s
            if stop.is_set() or idle:
                ending.set()
            stop.wait(0.1)

    watcher = threading.Thread(target=watch, name="mista-writer-watch", daemon=True)
    watcher.start()
    try:
        return bus.consume(
            partitions,
            write,
            stop=ending,
            group=group,
            ack_wait_s=ack_wait_s,
            fetch_messages=fetch_messages,
            max_merge_rows=max_merge_rows,
            linger_s=linger_s,
        )
    finally:
        ending.set()
        watcher.join()
