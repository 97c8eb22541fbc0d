"""What every benchmark script shares: where the data is, the machine, versions, tables.

The scripts in ``bench/`` are run by hand (``.venv/bin/python bench/decode.py``); none of
this is imported by the product. Every report starts with the machine and the versions of
everything measured (STYLE.md, "Versions in every report").
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from importlib import metadata
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pcsv

PROJECT_ROOT = Path(__file__).resolve().parents[1]
# The shared data folder sits beside the project checkout: ../shared/data.
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS_RELATIVE = Path("ais") / "bench" / "real_mixed.nmea"


def corpus_path(data: Path) -> Path:
    """The benchmark corpus inside a shared data folder, or a message saying how to get it."""
    path = data / CORPUS_RELATIVE
    if not path.is_file():
        sys.exit(
            f"benchmark corpus {path} not found: pass --data pointing at the shared data "
            f"folder (the one holding {CORPUS_RELATIVE})"
        )
    return path


def pin_to_one_cpu(cpu: int | None) -> int:
    """Pin this process (and the children it starts) to one CPU; return which one."""
    allowed = sorted(os.sched_getaffinity(0))
    chosen = allowed[-1] if cpu is None else cpu
    if chosen not in allowed:
        sys.exit(f"--cpu {chosen} is not one of the CPUs this process may use: {allowed}")
    os.sched_setaffinity(0, {chosen})
    return chosen


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's guess elsewhere)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def package_version(name: str) -> str:
    """The installed version of a distribution, or 'not installed'."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def mista_root() -> Path:
    """The checkout that ``import mista`` loads from (PYTHONPATH may point at another one)."""
    try:
        import mista
    except ImportError:
        return PROJECT_ROOT
    return Path(mista.__file__).resolve().parents[2]


def git_commit(root: Path | None = None) -> str:
    """The commit (short) of the checkout mista is imported from, '+dirty' if it differs."""
    root = mista_root() if root is None else root
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return commit + ("+dirty" if dirty else "")


def machine_lines(pinned_cpu: int | None) -> list[str]:
    """Lines describing the machine, for the top of every report."""
    online = os.cpu_count()
    pin = f"pinned to CPU {pinned_cpu}" if pinned_cpu is not None else "not pinned"
    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    return [
        f"machine : {cpu_model()}, {online} CPUs online, {pin}; load average {load}",
        f"system  : {platform.system()} {platform.release()} ({platform.machine()})",
        f"python  : {platform.python_implementation()} {platform.python_version()}",
        f"mista   : {package_version('mista')} (checkout {git_commit()})",
    ]


def cpu_seconds() -> float:
    """CPU time used so far by this process (all threads) and its waited-for children.

    On a shared machine another process can take the CPU away mid-run; CPU time counts
    only the work done, so it is the steadier measure when wall time is disturbed.
    """
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def time_once(run: Callable[[], int]) -> tuple[float, float, int]:
    """Run once; return (wall seconds, CPU seconds, what it counted)."""
    cpu = cpu_seconds()
    start = time.perf_counter()
    count = run()
    return time.perf_counter() - start, cpu_seconds() - cpu, count


def median(values: Sequence[float]) -> float:
    """The median of a non-empty sequence."""
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation between closest ranks."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * q / 100.0
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]], right: set[int]) -> str:
    """A Markdown table, padded for reading in a terminal; columns in ``right`` align right."""
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(widths[i]) if i in right else c.ljust(widths[i]) for i, c in enumerate(cells)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if i in right else "-" * w for i, w in enumerate(widths)]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *(line(r) for r in rows)])


def thousands(value: float) -> str:
    """12345.6 -> '12,346'."""
    return f"{value:,.0f}"


def new_parser(doc: str | None, example: str) -> argparse.ArgumentParser:
    """A script's argument parser: first paragraph of its docstring, an example, ``--data``."""
    parser = argparse.ArgumentParser(
        description=(doc or "").split("\n\n")[0],
        epilog=f"example: {example}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA,
        help="shared data folder (default: ../shared/data beside the checkout)",
    )
    return parser


#: The MarineCadastre vessel-track files of the shared data (``positions/``).
POSITION_FILES = (
    "marinecadastre_nyharbor_2020-12-01_07_tracks.csv.gz",
    "marinecadastre_virginiabeach_2020-06-04_06_tracks.csv.gz",
    "marinecadastre_uscoastal_2020-06-30_tracks.csv.gz",
)


def read_position_tracks(data: Path, columns: Sequence[str]) -> pa.Table:
    """The real position rows of every tracks file, one table (``timestamp`` in UTC)."""
    tables = []
    for name in POSITION_FILES:
        path = data / "positions" / name
        if not path.is_file():
            raise SystemExit(f"position file {path} not found: pass --data (shared data folder)")
        tables.append(
            pcsv.read_csv(
                path,
                convert_options=pcsv.ConvertOptions(
                    column_types={"timestamp": pa.timestamp("s", tz="UTC")},
                    include_columns=list(columns),
                ),
            )
        )
    return pa.concat_tables(tables)
