"""Readers of a scenario directory for the tests (mista's own framer and decoder)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from mista.ais.framing import Framer
from mista.ais.payload import decode_payloads


def manifest(scenario: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((scenario / "scenario.json").read_text())
    return data


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def ais_files(scenario: Path) -> list[Path]:
    return sorted((scenario / "ais").rglob("*.nmea"))


def decoded(path: Path) -> tuple[pa.RecordBatch, np.ndarray, int, int]:
    """(common decoded columns, reception times, framing rejects, decoding rejects)."""
    framer = Framer()
    batch = framer.feed(path.read_bytes())
    tail = framer.finish()
    result = decode_payloads(batch.payload, batch.payload_offsets, batch.fill_bits)
    rejects = len(batch.rejected) + len(tail.rejected)
    return result.common, np.asarray(batch.received_at), rejects, len(result.rejected)
