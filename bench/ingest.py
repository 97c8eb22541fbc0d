"""End-to-end ingest speed: an AIS log file into a durable DuckDB store, in messages/s.

Each run calls mista's library ingest function, ``mista.node.ingest_paths([file],
store=...)``, on a new store in a temporary folder: reading the file, framing, decoding,
building report rows and ids, and committing batch after batch (each batch is durable
when ``write`` returns). The time is the wall clock around that call, store open and
close included; messages/s is messages decoded over that time.

Two inputs, both from the benchmark corpus:

- ``corpus``: ``real_mixed.nmea`` as it is (114,738 messages; no timestamps, so the store
  keeps one report per distinct payload);
- ``timed x N``: the corpus written ``--copies`` times (default 10) into a temporary file,
  each line given an epoch-seconds prefix (``1593475200.123 !AIVDM,...``, a format receivers
  write) spreading each copy over one day, a day later per copy, so every message is a
  distinct timed observation, as in a real feed.

Runs are round-robin over the inputs, ``--repeats`` times (default 3); the median is
printed. Run ``.venv/bin/python bench/ingest.py --help``.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import _harness as h

DAY_S = 86_400
FIRST_DAY = 1_593_475_200  # 2020-06-30T00:00:00Z


@dataclass
class Input:
    """One file to ingest and what the runs measured."""

    name: str
    path: Path
    size_bytes: int
    seconds: list[float] = field(default_factory=list)
    cpu_s: list[float] = field(default_factory=list)
    summary: Any = None
    store_bytes: int = 0


def write_timed_copies(corpus: Path, copies: int, out: Path) -> None:
    """The corpus ``copies`` times, each line with an epoch-seconds prefix, one day per copy."""
    lines = corpus.read_bytes().splitlines()
    step = DAY_S / len(lines)
    with out.open("wb") as f:
        for copy in range(copies):
            base = FIRST_DAY + copy * DAY_S
            f.write(
                b"".join(b"%.3f %s\n" % (base + i * step, line) for i, line in enumerate(lines))
            )


def run_once(item: Input, scratch: Path) -> None:
    """Ingest ``item`` into a new store; record the wall time and the summary."""
    from mista.node import ingest_paths

    store = scratch / f"ingest-{item.name.replace(' ', '_')}.duckdb"
    for leftover in (store, store.with_name(store.name + ".wal")):
        leftover.unlink(missing_ok=True)
    summaries: list[Any] = []

    def run() -> int:
        summaries.append(ingest_paths([item.path], store=store))
        return int(summaries[-1].messages)

    wall, cpu, _ = h.time_once(run)
    item.seconds.append(wall)
    item.cpu_s.append(cpu)
    item.summary = summaries[-1]
    item.store_bytes = store.stat().st_size


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, prepare the inputs, ingest them round-robin, print a table."""
    parser = h.new_parser(__doc__, ".venv/bin/python bench/ingest.py --repeats 3 --copies 10")
    parser.add_argument("--repeats", type=int, default=3, help="runs per input (default 3)")
    parser.add_argument(
        "--copies",
        type=int,
        default=10,
        help="copies of the corpus in the timed input (default 10; 0: none)",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        default=None,
        help="CPU to pin to (default: the last one this process may use)",
    )
    parser.add_argument(
        "--all-cpus", action="store_true", help="do not pin: let DuckDB's threads use every CPU"
    )
    args = parser.parse_args(argv)

    corpus = h.corpus_path(args.data)
    cpu = None if args.all_cpus else h.pin_to_one_cpu(args.cpu)
    print("\n".join(h.machine_lines(cpu)))
    print(
        f"stack   : duckdb {h.package_version('duckdb')}, "
        f"pyarrow {h.package_version('pyarrow')}, numpy {h.package_version('numpy')}"
    )
    scratch = Path(tempfile.mkdtemp(prefix="mista-bench-ingest-"))
    try:
        inputs = [Input("corpus", corpus, corpus.stat().st_size)]
        if args.copies > 0:
            timed = scratch / "timed.nmea"
            write_timed_copies(corpus, args.copies, timed)
            inputs.append(Input(f"timed x {args.copies}", timed, timed.stat().st_size))
        print(
            f"method  : ingest_paths into a new store per run; {args.repeats} round-robin "
            "rounds; median wall time, store open and close included"
        )
        for _ in range(args.repeats):
            for item in inputs:
                run_once(item, scratch)
        rows = []
        for item in inputs:
            s = item.summary
            seconds, cpu = h.median(item.seconds), h.median(item.cpu_s)
            rows.append(
                [
                    item.name,
                    f"{item.size_bytes / 1e6:.1f}",
                    h.thousands(s.messages),
                    h.thousands(s.reports),
                    h.thousands(s.rejected_total),
                    f"{seconds:.2f}",
                    h.thousands(s.messages / seconds),
                    f"{cpu:.2f}",
                    h.thousands(s.messages / cpu),
                    f"{item.store_bytes / 1e6:.0f}",
                ]
            )
        header = [
            "input",
            "MB",
            "messages",
            "reports stored",
            "rejected",
            "wall s",
            "msg/s (wall)",
            "CPU s",
            "msg/s (CPU)",
            "store MB",
        ]
        print()
        print(h.markdown_table(header, rows, right=set(range(1, 10))))
        print(
            "medians over the runs; CPU = user + system time of all the process's threads "
            "(DuckDB's included)"
        )
        print()
        print("last run's summary per input:")
        for item in inputs:
            print(f"[{item.name}]")
            print(item.summary.to_text())
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
