"""The whole pipeline (framing + payload) against gpsd's ``gpsdecode -j`` on every raw log.

Each log of ``../shared/data/ais/raw`` is decoded by mista (``decode_chunks`` on the file's
bytes, then ``to_dicts``) and by ``gpsdecode -j`` (its own framing; ``"class":"AIS"`` records
only). The two message sequences are aligned in order: first on a fine key (type, MMSI and a
field that changes from report to report) with :class:`difflib.SequenceMatcher`, then each
record left over is paired with the nearest unpaired mista outcome of the same (type, MMSI)
within :data:`WINDOW` outcomes (a decoded message, or a message mista rejected).

Then:

* every matched pair is compared field by field with the payload oracle's rules
  (:func:`tests.ais.test_payload_corpus.compare`); each difference must be one of its
  :data:`~tests.ais.test_payload_corpus.ALLOWED` kinds;
* every message only mista decoded must have a reason in :data:`MISTA_ONLY`, each found by
  its own check on the message (talker, channel, line, type 24 part, gpsd's part A queue);
  and conversely no message gpsd printed may carry one of those reasons;
* every record only gpsd printed must pair with a message mista rejected for a reason in
  :data:`GPSD_ONLY`; when its payload can be decoded on its own, the fields are compared too.

The per-file numbers are in ``docs/ais-json.md`` ("Whole logs against gpsdecode");
``python -m tests.ais.test_gpsdecode_logs`` prints that table.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from pathlib import Path

import pytest

from mista.ais.payload import PayloadError, decode_payload, to_dicts
from mista.ais.stream import decode_chunks
from tests.conftest import SHARED_DATA

from .test_payload_corpus import ALLOWED, compare

pytestmark = pytest.mark.shared_data

RAW = Path("ais") / "raw"
LOGS: list[str] = (
    sorted(p.name for p in (SHARED_DATA / RAW).iterdir() if p.is_file())
    if (SHARED_DATA / RAW).is_dir()
    else ["(shared data absent)"]
)
CHUNK = 1 << 20
# How far (in mista outcomes) from the last aligned message a left-over gpsd record is paired.
WINDOW = 64

# gpsd 3.22's packet lexer recognises AIS sentences only with these talkers
# (!A[BDINRSTX]VDM, !BSVDM, !SAVDM); the logs also hold SS, BY and WS.
GPSD_TALKERS = frozenset({"AB", "AD", "AI", "AN", "AR", "AS", "AT", "AX", "BS", "SA"})
# gpsd's AIVDM driver maps channel A/1 and B/2 (or empty) to its two fragment contexts and
# drops any other channel letter or digit ("invalid channel"), such as the 0 of some base
# stations.
GPSD_CHANNELS = frozenset({None, "A", "B", "1", "2"})
# gpsd keeps the MMSI and name of the last 8 type 24 part A messages per channel context
# (A/1/empty, B/2); a part B is printed (merged) only when its MMSI is in its channel's queue,
# and the slot is then cleared. Replaying this predicts gpsd's choice exactly on the logs.
GPSD_TYPE24_QUEUE = 8

#: Why a message only mista decoded is missing from gpsdecode's output.
MISTA_ONLY: dict[str, str] = {
    "type24-merge": "type 24 part A: gpsd keeps it and prints it only merged into a part B",
    "type24-no-part-a": "type 24 part B whose MMSI is not in gpsd's queue of the last 8 part A "
    "messages on its channel (none seen, or already used by a repeated part B): gpsd drops it",
    "gpsd-talker": "a talker gpsd's packet lexer does not know (SS, BY, WS): gpsd skips the "
    "sentence; mista takes any two-character talker",
    "gpsd-channel": "channel 0: gpsd drops a channel other than A, B, 1, 2 or empty",
    "no-line-end": "the file's last line has no line end: gpsd's lexer waits for one",
    "several-on-a-line": "fragments of one message written on one line (gfw): gpsd wants a "
    "line end after each sentence",
    "gpsd-after-broken-line": "the line before is a broken sentence (cut off, or another "
    "sentence spliced into it; mista rejects it as malformed or checksum); gpsd's lexer reads "
    "on into this line and loses it (checked: gpsd prints nothing for the two lines, and "
    "decodes this one alone)",
}

#: Why a record only gpsdecode printed was not decoded by mista (the mista reject reason).
GPSD_ONLY: dict[str, str] = {
    "out-of-range": "position outside the globe: mista rejects it, gpsd prints it "
    "(payload allow-list `out-of-range`)",
    "tag-block": "the amsa nmea-timestamped log writes tag block checksum *00: mista rejects "
    "the line (docs/ais-framing.md, known choices), gpsd ignores the tag block",
}

_SENTENCE = re.compile(r"[!$]([^,!\\]{2})VD[MO],(\d),(\d),[^,]*,[^,]*,([^,*]*),(\d)")


@dataclass(slots=True)
class Outcome:
    """One thing mista made of the log, in line order: a decoded message or a reject."""

    line_no: int
    message: dict[str, object] | None
    reason: str  # "" when decoded
    raw: str
    talker: str | None = None
    channel: str | None = None
    key: tuple[int, int] | None = None  # (type, mmsi)


@dataclass(slots=True)
class FileReport:
    """Everything the comparison of one log found."""

    name: str
    mista: int = 0
    gpsd: int = 0
    matched: int = 0
    both_reject: int = 0
    mista_only: Counter[str] = field(default_factory=Counter)
    gpsd_only: Counter[str] = field(default_factory=Counter)
    diffs: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def _header(payload: str) -> tuple[int, int] | None:
    """(type, mmsi) from the first 38 bits of an armoured payload."""
    value = 0
    for ch in payload[:7]:
        code = ord(ch) - 48
        if code > 40:
            code -= 8
        if not 0 <= code < 64:
            return None
        value = value << 6 | code
    if len(payload) < 7:
        return None
    return value >> 36, (value >> 4) & ((1 << 30) - 1)


def _sentences(raw: str) -> list[re.Match[str]]:
    return list(_SENTENCE.finditer(raw))


def _raw_key(raw: str) -> tuple[int, int] | None:
    for m in _sentences(raw):
        if m.group(3) == "1":
            return _header(m.group(4))
    return None


def mista_outcomes(data: bytes) -> list[Outcome]:
    """mista's messages and rejects for a log, in line order."""
    out: list[Outcome] = []
    chunks = (data[i : i + CHUNK] for i in range(0, len(data), CHUNK))
    for batch in decode_chunks(chunks):
        framed = batch.framed
        talkers = framed.talker.to_pylist()
        channels = framed.channel.to_pylist()
        raws = framed.raw.to_pylist()
        for i, message in enumerate(to_dicts(batch.decoded, len(framed))):
            if message is not None:
                key = (int(str(message["type"])), int(str(message["mmsi"])))
                line = int(framed.line_no[i])
                out.append(Outcome(line, message, "", raws[i], talkers[i], channels[i], key))
        for reject in batch.rejected():
            out.append(
                Outcome(reject.line_no, None, reject.reason, reject.raw, key=_raw_key(reject.raw))
            )
    out.sort(key=lambda o: o.line_no)
    return out


