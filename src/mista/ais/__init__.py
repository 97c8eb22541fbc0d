"""AIS decoding: NMEA framing and ITU-R M.1371-5 payloads, pure (no I/O).

``Framer`` turns receiver output (bytes, in chunks of any size) into assembled payloads;
``decode_payloads`` turns those into Arrow columns, ``decode_payload`` one payload into a
gpsd-style dict; ``decode_chunks`` does both over a stream.
"""

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
