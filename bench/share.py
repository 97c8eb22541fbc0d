"""Sharing benchmarks: how fast the node decides what each partner may receive.

Subcommands (one per measurement; add new ones with ``add_parser`` below):

- ``release``: release decisions per second, ``mista.share.release.decide`` against the
  cached fast path ``Releaser.decide``, on records built from the real MarineCadastre
  position tracks in ``positions/`` (New York harbour, Virginia Beach, US coasts;
  448,471 rows, repeated to ``--records``) under a realistic agreement directory
  (written as files and read with ``load_agreements``): an IND-USA mutual agreement with
  box clauses for three US waters and a one-way IND-to-QUAD exercise agreement; the
  ``+polygons`` set adds two clauses on real Natural Earth polygons (Chesapeake Bay, Gulf
  of Maine, ``geo/ne_50m_geography_marine_polys.geojson``) ahead of the boxes. Eight
  labels (levels, releasability, categories, ORCON, three originators) are spread over
  the vessels, so every rule is exercised; the outcome counts are printed.

Every run is pinned to one CPU; each path runs ``--repeats`` times round-robin (the
median is printed), after a check that both paths give identical decisions.

Run ``.venv/bin/python bench/share.py release --help``; docs/performance.md has results.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import _harness as h
import share_exchange
from mista.labels import Label, Level
from mista.share.agreements import Agreement, Flow, load_agreements
from mista.share.release import Candidate, Decision, Releaser, decide

MARINE_POLYGONS = Path("geo") / "ne_50m_geography_marine_polys.geojson"
NODE, PARTNER = "IND", "USA"

IND_USA = """\
id = "ind-usa-white-shipping"
version = 1
parties = ["IND", "USA"]
direction = "mutual"
valid_from = 2020-01-01T00:00:00Z
valid_until = 2030-01-01T00:00:00Z
{polygons}
[[clause]]
id = "ny-harbour"
flows = ["reports", "tracks"]
categories = ["white-shipping", "sensor:ais"]
max_level = "RESTRICTED"
area = {{ bbox = [-74.3, 40.4, -73.7, 40.9] }}
delay = "30m"
precision = 3
remove = ["receiver", "raw", "source"]

[[clause]]
id = "virginia-capes"
flows = ["reports"]
categories = ["white-shipping"]
max_level = "CONFIDENTIAL"
area = {{ bbox = [-76.5, 36.5, -75.5, 37.5] }}

[[clause]]
id = "us-east-coast"
flows = ["reports"]
categories = ["white-shipping"]
max_level = "UNCLASSIFIED"
area = {{ bbox = [-82.0, 24.0, -65.0, 45.0] }}
delay = "2h"
precision = 1
"""

POLYGON_CLAUSES = """
[[clause]]
id = "chesapeake"
flows = ["reports"]
categories = ["white-shipping", "sensor:ais"]
max_level = "RESTRICTED"
area = { layer = "marine.geojson", feature = "Chesapeake Bay" }

[[clause]]
id = "gulf-of-maine"
flows = ["reports"]
categories = ["white-shipping"]
max_level = "RESTRICTED"
area = { layer = "marine.geojson", feature = "Gulf of Maine" }
delay = "1h"
"""

QUAD = """\
id = "quad-exercise"
version = 1
parties = ["IND", "USA", "JPN", "AUS"]
direction = "one-way"
from = "IND"
valid_from = 2020-01-01T00:00:00Z
valid_until = 2030-01-01T00:00:00Z

[[clause]]
id = "exercise-picture"
flows = ["reports"]
categories = ["white-shipping"]
max_level = "UNCLASSIFIED"
delay = "6h"
precision = 2
remove = ["name", "callsign", "imo"]
"""

WHITE = frozenset({"white-shipping"})
LABELS = (
    Label(Level.UNCLASSIFIED, "IND", frozenset({"USA"}), WHITE),
    Label(Level.RESTRICTED, "IND", frozenset({"USA"}), WHITE | {"sensor:ais"}),
    Label(Level.CONFIDENTIAL, "IND", frozenset({"USA"}), WHITE),
    Label(Level.SECRET, "IND", frozenset({"USA"}), WHITE),
    Label(Level.RESTRICTED, "IND", frozenset(), WHITE),  # not releasable: rule 2
    Label(Level.UNCLASSIFIED, "USA", frozenset({"IND", "JPN"}), WHITE, orcon=True),  # rule 3
    Label(Level.RESTRICTED, "IND", frozenset({"USA"}), WHITE | {"sensor:radar"}),  # rule 5
    Label(Level.UNCLASSIFIED, "JPN", frozenset({"IND", "USA", "AUS"}), WHITE),
)


def write_agreements(directory: Path, data: Path, polygons: bool) -> list[Agreement]:
    """The agreement directory of the run, read back with the product's loader."""
    directory.mkdir(parents=True)
    (directory / "ind-usa.toml").write_text(
        IND_USA.format(polygons=POLYGON_CLAUSES if polygons else "")
    )
    (directory / "quad.toml").write_text(QUAD)
    if polygons:
        layer = data / MARINE_POLYGONS
        if not layer.is_file():
            raise SystemExit(f"{layer} not found: pass --data (shared data folder)")
        shutil.copyfile(layer, directory / "marine.geojson")
    return load_agreements(directory, node=NODE)


