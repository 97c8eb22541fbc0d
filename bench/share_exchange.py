"""Node-to-node exchange on loopback: replication lag and catch-up after an outage.

Two real nodes (``python -m mista serve``), IND and USA, each in its own temporary folder
with its own store, pinned to each other, one agreement from IND to USA that releases
everything the feed holds. A feeder hands IND a spool file of new AIS positions (NMEA 4.0
tag blocks with receiver and time) every ``--every-s`` seconds at ``--rate`` reports/s.

- ``lag``: for ``--seconds`` the feed runs with both nodes up. For each spool file, the
  lag is the time from the moment the file is handed to IND's spool (renamed into place:
  the sender's ingest time, the earliest it can be stored) to the moment USA's ``/health``
  counts every record of it as stored. Reported: p50, p99 and max over the files.
- ``phases``: no network and no server: two ``Exchange`` objects over two temporary
  stores in this process. ``--reports`` positions are ingested by IND in spool-sized
  chunks, each followed by scan, next_batch (sealing), USA's receive and acknowledge, as
  the pusher does; printed is the CPU time (and wall time) of each phase per 1,000 records.
- ``catchup``: USA is stopped, the feed runs for ``--down-s`` seconds (IND ingests and
  queues), the feed stops, USA starts again; reported is the backlog, the time from USA
  answering ``/health`` to holding all of it, and the records/s of catching up. Both
  stores are then compared: every record once (count and ids).

``lag``, ``catchup`` and ``phases`` are subcommands of ``bench/share.py`` (registered by
``register`` below); this file also runs on its own with the same subcommands.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
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

from mista.share.exchange import Exchange

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
        # Each file's positions are observed every_s after the previous file's, as in a live
        # feed (all at one time would make every time window of the store span all of it);
        # the clock starts after encoding, so every observation is in the past when handed.
        start = datetime.now(UTC)
        self.files: list[str] = []
        mmsi = 470_000_000
        for number in range(max(1, round(seconds / every_s))):
            observed = start + timedelta(seconds=number * every_s)
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
    print("lag of each file in order (s): " + " ".join(f"{lag:.2f}" for lag in lags))
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


def _phase_nodes(root: Path) -> tuple[Exchange, Exchange]:
    """IND and USA as in-process exchanges over two fresh stores (one agreement, IND to USA,
    releasing the whole feed)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from mista.labels import Level
    from mista.share.agreements import Agreement, Clause, Flow, Sanitise
    from mista.share.area import bbox_area
    from mista.share.audit import AuditLog
    from mista.share.exchange import Partner
    from mista.share.keys import Identity
    from mista.store.embedded import DuckDBStore

    keys = {nation: Ed25519PrivateKey.generate() for nation in ("IND", "USA")}
    now = datetime.now(UTC)
    agreement = Agreement(
        id="ind-usa",
        version=1,
        parties=frozenset({"IND", "USA"}),
        senders=frozenset({"IND"}),
        receivers=frozenset({"USA"}),
        valid_from=now.replace(year=now.year - 1),
        valid_until=now.replace(year=now.year + 1),
        clauses=(
            Clause(
                id="feed",
                flows=frozenset({Flow.REPORTS}),
                categories=frozenset({"white-shipping"}),
                max_level=Level.RESTRICTED,
                area=bbox_area(list(AREA)),
                sanitise=Sanitise(delay=timedelta(0), precision=None, remove=frozenset()),
            ),
        ),
        path=root / "ind-usa.toml",
    )
    exchanges = []
    for nation, other in (("IND", "USA"), ("USA", "IND")):
        key = keys[nation]
        exchanges.append(
            Exchange(
                DuckDBStore(root / f"{nation}.duckdb"),
                node=nation,
                identity=Identity(nation, key, key.public_key(), root / "c", root / "k"),
                partners={other: Partner(other, "https://x", root / "c", keys[other].public_key())},
                agreements=[agreement],
                audit=AuditLog(root / f"{nation}-audit.jsonl", nation=nation, signing_key=key),
            )
        )
    return exchanges[0], exchanges[1]


def add_phases_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--reports", type=int, default=20_000, help="positions IND ingests")
    parser.add_argument("--chunk", type=int, default=1_000, help="positions per spool file")
    parser.add_argument("--batch", type=int, default=2_000, help="most records per batch")
    parser.add_argument("--profile", type=Path, help="write a pyinstrument HTML profile here")


