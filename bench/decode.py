"""Decode the benchmark corpus with mista and its peers, side by side, on one CPU.

Every decoder starts from the same bytes in memory (the corpus file, read once before
timing) and does all of its own work: splitting lines, joining multi-sentence messages,
checking what it checks, and building its output for every message. gpsd's
``gpsdecode`` is the exception: it runs as a whole process, ``gpsdecode -j < corpus >
/dev/null``, and its time includes starting the process and writing JSON.

The decoders run round-robin (one pass of each, then the next round), ``--repeats``
rounds after one untimed warm-up round; the table gives each decoder's median wall time
and median CPU time (user + system, gpsdecode's included), and messages/s from each. On
a quiet machine the two agree; when other work shares the CPU, CPU time is the steadier
measure of the decoder's own cost. The
warm-up round also counts the messages each decoder produced, so a decoder that skips
work shows it in the ``messages`` column.

``--memory`` instead checks that mista's bulk path decodes in constant memory: it
decodes 1/10, 1/2 and all of ``--memory-gb`` gigabytes of the corpus repeated end to end
(streamed in 1 MiB chunks from a generator, never held whole), each in a fresh process,
and reports peak RSS against bytes decoded.

Run ``.venv/bin/python bench/decode.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import resource
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _harness as h

DEFAULT_CHUNK_KIB = 1024
#: Bytes per feed() for the chunk-fed decoders; --chunk-kib sets it for the whole run.
CHUNK_BYTES = DEFAULT_CHUNK_KIB << 10
PYAIS_BASE = "pyais decode()"


@dataclass
class Decoder:
    """One thing to time: a name, its version, a pass over the corpus that counts messages."""

    name: str
    version: str
    run: Callable[[], int]
    note: str = ""
    times_s: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    count: int = 0
    errors: int = 0


def chunks_of(data: bytes, size: int | None = None) -> Iterator[bytes]:
    """The data in ``size``-byte slices (default ``CHUNK_BYTES``), as a reader would get it."""
    size = CHUNK_BYTES if size is None else size
    for start in range(0, len(data), size):
        yield data[start : start + size]


# --- mista -----------------------------------------------------------------------------


def mista_decoders(data: bytes) -> tuple[list[Decoder], str]:
    """mista's bulk (columnar) and per-message paths; empty with a reason if not importable."""
    try:
        from mista.ais.framing import Framer
        from mista.ais.payload import PayloadError, decode_payload, decode_payloads, to_dicts
    except ImportError as exc:
        return [], f"mista decoder not importable yet ({exc})"
    version = f"{h.package_version('mista')} ({h.git_commit()})"

    def bulk() -> int:
        framer = Framer()
        count = 0
        for chunk in _with_end(chunks_of(data)):
            fb = framer.feed(chunk) if chunk is not None else framer.finish()
            db = decode_payloads(fb.payload, fb.payload_offsets, fb.fill_bits)
            count += len(db.common)
        return count

    def dicts() -> int:
        framer = Framer()
        count = 0
        for chunk in _with_end(chunks_of(data)):
            fb = framer.feed(chunk) if chunk is not None else framer.finish()
            db = decode_payloads(fb.payload, fb.payload_offsets, fb.fill_bits)
            for message in to_dicts(db, len(fb)):
                if message is not None:  # None: a payload the decoder rejected
                    count += 1
        return count

    def one_by_one() -> int:
        framer = Framer()
        count = 0
        for chunk in _with_end(chunks_of(data)):
            fb = framer.feed(chunk) if chunk is not None else framer.finish()
            fills = fb.fill_bits.tolist()
            for i in range(len(fb)):
                try:
                    decode_payload(fb.payload_at(i), fills[i])
                except PayloadError:
                    continue
                count += 1
        return count

    return [
        Decoder(
            "mista bulk (Arrow)",
            version,
            bulk,
            "Framer + decode_payloads: columnar Arrow record batches",
        ),
        Decoder("mista to_dicts()", version, dicts, "bulk decode, then one dict per message"),
        Decoder(
            "mista decode_payload()",
            version,
            one_by_one,
            "Framer, then decode_payload() per message: one dict each",
        ),
    ], ""


# --- peers -----------------------------------------------------------------------------