def run_gpsdecode(data: bytes) -> list[dict[str, object]]:
    done = subprocess.run(["gpsdecode", "-j"], input=data, capture_output=True, check=True)
    records = (json.loads(line) for line in done.stdout.splitlines() if line.strip())
    return [r for r in records if r.get("class") == "AIS"]


_FINE: dict[int, tuple[str, ...]] = {
    **{t: ("second",) for t in (1, 2, 3, 9, 18, 19, 21)},
    4: ("timestamp",),
    11: ("timestamp",),
    5: ("imo", "callsign"),
}


def _fine_key(message: dict[str, object]) -> tuple[object, ...]:
    t = int(str(message["type"]))
    if t == 24 and message.get("partno", 1) != 1:
        return (24, message["mmsi"], "part", message["partno"])  # gpsd never prints these
    return (t, message["mmsi"], *(message.get(k) for k in _FINE.get(t, ())))


def align(outcomes: list[Outcome], records: list[dict[str, object]]) -> dict[int, int]:
    """Pairs record index -> outcome index."""
    decoded = [i for i, o in enumerate(outcomes) if o.message is not None]
    mine = [_fine_key(outcomes[i].message or {}) for i in decoded]
    theirs = [_fine_key(r) for r in records]
    pairs: dict[int, int] = {}
    matcher = SequenceMatcher(None, mine, theirs, autojunk=False)
    for a, b, size in matcher.get_matching_blocks():
        for k in range(size):
            pairs[b + k] = decoded[a + k]
    used = set(pairs.values())
    anchor = 0
    for j, record in enumerate(records):
        if j in pairs:
            anchor = pairs[j]
            continue
        key = (int(str(record["type"])), int(str(record["mmsi"])))
        lo, hi = max(0, anchor - WINDOW), min(len(outcomes), anchor + WINDOW + 1)
        candidates = [i for i in range(lo, hi) if i not in used and outcomes[i].key == key]
        if candidates:
            best = min(candidates, key=lambda i: abs(i - anchor))
            pairs[j] = best
            used.add(best)
            anchor = best
    return pairs


