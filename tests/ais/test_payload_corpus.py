"""The payload decoder against gpsd's ``gpsdecode -j`` on every message of real_mixed.nmea.

A small test-only splitter joins the corpus's adjacent multi-part sentences (the real framing
layer is ``mista.ais.framing``'s job). gpsdecode is run once on the same sentences with a
sentinel message after each one, so its output lines can be matched to the input messages
even though it prints nothing for the messages it rejects. Every difference is either zero
or one of the explained ones in :data:`ALLOWED`, documented in ``docs/ais-json.md``.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from mista.ais.payload import PayloadError, decode_payload, decode_payloads, to_dicts

CORPUS = Path("ais") / "bench" / "real_mixed.nmea"
# A type 10 message (UTC inquiry) from MMSI 999999999 to 111111111: never in the corpus.
SENTINEL_MMSI = 999999999


@dataclass(frozen=True, slots=True)
class Message:
    """One complete message of the corpus: its sentences and the joined payload."""

    sentences: tuple[str, ...]
    payload: str
    fill: int


def split_corpus(path: Path) -> list[Message]:
    """Join adjacent fragments of the corpus's clean ``!xxVDM`` sentences into messages."""
    messages: list[Message] = []
    parts: list[str] = []
    payload: list[str] = []
    for line in path.read_text("ascii").splitlines():
        fields = line.split(",")
        total, number = int(fields[1]), int(fields[2])
        if number == 1:
            parts, payload = [], []
        parts.append(line)
        payload.append(fields[5])
        if number == total:
            fill = int(fields[6].split("*")[0])
            messages.append(Message(tuple(parts), "".join(payload), fill))
    return messages


def _checksum(body: str) -> str:
    value = 0
    for ch in body:
        value ^= ord(ch)
    return f"{value:02X}"


def _on_channel_a(sentence: str) -> str:
    # gpsd 3.22 drops sentences whose channel is not A/B (some receivers write 0, 1 or
    # nothing) and talkers other than the usual ones (e.g. SS); neither changes the payload,
    # so gpsd is given talker AI and channel A.
    body = sentence[1:].split("*")[0]
    fields = body.split(",")
    fields[0] = "AI" + fields[0][2:]
    fields[4] = "A"
    body = ",".join(fields)
    return f"!{body}*{_checksum(body)}"


def _sentinel() -> str:
    from pyais import encode_dict

    sentences: list[str] = encode_dict(
        {"type": 10, "mmsi": SENTINEL_MMSI, "dest_mmsi": 111111111}, radio_channel="A"
    )
    return sentences[0]


