"""Every AIS line the simulator writes frames and decodes (mista's decoder and pyais)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from functools import reduce
from operator import xor
from pathlib import Path
from typing import Any

import numpy as np
import pyais
import pyarrow.parquet as pq

from tests.sim._read import ais_files, decoded, jsonl, manifest

LINE = re.compile(
    r"\\((?:s:[A-Za-z-]+,c:\d{10}(?:,g:1-\d-\d+)?)|(?:g:[2-9]-\d-\d+))\*([0-9A-F]{2})\\"
    r"(!AIVDM,[^*]+)\*([0-9A-F]{2})"
)


def _xor(text: str) -> str:
    return f"{reduce(xor, text.encode('ascii'), 0):02X}"


def test_lines_frame_and_decode_with_mista(small_scenario: Path) -> None:
    m = manifest(small_scenario)
    start = 1767225600
    for path in ais_files(small_scenario):
        common, received, frame_rejects, decode_rejects = decoded(path)
        assert (frame_rejects, decode_rejects) == (0, 0), path
        assert common.num_rows > 0
        assert set(common.column("type").to_pylist()) <= {1, 5, 18, 24}
        assert np.all((received >= start) & (received <= start + m["hours"] * 3600))
        lat = np.asarray(common.column("lat").to_numpy(zero_copy_only=False), float)
        assert np.nanmax(np.abs(lat)) <= 90


def test_lines_have_correct_checksums_and_decode_with_pyais(small_scenario: Path) -> None:
    pending: list[str] = []
    decoded_count = 0
    for path in ais_files(small_scenario):
        source = path.parent.name
        for line in path.read_text().splitlines():
            match = LINE.fullmatch(line)
            assert match, line
            tag, tag_sum, body, body_sum = match.groups()
            assert _xor(tag) == tag_sum
            assert _xor(body[1:]) == body_sum
            assert tag.startswith((f"s:{source},", "g:"))
            sentence = f"{body}*{body_sum}"
            count, number = int(body.split(",")[1]), int(body.split(",")[2])
            pending.append(sentence)
            if number == count:
                msg: dict[str, Any] = pyais.decode(*pending).asdict()
                pending = []
                decoded_count += 1
                assert msg["msg_type"] in (1, 5, 18, 24)
                assert 200_000_000 <= msg["mmsi"] <= 799_999_999
                if msg["msg_type"] in (1, 18):
                    assert -90 <= msg["lat"] <= 90
                    assert -180 <= msg["lon"] <= 180
    assert pending == []
    assert decoded_count > 100


def test_dark_vessels_never_transmit(full_scenario: Path) -> None:
    """Every (MMSI, time) heard belongs to a non-dark vessel sending that MMSI then."""
    vessels = jsonl(full_scenario / "truth" / "vessels.jsonl")
    assert any(v["dark"] for v in vessels)
    spans: dict[int, list[tuple[str, str]]] = {}
    for v in vessels:
        for mmsi, a, b in v["mmsis"]:
            assert not v["dark"]
            spans.setdefault(mmsi, []).append((a, b))
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    heard = 0
    for path in ais_files(full_scenario):
        common, received, _, _ = decoded(path)
        for mmsi, t in zip(common.column("mmsi").to_pylist(), received.tolist(), strict=True):
            when = datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            assert any(a <= when <= b for a, b in spans[mmsi]), (mmsi, when)
            heard += 1
    assert heard > 1000
    assert start > 0


def test_spoofed_positions_are_far_from_the_true_ones(full_scenario: Path) -> None:
    spoofs = [
        b for b in jsonl(full_scenario / "truth" / "behaviours.jsonl") if b["kind"] == "spoofing"
    ]
    assert spoofs
    truth = pq.read_table(full_scenario / "truth" / "positions.parquet")
    t = truth.column("t").cast("int64").to_numpy() // 1_000_000
    vessel = truth.column("vessel").to_numpy()
    lat, lon = truth.column("lat").to_numpy(), truth.column("lon").to_numpy()
    checked = 0
    for path in ais_files(full_scenario):
        common, received, _, _ = decoded(path)
        mmsis = np.asarray(common.column("mmsi").to_numpy(zero_copy_only=False))
        for s in spoofs:
            a = np.datetime64(s["start"].rstrip("Z")).astype("datetime64[s]").astype(int)
            b = np.datetime64(s["end"].rstrip("Z")).astype("datetime64[s]").astype(int)
            rows = np.flatnonzero((mmsis == s["mmsis"][0]) & (received >= a) & (received < b))
            for r in rows.tolist():
                if common.column("lat")[r].as_py() is None:
                    continue
                minute = int(received[r]) // 60 * 60
                k = np.flatnonzero((vessel == s["vessels"][0]) & (t == minute))[0]
                d_lat = common.column("lat")[r].as_py() - lat[k]
                d_lon = (common.column("lon")[r].as_py() - lon[k]) * math.cos(math.radians(lat[k]))
                assert math.hypot(d_lat, d_lon) * 111_000 > 20_000
                checked += 1
    assert checked > 0