def _type24_unmatched_b(outcomes: list[Outcome]) -> set[int]:
    """Part B messages gpsd cannot merge: replays gpsd's part A queues over what it reads."""
    queues: dict[int, list[int]] = {0: [0] * GPSD_TYPE24_QUEUE, 1: [0] * GPSD_TYPE24_QUEUE}
    index = {0: 0, 1: 0}
    unmatched: set[int] = set()
    for i, o in enumerate(outcomes):
        m = o.message
        if m is None or m["type"] != 24 or _static_reason(o, 0, 0):
            continue
        context = 1 if o.channel in ("B", "2") else 0
        queue, mmsi = queues[context], int(str(m["mmsi"]))
        if m["partno"] == 0:
            queue[index[context]] = mmsi
            index[context] = (index[context] + 1) % GPSD_TYPE24_QUEUE
        elif m["partno"] == 1:
            if mmsi in queue:
                queue[queue.index(mmsi)] = 0
            else:
                unmatched.add(i)
    return unmatched


def _static_reason(o: Outcome, last_line: int, open_last: int) -> str:
    """The reason gpsd cannot print this message, judged from the message itself."""
    if o.talker not in GPSD_TALKERS:
        return "gpsd-talker"
    if o.channel not in GPSD_CHANNELS:
        return "gpsd-channel"
    if open_last and o.line_no == last_line:
        return "no-line-end"
    if "\n" not in o.raw and len(_sentences(o.raw)) > 1:
        return "several-on-a-line"
    return ""


def mista_only_reason(
    i: int, outcomes: list[Outcome], data: bytes, type24_b: set[int], lines: list[bytes]
) -> str:
    o = outcomes[i]
    assert o.message is not None
    last_line = len(lines)
    reason = _static_reason(o, last_line, int(not data.endswith(b"\n")))
    if reason:
        return reason
    if o.message["type"] == 24:
        part = o.message["partno"]
        if part == 0:
            return "type24-merge"
        if part == 1 and i in type24_b:
            return "type24-no-part-a"
    if _after_broken_line(o, outcomes, lines):
        return "gpsd-after-broken-line"
    return ""


def _after_broken_line(o: Outcome, outcomes: list[Outcome], lines: list[bytes]) -> bool:
    before = [
        p for p in outcomes if p.line_no == o.line_no - 1 and p.reason in ("malformed", "checksum")
    ]
    if not before or "\n" in o.raw:
        return False
    previous, own = lines[o.line_no - 2], lines[o.line_no - 1]
    together = run_gpsdecode(previous + b"\n" + own + b"\n")
    alone = run_gpsdecode(own + b"\n")
    return not together and len(alone) == 1 and alone[0]["mmsi"] == (o.message or {}).get("mmsi")


def _payload_of(raw: str) -> tuple[str, int] | None:
    """Payload and fill bits of a one-sentence message's raw line."""
    found = _sentences(raw)
    if len(found) != 1 or found[0].group(2) != "1":
        return None
    return found[0].group(4), int(found[0].group(5))


