"""The node's own sources, each run in a thread: files once, spool directories, streams.

Every batch is written under the node's store lock (the exchange writes partner batches
under the same lock) and wakes the pushers, so what is ingested is released at once.

- a file path is read once at start; content ids make a restart that reads it again
  store nothing twice;
- ``spool:DIR`` ingests each new file in DIR once, then moves it to ``DIR/done``. Files
  whose names start with ``.`` or end in ``.tmp``/``.part`` are still being written (write
  to such a name, then rename). A crash between the write and the move re-reads the file
  at the next start, which stores nothing twice. A file that cannot be read as a whole
  (corrupt gzip) is moved to ``DIR/failed`` with a ``.reason`` file; lines that do not
  decode are quarantined by ingest as from any source; a store error leaves the file in
  DIR to be read again;
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
from mista.errors import InputError, MistaError, StoreError
from mista.ingest.batch import IngestBatch
from mista.ingest.streams import ByteSource, FileSource, open_source
from mista.node import read_batches
from mista.store import WriteResult

__all__ = ["SPOOL_DONE", "SPOOL_FAILED", "SourceStats", "run_source", "spool_files"]

SPOOL_DONE = "done"
#: Spool files that cannot be read as a whole (e.g. corrupt gzip) go here, each with a
#: ``.reason`` file beside it; what came before the damage was stored.
SPOOL_FAILED = "failed"
#: Seconds before a spool file whose batch the store refused is tried again.
STORE_RETRY_S = 5.0
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


def _move(path: Path, folder: str) -> Path:
    """Move a spool file into ``folder`` beside it, never over an earlier file."""
    into = path.parent / folder
    into.mkdir(exist_ok=True)
    target = into / path.name
    number = 1
    while target.exists():
        target = into / f"{path.stem}.{number}{path.suffix}"
        number += 1
    os.replace(path, target)
    return target


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
            try:
                _ingest(
                    entry, FileSource(path), write, stats, stop, name=f"{entry.name}/{path.name}"
                )
            except InputError as exc:
                target = _move(path, SPOOL_FAILED)
                target.with_name(target.name + ".reason").write_text(f"{exc}\n")
                stats.last_error = str(exc)
                _log.error(
                    "source %s: %s set aside in %s/ (%d reports stored before it failed): %s",
                    entry.name,
                    path.name,
                    SPOOL_FAILED,
                    stats.reports - before,
                    exc,
                )
                continue
            except StoreError as exc:
                # Kept in the spool and read again later: nothing of it is lost.
                stats.last_error = str(exc)
                _log.error("source %s: %s: %s (retrying)", entry.name, path.name, exc)
                stop.wait(STORE_RETRY_S)
                break
            if stop.is_set():
                # Stopped mid-file: leave it in the spool; the next start re-reads it.
                return
            _move(path, SPOOL_DONE)
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
