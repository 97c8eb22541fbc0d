"""Node-to-node exchange on loopback: replication lag and catch-up after an outage.

Two real nodes (``python -m mista serve``), IND and USA, each in its own temporary folder
with its own store, pinned to each other, one agreement from IND to USA that releases
everything the feed holds. A feeder hands IND a spool file of new AIS positions (NMEA 4.0
tag blocks with receiver and time) every ``--every-s`` seconds at ``--rate`` reports/s.

- ``lag``: for ``--seconds`` the feed runs with both nodes up. For each spool file, the
  lag is the time from the moment the file is handed to IND's spool (renamed into place:
  the sender's ingest time, the earliest it can be stored) to the moment USA's ``/health``
  counts every record of it as stored. Reported: p50, p99 and max over the files.
- ``catchup``: USA is stopped, the feed runs for ``--down-s`` seconds (IND ingests and
  queues), the feed stops, USA starts again; reported is the backlog, the time from USA
  answering ``/health`` to holding all of it, and the records/s of catching up. Both
  stores are then compared: every record once (count and ids).

``lag`` and ``catchup`` are subcommands of ``bench/share.py`` (registered by ``register``
below); this file also runs on its own with the same subcommands.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from tempfile import TemporaryDirectory

import _harness as h

sys.path.insert(0, str(h.PROJECT_ROOT))

from tests.serve.nodes import (
    Cluster,
    Node,
    agreement_toml,
    nmea_position,
    read_rows,
    wait_until,
)

LABEL = {"level": "RESTRICTED", "releasable_to": ["USA"], "categories": ["white-shipping"]}
#: The agreement's area covers the whole feed (the Arabian Sea).
AREA = (50.0, 0.0, 80.0, 25.0)
#: Intervals a real deployment would use, except a shorter backoff cap for catch-up runs.
BENCH_INTERVALS = {
    "scan_s": 0.5,
    "spool_poll_s": 0.1,
    "backoff_initial_s": 0.5,
    "backoff_max_s": 5.0,
    "request_timeout_s": 30.0,
}


class Feeder:
    """Hands IND a spool file of ``rate * every_s`` new positions every ``every_s``, for
    ``seconds``. The files are encoded before the clock starts (encoding AIS with pyais
    costs about 0.25 ms a message, which would otherwise compete with the nodes)."""

    def __init__(self, spool: Path, rate: float, every_s: float, seconds: float) -> None:
        self.spool, self.every_s = spool, every_s
        self.per_file = max(1, round(rate * every_s))
        observed = datetime.now(UTC)
        self.files: list[str] = []
        mmsi = 470_000_000
        for _ in range(max(1, round(seconds / every_s))):
            self.files.append(
                "".join(
                    nmea_position(
                        mmsi + i, 10.0 + (i % 1000) * 0.01, 60.0 + (i // 1000) * 0.01, observed
                    )
                    + "\n"
                    for i in range(self.per_file)
                )
            )
            mmsi += self.per_file
        self.handed: list[tuple[float, int]] = []  # (monotonic time, cumulative records)
        self.total = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        next_at = time.monotonic()
        for number, text in enumerate(self.files):
            temporary = self.spool / f".feed-{number:06d}.nmea"
            temporary.write_text(text)
            temporary.rename(self.spool / f"feed-{number:06d}.nmea")
            self.total += self.per_file
            self.handed.append((time.monotonic(), self.total))
            next_at += self.every_s
            time.sleep(max(0.0, next_at - time.monotonic()))

    def start(self) -> None:
        self.thread.start()

    def finish(self) -> None:
        self.thread.join()


def _pair(root: Path) -> tuple[Cluster, Node, Node, Path]:
    cluster = Cluster(root)
    ind = cluster.node("IND", **BENCH_INTERVALS)
    usa = cluster.node("USA", **BENCH_INTERVALS)
    cluster.pin(ind, usa)
    text = agreement_toml("ind-usa", sender="IND", receiver="USA", bbox=AREA)
    cluster.agree(text, "ind-usa", ind, usa)
    return cluster, ind, usa, cluster.spool_source(ind, "feed", LABEL)


def _received_counter(usa: Node) -> Callable[[], int]:
    client = usa.client()
    url = f"{usa.endpoint}/health"

    def received() -> int:
        return int(client.get(url).json().get("received", {}).get("IND", 0))

    return received


def _check_once(ind: Node, usa: Node, expected: int) -> str:
    query = "SELECT count(*) AS n, count(DISTINCT (id_hi, id_lo)) AS d FROM reports"
    sent, got = read_rows(ind, query)[0], read_rows(usa, query)[0]
    lost = expected - got["d"]
    return (
        f"IND stored {sent['n']:,} ({sent['d']:,} distinct), USA stored {got['n']:,} "
        f"({got['d']:,} distinct): {lost:,} lost, {got['n'] - got['d']:,} duplicates"
    )


def add_lag_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=2000, help="reports/s fed to IND")
    parser.add_argument("--seconds", type=float, default=30, help="how long to feed")
    parser.add_argument("--every-s", type=float, default=0.5, help="seconds between files")


def _header() -> None:
    print("\n".join(h.machine_lines(None)))
    print(f"stack   : uvicorn {h.package_version('uvicorn')}, httpx {h.package_version('httpx')}")


def run_lag(args: argparse.Namespace) -> None:
    """Replication lag IND -> USA under a steady feed."""
    _header()
    with TemporaryDirectory(prefix="mista-bench-lag-") as tmp:
        cluster, ind, usa, spool = _pair(Path(tmp))
        try:
            cluster.start_all(usa, ind)
            received = _received_counter(usa)
            feeder = Feeder(spool, args.rate, args.every_s, args.seconds)
            seen: list[tuple[float, int]] = []
            feeder.start()
            while feeder.thread.is_alive():
                seen.append((time.monotonic(), received()))
                time.sleep(0.02)
            feeder.finish()
            total = feeder.total
            drain_started = time.monotonic()
            while (count := received()) < total and time.monotonic() - drain_started < 120:
                seen.append((time.monotonic(), count))
                time.sleep(0.02)
            seen.append((time.monotonic(), received()))
            lags = []
            for handed_at, cumulative in feeder.handed:
                stored_at = next((t for t, n in seen if n >= cumulative), None)
                if stored_at is not None:
                    lags.append(stored_at - handed_at)
            cluster.stop(ind)
            cluster.stop(usa)
            check = _check_once(ind, usa, total)
        finally:
            cluster.close()
    fed_s = feeder.handed[-1][0] - feeder.handed[0][0] + args.every_s
    print(
        f"fed {total:,} reports in {fed_s:.1f} s ({total / fed_s:,.0f}/s) as "
        f"{len(feeder.handed)} spool files of {feeder.per_file:,}"
    )
    print(check)
    if len(lags) < len(feeder.handed):
        print(f"{len(feeder.handed) - len(lags)} files never fully arrived within 120 s")
    header = ["files", "p50 s", "p99 s", "max s"]
    row = [
        str(len(lags)),
        f"{h.percentile(lags, 50):.2f}",
        f"{h.percentile(lags, 99):.2f}",
        f"{max(lags):.2f}",
    ]
    print(h.markdown_table(header, [row], right={0, 1, 2, 3}))


def add_catchup_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=2000, help="reports/s fed to IND")
    parser.add_argument(
        "--down-s", type=float, default=120, help="seconds USA is down while IND is fed"
    )
    parser.add_argument("--every-s", type=float, default=0.5, help="seconds between files")


def run_catchup(args: argparse.Namespace) -> None:
    """Catch-up IND -> USA after USA was down for ``--down-s`` seconds."""
    _header()
    with TemporaryDirectory(prefix="mista-bench-catchup-") as tmp:
        cluster, ind, usa, spool = _pair(Path(tmp))
        try:
            feeder = Feeder(spool, args.rate, args.every_s, args.down_s)
            cluster.start(ind)
            feeder.start()
            feeder.finish()
            backlog = feeder.total
            # Let IND finish ingesting what it was handed, so the backlog is all queued.
            wait_until(lambda: not list(spool.glob("feed-*.nmea")), 300, "IND to ingest", ind)
            cluster.start(usa)
            up_at = time.monotonic()
            received = _received_counter(usa)
            wait_until(lambda: received() >= backlog, 1800, "USA to catch up", ind, usa)
            catchup_s = time.monotonic() - up_at
            cluster.stop(ind)
            cluster.stop(usa)
            check = _check_once(ind, usa, backlog)
        finally:
            cluster.close()
    print(
        f"USA down {args.down_s:.0f} s while IND was fed {backlog:,} reports "
        f"({backlog / args.down_s:,.0f}/s)"
    )
    print(check)
    header = ["backlog", "catch-up s", "records/s"]
    row = [h.thousands(backlog), f"{catchup_s:.1f}", h.thousands(backlog / catchup_s)]
    print(h.markdown_table(header, [row], right={0, 1, 2}))


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``lag`` and ``catchup`` subcommands to a parent script's subparsers."""
    lag = commands.add_parser("lag", help="replication lag between two real nodes (p50/p99)")
    add_lag_arguments(lag)
    lag.set_defaults(run=run_lag)
    catchup = commands.add_parser("catchup", help="records/s catching up after an outage")
    add_catchup_arguments(catchup)
    catchup.set_defaults(run=run_catchup)


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(__doc__, "python bench/share_exchange.py lag --seconds 30")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
