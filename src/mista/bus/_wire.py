"""How an ``IngestBatch`` travels over JetStream: partitioned slices, each one message.

A batch is split by partition (a hash of the MMSI; rows without one, radar contacts, by
their receiver or originator, so one sensor's contacts stay together and in order) and
each partition's rows into slices of at most ``max_rows`` rows. A slice's payload is::

    MAGIC (4 bytes) | header length (4 bytes, big-endian) | header (JSON) | Arrow IPC stream

The header holds what is not in the rows: source, labels (originator and marking), lines
read, skipped counts and the byte sizes of the two IPC streams (messages, then rejected).
The rejected lines of a batch and its line count travel with its first slice only.

The message id is a hash of exactly what makes the store keep a row (report id,
receiver and raw line per reception; source, line, reason and raw per rejected line), so
JetStream's duplicate window drops only what the store would keep once anyway.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mista.errors import InputError, LabelError
from mista.ingest.batch import MESSAGE_SCHEMA, REJECTED_SCHEMA, IngestBatch
from mista.labels import Label, parse_marking
from mista.partitions import mmsi_partition

__all__ = ["MAGIC", "Slice", "decode_slice", "partition_of_rows", "slices"]

MAGIC = b"MST1"
_HEADER_LEN = 4
#: Compression of the IPC buffers: ``zstd`` makes messages about four times smaller (the
#: text columns repeat) for about three times the encoding time; none is the default.
COMPRESSIONS = (None, "zstd", "lz4")
#: Columns whose values decide whether the store keeps a row (see the module docstring).
_MESSAGE_KEY = ["id_hi", "id_lo", "receiver", "raw"]
_REJECTED_KEY = ["source", "line_no", "reason", "raw"]


@dataclass(frozen=True, slots=True)
class Slice:
    """One message to publish: its partition, JetStream message id and payload."""

    partition: int
    msg_id: str
    payload: bytes
    rows: int


def _text_partition(text: str, partitions: int) -> int:
    digest = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def partition_of_rows(messages: pa.Table, partitions: int) -> np.ndarray:
    """The partition of every row: a hash of its MMSI, else of its receiver or originator.

    Stable across processes and runs (no per-process hash seed)."""
    mmsi = messages.column("mmsi")
    parts = mmsi_partition(pc.fill_null(mmsi, 0).to_numpy(), partitions)
    if mmsi.null_count:
        missing = np.flatnonzero(mmsi.is_null().to_numpy(zero_copy_only=False))
        rows = messages.take(pa.array(missing))
        keys = pc.coalesce(rows.column("receiver"), rows.column("originator"))
        encoded = pc.dictionary_encode(keys).combine_chunks()
        by_key = np.array(
            [_text_partition(str(key), partitions) for key in encoded.dictionary.to_pylist()],
            dtype=np.int64,
        )
        parts[missing] = by_key[encoded.indices.to_numpy()]
    return parts


def _ipc(table: pa.Table, compression: str | None) -> bytes:
    sink = pa.BufferOutputStream()
    options = pa.ipc.IpcWriteOptions(compression=compression)
    with pa.ipc.new_stream(sink, table.schema, options=options) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _key_ipc(table: pa.Table, columns: list[str]) -> bytes:
    # Uncompressed: the hash must not depend on the compressor's version.
    sink = pa.BufferOutputStream()
    keys = table.select(columns)
    with pa.ipc.new_stream(sink, keys.schema) as writer:
        writer.write_table(keys)
    return bytes(sink.getvalue().to_pybytes())


def _message_id(source: str, messages: pa.Table, rejected: pa.Table) -> str:
    digest = hashlib.blake2b(digest_size=16)
    digest.update(source.encode() + b"\x1f")
    digest.update(_key_ipc(messages, _MESSAGE_KEY))
    if rejected.num_rows:
        digest.update(_key_ipc(rejected, _REJECTED_KEY))
    return digest.hexdigest()


def _payload(
    batch: IngestBatch, messages: pa.Table, rejected: pa.Table, first: bool, compression: str | None
) -> bytes:
    body_messages = _ipc(messages, compression)
    body_rejected = _ipc(rejected, compression) if rejected.num_rows else b""
    header = {
        "source": batch.source,
        "labels": [[label.originator, label.to_marking()] for label in batch.labels],
        "lines": batch.lines if first else 0,
        "skipped": dict(batch.skipped) if first else {},
        "position_bytes": batch.position_bytes,
        "messages_bytes": len(body_messages),
        "rejected_bytes": len(body_rejected),
    }
    head = json.dumps(header, separators=(",", ":")).encode()
    return MAGIC + len(head).to_bytes(_HEADER_LEN, "big") + head + body_messages + body_rejected


def _row_groups(batch: IngestBatch, partitions: int) -> Iterator[tuple[int, pa.Table]]:
    """(partition, rows) for every partition that has rows, in partition order."""
    messages = batch.messages
    if not messages.num_rows:
        return
    parts = partition_of_rows(messages, partitions)
    order = np.argsort(parts, kind="stable")  # keeps each partition's rows in input order
    bounds = np.searchsorted(parts[order], np.arange(partitions + 1))
    for partition in range(partitions):
        lo, hi = int(bounds[partition]), int(bounds[partition + 1])
        if hi > lo:
            yield partition, messages.take(pa.array(order[lo:hi]))


@dataclass(frozen=True, slots=True)
class _Slicer:
    batch: IngestBatch
    max_bytes: int
    compression: str | None

    def make(self, partition: int, rows: pa.Table, first: bool) -> list[Slice]:
        """One slice of ``rows``, or halves of it while its payload exceeds ``max_bytes``."""
        batch = self.batch
        rejected = batch.rejected if first else batch.rejected.slice(0, 0)
        payload = _payload(batch, rows, rejected, first, self.compression)
        if len(payload) > self.max_bytes and rows.num_rows > 1:
            half = rows.num_rows // 2
            return self.make(partition, rows.slice(0, half), first) + self.make(
                partition, rows.slice(half), False
            )
        if len(payload) > self.max_bytes:
            raise InputError(
                f"{batch.source}: one row makes a bus message of {len(payload):,} bytes, over "
                f"the server's limit of {self.max_bytes:,} (raise max_payload in nats-server)"
            )
        msg_id = _message_id(batch.source, rows, rejected)
        return [Slice(partition, msg_id, payload, rows.num_rows)]


def slices(
    batch: IngestBatch,
    partitions: int,
    *,
    max_rows: int,
    max_bytes: int,
    compression: str | None = None,
) -> list[Slice]:
    """The messages that carry ``batch``: per partition, slices of at most ``max_rows``
    rows and ``max_bytes`` bytes."""
    if partitions < 1 or max_rows < 1:
        raise ValueError("partitions and max_rows must be at least 1")
    if compression not in COMPRESSIONS:
        raise ValueError(f"compression {compression!r}: use one of {COMPRESSIONS}")
    slicer = _Slicer(batch, max_bytes, compression)
    out: list[Slice] = []
    for partition, rows in _row_groups(batch, partitions):
        for start in range(0, rows.num_rows, max_rows):
            out += slicer.make(partition, rows.slice(start, max_rows), first=not out)
    if not out and (batch.rejected.num_rows or batch.lines):
        # Only rejected lines (or nothing decodable): one slice, on the source's partition.
        partition = _text_partition(batch.source, partitions)
        out += slicer.make(partition, batch.messages.slice(0, 0), first=True)
    return out


def _read_ipc(data: memoryview, schema: pa.Schema, what: str) -> pa.Table:
    if not len(data):
        return schema.empty_table()
    try:
        table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        table.validate(full=True)  # damaged offsets or UTF-8 must not reach the store
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise InputError(f"bus message: the {what} are not an Arrow IPC stream: {exc}") from None
    if table.schema != schema:
        raise InputError(f"bus message: the {what} do not have the expected columns")
    return table


def _labels(value: Any) -> tuple[Label, ...]:
    if not isinstance(value, list):
        raise InputError("bus message: labels must be a list of [originator, marking]")
    labels = []
    for item in value:
        if not (isinstance(item, list) and len(item) == 2) or not all(
            isinstance(v, str) for v in item
        ):
            raise InputError("bus message: a label is not [originator, marking]")
        try:
            labels.append(parse_marking(item[1], item[0]))
        except LabelError as exc:
            raise InputError(f"bus message: label {item[1]!r}: {exc}") from None
    return tuple(labels)


def _header(payload: bytes) -> tuple[dict[str, Any], int]:
    if payload[:4] != MAGIC or len(payload) < 4 + _HEADER_LEN:
        raise InputError("bus message: not a mista batch (wrong magic bytes or version)")
    size = int.from_bytes(payload[4 : 4 + _HEADER_LEN], "big")
    start = 4 + _HEADER_LEN
    try:
        header = json.loads(payload[start : start + size])
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"bus message: header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise InputError("bus message: header is not a JSON object")
    return header, start + size


def _int(header: dict[str, Any], key: str, *, optional: bool = False) -> Any:
    value = header.get(key)
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InputError(f"bus message: header field {key!r} is not a count")
    return value


def decode_slice(payload: bytes) -> IngestBatch:
    """The ``IngestBatch`` one message carries; ``InputError`` for anything else."""
    header, offset = _header(payload)
    source = header.get("source")
    skipped = header.get("skipped", {})
    if not isinstance(source, str):
        raise InputError("bus message: header field 'source' is not text")
    if not isinstance(skipped, dict) or not all(
        isinstance(k, str) and isinstance(v, int) for k, v in skipped.items()
    ):
        raise InputError("bus message: header field 'skipped' is not a map of counts")
    n_messages, n_rejected = _int(header, "messages_bytes"), _int(header, "rejected_bytes")
    body = memoryview(payload)[offset:]
    if len(body) != n_messages + n_rejected:
        raise InputError("bus message: body length does not match its header")
    messages = _read_ipc(body[:n_messages], MESSAGE_SCHEMA, "messages")
    rejected = _read_ipc(body[n_messages:], REJECTED_SCHEMA, "rejected lines")
    try:
        return IngestBatch(
            source=source,
            messages=messages,
            rejected=rejected,
            labels=_labels(header.get("labels")),
            lines=_int(header, "lines"),
            skipped=skipped,
            position_bytes=_int(header, "position_bytes", optional=True),
        )
    except ValueError as exc:
        raise InputError(f"bus message: {exc}") from None