def pyais_decoders(data: bytes) -> tuple[list[Decoder], str]:
    """pyais's own stream assembler, then ``decode()`` (and ``.asdict()``) per message."""
    try:
        from pyais.stream import IterMessages
    except ImportError as exc:
        return [], f"pyais not installed ({exc})"
    version = h.package_version("pyais")

    def make(as_dict: bool) -> Callable[[], int]:
        def run() -> int:
            count = 0
            for message in IterMessages(data.splitlines()):
                try:
                    decoded = message.decode()
                    if as_dict:
                        decoded.asdict()
                except Exception:  # a peer's reject is counted, not fatal
                    continue
                count += 1
            return count

        return run

    return [
        Decoder(PYAIS_BASE, version, make(False), "IterMessages + NMEAMessage.decode()"),
        Decoder("pyais decode().asdict()", version, make(True), "same, then .asdict()"),
    ], ""


def libais_decoders(data: bytes) -> tuple[list[Decoder], str]:
    """libais's C++ ``ais.decode(payload, fill)``, fed by a minimal Python sentence joiner.

    libais has no C++ sentence layer; its Python ``nmea_queue`` does much more (tag blocks,
    USCG metadata) than this corpus needs, so a few lines of Python split the fields and
    join multi-sentence payloads. That Python is part of the timed work.
    """
    try:
        import ais  # libais
    except ImportError as exc:
        return [], f"libais not installed ({exc})"
    version = getattr(ais, "__version__", h.package_version("libais"))

    def run() -> int:
        count = 0
        pending: dict[tuple[bytes, bytes], list[bytes]] = {}
        decode = ais.decode
        for line in data.split(b"\n"):
            if not line:
                continue
            fields = line.split(b",")
            if fields[1] == b"1":
                payload = fields[5]
            else:
                key = (fields[3], fields[4])
                if fields[2] == b"1":
                    pending[key] = [fields[5]]
                    continue
                parts = pending.get(key)
                if parts is None:
                    continue
                parts.append(fields[5])
                if fields[2] != fields[1]:
                    continue
                payload = b"".join(pending.pop(key))
            try:
                decode(payload.decode("ascii"), int(fields[6][:1]))
            except Exception:  # libais: DecodeError on a reject
                continue
            count += 1
        return count

    return [Decoder("libais", version, run, "ais.decode() per message, Python line joiner")], ""


def aiscat_decoders(data: bytes) -> tuple[list[Decoder], str]:
    """AIS-catcher's C++ decoder via aiscat (GPL-3.0: a benchmark peer only)."""
    try:
        import aiscat
    except ImportError as exc:
        return [], f"aiscat not installed ({exc})"

    def run() -> int:
        decoder = aiscat.Decoder(format="dictionary")
        count = 0
        for chunk in chunks_of(data):
            decoder.feed(chunk)
            message = decoder.next()
            while message is not None:
                count += 1
                message = decoder.next()
        return count

    return [Decoder("aiscat", aiscat.__version__, run, "Decoder(format='dictionary')")], ""


def marlin_decoders(data: bytes) -> tuple[list[Decoder], str]:
    """marlin-py's Rust AIS parser (typed objects for some types, raw payload for the rest)."""
    try:
        import marlin
        from marlin.ais import AisParser
    except ImportError as exc:
        return [], f"marlin-py not installed ({exc})"

    def run() -> int:
        # The streaming buffer must hold a whole fed chunk (its default is smaller).
        parser = AisParser.streaming(max_size=4 * CHUNK_BYTES)
        count = 0
        for chunk in chunks_of(data):
            parser.feed(chunk)
            while True:
                try:
                    message = parser.next_message()
                except Exception:  # AisError on a payload it rejects
                    continue
                if message is None:
                    break
                count += 1
        return count

    note = "AisParser.streaming(); typed decode of types 1-3,5,9,18,19,21,24 only"
    return [Decoder("marlin-py", marlin.__version__, run, note)], ""


