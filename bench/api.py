"""The HTTP API under load: latency with 50 concurrent clients on a 10M-position store, the
live stream's fan-out to 100 subscribers, and the web map's first render of 20,000 vessels.

``queries``: a store of ``--rows`` positions is built as ``bench/queries.py`` builds it (the
real MarineCadastre tracks, copied week after week; or ``--store F --reuse`` for one built
earlier with ``queries.py --store F --keep``). Two users are added with tokens, then
``mista api --read-only`` serves the store in its own process and this process runs
``--clients`` concurrent HTTP clients (asyncio, httpx, keep-alive) over four routes,
round-robin, each request with arguments drawn (seeded) from stored rows so no answer is
empty:

- ``vessels``: ``GET /api/v1/vessels`` (latest state of every vessel);
- ``track``: ``GET /api/v1/vessels/{mmsi}/track`` over one UTC day;
- ``bbox``: ``GET /api/v1/positions`` in a 0.5 x 0.5 degree box over one hour;
- ``features``: ``GET /api/v1/features/collections/vessels/items`` in a 1 degree box.

Latency is from sending the request to having read the whole answer, at the client. The
same routes are also timed with a single client (no queueing), to show service time.

``stream``: a real node (``mista serve``) with a spool source and its users' listener;
``--subscribers`` clients hold ``GET /api/v1/stream`` open; then a file of ``--messages``
AIS sentences is dropped into the spool. Printed: the time until every subscriber has its
first position, until every subscriber has every position, and the events/s delivered.

``render``: the web map in Debian's chromium (headless, via Playwright) draws
``--vessels`` vessels; printed: the time from handing them to the map until it is idle.

Run ``.venv/bin/python bench/api.py --help``; docs/performance.md has the results.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

import _harness as h
import queries

PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def wait_for(url: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{url}: the server exited with {process.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit(f"{url}: no answer after {seconds:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def stored_rows(store_path: Path) -> int:
    from mista.store.embedded import DuckDBStore

    with DuckDBStore(store_path, read_only=True) as store:
        return store.counts()["reports"]


def add_users(store_path: Path) -> dict[str, str]:
    """An admin of the store's nation and a liaison officer of another; their tokens."""
    from mista.labels import Level
    from mista.model import Role, User
    from mista.node import issue_token
    from mista.store.embedded import DuckDBStore

    users = (
        User("bench.admin", "USA", Level.SECRET, frozenset({Role.ADMIN, Role.ANALYST})),
        User("bench.liaison", "GBR", Level.RESTRICTED, frozenset({Role.LIAISON})),
    )
    with DuckDBStore(store_path) as store:
        for user in users:
            if store.user(user.name) is None:
                store.add_user(user)
    return {user.name: issue_token(store_path, user.name) for user in users}


# ------------------------------------------------------------------------------ queries


def request_plan(
    picks: Sequence[tuple[int, datetime, float, float]],
) -> list[tuple[str, str, dict[str, str]]]:
    """(route name, path, query) for each drawn row, round-robin over the four routes."""
    plan = []
    half = queries.BOX_HALF_DEG
    for i, (mmsi, at, lat, lon) in enumerate(picks):
        kind = ("vessels", "track", "bbox", "features")[i % 4]
        if kind == "vessels":
            plan.append((kind, "/api/v1/vessels", {}))
        elif kind == "track":
            day = at.replace(hour=0, minute=0, second=0, microsecond=0)
            plan.append(
                (
                    kind,
                    f"/api/v1/vessels/{mmsi}/track",
                    {"since": iso(day), "until": iso(day + timedelta(days=1))},
                )
            )
        elif kind == "bbox":
            box = f"{lon - half},{lat - half},{lon + half},{lat + half}"
            window = {
                "since": iso(at - timedelta(minutes=30)),
                "until": iso(at + timedelta(minutes=30)),
            }
            plan.append((kind, "/api/v1/positions", {"bbox": box, **window}))
        else:
            box = f"{lon - 2 * half},{lat - 2 * half},{lon + 2 * half},{lat + 2 * half}"
            plan.append(
                (kind, "/api/v1/features/collections/vessels/items", {"bbox": box, "limit": "100"})
            )
    return plan


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


async def run_load(
    base: str,
    token: str,
    plan: Sequence[tuple[str, str, dict[str, str]]],
    clients: int,
    think_s: float = 0.0,
) -> tuple[dict[str, list[float]], float, int]:
    """Send ``plan`` with ``clients`` concurrent workers, each waiting ``think_s`` between
    its answer and its next request (an analyst's pace; 0 = as fast as answers come);
    latencies (s) per route name, the wall time, and the number of answers not 200."""
    latencies: dict[str, list[float]] = {}
    failures = 0
    position = 0
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, timeout=120
    ) as client:

        async def worker(offset: float) -> None:
            nonlocal position, failures
            await asyncio.sleep(offset)  # clients with think time start spread out
            while position < len(plan):
                kind, path, params = plan[position]
                position += 1
                started = time.perf_counter()
                try:
                    answer = await client.get(path, params=params)
                except httpx.TransportError as error:  # a kept-alive connection the server
                    print(f"  {type(error).__name__} on {path}: sent again")  # just closed
                    answer = await client.get(path, params=params)
                await answer.aread()
                latencies.setdefault(kind, []).append(time.perf_counter() - started)
                if answer.status_code != 200:
                    failures += 1
                    if failures <= 3:
                        print(f"  {answer.status_code} {path} {params}: {answer.text[:160]}")
                if think_s:
                    await asyncio.sleep(think_s)

        started = time.perf_counter()
        await asyncio.gather(*(worker(think_s * i / clients) for i in range(clients)))
        wall = time.perf_counter() - started
    return latencies, wall, failures


