"""Reconcile the bus with the store: is every report the stream holds in the store?

``reconcile`` reads every message of the stream (``JetStreamBus.stream_batches``, which
moves no consumer group) and every report id of the store (``report_feed``, in pages),
and says what differs. The comparison is on report ids (content ids: the same
transmission gets the same id however often it is published or heard):

- on the bus, not in the store: lost, or not written yet (writers behind);
- on the bus, kept under another id: the store keeps one report per transmission heard
  across a dedupe-bucket boundary (``DEDUPE_WINDOW_S``), under the id of the copy stored
  first (earlier or later); this is found among the bus's own messages, and is not a
  loss;
- in the store, not on the bus: normal for reports ingested directly (``mista ingest``
  without ``--bus``), or published longer ago than the stream keeps messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mista.bus.jetstream import JetStreamBus
from mista.model import DEDUPE_WINDOW_S

__all__ = ["Reconciliation", "ReportFeed", "reconcile"]

_PAGE = 100_000
_HEX = np.full(256, 255, dtype=np.uint8)
for _at, _char in enumerate(b"0123456789abcdef"):
    _HEX[_char] = _at
for _at, _char in enumerate(b"ABCDEF"):
    _HEX[_char] = 10 + _at


class ReportFeed(Protocol):
    """What reconciling needs of a store (``mista.store.Store.report_feed``)."""

    def report_feed(self, after_seq: int, limit: int) -> pa.Table: ...


@dataclass(frozen=True, slots=True)
class Reconciliation:
    """What the bus holds against what the store holds (counts of report ids)."""

    bus_messages: int
    bus_rows: int
    bus_ids: int
    unreadable: int
    store_ids: int
    missing: int
    merged: int
    store_only: int
    #: The first few ids of each kind, 32 hex digits as the store prints them.
    missing_ids: list[str] = field(default_factory=list)
    store_only_ids: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """Whether every report on the bus is in the store."""
        return self.missing == 0


def _keys_from_halves(hi: pa.Array, lo: pa.Array) -> pa.Array:
    """16-byte keys (big-endian halves) from uint64 columns."""
    both = np.column_stack(
        [
            np.asarray(hi.to_numpy(zero_copy_only=False), dtype=np.uint64),
            np.asarray(lo.to_numpy(zero_copy_only=False), dtype=np.uint64),
        ]
    ).astype(">u8")
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), len(hi), [None, pa.py_buffer(both.tobytes())]
    )


def _keys_from_hex(ids: pa.Array | pa.ChunkedArray) -> pa.Array:
    """16-byte keys from 32-hex-digit strings (no Python loop per row)."""
    if isinstance(ids, pa.ChunkedArray):
        ids = ids.combine_chunks()
    if ids.null_count or len(ids) == 0:
        ids = pc.drop_null(ids)
    count = len(ids)
    if not count:
        return pa.array([], pa.binary(16))
    if not pc.all(pc.equal(pc.utf8_length(ids), 32)).as_py():
        raise ValueError("report ids are not 32 hex digits")
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[ids.offset : ids.offset + count + 1]
    chars = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    nibbles = _HEX[chars.reshape(count, 32)]
    if (nibbles == 255).any():
        raise ValueError("report ids are not 32 hex digits")
    packed = (nibbles[:, 0::2] << 4) | nibbles[:, 1::2]
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), count, [None, pa.py_buffer(packed.astype(np.uint8).tobytes())]
    )


def _hex(keys: pa.Array) -> list[str]:
    return [bytes(key).hex() for key in keys.to_pylist()]


def _merged(missing: pa.Array, bus_rows: pa.Table, stored: pa.Array) -> pa.Array:
    """Of ``missing`` keys, those the store keeps under another stored id: a bus row of
    the same content less than DEDUPE_WINDOW_S before or after whose id is stored."""
    rows = bus_rows.filter(pc.is_in(bus_rows.column("key"), value_set=missing))
    earlier = bus_rows.filter(pc.is_in(bus_rows.column("key"), value_set=stored))
    if not rows.num_rows or not earlier.num_rows:
        return pa.array([], pa.binary(16))
    pairs = rows.join(earlier, "content_hash", join_type="inner", right_suffix="_first")
    gap = pc.subtract(
        pairs.column("observed_at").cast(pa.int64()),
        pairs.column("observed_at_first").cast(pa.int64()),
    )
    window_us = DEDUPE_WINDOW_S * 1_000_000
    apart = pc.abs(gap)
    close = pc.and_(pc.greater(apart, 0), pc.less(apart, window_us))
    return pc.unique(pairs.filter(pc.fill_null(close, False)).column("key"))


def reconcile(bus: JetStreamBus, store: ReportFeed, *, show: int = 10) -> Reconciliation:
    """Compare the report ids of every message on ``bus``'s stream with the store's; the
    first ``show`` ids of each difference are listed."""
    messages = rows = unreadable = 0
    parts: list[pa.Table] = []
    for batch in bus.stream_batches():
        messages += 1
        if batch is None:
            unreadable += 1
            continue
        table = batch.messages
        rows += table.num_rows
        parts.append(
            pa.table(
                {
                    "key": _keys_from_halves(table.column("id_hi"), table.column("id_lo")),
                    "content_hash": table.column("content_hash"),
                    "observed_at": table.column("observed_at"),
                }
            )
        )
    empty = pa.table(
        {
            "key": pa.array([], pa.binary(16)),
            "content_hash": pa.array([], pa.uint64()),
            "observed_at": pa.array([], pa.timestamp("us", tz="UTC")),
        }
    )
    bus_rows = pa.concat_tables(parts) if parts else empty
    on_bus = pc.unique(bus_rows.column("key").combine_chunks())

    pages: list[pa.Array] = []
    after = 0
    while True:
        page = store.report_feed(after, _PAGE)
        if not page.num_rows:
            break
        pages.append(_keys_from_hex(page.column("id")))
        after = int(page.column("seq")[-1].as_py())
    stored = pc.unique(pa.concat_arrays(pages)) if pages else pa.array([], pa.binary(16))

    not_stored = on_bus.filter(pc.invert(pc.is_in(on_bus, value_set=stored)))
    merged = _merged(not_stored, bus_rows, stored) if len(not_stored) else not_stored
    missing = not_stored.filter(pc.invert(pc.is_in(not_stored, value_set=merged)))
    store_only = stored.filter(pc.invert(pc.is_in(stored, value_set=on_bus)))
    return Reconciliation(
        bus_messages=messages,
        bus_rows=rows,
        bus_ids=len(on_bus),
        unreadable=unreadable,
        store_ids=len(stored),
        missing=len(missing),
        merged=len(merged),
        store_only=len(store_only),
        missing_ids=_hex(missing.slice(0, show)),
        store_only_ids=_hex(store_only.slice(0, show)),
    )
