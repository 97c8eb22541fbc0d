"""``mista serve``: one node, running. The runtime wires the parts a config directory names.

Threads: one per ingest source (``mista.serve.ingest``), one for fusion and detection
(``mista.detect.pipeline``, every ``intervals.fuse_s``), one pusher per partner (release
scan, next batch, POST, acknowledge: ``mista.share.push``); the main thread runs uvicorn
with the node's one app (``mista.api.app``) on the partner listener (mutual TLS) and, when
``[api] listen`` is set, on the users' listener (plain HTTP). Every store use, the node's
own, the exchange's and the API's, happens under one lock. SIGINT or SIGTERM stops the
servers, then the sources and pushers (each finishes the step it is in), then closes the
audit log and the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import faulthandler
import logging
import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn

from mista.api import ExchangeEndpoint
from mista.api.app import create_api_app
from mista.api.context import ApiContext
from mista.api.cot import CotSettings
from mista.api.tls import ClientCertH11Protocol
from mista.config import NodeConfig, load_node_config
from mista.detect.parts import partition_part
from mista.detect.pipeline import Pipeline
from mista.errors import ConfigError, MistaError, StoreError
from mista.fuse import FuseConfig
from mista.geo import Zones
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
from mista.share.agreements import load_agreements
from mista.share.audit import AuditLog
from mista.share.exchange import Exchange, Partner
from mista.share.keys import (
    Identity,
    cert_fingerprint,
    client_ssl_context,
    load_identity,
    parse_public_key,
    server_ssl_context,
)
from mista.share.push import Backoff, LinkStats, PartnerLink, push_loop
from mista.store import Store, WriteResult
from mista.store.postgres import PostgresStore
from mista.store.postgres_claim import FuserClaim
from mista.store.postgres_exchange import sole_sharer

__all__ = ["NodeRuntime", "node_zones", "serve"]

_log = logging.getLogger("mista.serve")


def _save_checkpoint(pipeline: Pipeline, lock: threading.RLock, every_s: float) -> None:
    """At stop, between steps: fusion's memory, so the next start fuses nothing again."""
    if not every_s:
        return
    try:
        with lock:
            pipeline.checkpoint()
    except MistaError as exc:
        _log.error("fusion checkpoint not saved at stop: %s", exc)


def node_zones(config: NodeConfig) -> Zones | None:
    """The node's zone layer (``[detect] zones``); unmarked zones are the node's own,
    UNCLASSIFIED, releasable to nobody else."""
    if config.zones is None:
        return None
    return Zones.from_geojson(config.zones, originator=config.nation)


def part_pipeline(config: NodeConfig, store: Store, part: int, zones: Zones | None) -> Pipeline:
    """Fusion part ``part`` of the node: its detectors, and with fusion by partition
    (``[detect] partitions``) its vessels and what it writes (``mista.detect.parts``)."""
    partitions = None
    writes = None
    fuse_config = None
    if config.fusion_partitions:
        plan = partition_part(part, config.fusion_partitions)
        fuse_config = FuseConfig(mmsi_partitions=plan.mmsi_partitions)
        partitions, writes = plan.partitions, plan.writes
    return Pipeline(
        store,
        node=config.nation,
        fuse_config=fuse_config,
        detect_config=config.detect,
        zones=zones,
        batch_reports=config.intervals.fuse_batch,
        checkpoint_s=config.intervals.checkpoint_s or None,
        part=part,
        kinds=config.fusion_parts[part],
        partitions=partitions,
        writes=writes,
    )


async def _serve_all(pairs: list[tuple[uvicorn.Server, socket.socket]]) -> None:
    await asyncio.gather(*(server.serve(sockets=[sock]) for server, sock in pairs))