def gpsdecode_decoders(corpus: Path) -> tuple[list[Decoder], str]:
    """gpsd's gpsdecode as a whole process: ``gpsdecode -j < corpus > /dev/null``."""
    try:
        out = subprocess.run(
            ["gpsdecode", "-V"], capture_output=True, text=True, check=True, timeout=30
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return [], f"gpsdecode not runnable ({exc})"
    match = re.search(r"revision\s+(\S+)", out.stdout + out.stderr)
    version = match.group(1) if match else (out.stdout + out.stderr).strip()
    counted: list[int] = []

    def run() -> int:
        with corpus.open("rb") as stdin:
            if not counted:  # first (warm-up) pass: count the JSON lines it writes
                result = subprocess.run(
                    ["gpsdecode", "-j"],
                    stdin=stdin,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
                counted.append(result.stdout.count(b"\n"))
            else:
                subprocess.run(
                    ["gpsdecode", "-j"],
                    stdin=stdin,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    check=True,
                )
        return counted[0]

    note = "whole process, JSON to /dev/null; time includes process start"
    return [Decoder("gpsdecode -j", version, run, note)], ""


# --- the comparison --------------------------------------------------------------------


def compare(args: argparse.Namespace) -> None:
    """Time every available decoder round-robin and print the table."""
    corpus = h.corpus_path(args.data)
    cpu = h.pin_to_one_cpu(args.cpu)
    data = corpus.read_bytes()
    decoders: list[Decoder] = []
    missing: list[str] = []
    for found, reason in (
        mista_decoders(data),
        pyais_decoders(data),
        libais_decoders(data),
        aiscat_decoders(data),
        marlin_decoders(data),
        gpsdecode_decoders(corpus),
    ):
        decoders += found
        if reason:
            missing.append(reason)
    if args.only:
        decoders = [d for d in decoders if any(o.lower() in d.name.lower() for o in args.only)]

    print("\n".join(h.machine_lines(cpu)))
    sentences = data.count(b"\n")
    print(
        f"corpus  : {corpus.name}, {len(data):,} bytes, {sentences:,} sentences; "
        f"chunk-fed decoders get {CHUNK_BYTES >> 10} KiB per feed()"
    )
    print(f"method  : 1 warm-up round, then {args.repeats} round-robin rounds; medians")
    for d in decoders:  # warm-up: also the message count
        d.count = d.run()
    for _ in range(args.repeats):
        for d in decoders:
            seconds, cpu_time, count = h.time_once(d.run)
            if count != d.count:
                sys.exit(f"{d.name} counted {count} then {d.count}: not deterministic")
            d.times_s.append(seconds)
            d.cpu_s.append(cpu_time)

    base = next((d for d in decoders if d.name == PYAIS_BASE), None)
    rows = []
    for d in decoders:
        wall, cpu_time = h.median(d.times_s), h.median(d.cpu_s)
        ratio_wall = ratio_cpu = "-"
        if base is not None:
            ratio_wall = f"{(d.count / wall) / (base.count / h.median(base.times_s)):.2f}x"
            ratio_cpu = f"{(d.count / cpu_time) / (base.count / h.median(base.cpu_s)):.2f}x"
        spread = f"{min(d.times_s) * 1000:.0f}-{max(d.times_s) * 1000:.0f}"
        rows.append(
            [
                d.name,
                d.version,
                h.thousands(d.count),
                f"{wall * 1000:.0f}",
                spread,
                h.thousands(d.count / wall),
                ratio_wall,
                h.thousands(d.count / cpu_time),
                ratio_cpu,
            ]
        )
    header = [
        "decoder",
        "version",
        "messages",
        "wall ms",
        "min-max ms",
        "msg/s",
        "vs pyais",
        "msg/s (CPU)",
        "vs pyais (CPU)",
    ]
    print()
    print(h.markdown_table(header, rows, right=set(range(2, 9))))
    print(
        "wall ms, msg/s and vs pyais: median wall time over the rounds; (CPU): from the "
        "median user + system time of the process (and of gpsdecode's)"
    )
    print()
    counts = [d.count for d in decoders]
    if counts:
        spread = (max(counts) - min(counts)) / max(counts)
        print(f"messages decoded: {min(counts):,} to {max(counts):,} ({spread:.1%} apart)")
    for d in decoders:
        print(f"  {d.name}: {d.note}")
    for reason in missing:
        print(f"not measured: {reason}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "machine": h.machine_lines(cpu),
                    "decoders": [
                        {
                            "name": d.name,
                            "version": d.version,
                            "messages": d.count,
                            "times_s": d.times_s,
                            "cpu_s": d.cpu_s,
                            "note": d.note,
                        }
                        for d in decoders
                    ],
                    "missing": missing,
                },
                indent=1,
            )
        )


