"""``mista serve --role ROLE``: one part of a node per process, all on one store and one bus.

A node outgrows one process when it must ingest, fuse and answer many analysts at once.
Its config directory then names a PostgreSQL store (``store = "postgresql://..."``) and,
optionally, a JetStream bus (``bus = "nats://..."``), and each process runs one role:

- ``ingest``: the node's sources. With a bus, each batch is published to it and a store
  writer in the same process commits what the bus holds (writers of every ingest process
  share the partitions through durable consumers); without one, batches go straight to
  the store (PostgreSQL takes writers from several processes).
- ``fuse``: fusion and detection every ``intervals.fuse_s``, from the store's report feed.
  One fuse process per store (per fusion part, ``--part K``) is active: the pipeline keeps
  one cursor and one memory. More stand by (``mista.store.postgres_claim``) and the first
  to claim the store takes over, from the checkpoint, when the active one stops or dies.
  A node with ``[detect] parts`` (``mista.detect.parts``) runs one fuse process per part,
  each fusing every report and running its share of the detectors, side by side. A node
  with ``[detect] partitions`` (fusion by partition) runs part 0 over every report for the
  detectors that span vessels, and parts 1.. each over some bus partitions' vessels;
  with a bus, part 0 is the one store writer, taking every partition in the stream's
  order (``mista.serve.partition_fuse``), so the store's order is the stream's whatever
  pace any fuse process keeps; ingest processes only publish, and parts 1.. read their
  vessels' reports from the store in whole steps.
- ``api``: the users' API and web map on ``[api] listen``; several may run behind a proxy.
- ``share``: the partner exchange: release scans and pushes to each partner, and the
  partner listener (mutual TLS) that receives theirs. One per store: each partner's
  outbox is ordered by one pusher.

A DuckDB file has one writing process, so roles need a PostgreSQL store; ``mista serve``
without ``--role`` runs everything in one process, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import uvicorn

from mista.api.app import create_api_app
from mista.api.context import ApiContext
from mista.bus.jetstream import DEFAULT_LAG_GROUP, JetStreamBus, store_writer
from mista.config import NodeConfig, load_node_config
from mista.detect.parts import check_part
from mista.detect.pipeline import Pipeline, StepResult
from mista.errors import ConfigError, MistaError, StoreError
from mista.ingest.batch import IngestBatch
from mista.node import open_node_store
from mista.serve._server import (
    SignalFreeServer,
    bind_listener,
    server_config,
    setup_logging,
    stopped_by_signals,
)
from mista.serve.ingest import SourceStats, run_source
from mista.serve.partition_fuse import fuse_from_bus
from mista.serve.runtime import NodeRuntime, node_zones, part_pipeline
from mista.share.agreements import load_agreements
from mista.store import Store, WriteResult
from mista.store.postgres import PostgresStore
from mista.store.postgres_claim import SENDER_LOCK, FuserClaim, StoreClaim

__all__ = ["ROLES", "check_role", "serve_role"]

ROLES = ("ingest", "fuse", "share", "api")
_log = logging.getLogger("mista.serve")
#: Seconds between an ingest or fuse process's status lines.
_STATUS_S = 60.0


def check_role(config: NodeConfig, role: str, part: int = 0) -> None:
    """A ConfigError unless ``config`` can run ``role`` (fusion part ``part`` of the fuse
    role) in a process of its own."""
    node_file = config.directory / "node.toml"
    if role not in ROLES:
        raise ConfigError(f"no role {role!r}: choose one of {', '.join(ROLES)}")
    if part and role != "fuse":
        raise ConfigError(f"a part ({part}) is given for the fuse role only, not {role}")
    if role == "fuse":
        check_part(config.fusion_parts, part)
    if not isinstance(config.store, str):
        raise ConfigError(
            f"{node_file}: roles run in separate processes, and a DuckDB file "
            f"({config.store}) has one writing process: set store to a postgresql:// URL, "
            "or run mista serve without --role"
        )
    if role == "api" and (config.api.host is None or config.api.port is None):
        raise ConfigError(f'{node_file}: the api role needs [api] listen, e.g. "127.0.0.1:8080"')


def serve_role(
    directory: str | Path,
    role: str,
    *,
    ready: Callable[[str], None] | None = None,
    part: int = 0,
) -> None:
    """Run ``role`` of the node of ``directory`` (fusion part ``part`` for the fuse role)
    until SIGINT or SIGTERM."""
    setup_logging()
    stop = threading.Event()
    servers: list[uvicorn.Server] = []
    started = time.monotonic()
    with stopped_by_signals(stop, servers):
        config = load_node_config(directory)
        check_role(config, role, part)
        if role == "ingest":
            _run_ingest(config, stop, ready)
        elif role == "fuse":
            _run_fuse(config, stop, ready, part)
        elif role == "share":
            _run_share(config, servers, stop, ready)
        else:
            _run_api(config, servers, stop, ready)
        _log.info(
            "%s role of %s stopped after %.0f s", role, config.nation, time.monotonic() - started
        )


@contextlib.contextmanager
def _threads(stop: threading.Event) -> Iterator[Callable[[str, Callable[[], None]], None]]:
    """Start named threads; at the end, set ``stop`` and wait for them."""
    started: list[threading.Thread] = []

    def start(name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        started.append(thread)

    try:
        yield start
    finally:
        stop.set()
        for thread in started:
            thread.join(timeout=30)


def _run_ingest(
    config: NodeConfig, stop: threading.Event, ready: Callable[[str], None] | None
) -> None:
    if not config.sources:
        raise ConfigError(f"{config.directory / 'sources'}: the ingest role has no sources")
    with open_node_store(config.store) as store, contextlib.ExitStack() as bus:
        write: Callable[[IngestBatch], WriteResult] = store.write
        jetstream: JetStreamBus | None = None
        if config.bus is not None:
            jetstream = bus.enter_context(JetStreamBus.from_url(config.bus))
            write = _publisher(jetstream)
        stats = {entry.name: SourceStats() for entry in config.sources}
        with _threads(stop) as start:
            if jetstream is not None and config.fusion_partitions:
                _log.info(
                    "ingest: no store writer here: with fusion by partition, fuse part 0 "
                    "writes what the bus holds, in the stream's order"
                )
            elif jetstream is not None:
                writing_bus = jetstream
                start("store-writer", lambda: _store_writer(writing_bus, store, stop))
            for entry in config.sources:

                def run(entry: Any = entry) -> None:
                    run_source(
                        entry,
                        write,
                        stats[entry.name],
                        stop,
                        poll_s=config.intervals.spool_poll_s,
                        reconnect_max_s=config.intervals.reconnect_max_s,
                    )

                start(f"source-{entry.name}", run)
            where = (
                f"the bus {config.bus} (a source's count of reports stored is of rows the bus "
                "took as new; the store keeps one of each report heard by several receivers)"
                if config.bus
                else "the store"
            )
            _log.info(
                "ingest role of %s: sources %s into %s",
                config.nation,
                ", ".join(stats),
                where,
            )
            if ready is not None:
                ready(where)
            while not stop.wait(_STATUS_S):
                _log.info(
                    "ingest: %s",
                    "; ".join(f"{name} {s.reports:,} reports" for name, s in stats.items()),
                )


def _publisher(jetstream: JetStreamBus) -> Callable[[IngestBatch], WriteResult]:
    """Publish a source's batch; what the stream took as new counts as stored (the store
    writer commits it), as ``mista ingest --bus`` counts it."""

    def publish(batch: IngestBatch) -> WriteResult:
        sent = jetstream.publish_batch(batch)
        return WriteResult(sent.new_rows, sent.new_rows, batch.rejected.num_rows)

    return publish


def _store_writer(jetstream: JetStreamBus, store: Store, stop: threading.Event) -> None:
    try:
        store_writer(jetstream, store, range(jetstream.partitions), stop)
    except MistaError as exc:
        _log.error("store writer stopped: %s", exc)
        stop.set()


def _run_fuse(
    config: NodeConfig, stop: threading.Event, ready: Callable[[str], None] | None, part: int
) -> None:
    with open_node_store(config.store) as store:
        if not isinstance(store, PostgresStore):  # check_role refuses other stores
            raise ConfigError(f"{config.directory}: the fuse role needs a PostgreSQL store")
        what = "this store" if len(config.fusion_parts) == 1 else f"part {part} of this store"
        with FuserClaim(store.url, store.where, part) as claim:
            if ready is not None:
                ready("fuse")
            if not claim.try_claim():
                _log.info("fuse: another process fuses %s; standing by to take over", what)
                if not claim.wait(stop, config.intervals.fuse_s):
                    return
                _log.info("fuse: took over fusion of %s", what)
            _fuse_while_claimed(config, store, claim, stop, part)


def _fuse_while_claimed(
    config: NodeConfig, store: Store, claim: FuserClaim, stop: threading.Event, part: int
) -> None:
    kinds = config.fusion_parts[part]
    pipeline = part_pipeline(config, store, part, node_zones(config))
    drained: Callable[[], bool] | None = None
    with contextlib.ExitStack() as context:
        if config.fusion_partitions and config.bus is not None:
            bus = context.enter_context(JetStreamBus.from_url(config.bus))
            count = config.fusion_partitions[0].count
            if bus.partitions != count:
                raise ConfigError(
                    f"[detect] partitions names {count} bus partitions, the bus {bus.url} "
                    f"has {bus.partitions}: they must agree"
                )
            if part == 0:
                _log.info(
                    "fuse role of %s, part 0 of %d (%s; every report; dark tracks and radar "
                    "contacts): the store writer of every partition of the bus %s, in the "
                    "stream's order",
                    config.nation,
                    len(config.fusion_parts),
                    ", ".join(kinds),
                    config.bus,
                )
                _fuse_from_bus(config, bus, store, claim, stop, pipeline)
                return
            drained = _drained(bus)
        _describe_part(config, part, kinds)
        _fuse_by_cursor(config, claim, stop, pipeline, drained)


def _drained(bus: JetStreamBus) -> Callable[[], bool]:
    """Whether the store writer (fuse part 0) has committed everything the bus holds: what
    a partition part may fuse to the end of the store without cutting a step short in
    the middle of a stream (steps follow the stream, so every run cuts them alike)."""

    def drained() -> bool:
        try:
            return bus.drained(DEFAULT_LAG_GROUP)
        except MistaError as exc:
            _log.warning("fuse: the bus's pending messages unknown (%s)", exc)
            return False

    return drained


def _describe_part(config: NodeConfig, part: int, kinds: tuple[str, ...]) -> None:
    if config.fusion_partitions and part > 0:
        _log.info(
            "fuse role of %s, part %d of %d (%s; %s; their tracks)%s",
            config.nation,
            part,
            len(config.fusion_parts),
            config.fusion_partitions[part - 1],
            ", ".join(kinds),
            ": in whole steps as fuse part 0 writes them" if config.bus else "",
        )
    elif len(config.fusion_parts) == 1:
        _log.info("fuse role of %s: every %g s", config.nation, config.intervals.fuse_s)
    else:
        what = "; tracks" if part == 0 else ""
        if config.fusion_partitions:
            what = "; every report; dark tracks and radar contacts"
        _log.info(
            "fuse role of %s, part %d of %d (%s%s): every %g s",
            config.nation,
            part,
            len(config.fusion_parts),
            ", ".join(kinds),
            what,
            config.intervals.fuse_s,
        )


def _fuse_by_cursor(
    config: NodeConfig,
    claim: FuserClaim,
    stop: threading.Event,
    pipeline: Pipeline,
    drained: Callable[[], bool] | None,
) -> None:
    """Step through the store's feed every ``fuse_s``. With ``drained`` (a partition part
    while fuse part 0 writes the bus into the store), only whole steps, and the rest only
    once the bus is drained."""
    status = _FuseStatus()
    busy = False
    while not stop.is_set():
        if not claim.held():
            # Its connection went (the database restarted, say): another process may
            # fuse now. Stop, and let whoever runs this process start it again.
            raise _lost_claim()
        try:
            result = pipeline.step(whole_batch=drained is not None)
            if not result.reports and drained is not None and drained():
                result = pipeline.step()
        except MistaError as exc:
            _log.error("fusion and detection failed, retrying: %s", exc)
            stop.wait(config.intervals.fuse_s)
            continue
        status.add(result)
        if result.reports:
            busy = True
            continue
        if busy:  # once per catch-up, so an operator (or a test) sees where it stands
            status.caught_up()
            busy = False
        stop.wait(config.intervals.fuse_s)
    _checkpoint_at_stop(config, pipeline)


class _FuseStatus:
    """A fuse process's counts since start, and its status lines."""

    def __init__(self) -> None:
        self.reports = 0
        self.alerts = 0
        self._last = time.monotonic()

    def add(self, result: StepResult) -> None:
        """Count a step; a status line every ``_STATUS_S``."""
        self.reports += result.reports
        self.alerts += result.alerts
        if time.monotonic() - self._last >= _STATUS_S:
            _log.info(
                "fuse: %s reports fused, %s alerts changed",
                f"{self.reports:,}",
                f"{self.alerts:,}",
            )
            self._last = time.monotonic()

    def caught_up(self) -> None:
        _log.info("fuse: caught up (%s reports fused since start)", f"{self.reports:,}")


