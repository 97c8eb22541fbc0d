"""The reorder buffer: reports in, reports out in time order once the watermark passes.

The watermark is the newest time seen minus the window. A report older than the watermark
as it stood when the report arrived is late: it is handed back at once, marked late, for
the caller to place into history.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import numpy as np

from .feed import Rows

__all__ = ["ReorderBuffer"]


R = TypeVar("R", bound=Rows)


class ReorderBuffer(Generic[R]):
    """Holds rows of one kind; the watermark is set by the caller (shared across kinds)."""

    def __init__(self, empty: R) -> None:
        self._empty = empty
        self._batches: list[R] = []  # each sorted by time

    def __len__(self) -> int:
        return sum(len(batch) for batch in self._batches)

    def add(self, rows: R, watermark: float) -> R:
        """Buffer the rows not older than ``watermark``; return the late ones (time order)."""
        if len(rows) == 0:
            return self._empty
        order = np.argsort(rows.t, kind="stable")
        rows = rows.take(order)
        cut = int(np.searchsorted(rows.t, watermark, side="left"))
        if cut < len(rows):
            self._batches.append(rows.take(slice(cut, None)))
        return rows.take(slice(0, cut))

    def release(self, watermark: float) -> R:
        """Every buffered row with ``t <= watermark``, in time order (ties by arrival)."""
        out: list[R] = []
        keep: list[R] = []
        for batch in self._batches:
            if batch.t[0] > watermark:
                keep.append(batch)
                continue
            cut = int(np.searchsorted(batch.t, watermark, side="right"))
            out.append(batch.take(slice(0, cut)))
            if cut < len(batch):
                keep.append(batch.take(slice(cut, None)))
        self._batches = keep
        if not out:
            return self._empty
        rows = type(self._empty).concat(out)
        if len(out) > 1:
            rows = rows.take(np.argsort(rows.t, kind="stable"))
        return rows

    def oldest_seq(self) -> int | None:
        """The smallest report number still held (``None`` when empty)."""
        seqs = [int(batch.seq.min()) for batch in self._batches if len(batch)]
        return min(seqs) if seqs else None

    def release_all(self) -> R:
        return self.release(float("inf"))
