"""NMEA framing for AIS: bytes in, batches of armoured payloads out (no I/O).

A :class:`Framer` is fed chunks of a receiver log of any size and returns one
:class:`FramedBatch` per chunk: the complete AIS messages found (multi-sentence messages
joined), with line number, reception time, receiver, talker, channel and the raw input
lines, plus every line it could not use (:attr:`FramedBatch.rejected`, with a reason code
and a detail naming the value) and counts of the lines that are not AIS
(:attr:`FramedBatch.skipped`). Every line is accounted for exactly once.

The per-line work is done in C (``_framing.pyx`` / ``_framing_core.h``); this module
builds the numpy / Arrow columns from its buffers once per batch. The line formats, the
reason codes and the expiry rule are described in ``docs/ais-framing.md``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from mista.ais import _framing

if TYPE_CHECKING:
    from mista.ais._framing import Block, CoreBatch

__all__ = [
    "DEFAULT_MAX_PENDING_SENTENCES",
    "MAX_LINE_BYTES",
    "REASONS",
    "REJECT_CHECKSUM",
    "REJECT_INCOMPLETE_MULTIPART",
    "REJECT_MALFORMED",
    "REJECT_ORPHAN_FRAGMENT",
    "REJECT_TAG_BLOCK",
    "REJECT_TOO_LONG",
    "FramedBatch",
    "Framer",
    "FramingReject",
    "concat_batches",
    "frame_lines",
]

#: The ``*hh`` checksum of a sentence (or of a ``$PGHP`` line) does not match its content.
REJECT_CHECKSUM = "checksum"
#: Wrong field count, non-numeric fragment fields, bad fill bits, empty payload, bad
#: payload characters, missing checksum, bytes outside printable ASCII, stray text.
REJECT_MALFORMED = "malformed"
#: A tag block with a bad checksum, no closing backslash or a bad ``c:``/``s:``/``g:`` field.
REJECT_TAG_BLOCK = "tag-block"
#: A fragment of a multi-sentence message that was never completed (one reject per fragment).
REJECT_INCOMPLETE_MULTIPART = "incomplete-multipart"
#: A fragment after the first with no open group to join.
REJECT_ORPHAN_FRAGMENT = "orphan-fragment"
#: A line longer than :data:`MAX_LINE_BYTES` (its raw text keeps the first 256 bytes).
REJECT_TOO_LONG = "too-long"

#: Every reason code, as the C core numbers them.
REASONS: tuple[str, ...] = tuple(_framing.REASONS)
assert REASONS == (
    REJECT_CHECKSUM,
    REJECT_MALFORMED,
    REJECT_TAG_BLOCK,
    REJECT_INCOMPLETE_MULTIPART,
    REJECT_ORPHAN_FRAGMENT,
    REJECT_TOO_LONG,
)

#: Lines longer than this many bytes (terminator excluded) are rejected as ``too-long``.
MAX_LINE_BYTES: int = int(_framing.MAX_LINE_BYTES)
#: An open multi-sentence group expires when this many further AIS sentences pass without
#: its next fragment. In the shared real logs the next fragment always comes within one
#: sentence; 64 leaves room for feeds that interleave many receivers. At most 1024.
DEFAULT_MAX_PENDING_SENTENCES = 64

# A chunk is cut into pieces of at most this size so that Arrow int32 offsets never overflow.
_MAX_PIECE = 1 << 28


class FramingReject(NamedTuple):
    """An input line that gave no message, with why."""

    line_no: int
    reason: str
    detail: str
    raw: str


@dataclass(frozen=True, slots=True)
class FramedBatch:
    """The messages, rejections and skip counts of one chunk (columns of equal length n)."""

    payload: bytes
    payload_offsets: npt.NDArray[np.int64]
    fill_bits: npt.NDArray[np.uint8]
    line_no: npt.NDArray[np.int64]
    received_at: npt.NDArray[np.float64]
    receiver: pa.Array
    raw: pa.Array
    talker: pa.Array
    own_ship: npt.NDArray[np.bool_]
    channel: pa.Array
    rejected: list[FramingReject] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    lines: int = 0

    def __len__(self) -> int:
        return len(self.fill_bits)

    def payload_at(self, i: int) -> bytes:
        """The armoured payload of message ``i`` (for tests and per-message use)."""
        return self.payload[int(self.payload_offsets[i]) : int(self.payload_offsets[i + 1])]

    @classmethod
    def empty(cls) -> FramedBatch:
        """A batch with nothing in it."""
        return Framer().finish()


def _strings(
    n: int, offsets: bytes | Block, data: bytes | Block, valid: bytes | Block | None
) -> pa.Array:
    """A pa.string() array over buffers filled in C (no Python object per row, no copy)."""
    if valid is None:
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data))
    flags = np.frombuffer(memoryview(valid), dtype=np.uint8)
    nulls = n - int(np.count_nonzero(flags))
    bitmap = pa.py_buffer(np.packbits(flags, bitorder="little").tobytes()) if nulls else None
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data), bitmap, nulls)


def _from_core(t: CoreBatch) -> FramedBatch:
    (n, payload, offsets, fill, line, time, own, recv_data, recv_off, recv_valid,
     raw_data, raw_off, talker, chan_data, chan_off, chan_valid, rejects, skipped,
     lines) = t  # fmt: skip
    talker_off = np.arange(0, 2 * n + 1, 2, dtype=np.int32).tobytes()
    return FramedBatch(
        payload=payload,
        payload_offsets=np.frombuffer(memoryview(offsets), dtype=np.int64),
        fill_bits=np.frombuffer(memoryview(fill), dtype=np.uint8),
        line_no=np.frombuffer(memoryview(line), dtype=np.int64),
        received_at=np.frombuffer(memoryview(time), dtype=np.float64),
        receiver=_strings(n, recv_off, recv_data, recv_valid),
        raw=_strings(n, raw_off, raw_data, None),
        talker=_strings(n, talker_off, talker, None),
        own_ship=np.frombuffer(memoryview(own), dtype=np.bool_),
        channel=_strings(n, chan_off, chan_data, chan_valid),
        rejected=rejects,  # FramingReject tuples made by the core
        skipped=skipped,
        lines=lines,
    )


def concat_batches(batches: Iterable[FramedBatch]) -> FramedBatch:
    """One batch holding the messages, rejections and skip counts of several, in order."""
    parts = list(batches)
    if not parts:
        return FramedBatch.empty()
    if len(parts) == 1:
        return parts[0]
    base = np.cumsum([0] + [len(p.payload) for p in parts[:-1]])
    skipped: dict[str, int] = {}
    for p in parts:
        for k, v in p.skipped.items():
            skipped[k] = skipped.get(k, 0) + v
    return FramedBatch(
        payload=b"".join(p.payload for p in parts),
        payload_offsets=np.concatenate(
            [np.zeros(1, np.int64)]
            + [p.payload_offsets[1:] + off for p, off in zip(parts, base, strict=True)]
        ),
        fill_bits=np.concatenate([p.fill_bits for p in parts]),
        line_no=np.concatenate([p.line_no for p in parts]),
        received_at=np.concatenate([p.received_at for p in parts]),
        receiver=pa.concat_arrays([p.receiver for p in parts]),
        raw=pa.concat_arrays([p.raw for p in parts]),
        talker=pa.concat_arrays([p.talker for p in parts]),
        own_ship=np.concatenate([p.own_ship for p in parts]),
        channel=pa.concat_arrays([p.channel for p in parts]),
        rejected=[r for p in parts for r in p.rejected],
        skipped=skipped,
        lines=sum(p.lines for p in parts),
    )


class Framer:
    """Streaming framer: feed chunks of bytes (lines may span chunks), then ``finish()``.

    Memory stays bounded whatever the input: at most ``max_pending_sentences + 2`` open
    multi-sentence groups and one partial line of at most :data:`MAX_LINE_BYTES` carry over
    between chunks.
    """

    __slots__ = ("_core",)

    def __init__(self, *, max_pending_sentences: int = DEFAULT_MAX_PENDING_SENTENCES) -> None:
        self._core = _framing.Core(max_pending_sentences, FramingReject)

    def feed(self, chunk: bytes | bytearray | memoryview) -> FramedBatch:
        """Frame the complete lines of ``chunk``; a trailing partial line waits for more."""
        view = memoryview(chunk).cast("B")
        if len(view) <= _MAX_PIECE:
            return _from_core(self._core.feed(view))
        return concat_batches(
            _from_core(self._core.feed(view[i : i + _MAX_PIECE]))
            for i in range(0, len(view), _MAX_PIECE)
        )

    def finish(self) -> FramedBatch:
        """Frame the partial last line and reject the groups still open (end of input)."""
        return _from_core(self._core.finish())


def frame_lines(lines: Iterable[str | bytes]) -> Iterator[FramedBatch]:
    """One batch per input line (a line terminator is added), then one for ``finish()``.

    Convenient for per-message use; a multi-sentence message appears in the batch of its
    last fragment. The final batch carries the groups left open, and is yielded only when
    it holds something.
    """
    framer = Framer()
    for line in lines:
        data = line.encode("utf-8", "surrogateescape") if isinstance(line, str) else line
        yield framer.feed(data + b"\n")
    last = framer.finish()
    if len(last) or last.rejected or last.skipped or last.lines:
        yield last