def _lost_claim() -> StoreError:
    return StoreError(
        "the fuse role lost its claim to fuse the store (its connection closed); "
        "start it again: it stands by if another process fuses now"
    )


def _checkpoint_at_stop(config: NodeConfig, pipeline: Pipeline) -> None:
    if config.intervals.checkpoint_s:
        try:  # stopped between steps: the next start has nothing to fuse again
            pipeline.checkpoint()
        except MistaError as exc:
            _log.error("fusion checkpoint not saved at stop: %s", exc)


def _fuse_from_bus(
    config: NodeConfig,
    bus: JetStreamBus,
    store: Store,
    claim: FuserClaim,
    stop: threading.Event,
    pipeline: Pipeline,
) -> None:
    """Fuse part 0 of fusion by partition: write every partition of the bus in the
    stream's order, fusing every report as it goes."""
    status = _FuseStatus()

    def progress(result: StepResult) -> None:
        if result.reports:
            status.add(result)
        elif status.reports:  # caught up, once something was fused
            status.caught_up()

    fuse_from_bus(
        bus,
        store,
        pipeline,
        stop,
        quiet_s=config.intervals.fuse_s,
        held=claim.held,
        progress=progress,
    )
    if not claim.held():
        raise _lost_claim()
    _checkpoint_at_stop(config, pipeline)


