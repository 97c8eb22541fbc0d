"""One track's retained points, in time order, bounded in time.

Appending is cheap: a track keeps references to slices of the released chunk's columns
(shared by every track in that chunk) and copies them into arrays of its own only when
someone reads or changes its history. Those arrays have room to grow, so joining copies
only the new points, not the whole history again.

What a reader gets (``points``, ``t``, ``flags``, ``column``) are read-only views that
never change afterwards: appending writes past them, and every other change (``insert``,
``trim``, ``set_flags``, ``take_out``) builds new arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .chunk import TrackPoints

__all__ = ["COLUMNS", "PointBlock", "TrackHistory"]

F64 = npt.NDArray[np.float64]
U16 = npt.NDArray[np.uint16]

#: Column name -> dtype, as in ``TrackPoints`` (without ``track``, which is the owner's).
COLUMNS: dict[str, type[np.generic]] = {
    "seq": np.int64,
    "t": np.float64,
    "lat": np.float64,
    "lon": np.float64,
    "sog": np.float64,
    "cog": np.float64,
    "mmsi": np.int64,
    "label_no": np.int32,
    "source": np.uint8,
    "flags": np.uint16,
}

#: Points: column name -> array (every column of ``COLUMNS``, equal lengths).
PointBlock = dict[str, npt.NDArray[np.generic]]

#: Joined into one block after this many slices even if nobody reads (bounds the list).
_MAX_SLICES = 64
#: Room made when the arrays grow: a quarter of the points held, and at least this many.
_MIN_ROOM = 16


def _capacity(n: int) -> int:
    """The rows to make room for when holding ``n``."""
    return n + max(n // 4, _MIN_ROOM)


def _empty() -> PointBlock:
    return {name: np.empty(0, dtype) for name, dtype in COLUMNS.items()}


def _read_only(buffers: PointBlock) -> PointBlock:
    """Read-only views of ``buffers`` (views taken of them are read-only too)."""
    views: PointBlock = {}
    for name, column in buffers.items():
        view = column.view()
        view.flags.writeable = False
        views[name] = view
    return views


class TrackHistory:
    """Points of one track, oldest first; ``trim`` forgets those before a time."""

    __slots__ = ("_buffers", "_cols", "_n", "_readers", "_slices")

    def __init__(self) -> None:
        # Owned arrays, never handed out; their first ``len(self._cols["t"])`` rows are
        # the joined points, the rest room to grow.
        self._buffers: PointBlock = _empty()
        self._readers: PointBlock = _read_only(self._buffers)  # what readers get slices of
        self._cols: PointBlock = dict(self._readers)  # the joined points
        self._slices: list[tuple[PointBlock, int, int]] = []  # shared, not yet joined
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def __getstate__(self) -> tuple[PointBlock, int]:
        # The points only: not the room to grow nor the chunks the slices point into.
        return self._join(), self._n

    def __setstate__(self, state: tuple[PointBlock, int]) -> None:
        cols, self._n = state
        self._set(cols)

    @property
    def first_t(self) -> float:
        """The oldest retained time (``inf`` when empty)."""
        if self._cols["t"].shape[0]:
            return float(self._cols["t"][0])
        if self._slices:
            block, start, _ = self._slices[0]
            return float(block["t"][start])
        return float("inf")

    def append_slice(self, block: PointBlock, start: int, stop: int) -> None:
        """Add ``block[start:stop]`` (shared, never written to) after the newest point."""
        self._slices.append((block, start, stop))
        self._n += stop - start
        if len(self._slices) > _MAX_SLICES:
            self._join()

    def append(self, block: PointBlock) -> None:
        """Add points at or after the newest one (the caller keeps time order)."""
        self.append_slice(block, 0, int(block["t"].shape[0]))

    def _set(self, cols: PointBlock, rows: npt.NDArray[np.intp] | None = None) -> None:
        """Hold ``cols`` (or its ``rows``, in that order) as the joined points, copied into
        arrays with room to grow (a track that took late points gets the next chunk's)."""
        n = int(cols["t"].shape[0] if rows is None else rows.shape[0])
        capacity = _capacity(n)
        buffers: PointBlock = {}
        for name, dtype in COLUMNS.items():
            buffer = np.empty(capacity, dtype)
            buffer[:n] = cols[name] if rows is None else cols[name][rows]
            buffers[name] = buffer
        self._buffers = buffers
        self._readers = _read_only(buffers)
        self._cols = {name: reader[:n] for name, reader in self._readers.items()}
        self._slices = []

    def _join(self) -> PointBlock:
        """The points as one block of views (copying pending slices in first)."""
        if not self._slices:
            return self._cols
        joined = int(self._cols["t"].shape[0])
        buffers = self._buffers
        if buffers["t"].shape[0] < self._n:
            capacity = _capacity(self._n)
            grown: PointBlock = {}
            for name, dtype in COLUMNS.items():
                grown[name] = np.empty(capacity, dtype)
                grown[name][:joined] = self._cols[name]
            buffers = grown
            self._buffers = buffers
            self._readers = _read_only(buffers)
        targets = [(name, buffers[name]) for name in COLUMNS]  # looked up once, not per slice
        for block, start, stop in self._slices:
            end = joined + stop - start
            for name, buffer in targets:
                buffer[joined:end] = block[name][start:stop]
            joined = end
        self._cols = {name: reader[:joined] for name, reader in self._readers.items()}
        self._slices = []
        return self._cols

    @property
    def t(self) -> F64:
        out: F64 = self._join()["t"]  # type: ignore[assignment]
        return out

    @property
    def flags(self) -> U16:
        out: U16 = self._join()["flags"]  # type: ignore[assignment]
        return out

    def column(self, name: str) -> npt.NDArray[np.generic]:
        return self._join()[name]

    def insert(self, block: PointBlock) -> None:
        """Add points anywhere in time (late data): merged in time order."""
        cols = self._join()
        merged = {name: np.concatenate([cols[name], block[name]]) for name in COLUMNS}
        order = np.argsort(merged["t"], kind="stable")
        self._set(merged, order)
        self._n = int(order.shape[0])

    def trim(self, before_t: float) -> None:
        """Forget points older than ``before_t``."""
        cols = self._join()
        cut = int(np.searchsorted(cols["t"], before_t, side="left"))
        if cut:
            self._set({name: column[cut:] for name, column in cols.items()})
            self._n -= cut

    def set_flags(self, seqs: npt.NDArray[np.int64], set_bits: int, clear_bits: int) -> None:
        """Set and clear flag bits on the points with the given report numbers."""
        cols = self._join()
        hit = np.isin(cols["seq"], seqs)
        flags = np.asarray(cols["flags"], np.uint16)
        n = flags.shape[0]
        changed = np.empty_like(self._buffers["flags"])  # as much room as the others
        changed[:n] = flags
        changed[:n][hit] = (flags[hit] | np.uint16(set_bits)) & np.uint16(~clear_bits & 0xFFFF)
        self._buffers["flags"] = changed
        self._readers["flags"] = _read_only({"flags": changed})["flags"]
        self._cols["flags"] = self._readers["flags"][:n]

    def take_out(self, seqs: npt.NDArray[np.int64]) -> PointBlock:
        """Remove the points with the given report numbers and return them."""
        cols = self._join()
        hit = np.isin(cols["seq"], seqs)
        out = {name: column[hit] for name, column in cols.items()}
        self._set(cols, np.flatnonzero(~hit))
        self._n = int(self._cols["t"].shape[0])
        return out

    def joined(self) -> PointBlock:
        """All the points as one block of read-only views (no copy), to be read at once:
        the block itself (not its arrays) changes with the history."""
        return self._join()

    def points(self, track: int, since: float) -> TrackPoints:
        """The points with ``t >= since`` as ``TrackPoints`` (read-only views)."""
        # Field by field, not through a dict: detectors read hundreds of tracks per chunk.
        cols: dict[str, Any] = self._join()
        start = int(cols["t"].searchsorted(since, side="left"))
        return TrackPoints(
            np.full(self._n - start, track, np.int64),
            cols["seq"][start:],
            cols["t"][start:],
            cols["lat"][start:],
            cols["lon"][start:],
            cols["sog"][start:],
            cols["cog"][start:],
            cols["mmsi"][start:],
            cols["label_no"][start:],
            cols["source"][start:],
            cols["flags"][start:],
        )