def compare_log(data: bytes, name: str) -> FileReport:
    outcomes = mista_outcomes(data)
    records = run_gpsdecode(data)
    lines = data.split(b"\n")
    if data.endswith(b"\n"):
        lines.pop()
    report = FileReport(name)
    report.mista = sum(o.message is not None for o in outcomes)
    report.gpsd = len(records)
    pairs = align(outcomes, records)
    paired = set(pairs.values())
    type24_b = _type24_unmatched_b(outcomes)

    for j, i in sorted(pairs.items()):
        o, record = outcomes[i], records[j]
        mine = o.message
        if mine is None:
            why = o.reason if o.reason in GPSD_ONLY else ""
            report.gpsd_only[why or f"unexplained (mista {o.reason})"] += 1
            if not why:
                report.problems.append(f"gpsd-only, mista {o.reason}: {o.raw} -> {record}")
            payload = _payload_of(o.raw)
            if payload is not None:
                try:
                    mine = decode_payload(*payload)
                except PayloadError:
                    continue
            else:
                continue
        else:
            report.matched += 1
            blocked = _static_reason(o, len(lines), int(not data.endswith(b"\n")))
            if blocked or i in type24_b:
                report.problems.append(
                    f"predicted {blocked or 'type24-no-part-a'} but matched: {o.raw}"
                )
        for key, why in compare(mine, record):
            report.diffs[why or "unexplained"] += 1
            if why not in ALLOWED:
                report.problems.append(
                    f"{key}: mista {mine.get(key)} gpsd {record.get(key)}: {o.raw}"
                )

    for j in range(len(records)):
        if j not in pairs:
            report.gpsd_only["unexplained (not found in mista)"] += 1
            report.problems.append(f"gpsd-only, no mista outcome: {records[j]}")

    for i, o in enumerate(outcomes):
        if i in paired:
            continue
        if o.message is None:
            report.both_reject += 1
            continue
        why = mista_only_reason(i, outcomes, data, type24_b, lines)
        report.mista_only[why or "unexplained"] += 1
        if not why:
            report.problems.append(f"mista-only, no reason: line {o.line_no}: {o.raw}")
    return report


def _summary_row(r: FileReport) -> str:
    def kinds(c: Counter[str]) -> str:
        return ", ".join(f"{k} {n}" for k, n in sorted(c.items())) or "-"

    return (
        f"| `{r.name}` | {r.mista} | {r.gpsd} | {r.matched} | {sum(r.mista_only.values())}: "
        f"{kinds(r.mista_only)} | {sum(r.gpsd_only.values())}: {kinds(r.gpsd_only)} | "
        f"{kinds(r.diffs)} |"
    )


@pytest.fixture(scope="module")
def gpsdecode() -> str:
    path = shutil.which("gpsdecode")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("gpsdecode missing: .ci/run installs gpsd-clients")
        pytest.skip("gpsdecode (gpsd-clients) is not installed: whole-log oracle not run")
    return path


@pytest.mark.parametrize("name", LOGS)
def test_log_matches_gpsdecode(shared_data: Path, gpsdecode: str, name: str) -> None:
    report = compare_log((shared_data / RAW / name).read_bytes(), name)
    assert not report.problems, "\n".join([_summary_row(report), *report.problems[:30]])
    assert set(report.mista_only) <= set(MISTA_ONLY)
    assert set(report.gpsd_only) <= set(GPSD_ONLY)
    assert set(report.diffs) <= set(ALLOWED)
    # every record gpsd printed is accounted for: matched, or paired with a mista reject
    assert report.matched + sum(report.gpsd_only.values()) == report.gpsd
    assert report.matched + sum(report.mista_only.values()) == report.mista


def test_the_docs_list_every_reason() -> None:
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ais-json.md").read_text("utf-8")
    assert "## Whole logs against gpsdecode" in docs
    for reason in [*MISTA_ONLY, *GPSD_ONLY]:
        assert f"`{reason}`" in docs, reason


def _main() -> Iterator[str]:
    yield (
        "| file | mista decoded | gpsd printed | matched | only mista | only gpsd "
        "| field differences |"
    )
    yield "|---|---:|---:|---:|---|---|---|"
    for name in LOGS:
        yield _summary_row(compare_log((SHARED_DATA / RAW / name).read_bytes(), name))


if __name__ == "__main__":
    print("\n".join(_main()))