# --- constant memory -------------------------------------------------------------------


def repeated(data: bytes, total_bytes: int, size: int | None = None) -> Iterator[bytes]:
    """``total_bytes`` of ``data`` repeated end to end, in ``size`` slices, never held whole."""
    size = CHUNK_BYTES if size is None else size
    emitted = 0
    doubled = data + data
    offset = 0
    while emitted < total_bytes:
        take = min(size, total_bytes - emitted, len(data))
        yield doubled[offset : offset + take]
        emitted += take
        offset = (offset + take) % len(data)


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def memory_child(data_folder: Path, total_bytes: int) -> dict[str, Any]:
    """In a fresh process: decode ``total_bytes`` with the bulk path; report RSS and speed."""
    from mista.ais.framing import Framer
    from mista.ais.payload import decode_payloads

    data = h.corpus_path(data_folder).read_bytes()
    # Whole sentences only, so the repetition does not cut a line in two.
    data = data[: data.rfind(b"\n") + 1]
    framer = Framer()
    before = max_rss_mib()
    count = 0
    start = time.perf_counter()
    for chunk in _with_end(repeated(data, total_bytes)):
        fb = framer.feed(chunk) if chunk is not None else framer.finish()
        db = decode_payloads(fb.payload, fb.payload_offsets, fb.fill_bits)
        count += len(db.common)
    seconds = time.perf_counter() - start
    return {
        "bytes": total_bytes,
        "messages": count,
        "seconds": seconds,
        "rss_before_mib": before,
        "rss_peak_mib": max_rss_mib(),
    }


def _with_end(chunks: Iterator[bytes]) -> Iterator[bytes | None]:
    """The chunks, then None to say the input has ended."""
    yield from chunks
    yield None


def memory(args: argparse.Namespace) -> None:
    """Run the bulk path over growing inputs, each in a fresh process, and print peak RSS."""
    cpu = h.pin_to_one_cpu(args.cpu)
    total = int(args.memory_gb * 1e9)
    print("\n".join(h.machine_lines(cpu)))
    print(
        "method  : mista bulk path over the corpus repeated end to end, streamed in 1 MiB "
        "chunks; one fresh process per size; peak RSS from getrusage"
    )
    rows = []
    for size in (total // 10, total // 2, total):
        out = subprocess.run(
            [sys.executable, __file__, "--data", str(args.data), "--memory-child", str(size)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(
            [
                f"{r['bytes'] / 1e9:.2f}",
                h.thousands(r["messages"]),
                f"{r['seconds']:.1f}",
                h.thousands(r["messages"] / r["seconds"]),
                f"{r['rss_before_mib']:.0f}",
                f"{r['rss_peak_mib']:.0f}",
            ]
        )
    header = ["GB decoded", "messages", "seconds", "messages/s", "RSS before MiB", "peak RSS MiB"]
    print()
    print(h.markdown_table(header, rows, right=set(range(6))))


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the comparison (or the memory check)."""
    parser = h.new_parser(
        __doc__,
        ".venv/bin/python bench/decode.py --repeats 5 --json bench/out/decode.json"
        "\n         .venv/bin/python bench/decode.py --memory --memory-gb 1",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        help="timed round-robin rounds after the warm-up (default 5)",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="CPU to pin to (default: the last one this process may use)",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        metavar="NAME",
        help="time only decoders whose name contains one of these",
    )
    parser.add_argument(
        "--chunk-kib",
        type=int,
        default=DEFAULT_CHUNK_KIB,
        help="bytes per feed() for the chunk-fed decoders (mista, aiscat, "
        "marlin-py), in KiB (default 1024)",
    )
    parser.add_argument("--json", type=Path, help="also write the raw timings here")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="run the constant-memory check of mista's bulk path instead",
    )
    parser.add_argument(
        "--memory-gb", type=float, default=1.0, help="largest input for --memory, in GB (default 1)"
    )
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    global CHUNK_BYTES  # one setting for every decoder of this run
    CHUNK_BYTES = args.chunk_kib << 10
    if args.memory_child is not None:
        print(json.dumps(memory_child(args.data, args.memory_child)))
    elif args.memory:
        memory(args)
    else:
        with contextlib.suppress(KeyboardInterrupt):
            compare(args)


if __name__ == "__main__":
    main()
