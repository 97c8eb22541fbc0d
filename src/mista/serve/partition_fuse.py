"""Fuse part 0 of fusion by partition, fed by the bus: write, fuse, acknowledge.

With fusion by partition (``[detect] partitions``, ``mista.detect.parts``) and a JetStream
bus, fuse part 0 is the node's one store writer: it takes every partition through the
store writers' durable pull consumers (``store-<p>``) in the stream's order
(``mista.bus.stream_order``), so the store's order is the stream's, whatever pace any
fuse process keeps. For each batch it commits the reports, then fuses every report from
the store's feed in whole steps of ``fuse_batch`` (the rest once every partition has
nothing more and the bus has been quiet ``fuse_s``), and only then are the messages
acknowledged. The partition parts (1..K) read their vessels' reports from the store in
whole steps behind it. Fusion reads the store, not the messages: a report heard twice is
one row there, and the cursor and checkpoint say what is fused, so a message delivered
again (after a crash, after a lost acknowledgement) is written as a no-op and fuses
nothing twice.

A process that dies leaves its messages unacknowledged. The next process to claim the
part first makes each of its consumers start again after its acknowledgement floor, so
the redelivered messages are written in stream order: the store's order, and so every
part's steps, are those of a run without the fault. A write that fails (the store away)
does the same before consuming again, after a pause.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from mista.bus.jetstream import JetStreamBus
from mista.detect.pipeline import Pipeline, StepResult
from mista.errors import MistaError, StoreError
from mista.ingest.batch import IngestBatch
from mista.store import Store

__all__ = ["fuse_from_bus"]

_log = logging.getLogger("mista.serve")


def fuse_from_bus(
    bus: JetStreamBus,
    store: Store,
    pipeline: Pipeline,
    stop: threading.Event,
    *,
    quiet_s: float,
    held: Callable[[], bool],
    progress: Callable[[StepResult], None],
    ack_wait_s: float = 10.0,
) -> None:
    """Write every partition of ``bus`` into ``store``, in the stream's order, and fuse
    as it goes, until ``stop``.

    ``held`` says whether this process still holds its claim on the part (checked before
    each write); ``progress`` gets each step's result, and a step with no reports each
    time the part has caught up."""
    members = list(range(bus.partitions))
    unfused = [True]  # reports may wait from an earlier process: fuse them when quiet

    def fuse(*, whole_batch: bool) -> None:
        while not stop.is_set():
            result = pipeline.step(whole_batch=whole_batch)
            if result.reports == 0:
                return
            progress(result)

    def write_and_fuse(batch: IngestBatch) -> None:
        if not held():
            stop.set()
            raise StoreError(
                "the fuse role lost its claim to this part (its connection closed); "
                "start it again: it stands by if another process fuses it now"
            )
        store.write(batch)
        unfused[0] = True
        fuse(whole_batch=True)

    def when_quiet() -> None:
        if not unfused[0]:
            return
        fuse(whole_batch=False)
        unfused[0] = False
        progress(StepResult(cursor=pipeline.cursor))

    started = time.monotonic()
    messages = rows = failures = 0
    while not stop.is_set():
        bus.rewind_unacknowledged(members)
        try:
            stats = bus.consume(
                members,
                write_and_fuse,
                stop=stop,
                group="store",
                ack_wait_s=ack_wait_s,
                idle=when_quiet,
                idle_s=quiet_s,
                in_order=True,
            )
        except MistaError as exc:
            if stop.is_set():  # the claim is lost: the caller says so
                break
            failures += 1
            pause_s = min(10.0, 0.2 * 2**failures)
            _log.error(
                "fuse: writing or fusing failed (%s); again from the last acknowledged "
                "message in %.1f s",
                exc,
                pause_s,
            )
            stop.wait(pause_s)
            continue
        messages += stats.messages
        rows += stats.rows
        break
    _log.info(
        "fuse: %d partitions of the bus: %s messages, %s rows written in %.0f s",
        bus.partitions,
        f"{messages:,}",
        f"{rows:,}",
        time.monotonic() - started,
    )
