"""The node's own sources, each run in a thread: files once, spool directories, streams.

Every batch is written under the node's store lock (the exchange writes partner batches
under the same lock) and wakes the pushers, so what is ingested is released at once.

- a file path is read once at start; content ids make a restart that reads it again
  store nothing twice;
- ``spool:DIR`` ingests each new file in DIR once, then moves it to ``DIR/done``. Files
  whose names start with ``.`` or end in ``.tmp``/``.part`` are still being written (write
  to such a name, then rename). A crash between the write and the move re-reads the file
  at the next start, which stores nothing twice;
- ``tcp://`` connects and reconnects with backoff; ``udp://`` listens until stopped.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mista.config import SourceEntry
from mista.errors import MistaError
from mista.ingest.batch import IngestBatch
from mista.ingest.streams import ByteSource, FileSource, open_source
from mista.node import read_batches
from mista.store import WriteResult

__all__ = ["SPOOL_DONE", "SourceStats", "run_source", "spool_files"]

SPOOL_DONE = "done"
_IN_PROGRESS = (".tmp", ".part")
#: Seconds between rate lines on stream sources.
RATE_EVERY_S = 10.0
_log = logging.getLogger("mista.serve")

Write = Callable[[IngestBatch], WriteResult]


@dataclass
class SourceStats:
    """What one source has read and stored since the node started."""

    messages: int = 0
    reports: int = 0
    rejected: int = 0
    files: int = 0
    last_error: str = ""
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "reports": self.reports,
            "rejected": self.rejected,
            "files": self.files,
            "last_error": self.last_error,
        }


def spool_files(directory: Path) -> list[Path]:
    """The files waiting in a spool directory, oldest name first."""
    try:
        entries = sorted(directory.iterdir())
    except FileNotFoundError:
        return []
    return [
        path
        for path in entries
        if path.is_file() and not path.name.startswith(".") and not path.name.endswith(_IN_PROGRESS)
    ]


def _move_done(path: Path) -> None:
    done = path.parent / SPOOL_DONE
    done.mkdir(exist_ok=True)
    target = done / path.name
    number = 1
    while target.exists():
        target = done / f"{path.stem}.{number}{path.suffix}"
        number += 1
    os.replace(path, target)


def _ingest(
    entry: SourceEntry,
    source: ByteSource,
    write: Write,
    stats: SourceStats,
    stop: threading.Event,
    *,
    name: str | None = None,
) -> None:
    last_line = time.monotonic()
    for batch in read_batches(source, entry.config, name=name):
        result = write(batch)
        stats.messages += batch.message_count
        stats.reports += result.reports
        stats.rejected += result.rejected
        if source.is_stream and time.monotonic() - last_line >= RATE_EVERY_S:
            last_line = time.monotonic()
            _log.info(
                "source %s: %d messages, %d reports stored, %d rejected",
                entry.name,
                stats.messages,
                stats.reports,
                stats.rejected,
            )
        if stop.is_set():
            break


def _spool(
    entry: SourceEntry,
    directory: Path,
    write: Write,
    stats: SourceStats,
    stop: threading.Event,
    poll_s: float,
) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    while not stop.is_set():
        for path in spool_files(directory):
            if stop.is_set():
                return
            before = stats.reports
            _ingest(entry, FileSource(path), write, stats, stop, name=f"{entry.name}/{path.name}")
            if stop.is_set():
                # Stopped mid-file: leave it in the spool; the next start re-reads it.
                return
            _move_done(path)
            stats.files += 1
            _log.info(
                "source %s: %s ingested (%d reports stored), moved to %s/",
                entry.name,
                path.name,
                stats.reports - before,
                SPOOL_DONE,
            )
        stop.wait(poll_s)


def _reconnecting(
    entry: SourceEntry, write: Write, stats: SourceStats, stop: threading.Event, max_wait_s: float
) -> None:
    wait_s = 0.5
    while not stop.is_set():
        try:
            _ingest(entry, open_source(entry.url, stop=stop), write, stats, stop)
            wait_s = 0.5
        except MistaError as exc:
            if str(exc) != stats.last_error:
                _log.warning(
                    "source %s: %s (reconnecting, up to every %.0f s)", entry.name, exc, max_wait_s
                )
            stats.last_error = str(exc)
        stop.wait(wait_s)
        wait_s = min(max_wait_s, wait_s * 2)


def run_source(
    entry: SourceEntry,
    write: Write,
    stats: SourceStats,
    stop: threading.Event,
    *,
    poll_s: float,
    reconnect_max_s: float,
) -> None:
    """Run one source until it ends or ``stop`` is set; errors are logged, never raised."""
    try:
        spool = entry.spool_dir
        if spool is not None:
            _spool(entry, spool, write, stats, stop, poll_s)
        elif entry.url.startswith("tcp://"):
            _reconnecting(entry, write, stats, stop, reconnect_max_s)
        else:
            _ingest(entry, open_source(entry.url, stop=stop), write, stats, stop)
            if not entry.url.startswith("udp://"):
                _log.info(
                    "source %s: %s read, %d reports stored", entry.name, entry.url, stats.reports
                )
    except MistaError as exc:
        stats.last_error = str(exc)
        _log.error("source %s: %s", entry.name, exc)
    except Exception as exc:  # a bug must not take the node down silently
        stats.last_error = f"{type(exc).__name__}: {exc}"
        _log.exception("source %s failed", entry.name)
