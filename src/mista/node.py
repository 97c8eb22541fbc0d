"""The composition root: the one place that picks a store and a bus and wires them.

``ingest_paths`` reads sources (``mista.ingest``), publishes each batch on the bus, and a
store writer subscribed to the bus commits it (``mista.store``). Query helpers open the
store read-only and answer for a ``viewer`` (``mista.model.User``): a user kept in the store
(``find_user``), or the node's operator (``operator_user``). Settings: ``MISTA_NATION``
(the node's own nation, default ``IND``) and ``MISTA_STORE`` (the store file, default
``./mista.duckdb``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import pyarrow as pa

from mista.bus import INGEST_TOPIC
from mista.bus.in_process import InProcessBus
from mista.errors import ConfigError, InputError, LabelError
from mista.ingest.batch import IngestBatch
from mista.ingest.contacts import contact_batches, is_contact_lines
from mista.ingest.nmea import nmea_batches
from mista.ingest.positions import is_position_header, position_batches
from mista.ingest.rows import SourceContext
from mista.ingest.sources import SourceConfig, load_source_config
from mista.ingest.streams import CHUNK_BYTES, ByteSource, FileSource, open_source
from mista.labels import Label, Level
from mista.model import Role, SourceKind, User
from mista.store import BBox
from mista.store.embedded import DuckDBStore
from mista.store.postgres import PostgresStore, is_postgres_url

if TYPE_CHECKING:
    from mista.ais.stream import DecodeStats

__all__ = [
    "DEFAULT_NATION",
    "DEFAULT_STORE",
    "OPERATOR",
    "TOKEN_PREFIX",
    "IngestSummary",
    "ProgressHook",
    "add_user",
    "alerts",
    "default_store_path",
    "find_user",
    "ingest_paths",
    "issue_token",
    "list_users",
    "node_nation",
    "open_node_store",
    "open_store",
    "operator_user",
    "positions",
    "read_batches",
    "rejected",
    "remove_user",
    "revoke_tokens",
    "token_hash",
    "track",
    "tracks",
    "vessels",
    "viewer_for",
]

DEFAULT_NATION = "IND"
DEFAULT_STORE = "mista.duckdb"


def node_nation() -> str:
    """The node's own nation: ``MISTA_NATION`` or ``IND``."""
    nation = os.environ.get("MISTA_NATION", DEFAULT_NATION).strip().upper()
    try:
        Label.default_for(nation)
    except LabelError as exc:
        raise ConfigError(
            f"MISTA_NATION={nation!r}: {exc} (set it to this node's nation)"
        ) from None
    return nation


#: The name of the node's operator, the identity of CLI queries that name no user.
OPERATOR = "operator"


def operator_user(nation: str) -> User:
    """The node's operator: its own nation, SECRET, admin. Whoever holds the store file can
    read all of it anyway, so queries run without ``--user`` see what the node holds for its
    own nation at the highest level."""
    return User(name=OPERATOR, nation=nation, clearance=Level.SECRET, roles=frozenset({Role.ADMIN}))


def default_store_path() -> Path:
    """``MISTA_STORE`` or ``./mista.duckdb``."""
    return Path(os.environ.get("MISTA_STORE") or DEFAULT_STORE)


def open_store(
    path: str | os.PathLike[str], *, read_only: bool = False, replica: str | None = None
) -> DuckDBStore | PostgresStore:
    """Open the node's store: a ``postgresql://`` URL is the PostgreSQL store (docs/postgres.md:
    what runs on it yet), anything else the embedded DuckDB file. ``replica`` (a streaming
    replica's URL) serves users' reads of a PostgreSQL store; a DuckDB file has none."""
    if isinstance(path, str) and is_postgres_url(path):
        return PostgresStore(path, read_only=read_only, replica=replica)
    if replica is not None:
        raise InputError(f"{path}: a replica serves a PostgreSQL store, not a DuckDB file")
    return DuckDBStore(path, read_only=read_only)


