"""Where fusion and detection spend their CPU, split into work that goes vessel by vessel
and work that spans vessels: how much splitting fusion by MMSI (the bus's partitions)
could gain at best.

A simulated scenario's stored reports (``--store S``, filled by an earlier
``mista eval DIR --store S``) are read once, then fused and detected in chunks of
``--chunk`` as ``bench/fuse.py`` does, timing ``Fuser.push`` (radar association,
``RadarTracker.associate``, timed inside it) and each detector (``Detection.seconds``).
The work of one MMSI at a time (AIS fusion and the per-vessel detectors) could be shared
out by partition; the rest (radar association, the detectors pairing vessels or judging
reception from every vessel) would stay in one process, which bounds the gain (Amdahl).
The pipeline's store reads and writes are not in these figures.

Run ``.venv/bin/python bench/fusion_split.py --help``; docs/deploy.md has the results.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _harness as h

#: Detectors that look at one vessel (one MMSI) at a time (identity-change links two
#: MMSIs when one vessel changes its MMSI).
PER_VESSEL = ("loitering", "port-visit", "shared-mmsi", "spoofing", "zone-entry")


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(
        __doc__, ".venv/bin/python bench/fusion_split.py --scenario std --store std.duckdb"
    )
    parser.add_argument("--scenario", type=Path, required=True, help="a mista simulate dir")
    parser.add_argument("--store", type=Path, required=True, help="an ingested store of it")
    parser.add_argument("--chunk", type=int, default=20_000, help="reports per push")
    args = parser.parse_args(argv)
    print("\n".join(h.machine_lines(None)), flush=True)
    import pyarrow.compute as pc

    from mista.detect.engine import Detection
    from mista.evaluate.scenario import load_scenario
    from mista.fuse import Fuser
    from mista.fuse.radar import RadarTracker
    from mista.geo import Zones
    from mista.store.embedded import DuckDBStore

    with tempfile.TemporaryDirectory(prefix="mista-bench-split-") as scratch:
        path = Path(scratch) / "store.duckdb"
        shutil.copyfile(args.store, path)
        feed = []
        with DuckDBStore(path, read_only=True) as db:
            cursor = 0
            while (part := db.report_feed(cursor, args.chunk)).num_rows:
                feed.append(part)
                cursor = int(pc.max(part.column("seq")).as_py())
    scenario = load_scenario(args.scenario)
    radar_s = [0.0]
    associate: Callable[..., Any] = RadarTracker.associate

    def timed(self: RadarTracker, *given: Any) -> Any:
        started = time.process_time()
        try:
            return associate(self, *given)
        finally:
            radar_s[0] += time.process_time() - started

    RadarTracker.associate = timed  # type: ignore[method-assign]
    zones = scenario.zones
    fuser = Fuser()
    detection = Detection(
        zones=Zones.from_geojson(zones, originator=scenario.node) if zones else None
    )
    fuse_s = 0.0
    started = time.process_time()
    for part in feed:
        begun = time.process_time()
        fused = fuser.push(part)
        fuse_s += time.process_time() - begun
        detection.update(fused, fuser)
    begun = time.process_time()
    fused = fuser.flush()
    fuse_s += time.process_time() - begun
    detection.update(fused, fuser)
    detection.finish(fused.watermark, fuser)
    total = time.process_time() - started
    RadarTracker.associate = associate  # type: ignore[method-assign]

    seconds = detection.seconds
    rest = total - fuse_s - sum(seconds.values())
    rows = [["fusion, AIS (Fuser.push less radar)", f"{fuse_s - radar_s[0]:.2f}", "vessel"]]
    rows.append(["fusion, radar association", f"{radar_s[0]:.2f}", "spans vessels"])
    for kind, spent in sorted(seconds.items(), key=lambda item: -item[1]):
        rows.append([kind, f"{spent:.2f}", "vessel" if kind in PER_VESSEL else "spans vessels"])
    rows.append(["the loop's own work", f"{rest:.2f}", "spans vessels"])
    print()
    print(h.markdown_table(["work", "CPU s", "goes"], rows, right={1}))
    shared_out = sum(float(row[1]) for row in rows if row[2] == "vessel")
    print(
        f"\n{sum(part.num_rows for part in feed):,} reports, {total:.2f} CPU s; by vessel "
        f"{shared_out:.2f} s ({shared_out / total:.0%}): split by MMSI at best "
        f"{total / (total - shared_out):.2f} times faster"
    )


if __name__ == "__main__":
    main()