def print_latencies(title: str, latencies: dict[str, list[float]], wall: float) -> None:
    total = sum(len(values) for values in latencies.values())
    print(f"{title}: {total:,} requests in {wall:.1f} s ({total / wall:,.0f} requests/s)")
    print(f"  {'route':<10}{'n':>6}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for kind in ("vessels", "track", "bbox", "features"):
        values = latencies.get(kind, [])
        if not values:
            continue
        print(
            f"  {kind:<10}{len(values):>6}{percentile(values, 0.5) * 1e3:>10.1f}"
            f"{percentile(values, 0.95) * 1e3:>10.1f}{percentile(values, 0.99) * 1e3:>10.1f}"
            f"{max(values) * 1e3:>10.1f}"
        )


def run_queries(a: argparse.Namespace) -> None:
    positions = queries.load_positions(a.data)
    scratch = None
    if a.store is None:
        scratch = Path(tempfile.mkdtemp(prefix="mista-bench-api-"))
        store_path = scratch / "api.duckdb"
    else:
        store_path = a.store
    try:
        if not a.reuse:
            queries.remove_store(store_path)
            queries.build(store_path, positions, a.rows)
        tokens = add_users(store_path)
        stored = stored_rows(store_path)
        # Draw only from whole copies the store holds (a partial last copy holds its
        # earliest rows only).
        copies = max(1, stored // positions.num_rows)
        picks = queries.sample_arguments(positions, copies, a.requests, a.seed)
        plan = request_plan(picks)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [
                PYTHON,
                "-m",
                "mista",
                "api",
                "--store",
                str(store_path),
                "--read-only",
                "--nation",
                "USA",
                "--listen",
                f"127.0.0.1:{port}",
                "--workers",
                str(a.workers),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            wait_for(f"{base}/health", server)
            if a.workers > 1:
                time.sleep(5)  # the other workers start after the first answers
            token = tokens["bench.admin"]
            processes = "one process" if a.workers == 1 else f"{a.workers} processes on one port"
            print(f"server  : mista api --read-only, pid {server.pid}, {processes}")
            asyncio.run(  # warm-up
                run_load(base, token, plan[:40], 1)
            )
            single, wall, failed = asyncio.run(run_load(base, token, plan[: a.single], 1))
            print_latencies("one client (service time)", single, wall)
            loaded, wall, failed = asyncio.run(run_load(base, token, plan, a.clients))
            print_latencies(f"{a.clients} concurrent clients, no think time", loaded, wall)
            if failed:
                print(f"  {failed} answers were not 200")
            paced_plan = plan[: a.clients * a.paced_rounds]
            paced, wall, failed = asyncio.run(
                run_load(base, token, paced_plan, a.clients, think_s=a.think)
            )
            print_latencies(
                f"{a.clients} concurrent clients, {a.think:g} s between answer and request",
                paced,
                wall,
            )
            if failed:
                print(f"  {failed} answers were not 200")
        finally:
            stop(server)
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)


# ------------------------------------------------------------------------------ stream


def make_node(root: Path, api_port: int, exchange_port: int) -> tuple[Path, dict[str, str]]:
    """A USA node with one spool source and its users' listener; its users' tokens."""
    subprocess.run(
        [
            PYTHON,
            "-m",
            "mista",
            "node",
            "init",
            str(root),
            "--nation",
            "USA",
            "--port",
            str(exchange_port),
            "--api-port",
            str(api_port),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    (root / "incoming").mkdir()
    (root / "sources" / "feed.toml").write_text(
        'url = "spool:../incoming"\nname = "bench-feed"\n', encoding="utf-8"
    )
    with (root / "node.toml").open("a", encoding="utf-8") as toml:
        toml.write("spool_poll_s = 0.1\nfuse_s = 3600\n")
    return root, add_users(root / "store.duckdb")


class Subscriber:
    """One stream client: when each position event came."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.ready = asyncio.Event()

    async def run(self, base: str, token: str) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        async with (
            httpx.AsyncClient(base_url=base, timeout=None) as client,
            client.stream("GET", "/api/v1/stream", headers=headers) as answer,
        ):
            self.ready.set()
            event = ""
            async for line in answer.aiter_lines():
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:") and event == "position":
                    self.times.append(time.perf_counter())


async def fan_out(
    base: str, token: str, count: int, feed: bytes, spool: Path, quiet_s: float = 3.0
) -> tuple[float, list[Subscriber]]:
    """Open ``count`` streams, drop ``feed`` into the spool, wait until no event has come
    for ``quiet_s``; the drop time and the subscribers."""
    subscribers = [Subscriber() for _ in range(count)]
    tasks = [asyncio.create_task(s.run(base, token)) for s in subscribers]
    await asyncio.wait_for(asyncio.gather(*(s.ready.wait() for s in subscribers)), 60)
    await asyncio.sleep(1.0)
    (spool / ".feed.part").write_bytes(feed)
    dropped = time.perf_counter()
    (spool / ".feed.part").rename(spool / "feed.nmea")
    deadline = dropped + 300
    while time.perf_counter() < deadline:
        await asyncio.sleep(0.5)
        last = max((s.times[-1] for s in subscribers if s.times), default=dropped)
        if any(s.times for s in subscribers) and time.perf_counter() - last > quiet_s:
            break
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return dropped, subscribers


def run_stream(a: argparse.Namespace) -> None:
    corpus = h.corpus_path(a.data)
    lines = corpus.read_bytes().splitlines(keepends=True)[: a.messages]
    feed = b"".join(lines)
    scratch = Path(tempfile.mkdtemp(prefix="mista-bench-stream-"))
    try:
        api_port, exchange_port = free_port(), free_port()
        root, tokens = make_node(scratch / "usa", api_port, exchange_port)
        server = subprocess.Popen(
            [PYTHON, "-m", "mista", "serve", str(root)], stderr=subprocess.DEVNULL
        )
        base = f"http://127.0.0.1:{api_port}"
        try:
            wait_for(f"{base}/health", server)
            print(
                f"feed    : {len(lines):,} sentences of the benchmark corpus into a spool; "
                f"{a.subscribers} subscribers to /api/v1/stream"
            )
            dropped, subscribers = asyncio.run(
                fan_out(base, tokens["bench.admin"], a.subscribers, feed, root / "incoming")
            )
        finally:
            stop(server)
        counts = [len(s.times) for s in subscribers]
        if not any(counts):
            print("no subscriber received a position within 300 s")
            return
        firsts = [s.times[0] - dropped for s in subscribers if s.times]
        lasts = [s.times[-1] - dropped for s in subscribers if s.times]
        events = sum(counts)
        print(
            f"received: {min(counts):,}..{max(counts):,} positions per subscriber "
            f"({events:,} events in all)"
        )
        print(
            f"latency : first position p50 {statistics.median(firsts):.2f} s, last subscriber "
            f"{max(firsts):.2f} s; every position at every subscriber {max(lasts):.2f} s after "
            f"the file was dropped ({events / max(lasts):,.0f} events/s delivered, file "
            "ingest included)"
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ------------------------------------------------------------------------------ render


def run_render(a: argparse.Namespace) -> None:
    sys.path.insert(0, str(h.PROJECT_ROOT / "tests" / "web"))
    import render  # type: ignore[import-not-found]

    seconds = render.first_render_seconds(a.vessels)
    print(
        f"render  : {a.vessels:,} vessels drawn in {seconds * 1e3:,.0f} ms (until the map is idle)"
    )


def main(argv: list[str] | None = None) -> None:
    parser = h.new_parser(
        __doc__,
        ".venv/bin/python bench/api.py queries --store bench/out/q.duckdb --reuse\n"
        "         .venv/bin/python bench/api.py stream --subscribers 100\n"
        "         .venv/bin/python bench/api.py render --vessels 20000",
    )
    parser.add_argument("phase", choices=("queries", "stream", "render", "all"))
    parser.add_argument("--rows", type=int, default=10_000_000, help="positions in the store")
    parser.add_argument("--store", type=Path, help="store file (default: a temporary one)")
    parser.add_argument("--reuse", action="store_true", help="use --store as it is")
    parser.add_argument("--requests", type=int, default=2000, help="requests under load")
    parser.add_argument("--single", type=int, default=200, help="requests from one client")
    parser.add_argument("--clients", type=int, default=50, help="concurrent clients")
    parser.add_argument(
        "--workers", type=int, default=1, help="API processes on the one port (mista api)"
    )
    parser.add_argument(
        "--think", type=float, default=1.0, help="seconds a paced client waits between requests"
    )
    parser.add_argument("--paced-rounds", type=int, default=10, help="requests per paced client")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--subscribers", type=int, default=100, help="stream subscribers")
    parser.add_argument("--messages", type=int, default=20_000, help="AIS sentences fed")
    parser.add_argument("--vessels", type=int, default=20_000, help="vessels rendered")
    args = parser.parse_args(argv)
    if args.reuse and not (args.store and args.store.exists()):
        parser.error("--reuse needs --store pointing at an existing store")
    print("\n".join(h.machine_lines(None)))
    versions = ", ".join(
        f"{name} {h.package_version(name)}" for name in ("fastapi", "uvicorn", "httpx", "duckdb")
    )
    print(f"stack   : {versions}")
    if args.phase in ("queries", "all"):
        run_queries(args)
    if args.phase in ("stream", "all"):
        run_stream(args)
    if args.phase in ("render", "all"):
        run_render(args)


if __name__ == "__main__":
    main()