def run_phases(args: argparse.Namespace) -> None:
    """Per-phase CPU time of the exchange path, in one process, per 1,000 records."""
    from mista.ingest.nmea import nmea_batches
    from mista.ingest.rows import SourceContext
    from mista.labels import Label, Level
    from mista.model import SourceKind

    _header()
    print(f"mista   : {h.git_commit()}")
    start = datetime.now(UTC) - timedelta(seconds=args.reports / 2000)
    label = Label(Level.RESTRICTED, "IND", frozenset({"USA"}), frozenset({"white-shipping"}))
    ctx = SourceContext(
        source="feed", originator="IND", label=label, kind=SourceKind.AIS_TERRESTRIAL
    )
    chunks = []
    for first in range(0, args.reports, args.chunk):
        # Observed at 2,000 reports/s, ending now (as the lag runs' feed).
        observed = start + timedelta(seconds=first / 2000)
        text = "".join(
            nmea_position(
                470_000_000 + i, 10.0 + (i % 1000) * 0.01, 60.0 + (i // 1000) * 0.01, observed
            )
            + "\n"
            for i in range(first, min(args.reports, first + args.chunk))
        )
        chunks.append([b for b in nmea_batches([text.encode()], ctx) if b.messages.num_rows])
    phases = ("ingest", "scan", "next_batch", "receive", "acknowledge")
    cpu = dict.fromkeys(phases, 0.0)
    wall = dict.fromkeys(phases, 0.0)

    @contextmanager
    def timed(phase: str) -> Iterator[None]:
        c0, w0 = time.process_time(), time.perf_counter()
        yield
        cpu[phase] += time.process_time() - c0
        wall[phase] += time.perf_counter() - w0

    profiler = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005)
    with TemporaryDirectory(prefix="mista-bench-phases-") as tmp:
        ind, usa = _phase_nodes(Path(tmp))
        received = 0
        if profiler is not None:
            profiler.start()
        for batches in chunks:
            now = datetime.now(UTC)
            for batch in batches:
                with timed("ingest"):
                    ind.store.write(batch)
            with timed("scan"):
                ind.scan("USA", now=now, limit=20_000)
            while True:
                with timed("next_batch"):
                    outgoing = ind.next_batch("USA", now=now, max_items=args.batch)
                if outgoing is None:
                    break
                with timed("receive"):
                    receipt = usa.receive(outgoing.data, peer_nation="IND", now=now)
                assert receipt.ok, receipt
                received += receipt.stored
                with timed("acknowledge"):
                    ind.acknowledge("USA", outgoing)
        if profiler is not None:
            profiler.stop()
            args.profile.write_text(profiler.output_html())
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        for node in (ind, usa):
            node.store.close()
            node.audit.close()
    if received != args.reports:
        sys.exit(f"USA stored {received:,} of {args.reports:,} reports")
    per = 1000 / args.reports
    rows = [
        [phase, f"{cpu[phase] * 1000 * per:.0f}", f"{wall[phase] * 1000 * per:.0f}"]
        for phase in phases
    ]
    sender = sum(cpu[p] for p in ("ingest", "scan", "next_batch", "acknowledge"))
    rows.append(["sender total", f"{sender * 1000 * per:.0f}", ""])
    rows.append(["receiver total", f"{cpu['receive'] * 1000 * per:.0f}", ""])
    print(f"{args.reports:,} reports in spool files of {args.chunk:,}, batches of {args.batch:,}")
    print(h.markdown_table(["phase", "CPU ms / 1,000", "wall ms / 1,000"], rows, right={1, 2}))


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``lag`` and ``catchup`` subcommands to a parent script's subparsers."""
    lag = commands.add_parser("lag", help="replication lag between two real nodes (p50/p99)")
    add_lag_arguments(lag)
    lag.set_defaults(run=run_lag)
    catchup = commands.add_parser("catchup", help="records/s catching up after an outage")
    add_catchup_arguments(catchup)
    catchup.set_defaults(run=run_catchup)
    phases = commands.add_parser("phases", help="CPU per phase of the exchange, in one process")
    add_phases_arguments(phases)
    phases.set_defaults(run=run_phases)


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(__doc__, "python bench/share_exchange.py lag --seconds 30")
    register(parser.add_subparsers(dest="command", required=True, metavar="COMMAND"))
    args = parser.parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