@dataclass
class NodeRuntime:
    """A node built from its config: store, audit log, exchange, sources, pushers, app."""

    config: NodeConfig
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.RLock = field(default_factory=threading.RLock)
    wakes: dict[str, threading.Event] = field(default_factory=dict)
    source_stats: dict[str, SourceStats] = field(default_factory=dict)
    link_stats: dict[str, LinkStats] = field(default_factory=dict)
    threads: list[threading.Thread] = field(default_factory=list)
    #: Reports fused (by every fusion part) and alert changes written since start (None
    #: until fusion starts).
    fusion_stats: dict[str, int] | None = None

    def __post_init__(self) -> None:
        config = self.config
        self.identity: Identity = load_identity(config.keys_dir, config.nation)
        self.partners = [
            Partner(
                nation=partner.nation,
                endpoint=partner.endpoint,
                certificate=partner.certificate,
                public_key=parse_public_key(partner.public_key),
            )
            for partner in config.partners
        ]
        agreements = (
            load_agreements(config.agreements_dir, node=config.nation)
            if config.agreements_dir.is_dir()
            else []
        )
        self.store = open_node_store(config.store)
        # One process shares from a PostgreSQL store: two would queue the same releases.
        self._claims = contextlib.ExitStack()
        if isinstance(self.store, PostgresStore):
            try:
                self._claims.enter_context(sole_sharer(self.store))
            except BaseException:
                self.store.close()
                raise
        self.audit = AuditLog(
            config.audit, nation=config.nation, signing_key=self.identity.signing_key
        )
        self.exchange = Exchange(
            self.store,
            node=config.nation,
            identity=self.identity,
            partners={partner.nation: partner for partner in self.partners},
            agreements=agreements,
            audit=self.audit,
            lock=self.lock,
            clock_window=timedelta(seconds=config.intervals.clock_window_s),
        )
        self.agreement_count = len(agreements)

    # ---------------------------------------------------------------- ingest

    def write(self, batch: IngestBatch) -> WriteResult:
        """Store one batch of the node's own input, then wake the pushers."""
        with self.lock:
            result = self.store.write(batch)
        if result.reports:
            for wake in self.wakes.values():
                wake.set()
        return result

    def _start(self, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def start_sources(self) -> None:
        intervals = self.config.intervals
        for entry in self.config.sources:
            stats = self.source_stats.setdefault(entry.name, SourceStats())

            def run(entry: Any = entry, stats: SourceStats = stats) -> None:
                run_source(
                    entry,
                    self.write,
                    stats,
                    self.stop,
                    poll_s=intervals.spool_poll_s,
                    reconnect_max_s=intervals.reconnect_max_s,
                )

            self._start(f"source-{entry.name}", run)

    # ---------------------------------------------------------------- fusion

    def zones(self) -> Zones | None:
        return node_zones(self.config)

    def start_fusion(self) -> None:
        """Fuse new reports and detect behaviours every ``intervals.fuse_s``, one step at a
        time under the store lock, until caught up; new alerts wake the pushers. A node
        with several fusion parts (``[detect] parts``) steps each in turn here: one process
        gains nothing from them, but the store's cursors stay those its fuse roles use."""
        zones = self.zones()
        parts = self.config.fusion_parts
        if isinstance(self.store, PostgresStore):  # one fuser per store (postgres_claim)
            for part in range(len(parts)):
                claim = self._claims.enter_context(
                    FuserClaim(self.store.url, self.store.where, part)
                )
                if not claim.try_claim():
                    raise StoreError(
                        f"store {self.store.where}: another process fuses this store already "
                        "(a mista serve --role fuse?): one fuser per store"
                    )
        with self.lock:  # the constructor reads the store's fusion cursor
            pipelines = [
                part_pipeline(self.config, self.store, part, zones) for part in range(len(parts))
            ]
        stats = self.fusion_stats = {"reports": 0, "alerts": 0}
        read = [0] * len(pipelines)  # reports each part has read

        def run() -> None:
            while not self.stop.wait(self.config.intervals.fuse_s):
                try:
                    for part, pipeline in enumerate(pipelines):
                        while not self.stop.is_set():
                            with self.lock:
                                result = pipeline.step()
                            if result.reports == 0:
                                break
                            read[part] += result.reports
                            stats["alerts"] += result.alerts
                            if result.alerts:
                                for wake in self.wakes.values():
                                    wake.set()
                    # Once every part has stepped: every part reads every report, or
                    # with fusion by partition part 0 does and the others their share.
                    stats["reports"] = read[0] if self.config.fusion_partitions else min(read)
                except MistaError as exc:
                    _log.error("fusion and detection failed, retrying: %s", exc)
            for pipeline in pipelines:
                _save_checkpoint(pipeline, self.lock, self.config.intervals.checkpoint_s)

        self._start("fuse", run)

    # ---------------------------------------------------------------- pushers

    def start_pushers(self) -> None:
        intervals = self.config.intervals
        for partner in self.partners:
            wake = self.wakes.setdefault(partner.nation, threading.Event())
            wake.set()
            stats = self.link_stats.setdefault(partner.nation, LinkStats())
            link = PartnerLink(
                partner.nation,
                partner.endpoint,
                client_ssl_context(self.identity, partner.certificate),
                timeout_s=intervals.request_timeout_s,
            )

            def next_batch(partner: Partner = partner) -> Any:
                now = datetime.now(UTC)
                self.exchange.scan(partner.nation, now=now, limit=intervals.scan_limit)
                return self.exchange.next_batch(
                    partner.nation, now=now, max_items=intervals.batch_max_items
                )

            def acknowledge(outgoing: Any, partner: Partner = partner) -> None:
                self.exchange.acknowledge(partner.nation, outgoing)

            def run(
                link: PartnerLink = link,
                next_batch: Callable[[], Any] = next_batch,
                acknowledge: Callable[[Any], None] = acknowledge,
                wake: threading.Event = wake,
                stats: LinkStats = stats,
            ) -> None:
                try:
                    push_loop(
                        link,
                        next_batch=next_batch,
                        acknowledge=acknowledge,
                        stop=self.stop,
                        wake=wake,
                        idle_s=intervals.scan_s,
                        backoff=Backoff(intervals.backoff_initial_s, intervals.backoff_max_s),
                        stats=stats,
                        resend_same_s=min(60.0, intervals.clock_window_s / 2),
                    )
                finally:
                    link.close()

            self._start(f"push-{partner.nation}", run)

    # ---------------------------------------------------------------- status

    def status_line(self, received: Mapping[str, int]) -> str:
        """One line: what each source stored, what fusion read and alerted, what each
        partner took and sent us."""
        sources = ", ".join(
            f"{name} {stats.reports:,} stored" for name, stats in self.source_stats.items()
        )
        links = ", ".join(
            f"{nation} {'up' if stats.up else 'down' if stats.up is False else 'idle'} "
            f"({stats.records:,} sent)"
            for nation, stats in self.link_stats.items()
        )
        inbound = ", ".join(f"{nation} {count:,}" for nation, count in received.items())
        fused = self.fusion_stats
        fusion = (
            f"fused: {fused['reports']:,} reports, {fused['alerts']:,} alert changes; "
            if fused is not None
            else ""
        )
        return (
            f"status: sources: {sources or 'none'}; {fusion}partners: {links or 'none'}; "
            f"received: {inbound or 'nothing'}"
        )

    def start_status(self, endpoint: ExchangeEndpoint) -> None:
        every_s = self.config.intervals.status_s

        def run() -> None:
            last = ""
            while not self.stop.wait(every_s):
                line = self.status_line(endpoint.received)
                if line != last:
                    _log.info("%s", line)
                    last = line

        self._start("status", run)

    # ---------------------------------------------------------------- server

    def status(self) -> Mapping[str, Any]:
        return {
            "partners": {nation: stats.to_dict() for nation, stats in self.link_stats.items()},
            "sources": {name: stats.to_dict() for name, stats in self.source_stats.items()},
        }

    def audit_refusal(self, peer: str, reason: str) -> None:
        """Audit a request refused before the exchange saw it (a body over the limit)."""
        _log.warning("refused a request from %s: %s", peer, reason)
        with self.lock:
            self.audit.append(
                "reject",
                partner=peer if peer in self.exchange.partners else None,
                detail={"batch": None, "reason": reason, "detail": f"request from {peer}"},
                at=datetime.now(UTC),
            )

    def endpoint(self) -> ExchangeEndpoint:
        def fingerprint(pem: bytes) -> str:
            return cert_fingerprint(pem)

        peers = {
            cert_fingerprint(Path(partner.certificate).read_bytes()): partner.nation
            for partner in self.partners
        }
        return ExchangeEndpoint(
            nation=self.config.nation,
            receiver=self.exchange,
            peers=peers,
            fingerprint=fingerprint,
            own_fingerprint=cert_fingerprint(self.identity.tls_cert.read_bytes()),
            on_refused=self.audit_refusal,
            status=self.status,
        )

    def api_context(self) -> ApiContext:
        """What the API routes work with: this node's store, lock, agreements and links."""
        cot = None
        if self.config.api.cot is not None and self.config.api.cot_user is not None:
            cot = CotSettings(url=self.config.api.cot, user=self.config.api.cot_user)
            with self.lock:
                known = self.store.user(cot.user) is not None
            if not known:
                raise ConfigError(
                    f"{self.config.directory / 'node.toml'}: api.cot_user = {cot.user!r} is "
                    "not a user of this node (add one: mista users add NAME --store ...)"
                )
        return ApiContext(
            nation=self.config.nation,
            store=self.store,
            lock=self.lock,
            agreements=tuple(self.exchange.agreements),
            partner_status=lambda: self.status()["partners"],
            audit_path=self.config.audit,
            zones=self.zones(),
            cot=cot,
        )

    def servers(
        self, endpoint: ExchangeEndpoint, *, with_api: bool, live: bool = True
    ) -> list[uvicorn.Server]:
        """The partner listener's server (mutual TLS) and, ``with_api``, the users' (plain
        HTTP), both serving one app; the live parts (stream, webhooks, CoT) run with the
        first server's lifespan, unless not ``live`` (another process runs them)."""
        trusted = [partner.certificate for partner in self.partners]
        # The node's own certificate is trusted too, for /health (and only that: it maps
        # to no partner, so the exchange refuses it).
        trusted.append(self.identity.tls_cert)
        context = server_ssl_context(self.identity, trusted)
        app = create_api_app(self.api_context(), exchange=endpoint, start_background=live)
        partner = server_config(
            app,
            http=ClientCertH11Protocol,
            ssl_context_factory=lambda _config, _default: context,
            lifespan="off" if with_api else "on",
        )
        servers: list[uvicorn.Server] = [SignalFreeServer(partner)]
        if with_api:
            servers.insert(0, SignalFreeServer(server_config(app)))
        return servers

    def close(self) -> None:
        self.stop.set()
        for wake in self.wakes.values():
            wake.set()
        for thread in self.threads:
            thread.join(timeout=30)
        with self.lock:
            close_audit = getattr(self.audit, "close", None)
            if close_audit is not None:
                close_audit()
            self._claims.close()
            self.store.close()


def serve(directory: str | Path, *, ready: Callable[[str], None] | None = None) -> None:
    """Run the node of a config directory until SIGINT or SIGTERM."""
    setup_logging()
    # kill -USR1 PID prints every thread's stack to stderr (a node that seems stuck);
    # only when stderr is a real file (not when the CLI runs inside a test harness).
    with contextlib.suppress(OSError, ValueError):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    # Signals are caught from the start, so one that comes while the node is still
    # opening its store stops it as cleanly as one that comes later.
    stop = threading.Event()
    servers: list[uvicorn.Server] = []
    started = time.monotonic()
    with stopped_by_signals(stop, servers):
        config = load_node_config(directory)
        with contextlib.ExitStack() as sockets:
            sock = sockets.enter_context(bind_listener(config.host, config.port))
            api_sock = None
            if config.api.host is not None and config.api.port is not None:
                api_sock = sockets.enter_context(bind_listener(config.api.host, config.api.port))
            runtime = NodeRuntime(config, stop=stop)
            try:
                endpoint = runtime.endpoint()
                servers.extend(runtime.servers(endpoint, with_api=api_sock is not None))
                runtime.start_sources()
                runtime.start_fusion()
                runtime.start_pushers()
                runtime.start_status(endpoint)
                host, port = sock.getsockname()[:2]
                url = f"https://{host}:{port}"
                partners = ", ".join(p.nation for p in runtime.partners) or "none (running alone)"
                _log.info(
                    "node %s listening on %s; partners: %s; %d agreement(s); sources: %s",
                    config.nation,
                    url,
                    partners,
                    runtime.agreement_count,
                    ", ".join(s.name for s in config.sources) or "none",
                )
                if api_sock is not None:
                    api_host, api_port = api_sock.getsockname()[:2]
                    _log.info("users' API and map on http://%s:%s/", api_host, api_port)
                if ready is not None:
                    ready(url)
                if not stop.is_set():
                    socks = [sock] if api_sock is None else [api_sock, sock]
                    asyncio.run(_serve_all(list(zip(servers, socks, strict=True))))
            finally:
                runtime.close()
        _log.info("node %s stopped after %.0f s", config.nation, time.monotonic() - started)