def open_node_store(
    path: str | os.PathLike[str], *, read_only: bool = False, replica: str | None = None
) -> DuckDBStore | PostgresStore:
    """The store of a node's own work (its fusion, exchange and API): the DuckDB file, or
    with a ``postgresql://`` URL the PostgreSQL store, which holds every part a node
    needs (docs/postgres.md)."""
    return open_store(path, read_only=read_only, replica=replica)


@dataclass
class IngestSummary:
    """What one ``ingest_paths`` call read and stored."""

    sources: list[str] = field(default_factory=list)
    lines: int = 0
    messages: int = 0
    reports: int = 0
    duplicates: int = 0
    receptions: int = 0
    quarantined: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    elapsed_s: float = 0.0
    interrupted: bool = False

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())

    @property
    def messages_per_s(self) -> float:
        return self.messages / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def add(self, batch: IngestBatch, reports: int, receptions: int, quarantined: int) -> None:
        self.lines += batch.lines
        self.messages += batch.message_count
        self.reports += reports
        self.duplicates += batch.message_count - reports
        self.receptions += receptions
        self.quarantined += quarantined
        self.rejected.update(batch.rejected_by_reason())
        self.skipped.update(batch.skipped)

    def to_text(self) -> str:
        """The end-of-ingest summary, a few lines for people."""
        head = (
            f"read {self.lines:,} lines from {len(self.sources)} source(s) in "
            f"{self.elapsed_s:.1f} s: {self.messages:,} messages ({self.messages_per_s:,.0f}/s)"
        )
        lines = [
            head + (" (interrupted)" if self.interrupted else ""),
            f"stored {self.reports:,} reports ({self.duplicates:,} duplicates) and "
            f"{self.receptions:,} receptions",
        ]
        if self.rejected:
            reasons = ", ".join(
                f"{reason} {count:,}" for reason, count in self.rejected.most_common()
            )
            lines.append(
                f"rejected {self.rejected_total:,}: {reasons} "
                "(kept in quarantine; list them with: mista rejected)"
            )
        else:
            lines.append("rejected 0")
        if self.skipped:
            lines.append(
                "skipped (not AIS): "
                + ", ".join(f"{what} {count:,}" for what, count in self.skipped.most_common())
            )
        return "\n".join(lines)


class ProgressHook(Protocol):
    """Called after every stored batch (the CLI draws a bar or prints a rate)."""

    def __call__(self, source: ByteSource, batch: IngestBatch, summary: IngestSummary) -> None: ...


def _source_label(source: ByteSource) -> str:
    # Absolute paths keep quarantine entries stable however the file was spelled.
    return str(source.path.resolve()) if isinstance(source, FileSource) else source.name


def read_batches(
    source: ByteSource, config: SourceConfig, *, name: str | None = None, strict: bool = False
) -> Iterator[IngestBatch]:
    """Batches from one byte source: radar contacts (JSON lines), CSV positions or AIS
    NMEA, told apart by content (or by the source config's kind)."""
    chunks = source.chunks()
    first = next(chunks, b"")

    def replay() -> Iterator[bytes]:
        if first:
            yield first
        yield from chunks

    first_line = first.split(b"\n", 1)[0]
    is_radar = config.kind == SourceKind.RADAR or (config.kind is None and is_contact_lines(first))
    is_csv = not is_radar and (
        config.kind == SourceKind.POSITION_FILE or is_position_header(first_line)
    )
    if is_radar:
        kind = SourceKind.RADAR
    else:
        kind = config.kind or (SourceKind.POSITION_FILE if is_csv else SourceKind.AIS_TERRESTRIAL)
    label = name or source.name
    ctx = SourceContext(
        source=f"{config.name}:{label}" if config.name else label,
        originator=config.originator,
        label=config.label,
        kind=kind,
        strict=strict,
    )

    def position() -> int:
        return source.position_bytes

    if is_radar:
        yield from contact_batches(replay(), ctx, position)
    elif is_csv:
        yield from position_batches(replay(), ctx, position)
    else:
        yield from nmea_batches(replay(), ctx, position)


