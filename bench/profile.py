"""Where mista's bulk decode spends its time: py-spy samples, summed by call path.

Runs ``bench/decode.py --only "mista bulk"`` under py-spy (native frames included, so the
compiled framing and payload cores show by function), then sums the samples taken inside
the benchmark's bulk pass by the first one or two calls below it (framing, payload
decode, building Arrow arrays, ...) and by leaf function. py-spy comes from
``bench/requirements.txt``; sampling a child process needs ptrace rights (root, or
``kernel.yama.ptrace_scope`` 0).

Run ``.venv/bin/python bench/profile.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

import _harness as h

ANCHOR = "mista_decoders.<locals>.bulk"


def summarise(raw: Path, top: int) -> str:
    """A text breakdown of py-spy's raw (collapsed stack) output under the bulk pass."""
    total = 0
    first: Counter[str] = Counter()
    second: Counter[str] = Counter()
    leaf: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        names = [re.sub(r" \(.*\)$", "", frame) for frame in stack.split(";")]
        if ANCHOR not in names:
            continue
        count = int(count_text)
        total += count
        below = names[names.index(ANCHOR) + 1 :]
        first[below[0] if below else "(the pass itself)"] += count
        if len(below) > 1:
            second[f"{below[0]} > {below[1]}"] += count
        leaf[below[-1] if below else "(the pass itself)"] += count
    if not total:
        return "no samples inside the bulk pass (did py-spy attach?)"
    out = [f"{total:,} samples inside the bulk pass"]
    for title, counter in (
        ("first call below the pass", first),
        ("two calls below the pass", second),
        ("leaf function (self time)", leaf),
    ):
        out.append(f"\n{title}:")
        out += [f"  {n / total:6.1%}  {name}" for name, n in counter.most_common(top)]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> None:
    """Record with py-spy, then print the breakdown."""
    parser = h.new_parser(__doc__, ".venv/bin/python bench/profile.py --repeats 30")
    parser.add_argument(
        "--repeats", type=int, default=30, help="bulk passes to sample (default 30)"
    )
    parser.add_argument("--rate", type=int, default=500, help="samples per second (default 500)")
    parser.add_argument("--top", type=int, default=12, help="rows per breakdown (default 12)")
    parser.add_argument(
        "--raw", type=Path, help="summarise this existing py-spy raw file instead of recording"
    )
    args = parser.parse_args(argv)

    if args.raw is not None:
        print(summarise(args.raw, args.top))
        return
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        sys.exit("py-spy not found: .venv/bin/pip install -r bench/requirements.txt")
    print("\n".join(h.machine_lines(None)))
    print(f"py-spy  : {h.package_version('py-spy')}, {args.rate} samples/s, native frames")
    with tempfile.TemporaryDirectory(prefix="mista-bench-profile-") as scratch:
        raw = Path(scratch) / "bulk.txt"
        decode = Path(__file__).with_name("decode.py")
        subprocess.run(
            [
                py_spy,
                "record",
                "--native",
                "--rate",
                str(args.rate),
                "--format",
                "raw",
                "-o",
                str(raw),
                "--",
                sys.executable,
                str(decode),
                "--data",
                str(args.data),
                "--only",
                "mista bulk",
                "--repeats",
                str(args.repeats),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        print(summarise(raw, args.top))


if __name__ == "__main__":
    main()
