"""Framing and payload decoding joined: chunks of receiver output in, decoded batches out.

Pure (no I/O): the caller reads the bytes (a file, a socket) and hands them over in chunks
of any size; state such as open multi-part groups carries over between chunks. Memory
stays constant whatever the size of the input: one batch per chunk.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from mista.ais.framing import FramedBatch, Framer
from mista.ais.payload import DecodedBatch, decode_payloads, to_dicts

__all__ = ["AisBatch", "DecodeStats", "RejectedLine", "decode_chunks", "to_json_lines"]


@dataclass(frozen=True, slots=True)
class RejectedLine:
    """A line (or message) that could not be decoded, with the reason code and a detail."""

    line_no: int
    reason: str
    detail: str
    raw: str


@dataclass(frozen=True, slots=True)
class AisBatch:
    """One chunk's worth of input: the framed sentences and their decoded payloads."""

    framed: FramedBatch
    decoded: DecodedBatch

    def rejected(self) -> list[RejectedLine]:
        """Every reject of this batch, framing and payload alike, in line order."""
        out = [
            RejectedLine(reject.line_no, reject.reason, reject.detail, reject.raw)
            for reject in self.framed.rejected
        ]
        if self.decoded.rejected:
            raw = self.framed.raw
            for reject in self.decoded.rejected:
                row = reject.row
                out.append(
                    RejectedLine(
                        int(self.framed.line_no[row]),
                        reject.reason,
                        reject.detail,
                        str(raw[row].as_py()),
                    )
                )
        out.sort(key=lambda line: line.line_no)
        return out


@dataclass(slots=True)
class DecodeStats:
    """Running totals over a decode: what was read, decoded, rejected and skipped."""

    lines: int = 0
    messages: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)

    def add(self, batch: AisBatch) -> None:
        self.lines += batch.framed.lines
        self.messages += batch.decoded.common.num_rows
        self.rejected.update(reject.reason for reject in batch.framed.rejected)
        self.rejected.update(reject.reason for reject in batch.decoded.rejected)
        self.skipped.update(batch.framed.skipped)

    def summary(self) -> str:
        """A short human summary, e.g. for stderr at the end of ``mista decode``."""
        parts = [f"{self.lines} lines read", f"{self.messages} messages decoded"]
        total_rejected = sum(self.rejected.values())
        if total_rejected:
            reasons = ", ".join(f"{reason} {n}" for reason, n in self.rejected.most_common())
            parts.append(f"{total_rejected} rejected ({reasons})")
        else:
            parts.append("0 rejected")
        total_skipped = sum(self.skipped.values())
        if total_skipped:
            kinds = ", ".join(f"{kind} {n}" for kind, n in self.skipped.most_common(5))
            parts.append(f"{total_skipped} other lines skipped ({kinds})")
        return "; ".join(parts)


def _batch(framed: FramedBatch) -> AisBatch:
    decoded = decode_payloads(framed.payload, framed.payload_offsets, framed.fill_bits)
    return AisBatch(framed, decoded)


def decode_chunks(chunks: Iterable[bytes], framer: Framer | None = None) -> Iterator[AisBatch]:
    """Decode receiver output given as chunks of bytes; one batch per chunk, then the rest."""
    framer = framer if framer is not None else Framer()
    for chunk in chunks:
        framed = framer.feed(chunk)
        if framed.lines or len(framed):
            yield _batch(framed)
    yield _batch(framer.finish())


def to_json_lines(batch: AisBatch, device: str, *, meta: bool = False) -> Iterator[str]:
    """One JSON object per decoded message, shaped like ``gpsdecode -j`` output.

    With ``meta``, each object also carries where it came from: ``line`` (1-based line of its
    first sentence), ``received_at`` (epoch seconds UTC, when the input gave one) and
    ``receiver`` (when known).
    """
    header = {"class": "AIS", "device": device}
    framed = batch.framed
    receivers = framed.receiver.to_pylist() if meta else []
    for row, message in enumerate(to_dicts(batch.decoded, len(framed))):
        if message is None:
            continue
        if meta:
            received_at = float(framed.received_at[row])
            extra: dict[str, object] = {"line": int(framed.line_no[row])}
            if not math.isnan(received_at):
                extra["received_at"] = received_at
            if receivers[row] is not None:
                extra["receiver"] = receivers[row]
            yield json.dumps({**header, **message, **extra}, separators=(",", ":"))
        else:
            yield json.dumps({**header, **message}, separators=(",", ":"))