def ingest_paths(
    sources: Sequence[str | os.PathLike[str] | ByteSource],
    *,
    store: str | os.PathLike[str] | None = None,
    source_config: str | os.PathLike[str] | None = None,
    strict: bool = False,
    nation: str | None = None,
    progress: ProgressHook | None = None,
    stop: threading.Event | None = None,
    idle_timeout_s: float | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    bus: str | None = None,
) -> IngestSummary:
    """Ingest files (plain or gzip), ``-`` (stdin), ``tcp://host:port`` or ``udp://host:port``
    (or ready-made ``ByteSource`` objects) into the store; every batch is committed before
    the next is read.

    With ``bus`` (``nats://HOST:PORT[?stream=NAME&partitions=N]``) each batch is published
    to that JetStream bus instead (``mista.bus.jetstream``; durable in the stream before
    the next is read) and store writers (``mista bus write``) commit it; the summary then
    counts as stored what the bus took as new.

    ``stop`` ends stream sources cleanly; ``idle_timeout_s`` ends a UDP listener after that
    long without a datagram; ``chunk_bytes`` is the batch size for files (one commit each).
    Ctrl-C on a stream ends it with what was stored so far.
    Raises ``MistaError`` subclasses (``DecodeError`` with ``strict`` at the first bad line).
    """
    own_nation = nation or node_nation()
    config = (
        load_source_config(Path(source_config), own_nation)
        if source_config is not None
        else SourceConfig.default(own_nation)
    )
    summary = IngestSummary()
    started = time.perf_counter()
    batches: InProcessBus[IngestBatch] = InProcessBus()
    results: list[tuple[int, int, int]] = []
    opened = [
        open_source(str(spec), stop=stop, idle_timeout_s=idle_timeout_s, chunk_bytes=chunk_bytes)
        if isinstance(spec, str | os.PathLike)
        else spec
        for spec in sources
    ]
    with contextlib.ExitStack() as opened_sink:
        if bus is None:
            db = open_store(store if store is not None else default_store_path())
            opened_sink.callback(db.close)

            def write(batch: IngestBatch) -> None:
                result = db.write(batch)
                results.append((result.reports, result.receptions, result.rejected))

        else:
            from mista.bus.jetstream import JetStreamBus

            jetstream = opened_sink.enter_context(JetStreamBus.from_url(bus))

            def write(batch: IngestBatch) -> None:
                sent = jetstream.publish_batch(batch)
                results.append((sent.new_rows, sent.new_rows, batch.rejected.num_rows))

        batches.subscribe(INGEST_TOPIC, write)
        try:
            for source in opened:
                summary.sources.append(source.name)
                try:
                    label = _source_label(source)
                    for batch in read_batches(source, config, name=label, strict=strict):
                        batches.publish(INGEST_TOPIC, batch)
                        summary.add(batch, *results.pop())
                        if progress is not None:
                            progress(source, batch, summary)
                except KeyboardInterrupt:
                    if not source.is_stream:
                        raise
                    summary.interrupted = True
                    break
        finally:
            batches.close()
            summary.elapsed_s = time.perf_counter() - started
    return summary


def find_user(store: str | os.PathLike[str], name: str) -> User:
    """The user ``name`` kept in the store; an InputError saying how to add one if unknown."""
    with open_store(store, read_only=True) as db:
        user = db.user(name)
        if user is not None:
            return user
        known = ", ".join(u.name for u in db.users()) or "none yet"
    raise InputError(
        f"no user {name!r} in {store} (users: {known}); add one with: mista users add "
        f"{name} --nation USA --clearance RESTRICTED --role liaison"
    )


def viewer_for(store: str | os.PathLike[str], name: str | None) -> User:
    """Who a query answers for: the named user, or the node's operator when none is named."""
    return operator_user(node_nation()) if name is None else find_user(store, name)


def add_user(store: str | os.PathLike[str], user: User) -> None:
    """Keep a user in the store (creating the store if it is new)."""
    with open_store(store) as db:
        db.add_user(user)


