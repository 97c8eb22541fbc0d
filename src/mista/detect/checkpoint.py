"""A checkpoint of fusion's memory, so that a restarted fuser resumes where it was.

The fuser's reorder buffer and open tracks, the detectors' open runs and the recent points
they look back on live in memory. Without a checkpoint a restarted pipeline resumes after
the store's fusion cursor with all of that forgotten, and its detectors state again what
they had already stated (an open port visit, say, as a new revision). The pipeline saves
this memory in the store every so often (``Pipeline(checkpoint_s=...)``) and loads it at
start.

The bytes are a header line (the format, and a digest of the mista code that wrote them)
and a pickle. Shared read-only things (land, ports, zones, the configurations) are left out by
name and put back from the new pipeline, so a checkpoint stays small and a changed zone
file applies at once. A checkpoint written by other mista code (another release, or a
changed source tree) is not loaded: its classes may have changed, and fusion resumes with
fresh memory as without one.

Pickle runs what it is given: a checkpoint is read only from the node's own store, which
the node trusts as it trusts its own code, never from a partner or a file a user names.
"""

from __future__ import annotations

import functools
import hashlib
import io
import logging
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import mista

__all__ = ["FORMAT", "dump_state", "load_state"]

_log = logging.getLogger(__name__)

#: The first word of every checkpoint; the code digest after it must match to load.
FORMAT = b"mista-fusion-checkpoint/1"


@functools.cache
def _code_digest() -> bytes:
    """SHA-256 over mista's Python sources: a version number is not bumped by every change
    to a class a checkpoint holds, the code is."""
    root = Path(mista.__file__).parent
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16].encode()


def _header() -> bytes:
    return FORMAT + b" " + _code_digest() + b"\n"


class _Pickler(pickle.Pickler):
    def __init__(self, file: io.BytesIO, shared: Mapping[str, object]) -> None:
        super().__init__(file, protocol=5)
        self._names = {id(item): name for name, item in shared.items() if item is not None}

    def persistent_id(self, obj: Any) -> str | None:
        return self._names.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, shared: Mapping[str, object]) -> None:
        super().__init__(file)
        self._shared = shared

    def persistent_load(self, pid: Any) -> object:
        if not isinstance(pid, str) or pid not in self._shared:
            raise pickle.UnpicklingError(f"the checkpoint names an unknown shared part {pid!r}")
        return self._shared[pid]


def dump_state(state: object, shared: Mapping[str, object]) -> bytes:
    """``state`` as checkpoint bytes; the objects in ``shared`` are stored by name only."""
    buffer = io.BytesIO()
    buffer.write(_header())
    _Pickler(buffer, shared).dump(state)
    return buffer.getvalue()


def load_state(blob: bytes, shared: Mapping[str, object]) -> object | None:
    """The state in ``blob`` with ``shared`` put back by name, or None (logged) when the
    checkpoint was written by other mista code or cannot be read."""
    header, newline, body = blob.partition(b"\n")
    if not newline or not header.startswith(FORMAT + b" "):
        _log.warning("fusion checkpoint not loaded: not a mista checkpoint; starting fresh")
        return None
    if header != _header().rstrip(b"\n"):
        written_by = header[len(FORMAT) + 1 :].decode(errors="replace")
        _log.warning(
            "fusion checkpoint not loaded: written by other mista code (%s, this is %s); "
            "fusion resumes after the cursor with fresh memory",
            written_by,
            _code_digest().decode(),
        )
        return None
    try:
        state: object = _Unpickler(io.BytesIO(body), shared).load()
    except Exception as exc:  # a checkpoint never stops fusion: it starts fresh
        _log.warning("fusion checkpoint not loaded (%s); starting fresh", exc)
        return None
    return state