def load_candidates(data: Path, records: int) -> tuple[list[Candidate], datetime]:
    """``records`` candidates from the real positions (repeated), and a ``now`` 20 minutes
    after the last observation (so most delays have passed, the latest are held)."""
    rows = h.read_position_tracks(data, ("mmsi", "timestamp", "lat", "lon")).to_pydict()
    base = [
        Candidate(Flow.REPORTS, LABELS[mmsi % len(LABELS)], observed_at, lat, lon)
        for mmsi, observed_at, lat, lon in zip(
            rows["mmsi"], rows["timestamp"], rows["lat"], rows["lon"], strict=True
        )
    ]
    now = max(rows["timestamp"]) + timedelta(minutes=20)
    out = (base * (records // len(base) + 1))[:records]
    return out, now


def run_release(args: argparse.Namespace) -> None:
    cpu = h.pin_to_one_cpu(args.cpu)
    print("\n".join(h.machine_lines(cpu)))
    started = time.perf_counter()
    candidates, now = load_candidates(args.data, args.records)
    print(
        f"records : {len(candidates):,} from {len(h.POSITION_FILES)} position files, "
        f"{len(LABELS)} labels, now = {now.isoformat()} "
        f"(built in {time.perf_counter() - started:.1f} s)"
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="mista-bench-share-") as scratch:
        for polygons in (False, True):
            name = "boxes+polygons" if polygons else "boxes"
            agreements = write_agreements(Path(scratch) / name, args.data, polygons)
            clauses = sum(len(a.clauses) for a in agreements)
            # An even spread of the records (every position file), decided both ways.
            sample = candidates[:: max(1, len(candidates) // args.check)]
            releaser = Releaser(NODE, PARTNER, agreements)
            slow = [
                decide(c, node=NODE, partner=PARTNER, agreements=agreements, now=now)
                for c in sample
            ]
            fast = [releaser.decide(c, now) for c in sample]
            if slow != fast:
                raise SystemExit("the fast path disagrees with decide: a bug, not a benchmark")
            outcomes = Counter(
                (d.outcome.value, d.clause or d.reason.split(":")[0])
                for d in (releaser.decide(c, now) for c in candidates)
            )
            print(
                f"{name}: {len(agreements)} agreements, {clauses} clauses; "
                f"{len(sample):,} decisions compared, identical; outcomes: "
                + ", ".join(f"{k[0]} {k[1]} {v:,}" for k, v in sorted(outcomes.items()))
            )
            paths: dict[str, Callable[[], int]] = {
                "decide": lambda a=agreements: _decide_all(candidates, a, now),
                "Releaser": lambda a=agreements: _fast_all(candidates, a, now),
            }
            walls: dict[str, list[float]] = {p: [] for p in paths}
            cpus: dict[str, list[float]] = {p: [] for p in paths}
            for _ in range(args.repeats):
                for path, run in paths.items():
                    wall, used, count = h.time_once(run)
                    assert count == len(candidates)
                    walls[path].append(wall)
                    cpus[path].append(used)
            base = len(candidates) / h.median(walls["decide"])
            base_cpu = len(candidates) / h.median(cpus["decide"])
            for path in paths:
                rate = len(candidates) / h.median(walls[path])
                rate_cpu = len(candidates) / h.median(cpus[path])
                rows.append(
                    [
                        name,
                        path,
                        h.thousands(len(candidates)),
                        f"{h.median(walls[path]):.2f}",
                        h.thousands(rate),
                        f"{rate / base:.2f}x",
                        h.thousands(rate_cpu),
                        f"{rate_cpu / base_cpu:.2f}x",
                    ]
                )
    print()
    print(
        h.markdown_table(
            [
                "agreements",
                "path",
                "records",
                "wall s",
                "decisions/s",
                "vs decide",
                "decisions/s (CPU)",
                "vs decide (CPU)",
            ],
            rows,
            right={2, 3, 4, 5, 6, 7},
        )
    )


def _decide_all(candidates: Sequence[Candidate], agreements: list[Agreement], now: datetime) -> int:
    count = 0
    for candidate in candidates:
        _: Decision = decide(candidate, node=NODE, partner=PARTNER, agreements=agreements, now=now)
        count += 1
    return count


def _fast_all(candidates: Sequence[Candidate], agreements: list[Agreement], now: datetime) -> int:
    releaser = Releaser(NODE, PARTNER, agreements)
    count = 0
    for candidate in candidates:
        releaser.decide(candidate, now)
        count += 1
    return count


def main() -> None:
    parser = h.new_parser(__doc__, "bench/share.py release --records 1000000 --repeats 3")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    release = commands.add_parser(
        "release", help="release decisions/s: decide against the cached Releaser"
    )
    release.add_argument(
        "--records", type=int, default=1_000_000, help="candidates decided per run"
    )
    release.add_argument("--repeats", type=int, default=3, help="runs of each path (median)")
    release.add_argument("--check", type=int, default=100_000, help="records compared first")
    release.add_argument("--cpu", type=int, help="CPU to pin to (default: the last allowed)")
    release.add_argument(
        "--data", type=Path, default=argparse.SUPPRESS, help="shared data folder (as above)"
    )
    release.set_defaults(run=run_release)
    # lag and catchup: two real nodes exchanging over mutual TLS (bench/share_exchange.py).
    share_exchange.register(commands)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