def remove_user(store: str | os.PathLike[str], name: str) -> bool:
    """Remove a user from the store; False when there was none of that name."""
    with open_store(store) as db:
        return db.remove_user(name)


#: What every API token starts with, so a leaked one is recognisable (e.g. by secret scanners).
TOKEN_PREFIX = "mista_"


def token_hash(token: str) -> str:
    """The SHA-256 (hex) of an API token: all the store keeps of it."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    store: str | os.PathLike[str], name: str, *, expires_days: int | None = None
) -> str:
    """A new API token for user ``name`` (shown once: only its hash is kept)."""
    if expires_days is not None and expires_days <= 0:
        raise InputError(f"--expires-days {expires_days}: give a positive number of days")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    expires_at = None if expires_days is None else now + timedelta(days=expires_days)
    with open_store(store) as db:
        db.add_token(name, token_hash(token), created_at=now, expires_at=expires_at)
    return token


def revoke_tokens(store: str | os.PathLike[str], name: str) -> int:
    """Revoke every API token of user ``name``; how many there were."""
    with open_store(store) as db:
        return db.revoke_tokens(name)


def list_users(store: str | os.PathLike[str]) -> list[User]:
    """The store's users, by name."""
    with open_store(store, read_only=True) as db:
        return db.users()


def vessels(store: str | os.PathLike[str], *, viewer: User) -> pa.Table:
    """Latest state and identity of every vessel, as ``viewer`` may see them."""
    with open_store(store, read_only=True) as db:
        return db.vessels(viewer=viewer)


def track(
    store: str | os.PathLike[str],
    mmsi: int,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    viewer: User,
) -> pa.Table:
    """One vessel's positions ``viewer`` may see, in time order."""
    with open_store(store, read_only=True) as db:
        return db.track(mmsi, since, until, viewer=viewer)


def positions(
    store: str | os.PathLike[str],
    bbox: BBox,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    viewer: User,
) -> pa.Table:
    """Every position inside a box that ``viewer`` may see, in time order."""
    with open_store(store, read_only=True) as db:
        return db.positions(bbox, since, until, viewer=viewer)


def alerts(
    store: str | os.PathLike[str],
    *,
    viewer: User,
    since: datetime | None = None,
    until: datetime | None = None,
    kinds: Sequence[str] | None = None,
    include_withdrawn: bool = False,
    limit: int | None = None,
) -> pa.Table:
    """The alerts ``viewer`` may see that overlap ``[since, until)``, of ``kinds`` when
    given, without withdrawn ones unless ``include_withdrawn``; by start, then id."""
    with open_store(store, read_only=True) as db:
        return db.alerts(
            viewer=viewer,
            since=since,
            until=until,
            kinds=kinds,
            include_withdrawn=include_withdrawn,
            limit=limit,
        )


def tracks(store: str | os.PathLike[str], *, viewer: User, kind: str | None = None) -> pa.Table:
    """The fused tracks ``viewer`` may see (``ais`` or ``dark`` ones when ``kind`` is given)."""
    with open_store(store, read_only=True) as db:
        return db.tracks(viewer=viewer, kind=kind)


def rejected(store: str | os.PathLike[str], limit: int | None = None, *, viewer: User) -> pa.Table:
    """The quarantine rows ``viewer`` may see."""
    with open_store(store, read_only=True) as db:
        return db.rejected(limit, viewer=viewer)


def decode(spec: str, write: Callable[[str], object], *, meta: bool = False) -> DecodeStats:
    """Decode an AIS source (path, ``-``, ``tcp://``, ``udp://``) to gpsdecode-style JSON lines.

    Each line goes to ``write``; with ``meta`` the line number, reception time and receiver
    of each message are added (``line``, ``received_at``, ``receiver``). Returns the totals.
    """
    from mista.ais.stream import DecodeStats, decode_chunks, to_json_lines

    source = open_source(spec)
    device = "stdin" if spec == "-" else source.name
    stats = DecodeStats()
    for batch in decode_chunks(source.chunks()):
        stats.add(batch)
        for line in to_json_lines(batch, device, meta=meta):
            write(line)
    return stats
