"""AIS decoding: NMEA framing and ITU-R M.1371-5 payloads, pure (no I/O).

``Framer`` turns receiver output (bytes, in chunks of any size) into assembled payloads;
``decode_payloads`` turns those into Arrow columns, ``decode_payload`` one payload into a
gpsd-style dict; ``decode_chunks`` does both over a stream.

The names are loaded on first use, so importing one submodule (or running
``python -m mista.ais.payload`` to regenerate the C core) does not load the others.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mista.ais.framing import FramedBatch, Framer
    from mista.ais.payload import (
        DecodedBatch,
        PayloadError,
        PayloadReject,
        decode_payload,
        decode_payloads,
        to_dicts,
    )
    from mista.ais.stream import AisBatch, DecodeStats, RejectedLine, decode_chunks, to_json_lines

_HOME: dict[str, str] = {
    "AisBatch": "stream",
    "DecodeStats": "stream",
    "DecodedBatch": "payload",
    "FramedBatch": "framing",
    "Framer": "framing",
    "PayloadError": "payload",
    "PayloadReject": "payload",
    "RejectedLine": "stream",
    "decode_chunks": "stream",
    "decode_payload": "payload",
    "decode_payloads": "payload",
    "to_dicts": "payload",
    "to_json_lines": "stream",
}

__all__ = [
    "AisBatch",
    "DecodeStats",
    "DecodedBatch",
    "FramedBatch",
    "Framer",
    "PayloadError",
    "PayloadReject",
    "RejectedLine",
    "decode_chunks",
    "decode_payload",
    "decode_payloads",
    "to_dicts",
    "to_json_lines",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'mista.ais' has no attribute {name!r}")
    return getattr(importlib.import_module(f"mista.ais.{home}"), name)
