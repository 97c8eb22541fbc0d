"""End to end through the JetStream bus: a file -> ingest -> nats-server -> store writer ->
DuckDB store, in reports/s, with one and with two ingest processes.

Everything runs on this machine on loopback: a real ``nats-server -js`` (a temporary
store directory, a free port, stopped by its pid), ingest processes calling
``mista.node.ingest_paths([file], bus=URL)`` and one ``mista bus write`` process into a
new DuckDB store (DuckDB has one writer per file). The clock starts when the processes
are started and stops when every publisher has finished and the writer's consumers have
nothing left unacknowledged: every report is then committed in the store. Beside it, in
the same run: direct ingest into DuckDB (no bus), and each half alone (publishing only
into an empty stream; writing only from a full one).

Input: the benchmark corpus written ``--copies`` times with epoch-second prefixes, a day
apart per copy (as ``bench/ingest.py``'s timed input), so every message is a distinct
report. Two ingest processes each read one half of it (split at a line boundary).
Run ``.venv/bin/python bench/bus.py --help``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import _harness as h
from ingest import write_timed_copies

NATS_BIN = (
    os.environ.get("MISTA_NATS_SERVER") or shutil.which("nats-server") or "/usr/sbin/nats-server"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nats(folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [NATS_BIN, "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(folder / "js")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    process.kill()
    sys.exit("nats-server did not start")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def split_halves(path: Path, folder: Path) -> list[Path]:
    data = path.read_bytes()
    middle = data.index(b"\n", len(data) // 2) + 1
    halves = [folder / "half-1.nmea", folder / "half-2.nmea"]
    halves[0].write_bytes(data[:middle])
    halves[1].write_bytes(data[middle:])
    return halves


_PUBLISH = (
    "import sys, time; from mista.node import ingest_paths; t = time.perf_counter(); "
    "s = ingest_paths([sys.argv[1]], bus=sys.argv[2], nation='IND'); "
    "print(s.messages, time.perf_counter() - t)"
)


def publisher(path: Path, url: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-c", _PUBLISH, str(path), url], stdout=subprocess.PIPE
    )


WRITER_OPTIONS: list[str] = []


def writer(url: str, store: str | Path, log: Path, *options: str) -> subprocess.Popen[bytes]:
    """``mista bus write`` into ``store`` (a DuckDB file or a postgresql:// URL)."""
    command = [
        "mista",
        "bus",
        "write",
        "--bus",
        url,
        "--store",
        str(store),
        *WRITER_OPTIONS,
        *options,
    ]
    with log.open("ab") as err:
        return subprocess.Popen(
            [sys.executable, "-m", *command],
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def wait_drained(url: str, publishers: list[subprocess.Popen[bytes]]) -> tuple[int, float, int]:
    """Wait for the publishers, then until group ``store`` has acknowledged everything;
    (reports published, longest publisher's own seconds, messages delivered again)."""
    from mista.bus.jetstream import JetStreamBus

    messages, publish_s = 0, 0.0
    for process in publishers:
        out, _ = process.communicate()
        if process.returncode:
            sys.exit(f"a publisher failed with {process.returncode}")
        count, seconds = out.split()
        messages += int(count)
        publish_s = max(publish_s, float(seconds))
    with JetStreamBus.from_url(url) as bus:
        while True:
            pending = bus.pending("store")
            if None not in pending.values() and not any(pending.values()):
                return messages, publish_s, bus.deliveries("store") - bus.stream_messages()
            time.sleep(0.05)


def run_e2e(
    files: list[Path],
    folder: Path,
    name: str,
    store: str | Path | None = None,
    writers: Sequence[Sequence[str]] = ((),),
) -> dict[str, float]:
    """Every file published by its own ingest process while ``writers`` (each a list of
    options for ``mista bus write``, e.g. ``["--partitions", "0-3"]``) commit into
    ``store`` (default: a new DuckDB file)."""
    nats, base = start_nats(folder / f"nats-{name}")
    url = f"{base}?partitions=8"
    store = folder / f"{name}.duckdb" if store is None else store
    try:
        from mista.bus.jetstream import JetStreamBus

        JetStreamBus.from_url(url).close()  # create the stream before the race
        started = time.perf_counter()
        writing = [writer(url, store, folder / "writer.log", *more) for more in writers]
        publishers = [publisher(path, url) for path in files]
        messages, publish_s, again = wait_drained(url, publishers)
        wall = time.perf_counter() - started
        for write in writing:
            stop(write)
        if again:
            log = (folder / "writer.log").read_text(errors="replace").splitlines()
            print(f"[{name}] {again} messages delivered twice; writer log:", *log[-8:], sep="\n")
    finally:
        stop(nats)
    return {"messages": messages, "wall_s": wall, "publish_s": publish_s, "again": again}


def run_halves(
    path: Path, folder: Path, store: str | Path | None = None, name: str = "halves"
) -> dict[str, float]:
    """Publish alone into an empty stream, then write alone from the full stream into
    ``store`` (default: a new DuckDB file)."""
    nats, base = start_nats(folder / f"nats-{name}")
    url = f"{base}?partitions=8"
    store = folder / f"{name}.duckdb" if store is None else store
    try:
        started = time.perf_counter()
        (pub,) = [publisher(path, url)]
        out, _ = pub.communicate()
        publish_wall = time.perf_counter() - started
        messages = int(out.split()[0])
        started = time.perf_counter()
        write = writer(url, store, folder / "writer.log")
        _, _, again = wait_drained(url, [])
        write_wall = time.perf_counter() - started
        stop(write)
    finally:
        stop(nats)
    return {
        "messages": messages,
        "publish_s": publish_wall,
        "write_s": write_wall,
        "again": again,
    }


def run_direct(path: Path, folder: Path) -> dict[str, float]:
    from mista.node import ingest_paths

    started = time.perf_counter()
    summary = ingest_paths([path], store=folder / "direct.duckdb", nation="IND")
    return {"messages": summary.messages, "wall_s": time.perf_counter() - started}


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(__doc__, ".venv/bin/python bench/bus.py --copies 2")
    parser.add_argument(
        "--copies", type=int, default=2, help="copies of the corpus in the input (default 2)"
    )
    parser.add_argument(
        "--writer",
        default="",
        help="more options for mista bus write, e.g. '--linger-s 1 --merge-rows 200000'",
    )
    args = parser.parse_args(argv)
    WRITER_OPTIONS.extend(args.writer.split())
    corpus = h.corpus_path(args.data)
    print("\n".join(h.machine_lines(None)))
    version = subprocess.run([NATS_BIN, "--version"], capture_output=True, text=True).stdout
    print(
        f"stack   : {version.strip()}, nats-py {h.package_version('nats-py')}, "
        f"duckdb {h.package_version('duckdb')}, pyarrow {h.package_version('pyarrow')}"
    )
    folder = Path(tempfile.mkdtemp(prefix="mista-bench-bus-"))
    try:
        timed = folder / "timed.nmea"
        write_timed_copies(corpus, args.copies, timed)
        halves = split_halves(timed, folder)
        cpu: dict[str, float] = {}
        before = h.cpu_seconds()
        direct = run_direct(timed, folder)
        cpu["direct"], before = h.cpu_seconds() - before, h.cpu_seconds()
        alone = run_halves(timed, folder)
        cpu["halves"], before = h.cpu_seconds() - before, h.cpu_seconds()
        one = run_e2e([timed], folder, "one")
        cpu["one"], before = h.cpu_seconds() - before, h.cpu_seconds()
        two = run_e2e(halves, folder, "two")
        cpu["two"] = h.cpu_seconds() - before
        rows: list[tuple[str, float, float, str]] = [
            (
                "direct ingest into DuckDB (no bus)",
                direct["messages"],
                direct["wall_s"],
                f"{cpu['direct']:.1f}",
            ),
            ("publish only (1 ingest process)", alone["messages"], alone["publish_s"], ""),
            ("store writer only (full stream)", alone["messages"], alone["write_s"], ""),
            ("end to end, 1 ingest process", one["messages"], one["wall_s"], f"{cpu['one']:.1f}"),
            (
                "end to end, 2 ingest processes",
                two["messages"],
                two["wall_s"],
                f"{cpu['two']:.1f}",
            ),
        ]
        print(f"input   : {timed.stat().st_size / 1e6:.0f} MB, corpus x {args.copies}, timed")
        print(f"writer  : mista bus write {' '.join(WRITER_OPTIONS) or '(defaults)'}")
        print()
        print(
            h.markdown_table(
                ["run", "reports", "wall s", "reports/s", "CPU s"],
                [
                    [r[0], h.thousands(r[1]), f"{r[2]:.2f}", h.thousands(r[1] / r[2]), r[3]]
                    for r in rows
                ],
                right={1, 2, 3, 4},
            )
        )
        print(
            f"CPU s: user + system of every process of the run (nats-server, publishers, "
            f"writer, this one); both halves alone together: {cpu['halves']:.1f}"
        )
        print(
            f"messages delivered more than once (after a nak or ack_wait): writer only "
            f"{alone['again']:.0f}, 1 ingest {one['again']:.0f}, 2 ingest {two['again']:.0f}"
        )
        print(
            "\nend to end: from starting the processes until every report is committed in "
            "the store (publishers done, nothing unacknowledged); 8 partitions; one writer"
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