def gpsdecode(messages: list[Message]) -> list[dict[str, object] | None]:
    """gpsdecode's JSON for each message (None where it printed nothing)."""
    sentinel = _sentinel()
    lines: list[str] = []
    for message in messages:
        lines.extend(_on_channel_a(s) for s in message.sentences)
        lines.append(sentinel)
    done = subprocess.run(
        ["gpsdecode", "-j"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    result: list[dict[str, object] | None] = []
    current: dict[str, object] | None = None
    for line in done.stdout.splitlines():
        record = json.loads(line)
        if record.get("type") == 10 and record.get("mmsi") == SENTINEL_MMSI:
            result.append(current)
            current = None
        else:
            current = record
    assert len(result) == len(messages)
    # gpsd's sentence layer keeps state (fragments, channels) that sometimes swallows a
    # message of the stream; those are given to it again, alone. Type 24 is left as is: gpsd
    # prints part A only merged into a following part B.
    for i, message in enumerate(messages):
        if result[i] is None and not message.payload.startswith("H"):
            result[i] = _gpsdecode_alone(message)
    return result


def _gpsdecode_alone(message: Message) -> dict[str, object] | None:
    done = subprocess.run(
        ["gpsdecode", "-j"],
        input="\n".join(_on_channel_a(s) for s in message.sentences) + "\n",
        capture_output=True,
        text=True,
        check=True,
    )
    lines = done.stdout.splitlines()
    return json.loads(lines[-1]) if lines else None


@cache
def corpus_messages(shared: Path) -> list[Message]:
    return split_corpus(shared / CORPUS)


def as_bulk_input(messages: list[Message]) -> tuple[bytes, np.ndarray, np.ndarray]:
    """The bulk decoder's input (one buffer, offsets, fill bits) for these messages."""
    payloads = [m.payload.encode("ascii") for m in messages]
    offsets = np.zeros(len(payloads) + 1, np.int64)
    np.cumsum([len(p) for p in payloads], out=offsets[1:])
    fills = np.array([m.fill for m in messages], np.uint8)
    return b"".join(payloads), offsets, fills


# --- comparison rules ----------------------------------------------------------------------

# gpsd prints these with a fixed number of decimals; mista gives the full-precision value.
_DECIMALS: dict[tuple[int, str], int] = {}
for _t in (1, 2, 3, 4, 9, 11, 18, 19, 21):
    _DECIMALS[(_t, "lat")] = _DECIMALS[(_t, "lon")] = 6
for _t in (17, 27):
    _DECIMALS[(_t, "lat")] = _DECIMALS[(_t, "lon")] = 1
for _t in (22, 23):
    for _n in ("ne_lon", "ne_lat", "sw_lon", "sw_lat"):
        _DECIMALS[(_t, _n)] = 6
for _t in (1, 2, 3, 9, 18, 19):
    _DECIMALS[(_t, "course")] = 1
for _t in (1, 2, 3, 18, 19):
    _DECIMALS[(_t, "speed")] = 1
_DECIMALS[(5, "draught")] = 1


_SPEED_NA = {(t, "speed", 102.3, "nan") for t in (1, 2, 3, 18, 19)}
_SPEED_NA |= {(t, "speed", 102.2, "fast") for t in (1, 2, 3, 18, 19)}
_SPEED_NA |= {(9, "speed", 1023, "nan"), (9, "speed", 1022, "fast")}
_SPEED_NA |= {(9, "alt", 4095, "nan"), (9, "alt", 4094, "high")}


def _rounded_equal(mine: object, theirs: object, decimals: int) -> bool:
    if not isinstance(mine, float) or not isinstance(theirs, int | float | str):
        return False
    try:
        float(theirs)
    except ValueError:
        return False
    return f"{mine:.{decimals}f}" == f"{float(str(theirs)):.{decimals}f}"


def _turn_equal(mine: object, theirs: object) -> bool:
    # gpsd prints the square of ROT_AIS/4.733 rounded and without its sign (a gpsd bug)
    if isinstance(mine, str) or isinstance(theirs, str):
        return mine == theirs
    assert isinstance(mine, float)
    return f"{abs(mine):.0f}" == f"{float(str(theirs)):.0f}"


Rule = Callable[[dict[str, object], dict[str, object]], bool]

ALLOWED: dict[str, str] = {
    "rounding": "gpsd prints lat/lon/speed/course/draught with fixed decimals; mista gives "
    "the full value (compared after rounding to gpsd's decimals)",
    "turn-sign": "gpsd prints (ROT/4.733)^2 rounded, losing the sign; mista keeps the sign",
    "type27-status": "gpsd prints the status text as type 27 `status`; mista prints the code "
    "as `status` and the text as `status_text`, as for types 1-3",
    "type24-merge": "gpsd keeps part A and prints it merged into the next part B of the same "
    "MMSI; mista is stateless and gives each part, with `partno`",
    "type24-vendorid": "gpsd 3.22 reads a 7-character vendorid (M.1371-3); M.1371-5 has a "
    "3-character vendor id followed by `model` and `serial`",
    "binary-decoded": "gpsd decodes some DAC/FI application payloads of types 6 and 8 into "
    "named fields; mista keeps every payload as `data`",
    "type26-radio": "gpsd keeps type 26's last 20 bits in `data` and prints radio 0; mista "
    "reads them as the communication state `radio`",
    "type25-26-absent": "gpsd prints dest_mmsi/app_id 0 when the message has none; mista "
    "leaves them out",
    "type23-txrx": "gpsd 3.22 does not print type 23's txrx; mista does",
    "speed-na": "gpsd prints the strings nan/fast/high for speed 102.3/102.2 (type 9: "
    "1023/1022) and altitude 4095/4094; mista keeps the numbers so the columns stay numeric",
    "out-of-range": "mista rejects a position outside +-90/+-180 that is not 91/181; gpsd "
    "prints it",
    "type16-short": "gpsd prints mmsi2/offset2/increment2 as 0 when a message 16 has fewer "
    "than 144 bits; mista leaves them out",
}


def compare(
    mine: dict[str, object] | None, theirs: dict[str, object] | None
) -> list[tuple[str, str]]:
    """Differences as (field, allowance) pairs; allowance "" for an unexplained one."""
    if theirs is None and mine is not None and mine["type"] == 24:
        return [("*", "type24-merge")]
    if mine is None or theirs is None:
        if mine is None and theirs is None:
            return []
        return [("*", "mista-rejects" if mine is None else "gpsd-rejects")]
    diffs: list[tuple[str, str]] = []
    t = int(str(mine["type"]))
    theirs = {k: v for k, v in theirs.items() if k not in ("class", "device", "scaled")}
    if t == 24:
        return _compare_24(mine, theirs)
    if t in (6, 8) and "data" not in theirs:
        for key in ("type", "repeat", "mmsi", "dac", "fid"):
            if mine.get(key) != theirs.get(key):
                diffs.append((key, ""))
        return diffs or [("data", "binary-decoded")]
    for key in sorted(set(mine) | set(theirs)):
        a, b = mine.get(key), theirs.get(key)
        if a == b and type(a) is type(b):
            continue
        if a == b and isinstance(a, int | float) and isinstance(b, int | float):
            continue
        if (t, key) in _DECIMALS and b is not None and _rounded_equal(a, b, _DECIMALS[(t, key)]):
            continue
        if key == "turn" and a is not None and b is not None and _turn_equal(a, b):
            if a != b:
                diffs.append((key, "turn-sign" if isinstance(a, float) and a < 0 else "rounding"))
            continue
        if (t, key, a, b) in _SPEED_NA:
            diffs.append((key, "speed-na"))
            continue
        if t == 16 and a is None and b == 0:
            diffs.append((key, "type16-short"))
            continue
        if t == 27 and key in ("status", "status_text") and theirs["status"] == mine["status_text"]:
            diffs.append((key, "type27-status"))
            continue
        if t == 26 and key in ("data", "radio"):
            diffs.append((key, "type26-radio"))
            continue
        if t in (25, 26) and key in ("dest_mmsi", "app_id") and a is None and b == 0:
            diffs.append((key, "type25-26-absent"))
            continue
        if t == 23 and key == "txrx" and b is None:
            diffs.append((key, "type23-txrx"))
            continue
        diffs.append((key, ""))
    return diffs


def _compare_24(mine: dict[str, object], theirs: dict[str, object]) -> list[tuple[str, str]]:
    diffs: list[tuple[str, str]] = [("shipname", "type24-merge")]
    for key, b in theirs.items():
        if key == "shipname":
            continue
        a = mine.get(key)
        prefix = key == "vendorid" and isinstance(a, str) and isinstance(b, str) and b.startswith(a)
        if prefix or (key in ("model", "serial") and a != b):
            diffs.append((key, "type24-vendorid"))
        elif a != b:
            diffs.append((key, ""))
    return diffs


def mista_dicts(messages: list[Message]) -> list[dict[str, object] | None]:
    out: list[dict[str, object] | None] = []
    for m in messages:
        try:
            out.append(decode_payload(m.payload, m.fill))
        except PayloadError:
            out.append(None)
    return out


def _reason(message: Message) -> str:
    try:
        decode_payload(message.payload, message.fill)
    except PayloadError as error:
        return error.reason
    return ""


def run_oracle(messages: list[Message]) -> tuple[Counter[tuple[int, str, str]], list[str]]:
    """Compare mista with gpsdecode; count differences by (type, field, allowance)."""
    theirs = gpsdecode(messages)
    mine = mista_dicts(messages)
    counts: Counter[tuple[int, str, str]] = Counter()
    examples: list[str] = []
    for m, a, b in zip(messages, mine, theirs, strict=True):
        t = int(str((a or b or {"type": -1})["type"]))
        for key, why in compare(a, b):
            if why == "mista-rejects" and _reason(m) == "out-of-range":
                why = "out-of-range"
            counts[(t, key, why)] += 1
            if why in ("", "mista-rejects", "gpsd-rejects") and len(examples) < 30:
                examples.append(f"{m.payload},{m.fill}: {key}: mista {a} gpsd {b}")
    return counts, examples


# --- tests ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("gpsdecode") is None, reason="gpsdecode (gpsd) is not installed")
def test_every_corpus_message_matches_gpsdecode(shared_data: Path) -> None:
    messages = corpus_messages(shared_data)
    counts, examples = run_oracle(messages)
    unexplained = {k: v for k, v in counts.items() if k[2] not in ALLOWED}
    assert not unexplained, "\n".join([str(unexplained), *examples])
    assert all(why in ALLOWED for _, _, why in counts)


def test_bulk_and_per_message_agree_on_the_corpus(shared_data: Path) -> None:
    messages = corpus_messages(shared_data)
    payload, offsets, fills = as_bulk_input(messages)
    batch = decode_payloads(payload, offsets, fills)
    bulk = to_dicts(batch, len(messages))
    single = mista_dicts(messages)
    assert len(bulk) == len(single)
    for i, (a, b) in enumerate(zip(bulk, single, strict=True)):
        if a != b:
            same_nan = a is not None and b is not None and _nan_equal(a, b)
            assert same_nan, f"row {i} ({messages[i].payload}): bulk {a} != single {b}"
    rejected = {r.row for r in batch.rejected}
    assert rejected == {i for i, d in enumerate(single) if d is None}
    assert batch.common.num_rows + len(rejected) == len(messages)


def _nan_equal(a: dict[str, object], b: dict[str, object]) -> bool:
    if list(a) != list(b):
        return False
    for key in a:
        x, y = a[key], b[key]
        if x != y and not (isinstance(x, float) and isinstance(y, float) and math.isnan(x)):
            return False
    return True


def test_the_docs_explain_every_allowed_difference_and_reason() -> None:
    from mista.ais.fields import FIELDS
    from mista.ais.payload import REASONS

    docs = (Path(__file__).resolve().parents[2] / "docs" / "ais-json.md").read_text("utf-8")
    for key in ALLOWED:
        assert f"`{key}`" in docs, key
    for reason in REASONS:
        assert f"`{reason}`" in docs, reason
    for fields in FIELDS.values():
        for field in fields:
            assert field.name in docs, field.name
