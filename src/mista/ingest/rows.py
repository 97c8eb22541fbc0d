"""Turning parsed columns into message rows: report ids, labels, sentinels, strict mode.

Shared by the AIS and the position-file readers so both produce exactly MESSAGE_SCHEMA.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mista.errors import DecodeError
from mista.labels import Label
from mista.model import DEDUPE_WINDOW_S, SourceKind

from .batch import MESSAGE_SCHEMA, REJECTED_SCHEMA, IngestBatch, label_id

__all__ = ["SourceContext", "build_messages", "check_strict", "epoch_us", "report_ids"]

_WINDOW_US = DEDUPE_WINDOW_S * 1_000_000
_UTC_US = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True, slots=True)
class SourceContext:
    """What a reader needs to know about its source to label rows."""

    source: str
    originator: str
    label: Label
    kind: SourceKind
    strict: bool = False

    @property
    def label_id(self) -> str:
        return label_id(self.label)


def epoch_us(seconds: np.ndarray) -> pa.Array:
    """Epoch seconds (float, NaN for unknown) as int64 microseconds with nulls."""
    missing = ~np.isfinite(seconds)
    micros = np.round(np.where(missing, 0.0, seconds) * 1e6).astype(np.int64)
    return pa.array(micros, pa.int64(), mask=missing)


_BLAKE2B_128 = hashlib.blake2b(digest_size=16)


def _blake2b_128(prefixes: list[bytes], suffixes: list[bytes]) -> tuple[bytes, bytes]:
    """Concatenated 16-byte BLAKE2b digests of every ``prefix + suffix``, and of every
    ``prefix`` alone, from one pass (a hasher's state can be read and then extended).

    Copying a fresh hasher is cheaper than constructing one with keyword arguments, and a
    plain loop with bound methods is the fastest per-row form CPython offers.
    """
    copy = _BLAKE2B_128.copy
    whole: list[bytes] = []
    head: list[bytes] = []
    append_whole, append_head = whole.append, head.append
    for prefix, suffix in zip(prefixes, suffixes, strict=True):
        hasher = copy()
        hasher.update(prefix)
        append_head(hasher.digest())
        hasher.update(suffix)
        append_whole(hasher.digest())
    return b"".join(whole), b"".join(head)


def report_ids(
    originator: str, content_keys: pa.Array, observed_us: pa.Array
) -> tuple[pa.Array, pa.Array, pa.Array]:
    """``mista.model.report_id`` for every row as (high, low) uint64 halves of the digest,
    and a 64-bit hash of what was heard regardless of when (``content_hash``).

    The key text is built with Arrow; hashing is the one per-row Python step (BLAKE2b has
    no vectorised form in Arrow, numpy or DuckDB). The report id hashes
    ``originator<US>content_key<US>bucket``; the content hash is the same hasher read
    before the bucket is added, so it costs one digest, not a second pass over the key.
    """
    n = len(content_keys)
    if n == 0:
        empty = pa.array([], pa.uint64())
        return empty, empty, empty
    micros = observed_us.to_numpy(zero_copy_only=False)
    valid = pc.is_valid(observed_us).to_numpy(zero_copy_only=False)
    # Floor division, as model.time_bucket does, also right for times before 1970.
    bucket = np.floor_divide(np.where(valid, micros, 0).astype(np.int64), _WINDOW_US)
    bucket_text = pc.fill_null(pc.cast(pa.array(bucket, mask=~valid), pa.string()), "")
    prefixes = pc.binary_join_element_wise(originator, content_keys, "", "\x1f")
    ids, heads = _blake2b_128(
        prefixes.cast(pa.binary()).to_pylist(), bucket_text.cast(pa.binary()).to_pylist()
    )
    halves = np.frombuffer(ids, dtype=">u8").reshape(n, 2).astype(np.uint64)
    content = np.frombuffer(heads, dtype=">u8").reshape(n, 2)[:, 0].astype(np.uint64)
    return pa.array(halves[:, 0]), pa.array(halves[:, 1]), pa.array(content)


def _null_strings(array: pa.Array) -> pa.Array:
    """Trim, and make empty strings null (AIS pads text fields)."""
    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def build_messages(ctx: SourceContext, columns: Mapping[str, pa.Array], n: int) -> pa.Table:
    """A MESSAGE_SCHEMA table from named columns; missing columns are null.

    ``columns`` must hold ``content_key``, ``raw``, ``line_no`` and ``observed_us`` (int64
    microseconds, null when untimed); everything else is optional.
    """
    observed_us = columns["observed_us"]
    observed_at = pc.cast(observed_us, pa.int64()).view(_UTC_US)
    id_hi, id_lo, content_hash = report_ids(ctx.originator, columns["content_key"], observed_us)
    arrays: list[pa.Array] = []
    for field in MESSAGE_SCHEMA:
        name = field.name
        if name == "id_hi":
            array = id_hi
        elif name == "id_lo":
            array = id_lo
        elif name == "content_hash":
            array = content_hash
        elif name == "originator":
            array = pa.repeat(pa.scalar(ctx.originator, pa.string()), n)
        elif name == "source_kind":
            array = pa.repeat(pa.scalar(ctx.kind.value, pa.string()), n)
        elif name == "label_id":
            array = pa.repeat(pa.scalar(ctx.label_id, pa.string()), n)
        elif name == "source":
            array = pa.repeat(pa.scalar(ctx.source, pa.string()), n)
        elif name in ("observed_at", "received_at"):
            array = observed_at
        elif name in columns:
            array = columns[name]
            if field.type == pa.string() and name not in ("raw", "content_key"):
                array = _null_strings(pc.cast(array, pa.string()))
            array = pc.cast(array, field.type)
        else:
            array = pa.nulls(n, field.type)
        arrays.append(array)
    return pa.Table.from_arrays(arrays, schema=MESSAGE_SCHEMA)


def check_strict(batch: IngestBatch, strict: bool) -> None:
    """With --strict, stop at the first rejected line with a message that names it."""
    if not strict or batch.rejected.num_rows == 0:
        return
    first = batch.rejected.slice(0, 1).to_pylist()[0]
    raw = first["raw"] if len(first["raw"]) <= 120 else first["raw"][:117] + "..."
    where = f"line {first['line_no']} of {first['source']}" if first["line_no"] else first["source"]
    raise DecodeError(
        f"{where}: {first['reason']}: {first['detail']} in {raw!r} "
        "(stopped by --strict; earlier batches are stored; fix the line, or run without "
        "--strict to keep bad lines in quarantine and go on)"
    )


def empty_rejected() -> pa.Table:
    return REJECTED_SCHEMA.empty_table()