def _run_share(
    config: NodeConfig,
    servers: list[uvicorn.Server],
    stop: threading.Event,
    ready: Callable[[str], None] | None,
) -> None:
    # The runtime's own parts, less the sources, fusion and users' API: the other roles'.
    with bind_listener(config.host, config.port) as sock:
        runtime = NodeRuntime(config, stop=stop)
        try:
            endpoint = runtime.endpoint()
            # The live parts (webhooks, CoT) belong to the api role: one sender per node.
            servers.extend(runtime.servers(endpoint, with_api=False, live=False))
            runtime.start_pushers()
            runtime.start_status(endpoint)
            host, port = sock.getsockname()[:2]
            url = f"https://{host}:{port}"
            partners = ", ".join(p.nation for p in runtime.partners) or "none"
            _log.info(
                "share role of %s on %s; partners: %s; %d agreement(s)",
                config.nation,
                url,
                partners,
                runtime.agreement_count,
            )
            if ready is not None:
                ready(url)
            if not stop.is_set():
                asyncio.run(servers[0].serve(sockets=[sock]))
        finally:
            runtime.close()


def _run_api(
    config: NodeConfig,
    servers: list[uvicorn.Server],
    stop: threading.Event,
    ready: Callable[[str], None] | None,
) -> None:
    host, port = config.api.host, config.api.port
    if host is None or port is None:  # check_role said so already
        raise ConfigError("the api role needs [api] listen")
    agreements = (
        load_agreements(config.agreements_dir, node=config.nation)
        if config.agreements_dir.is_dir()
        else []
    )
    with (
        bind_listener(host, port) as sock,
        open_node_store(config.store, replica=config.store_replica) as store,
        contextlib.ExitStack() as claims,
    ):
        # One api process per store sends the watch lists' webhooks (two would POST each
        # delivery twice): the first to claim it, for its life. Another started later
        # sends what was owed meanwhile (mista.api.webhook_resume).
        sends_webhooks = True
        if isinstance(store, PostgresStore):
            claim = claims.enter_context(StoreClaim(store.url, store.where, SENDER_LOCK))
            sends_webhooks = claim.try_claim()
        ctx = ApiContext(
            nation=config.nation,
            store=store,
            agreements=tuple(agreements),
            audit_path=config.audit if config.audit.exists() else None,
            zones=node_zones(config),
            webhooks=sends_webhooks,
        )
        server = SignalFreeServer(server_config(create_api_app(ctx)))
        servers.append(server)
        bound_host, bound_port = sock.getsockname()[:2]
        url = f"http://{bound_host}:{bound_port}/"
        _log.info(
            "api role of %s on %s (%s)",
            config.nation,
            url,
            "sends the watch lists' webhooks"
            if sends_webhooks
            else "another api process sends the webhooks",
        )
        if ready is not None:
            ready(url)
        if not stop.is_set():
            asyncio.run(server.serve(sockets=[sock]))
