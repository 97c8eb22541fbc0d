"""``JetStreamBus``: ingest batches through a NATS JetStream stream, durable end to end.

Publishing splits a batch by partition (a hash of the MMSI; see ``mista.bus._wire``) into
messages of a few thousand rows on subjects ``mista.reports.<partition>``, each with a
``Nats-Msg-Id`` made from the content it carries, so a re-publish inside the stream's
duplicate window is dropped by the server and one after it by the store's idempotence.
``publish_batch`` returns once the stream has acknowledged every message (stored), and
retries with backoff while the server is away: a publisher slows down rather than lose
or buffer without bound.

Consuming (``consume``) pulls partitions through durable pull consumers named
``<group>-<partition>`` and acknowledges messages only after the handler returns (the
store transaction committed). A handler that raises, or a process that dies, leaves its
messages unacknowledged: the server delivers them again (at once after a ``nak``, after
``ack_wait_s`` after a crash) to whoever pulls that partition next.

nats-py is asyncio and mista's workers are threads, so the bus runs its own event loop
in a daemon thread and every public method is a plain blocking call, safe from any
thread. ``JetStreamBus`` also keeps the ``Bus`` protocol for ``INGEST_TOPIC``.
``store_writer`` (from ``mista.bus._writer``) is the worker that commits into a store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self

import nats
import nats.errors
import nats.js.errors
import pyarrow as pa
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)

from mista.bus import INGEST_TOPIC
from mista.bus._loop import LoopThread
from mista.bus._wire import COMPRESSIONS, Slice, decode_slice, slices
from mista.bus._writer import store_writer
from mista.bus.stream_order import StreamOrder
from mista.errors import ConfigError, InputError, MistaError
from mista.ingest.batch import IngestBatch
from mista.labels import Label

__all__ = [
    "DEFAULT_LAG_GROUP",
    "DEFAULT_MAX_LAG",
    "DEFAULT_PARTITIONS",
    "DEFAULT_STREAM",
    "SUBJECT_PREFIX",
    "BusError",
    "ConsumeStats",
    "JetStreamBus",
    "PublishResult",
    "store_writer",
]

DEFAULT_STREAM = "MISTA"
DEFAULT_PARTITIONS = 8
SUBJECT_PREFIX = "mista.reports"
#: Rows per message: ~700 kB uncompressed for AIS, under the server's default 1 MB limit.
DEFAULT_MAX_ROWS = 2_000
#: Messages published concurrently (each awaits its own acknowledgement).
MAX_IN_FLIGHT = 64
#: How long one pull request stays open. nats-server 2.9 answers a pull only when it is
#: full or expired, so this is also the delay of a partial one (a quiet partition); an
#: idle partition costs one small request per period.
FETCH_WAIT_S = 0.1
#: Pull requests open at once, all partitions together. nats-server closes a client whose
#: unread deliveries pass its max_pending (64 MB): 16 messages of ~0.7 MB per pull, so a
#: few at a time stay well under it while the writer's thread is busy committing.
MAX_FETCHES_IN_FLIGHT = 3
#: How often a partition waiting for credit looks for messages delivered after their
#: fetch ended (well under any ack_wait, so they are kept alive in time).
LATE_CHECK_S = 0.5
#: Back-pressure: a publisher waits while the store writers' consumer group has more
#: than this many messages not yet acknowledged (about 7 GB of 2,000-row AIS messages).
DEFAULT_MAX_LAG = 10_000
#: The consumer group whose lag slows publishers: the store writers'.
DEFAULT_LAG_GROUP = "store"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_DESCRIPTION = "mista reports, {partitions} partitions"
_PARTITIONS_IN = re.compile(r"mista reports, (\d+) partitions")
_log = logging.getLogger("mista.bus")

Handler = Callable[[IngestBatch], object]


class BusError(MistaError):
    """The bus cannot be reached, or did not acknowledge a message in time."""


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What one ``publish_batch`` sent: messages and rows, and of those how many the
    stream dropped as duplicates (already stored within its duplicate window)."""

    messages: int
    duplicates: int
    rows: int
    duplicate_rows: int

    @property
    def new_rows(self) -> int:
        return self.rows - self.duplicate_rows


@dataclass
class ConsumeStats:
    """What one ``consume`` call handled (counts of messages, not of distinct content)."""

    messages: int = 0
    rows: int = 0
    batches: int = 0
    failures: int = 0
    unreadable: int = 0
    by_partition: dict[int, int] = field(default_factory=dict)
    #: Handler failures in a row, and since when (for the backoff and the resume line).
    failing: int = 0
    failing_since: float = 0.0


def _backoff(attempt: int, cap_s: float = 5.0) -> float:
    return float(min(cap_s, 0.1 * 2**attempt))


def _is_permanent(exc: BaseException) -> bool:
    """Errors a retry cannot fix: the request itself is wrong (4xx but 'not found' and
    'timeout', which a restarting server answers)."""
    if isinstance(exc, nats.js.errors.APIError):
        code = exc.code or 0
        return 400 <= code < 500 and code not in (404, 408)
    return isinstance(exc, nats.errors.MaxPayloadError | nats.errors.BadSubjectError)


_Readable = list[tuple[Msg, IngestBatch]]


def _by_source(readable: _Readable) -> list[_Readable]:
    """One group per source and label set, in the order each first came: messages of two
    ingest processes arrive interleaved, and grouping only neighbours made a transaction
    of each run of them. Each group keeps its messages' order; there is no order between
    sources to keep."""
    by_key: dict[tuple[str, tuple[Label, ...]], _Readable] = {}
    for pair in readable:
        by_key.setdefault((pair[1].source, pair[1].labels), []).append(pair)
    return list(by_key.values())


def _neighbours(readable: _Readable) -> list[_Readable]:
    """One group per run of neighbours of one source and label set: the order kept."""
    groups: list[_Readable] = []
    for pair in readable:
        if groups and (groups[-1][-1][1].source, groups[-1][-1][1].labels) == (
            pair[1].source,
            pair[1].labels,
        ):
            groups[-1].append(pair)
        else:
            groups.append([pair])
    return groups


def _stream_seq(msg: Msg) -> int:
    return int(msg.metadata.sequence.stream)


def _pending_after(msg: Msg) -> int:
    return int(msg.metadata.num_pending)


def _merge(batches: Sequence[IngestBatch]) -> IngestBatch:
    """One batch of several from the same source and labels (one store transaction)."""
    if len(batches) == 1:
        return batches[0]
    skipped: dict[str, int] = {}
    for batch in batches:
        for what, count in batch.skipped.items():
            skipped[what] = skipped.get(what, 0) + count
    first = batches[0]
    return IngestBatch(
        source=first.source,
        messages=pa.concat_tables([b.messages for b in batches]).combine_chunks(),
        rejected=pa.concat_tables([b.rejected for b in batches]).combine_chunks(),
        labels=first.labels,
        lines=sum(b.lines for b in batches),
        skipped=skipped,
        position_bytes=batches[-1].position_bytes,
    )


class JetStreamBus:
    """Ingest batches over a JetStream stream (created on first use if absent).

    ``url`` is ``nats://HOST:PORT`` (several, comma-separated, for a cluster). The stream
    holds ``partitions`` subjects, ``mista.reports.<p>`` for the default stream and
    ``mista.<stream>.reports.<p>`` for others; every process using it must agree on the
    number (it is written in the stream's description and checked). ``max_age_s``
    bounds how long unconsumed messages are kept: a writer away longer loses them.
    ``max_lag`` is the back-pressure: ``publish_batch`` waits while consumer group
    ``lag_group`` (the store writers) has more messages than that not acknowledged, so a
    source is slowed to the writers' pace instead of piling up on the bus (None: never
    wait; a group with no consumer yet slows no one). ``replicas`` is how many servers of
    a cluster keep each message of a stream this process creates (3 on a cluster of
    three survives losing one); an existing stream keeps its own. ``existing_only`` (for
    readers such as ``mista store verify``) opens a stream that exists, with the
    partitions it has, and never creates one: a ``ConfigError`` if there is none.
    ``from_url`` reads the stream and partitions from the URL's query instead.
    """

    @classmethod
    def from_url(cls, url: str, **options: Any) -> JetStreamBus:
        """A bus from ``nats://HOST:PORT[?stream=NAME&partitions=N&max_lag=N&lag_group=G&
        replicas=N&compression=zstd&max_age_h=N]`` (query optional);
        ``options`` are the constructor's keyword arguments and win over the query."""
        base, _, query = url.partition("?")
        from_query: dict[str, Any] = {}
        try:
            pairs = urllib.parse.parse_qs(query, strict_parsing=bool(query))
        except ValueError:
            raise ConfigError(f"bus {url!r}: the query is not NAME=VALUE&...") from None
        for key, values in pairs.items():
            value = values[-1]
            if key == "stream":
                from_query["stream"] = value
            elif key == "partitions" and value.isdigit():
                from_query["partitions"] = int(value)
            elif key == "max_lag" and value.isdigit():
                from_query["max_lag"] = int(value) or None
            elif key == "lag_group":
                from_query["lag_group"] = value
            elif key == "replicas" and value.isdigit():
                from_query["replicas"] = int(value)
            elif key == "compression":
                from_query["compression"] = None if value == "none" else value
            elif key == "max_age_h" and value.isdigit():
                from_query["max_age_s"] = int(value) * 3600.0
            else:
                raise ConfigError(
                    f"bus {url!r}: unknown or bad query {key}={value!r} "
                    "(known: stream=NAME, partitions=N, max_lag=N (0: off), lag_group=NAME, "
                    "replicas=N, compression=zstd|lz4|none, max_age_h=N)"
                )
        return cls(base, **(from_query | options))

    def __init__(
        self,
        url: str,
        *,
        stream: str = DEFAULT_STREAM,
        partitions: int = DEFAULT_PARTITIONS,
        subject_prefix: str | None = None,
        max_rows: int = DEFAULT_MAX_ROWS,
        compression: str | None = None,
        duplicate_window_s: float = 3600.0,
        max_age_s: float = 7 * 86_400.0,
        retry_for_s: float = 300.0,
        connect_timeout_s: float = 10.0,
        request_timeout_s: float = 10.0,
        client_name: str = "mista",
        max_lag: int | None = DEFAULT_MAX_LAG,
        lag_group: str = DEFAULT_LAG_GROUP,
        replicas: int = 1,
        existing_only: bool = False,
    ) -> None:
        servers = [part.strip() for part in url.split(",") if part.strip()]
        if not servers or not all(s.startswith(("nats://", "tls://")) for s in servers):
            raise ConfigError(f"bus {url!r}: give nats://HOST:PORT (e.g. nats://127.0.0.1:4222)")
        if not _NAME.fullmatch(stream):
            raise ConfigError(f"stream name {stream!r}: letters, digits, '_' and '-' only")
        if not 1 <= partitions <= 1024:
            raise ConfigError(f"partitions {partitions}: give 1 to 1024")
        if compression not in COMPRESSIONS:
            raise ConfigError(f"compression {compression!r}: one of {COMPRESSIONS}")
        if max_lag is not None and max_lag < 1:
            raise ConfigError(f"max_lag {max_lag}: give a positive number of messages, or None")
        if not 1 <= replicas <= 5:
            raise ConfigError(
                f"replicas {replicas}: give 1 to 5 (the servers keeping each message)"
            )
        if not _NAME.fullmatch(lag_group):
            raise ConfigError(f"lag group {lag_group!r}: letters, digits, '_' and '-' only")
        self.url = url
        self.stream = stream
        self.partitions = partitions
        self.subject_prefix = subject_prefix or (
            SUBJECT_PREFIX if stream == DEFAULT_STREAM else f"mista.{stream}.reports"
        )
        self.max_rows = max_rows
        self.compression = compression
        self.retry_for_s = retry_for_s
        self.max_lag = max_lag
        self.lag_group = lag_group
        self.request_timeout_s = request_timeout_s
        self._duplicate_window_s = duplicate_window_s
        self._max_age_s = max_age_s
        self._replicas = replicas
        self._existing_only = existing_only
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Fetched, not yet acknowledged: kept alive (in progress) while they wait or are
        # being written, so ack_wait measures a dead consumer, not a slow transaction.
        self._held: dict[int, Msg] = {}
        self._loop = LoopThread("mista-bus")
        try:
            self._nc = self._loop.run(
                asyncio.wait_for(self._connect(servers, client_name), connect_timeout_s)
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            self._loop.stop()
            raise BusError(
                f"bus {url}: cannot connect within {connect_timeout_s:.0f} s "
                f"({type(exc).__name__}: {exc}); is nats-server -js running there?"
            ) from None
        self._js: JetStreamContext = self._nc.jetstream(timeout=request_timeout_s)
        try:
            self._loop.run(self._ensure_stream())
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ connection

    async def _connect(self, servers: list[str], name: str) -> Client:
        async def disconnected() -> None:
            if self._stop.is_set():
                return
            _log.warning("bus %s: disconnected, reconnecting", self.url)

        async def reconnected() -> None:
            _log.info("bus %s: reconnected", self.url)

        async def error(exc: Exception) -> None:
            _log.debug("bus %s: %s: %s", self.url, type(exc).__name__, exc)

        return await nats.connect(
            servers=servers,
            name=name,
            allow_reconnect=True,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=2,
            disconnected_cb=disconnected,
            reconnected_cb=reconnected,
            error_cb=error,
        )

    async def _ensure_stream(self) -> None:
        subjects = [f"{self.subject_prefix}.*"]
        config = StreamConfig(
            name=self.stream,
            description=_DESCRIPTION.format(partitions=self.partitions),
            subjects=subjects,
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            duplicate_window=self._duplicate_window_s,
            max_age=self._max_age_s,
            num_replicas=self._replicas,
        )
        try:
            try:
                info = await self._js.stream_info(self.stream)
            except nats.js.errors.NotFoundError:
                if self._existing_only:
                    raise ConfigError(
                        f"bus {self.url}: there is no stream {self.stream} (name the stream "
                        "the publishers use: ?stream=NAME)"
                    ) from None
                # Creating an identical stream again is no error, so racing processes agree.
                info = await self._js.add_stream(config)
        except nats.js.errors.BadRequestError as exc:
            raise ConfigError(
                f"bus {self.url}: cannot create stream {self.stream} ({exc.description}); "
                "another stream may already take its subjects: name another stream"
            ) from None
        except nats.js.errors.APIError as exc:
            raise BusError(f"bus {self.url}: JetStream is not available ({exc})") from None
        found = _PARTITIONS_IN.fullmatch(info.config.description or "")
        if info.config.subjects != subjects or found is None:
            raise ConfigError(
                f"bus {self.url}: stream {self.stream} exists but is not a mista stream "
                f"(subjects {info.config.subjects}); name another stream"
            )
        if self._existing_only:
            self.partitions = int(found.group(1))
        elif int(found.group(1)) != self.partitions:
            raise ConfigError(
                f"bus {self.url}: stream {self.stream} has {found.group(1)} partitions, "
                f"this process was given {self.partitions}; use the same number everywhere"
            )

    def subject(self, partition: int) -> str:
        """The subject of one partition."""
        return f"{self.subject_prefix}.{partition}"

    def stream_messages(self) -> int:
        """How many messages the stream holds now."""

        async def count() -> int:
            info = await self._js.stream_info(self.stream)
            return int(info.state.messages)

        return self._loop.run(count())

    def pending(self, group: str) -> dict[int, int | None]:
        """Per partition, messages consumer group ``group`` has not acknowledged yet
        (None where it has no consumer yet: it has read nothing)."""

        async def count() -> dict[int, int | None]:
            out: dict[int, int | None] = {}
            for partition in range(self.partitions):
                try:
                    info = await self._js.consumer_info(self.stream, f"{group}-{partition}")
                except nats.js.errors.NotFoundError:
                    out[partition] = None
                    continue
                out[partition] = int(info.num_pending or 0) + int(info.num_ack_pending or 0)
            return out

        return self._loop.run(count())

    def drained(self, group: str) -> bool:
        """Whether consumer group ``group`` has acknowledged every message on every
        partition (False while a partition has no consumer of the group yet)."""
        return all(count == 0 for count in self.pending(group).values())

    def lag(self, group: str) -> int | None:
        """Messages consumer group ``group`` has not acknowledged yet, all partitions that
        have a consumer together (None when none has: the group has read nothing)."""
        found = [count for count in self.pending(group).values() if count is not None]
        return sum(found) if found else None

    def _wait_for_room(self) -> None:
        """Back-pressure: wait while the store writers are more than ``max_lag`` messages
        behind, for up to ``retry_for_s`` (then ``BusError``). A server that cannot be
        asked is left to the publish's own retries."""
        if self.max_lag is None:
            return
        started = time.monotonic()
        said = False
        attempt = 0
        while not self._stop.is_set():
            try:
                behind = self.lag(self.lag_group)
            except (nats.errors.Error, TimeoutError, OSError):
                return
            if behind is None or behind <= self.max_lag:
                break
            waited_s = time.monotonic() - started
            # Short waits are the normal pace of a source faster than its writers: say
            # only when the writers seem stuck.
            if not said and waited_s >= 1.0:
                said = True
                _log.warning(
                    "bus %s: consumer group %r is %d messages behind (max_lag %d): "
                    "publishing paused until it catches up",
                    self.url,
                    self.lag_group,
                    behind,
                    self.max_lag,
                )
            if waited_s >= self.retry_for_s:
                raise BusError(
                    f"bus {self.url}: consumer group {self.lag_group!r} is still {behind} "
                    f"messages behind after {waited_s:.0f} s (max_lag {self.max_lag}); "
                    "are its writers running (mista bus write)?"
                )
            self._stop.wait(_backoff(attempt, cap_s=1.0))
            attempt += 1
        if said:
            _log.warning(
                "bus %s: consumer group %r caught up after %.1f s; publishing again",
                self.url,
                self.lag_group,
                time.monotonic() - started,
            )

    def deliveries(self, group: str) -> int:
        """How many times consumer group ``group`` was handed a message, redeliveries
        included (all partitions): beyond the stream's message count, work done twice."""

        async def count() -> int:
            total = 0
            for partition in range(self.partitions):
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    info = await self._js.consumer_info(self.stream, f"{group}-{partition}")
                    total += int(info.delivered.consumer_seq or 0)
            return total

        return self._loop.run(count())

    def stream_batches(self, *, fetch_messages: int = 64) -> Iterator[IngestBatch | None]:
        """Every message the stream holds now, oldest first, decoded (None for one that
        is not a mista batch). Reads through an ephemeral consumer that acknowledges
        nothing, so no consumer group's position moves; ends at the last message stored
        when it started."""
        stream, subject = self.stream, f"{self.subject_prefix}.*"

        async def open_reader() -> tuple[JetStreamContext.PullSubscription, int]:
            info = await self._js.stream_info(stream)
            config = ConsumerConfig(
                ack_policy=AckPolicy.NONE,
                deliver_policy=DeliverPolicy.ALL,
                inactive_threshold=60.0,
                filter_subject=subject,
            )
            sub = await self._js.pull_subscribe(subject, stream=stream, config=config)
            return sub, int(info.state.last_seq or 0)

        async def fetch(sub: JetStreamContext.PullSubscription) -> list[Msg] | None:
            """The next messages; None once nothing is left to read."""
            while True:
                try:
                    return await sub.fetch(fetch_messages, timeout=1.0)
                except TimeoutError:
                    info = await sub.consumer_info()
                    if not info.num_pending:
                        return None

        sub, last_seq = self._loop.run(open_reader())
        try:
            while last_seq:
                msgs = self._loop.run(fetch(sub))
                if msgs is None:
                    return
                for msg in msgs:
                    if msg.metadata.sequence.stream > last_seq:
                        return
                    try:
                        yield decode_slice(msg.data)
                    except InputError as exc:
                        _log.error("bus %s: %s: %s (not a mista batch)", self.url, msg.subject, exc)
                        yield None
                    if msg.metadata.sequence.stream == last_seq:
                        return
        finally:
            with contextlib.suppress(nats.errors.Error, TimeoutError):
                self._loop.run(sub.unsubscribe())

    # ------------------------------------------------------------------ publishing

    def publish_batch(self, batch: IngestBatch) -> PublishResult:
        """Publish ``batch``; returns once the stream has stored every message of it.

        Waits first while the store writers are more than ``max_lag`` messages behind
        (back-pressure). Retries (same message ids, so nothing is stored twice) for up to
        ``retry_for_s`` while the server is unreachable, then raises ``BusError``."""
        if self._stop.is_set():
            raise BusError("publish on a closed bus")
        self._wait_for_room()
        max_bytes = int(self._nc.max_payload) - 1024  # room for headers
        parts = slices(
            batch,
            self.partitions,
            max_rows=self.max_rows,
            max_bytes=max_bytes,
            compression=self.compression,
        )
        if not parts:
            return PublishResult(0, 0, 0, 0)
        duplicated = self._loop.run(self._publish_all(parts))
        return PublishResult(
            messages=len(parts),
            duplicates=sum(duplicated),
            rows=sum(part.rows for part in parts),
            duplicate_rows=sum(
                part.rows for part, dup in zip(parts, duplicated, strict=True) if dup
            ),
        )

    async def _publish_all(self, parts: list[Slice]) -> list[bool]:
        gate = asyncio.Semaphore(MAX_IN_FLIGHT)

        async def one(part: Slice) -> bool:
            async with gate:
                return await self._publish_one(part)

        try:
            async with asyncio.TaskGroup() as group:
                tasks = [group.create_task(one(part)) for part in parts]
        except* BusError as errors:
            raise errors.exceptions[0] from None
        return [task.result() for task in tasks]

    async def _publish_one(self, part: Slice) -> bool:
        """Publish one message until the stream acknowledges it; True if a duplicate."""
        deadline = time.monotonic() + self.retry_for_s
        attempt = 0
        while True:
            try:
                ack = await self._js.publish(
                    self.subject(part.partition),
                    part.payload,
                    timeout=self.request_timeout_s,
                    stream=self.stream,
                    headers={"Nats-Msg-Id": part.msg_id},
                )
                if attempt:
                    _log.info("bus %s: published after %d retries", self.url, attempt)
                return bool(ack.duplicate)
            except (nats.errors.Error, TimeoutError, OSError) as exc:
                if _is_permanent(exc):
                    raise BusError(f"bus {self.url}: stream {self.stream} refused: {exc}") from None
                if time.monotonic() >= deadline:
                    raise BusError(
                        f"bus {self.url}: no acknowledgement from stream {self.stream} for "
                        f"{self.retry_for_s:.0f} s ({type(exc).__name__}: {exc})"
                    ) from None
                if attempt == 0:
                    _log.warning("bus %s: publish failed (%s), retrying", self.url, exc)
                await asyncio.sleep(_backoff(attempt))
                attempt += 1

    # ------------------------------------------------------------------ consuming

    def consume(
        self,
        partitions: Iterable[int],
        handler: Handler,
        *,
        stop: threading.Event,
        group: str = "store",
        fetch_messages: int = 16,
        ack_wait_s: float = 10.0,
        max_merge_rows: int = 250_000,
        linger_s: float = 0.5,
        idle: Callable[[], object] | None = None,
        idle_s: float = 1.0,
        in_order: bool = False,
    ) -> ConsumeStats:
        """Call ``handler`` with the batches published on ``partitions`` until ``stop``.

        Durable consumers ``<group>-<p>`` (created if absent) remember what was
        acknowledged. Messages are acknowledged after ``handler`` returns; the messages
        gathered of one source and label set are merged into one batch (up to about
        ``max_merge_rows`` rows, gathered for at most ``linger_s`` after the first) so a
        store commits fewer, larger transactions. When
        ``handler`` raises a ``MistaError`` (e.g. the store is away) the messages are
        handed back for redelivery and consuming goes on after a pause; any other
        exception is handed back the same way and then raised. A message that is not a
        mista batch is logged and terminated (never redelivered). ``idle``, when given, is
        called whenever nothing has come for ``idle_s`` (a ``MistaError`` it raises is
        logged, consuming goes on).

        With ``in_order`` the partitions' messages reach ``handler`` in the stream's order
        (``mista.bus.stream_order``), only neighbours merged, and ``idle`` is called only
        once every partition has nothing more to deliver. A handler that raises then ends
        consuming (its messages, and all held, handed back at once) and the exception goes
        to the caller, who calls ``rewind_unacknowledged`` before consuming again: left to
        the server, what was handed back would come after newer messages.
        """
        wanted = sorted(set(partitions))
        if not wanted or not all(0 <= p < self.partitions for p in wanted):
            raise ConfigError(f"partitions {wanted}: give numbers from 0 to {self.partitions - 1}")
        if not _NAME.fullmatch(group):
            raise ConfigError(f"consumer group {group!r}: letters, digits, '_' and '-' only")
        inbox: queue.Queue[tuple[int, list[Msg]]] = queue.Queue()
        stopping = asyncio.Event()
        credits = {p: asyncio.Semaphore(2) for p in wanted}
        order = StreamOrder(wanted, _stream_seq, _pending_after) if in_order else None
        pulls = self._loop.run(
            self._start_pulls(
                wanted, group, ack_wait_s, fetch_messages, inbox, stopping, credits, in_order
            )
        )
        stats = ConsumeStats()
        quiet_since = time.monotonic()
        try:
            while not (stop.is_set() or self._stop.is_set()):
                try:
                    items = [inbox.get(timeout=0.2)]
                except queue.Empty:
                    if (
                        idle is not None
                        and time.monotonic() - quiet_since >= idle_s
                        and (order is None or order.caught_up)
                    ):
                        try:
                            idle()
                        except MistaError as exc:
                            _log.error("bus %s: %s (tried again when idle)", self.url, exc)
                        quiet_since = time.monotonic()
                    continue
                # Gather for up to linger_s: a store commits one large batch much faster
                # than many small ones (the per-transaction cost dominates small ones).
                rows = sum(len(msgs) for _, msgs in items) * self.max_rows
                deadline = time.monotonic() + linger_s
                while rows < max_merge_rows:
                    wait_s = deadline - time.monotonic()
                    try:
                        items.append(
                            inbox.get(timeout=wait_s) if wait_s > 0 else inbox.get_nowait()
                        )
                    except queue.Empty:
                        break
                    rows += len(items[-1][1]) * self.max_rows
                if order is not None:
                    self._handle_in_order(order, items, handler, stats, stop, credits)
                    if any(msgs for _, msgs in items):  # not only "nothing more" markers
                        quiet_since = time.monotonic()
                    continue
                try:
                    self._handle(items, handler, stats, stop)
                finally:
                    quiet_since = time.monotonic()
                    for partition, _ in items:
                        self._loop.call_soon(credits[partition].release)
        finally:
            leftover: list[Msg] = [] if order is None else order.held()
            while not inbox.empty():
                leftover += inbox.get_nowait()[1]
            self._loop.run(self._stop_pulls(pulls, stopping, leftover))
        return stats

    def _handle_in_order(
        self,
        order: StreamOrder[Msg],
        items: list[tuple[int, list[Msg]]],
        handler: Handler,
        stats: ConsumeStats,
        stop: threading.Event,
        credits: dict[int, asyncio.Semaphore],
    ) -> None:
        """Hold ``items`` in ``order`` and handle what it lets go; a partition's credit
        comes back for each of its fetches used up."""
        for partition, msgs in items:
            order.add(partition, msgs)
        runs, used = order.release()
        try:
            if runs:
                self._handle(runs, handler, stats, stop, in_order=True)
        finally:
            for partition, count in used.items():
                for _ in range(count):
                    self._loop.call_soon(credits[partition].release)

    def rewind_unacknowledged(self, partitions: Iterable[int], group: str = "store") -> int:
        """Deliver again, in stream order, what consumers ``<group>-<p>`` handed out and
        nobody acknowledged (a worker that died mid-batch): each such consumer is made
        again to start after its acknowledgement floor. Returns how many messages were
        pending. Call it only while no other process consumes these partitions (the
        server would otherwise deliver them after ``ack_wait`` to whoever pulls next, after
        newer ones, and a partition's order would change)."""
        return int(self._loop.run(self._rewind(sorted(set(partitions)), group)))

    async def _rewind(self, partitions: list[int], group: str) -> int:
        pending = 0
        for partition in partitions:
            name = f"{group}-{partition}"
            try:
                info = await self._js.consumer_info(self.stream, name)
            except nats.js.errors.NotFoundError:
                continue
            if not info.num_ack_pending:
                continue
            floor = (info.ack_floor.stream_seq if info.ack_floor else None) or 0
            config = info.config
            config.deliver_policy = DeliverPolicy.BY_START_SEQUENCE if floor else DeliverPolicy.ALL
            config.opt_start_seq = floor + 1 if floor else None
            await self._js.delete_consumer(self.stream, name)
            await self._js.add_consumer(self.stream, config=config)
            pending += info.num_ack_pending
            _log.warning(
                "bus %s: partition %d: %d messages were handed out and not acknowledged; "
                "delivering again in order after stream message %d",
                self.url,
                partition,
                info.num_ack_pending,
                floor,
            )
        return pending

    async def _start_pulls(
        self,
        partitions: list[int],
        group: str,
        ack_wait_s: float,
        fetch_messages: int,
        inbox: queue.Queue[tuple[int, list[Msg]]],
        stopping: asyncio.Event,
        credits: dict[int, asyncio.Semaphore],
        markers: bool = False,
    ) -> list[asyncio.Task[None]]:
        tasks = []
        in_flight = asyncio.Semaphore(MAX_FETCHES_IN_FLIGHT)
        for partition in partitions:
            subject = self.subject(partition)
            config = ConsumerConfig(
                durable_name=f"{group}-{partition}",
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=ack_wait_s,
                max_deliver=-1,
                filter_subject=subject,
            )
            sub = await self._js.pull_subscribe(
                subject, durable=f"{group}-{partition}", stream=self.stream, config=config
            )
            tasks.append(
                asyncio.create_task(
                    self._pull(
                        sub,
                        partition,
                        fetch_messages,
                        inbox,
                        stopping,
                        credits[partition],
                        in_flight,
                        markers,
                    )
                )
            )
        tasks.append(asyncio.create_task(self._keep_alive(max(0.3, ack_wait_s / 3))))
        return tasks

    async def _keep_alive(self, every_s: float) -> None:
        """Tell the server every ``every_s`` that held messages are still in progress."""
        while True:
            await asyncio.sleep(every_s)
            for msg in list(self._held.values()):
                with contextlib.suppress(nats.errors.Error):
                    await msg.in_progress()

    async def _pull(
        self,
        sub: JetStreamContext.PullSubscription,
        partition: int,
        fetch_messages: int,
        inbox: queue.Queue[tuple[int, list[Msg]]],
        stopping: asyncio.Event,
        credit: asyncio.Semaphore,
        in_flight: asyncio.Semaphore,
        markers: bool,
    ) -> None:
        """Fetch messages of one partition into ``inbox``, at most two fetches ahead and
        ``MAX_FETCHES_IN_FLIGHT`` fetches of all partitions at a time. With ``markers``, an
        empty list goes into ``inbox`` when the partition has nothing more to deliver
        (``StreamOrder``'s word for it).

        A fetch that ends before the server has sent all it was asked for (a busy
        machine, 0.7 MB messages) leaves the late ones in the subscription, delivered
        but unseen; they are taken out while this partition waits for credit, and held
        (kept alive) until they go into the inbox with the next fetch. Left there, they
        were delivered again after ack_wait whenever the writer took longer than that to
        get through the partition's two fetches (PostgreSQL transactions of seconds)."""
        late: list[Msg] = []
        try:
            await self._pull_loop(
                sub, partition, fetch_messages, inbox, stopping, credit, in_flight, late, markers
            )
        finally:
            if late:  # taken out, not yet in the inbox: give them back at once
                await self._settle([], late, delay_s=None)

    async def _pull_loop(
        self,
        sub: JetStreamContext.PullSubscription,
        partition: int,
        fetch_messages: int,
        inbox: queue.Queue[tuple[int, list[Msg]]],
        stopping: asyncio.Event,
        credit: asyncio.Semaphore,
        in_flight: asyncio.Semaphore,
        late: list[Msg],
        markers: bool,
    ) -> None:
        attempt = 0
        last_seq = 0  # the stream sequence of the last message put into the inbox
        said_empty = False  # the last thing put in said there was nothing more
        while not stopping.is_set():
            while True:
                try:
                    await asyncio.wait_for(credit.acquire(), timeout=LATE_CHECK_S)
                    break
                except TimeoutError:
                    late += await self._take_late(sub)
            try:
                async with in_flight:
                    msgs = [*late, *await sub.fetch(fetch_messages, timeout=FETCH_WAIT_S)]
            except TimeoutError:
                msgs = list(late)
            except (nats.errors.Error, OSError) as exc:
                credit.release()
                if attempt == 0:
                    _log.warning("bus %s: partition %d: %s (retrying)", self.url, partition, exc)
                await asyncio.sleep(_backoff(attempt))
                attempt += 1
                continue
            late.clear()
            attempt = 0
            if not msgs:
                credit.release()
                if markers and not said_empty and await self._nothing_more(sub, last_seq):
                    inbox.put((partition, []))
                    said_empty = True
                continue
            for msg in msgs:
                self._held[id(msg)] = msg
            inbox.put((partition, msgs))
            if markers:
                last_seq = _stream_seq(msgs[-1])
                said_empty = _pending_after(msgs[-1]) == 0

    async def _nothing_more(self, sub: JetStreamContext.PullSubscription, last_seq: int) -> bool:
        """Whether the server has nothing more for this consumer: nothing pending, and
        nothing delivered after the message of stream sequence ``last_seq`` (none in
        transit, none delivered after its fetch ended)."""
        if sub.pending_msgs:
            return False
        try:
            info = await sub.consumer_info()
        except (TimeoutError, nats.errors.Error, OSError):
            return False
        if info.num_pending:
            return False
        delivered = info.delivered.stream_seq if info.delivered else 0
        return not info.num_ack_pending or delivered <= last_seq

    async def _take_late(self, sub: JetStreamContext.PullSubscription) -> list[Msg]:
        """Messages delivered after their fetch ended, now held (kept alive)."""
        if not sub.pending_msgs:
            return []
        try:
            # A fetch first drains what the subscription holds; it asks the server for
            # nothing more than one message beyond it.
            msgs = await sub.fetch(sub.pending_msgs, timeout=FETCH_WAIT_S)
        except (TimeoutError, nats.errors.Error, OSError):
            return []
        for msg in msgs:
            self._held[id(msg)] = msg
        return msgs

    async def _stop_pulls(
        self, tasks: list[asyncio.Task[None]], stopping: asyncio.Event, leftover: list[Msg]
    ) -> None:
        stopping.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # Fetched but not handled: give them back at once instead of after ack_wait.
        await self._settle([], leftover, delay_s=None)

    async def _settle(self, acks: list[Msg], naks: list[Msg], delay_s: float | None) -> None:
        """Acknowledge ``acks`` and wait until the server confirms them (so a consumer's
        pending count is right once this returns); hand ``naks`` back for redelivery."""
        try:
            for msg in naks:
                await msg.nak(delay=delay_s)
            await asyncio.gather(*(msg.ack_sync(timeout=self.request_timeout_s) for msg in acks))
        except (nats.errors.Error, TimeoutError) as exc:
            # Unacknowledged messages are redelivered after ack_wait: nothing is lost.
            _log.warning("bus %s: acknowledging failed (%s); they will come again", self.url, exc)
        finally:
            for msg in (*acks, *naks):
                self._held.pop(id(msg), None)

    def _handle(
        self,
        items: list[tuple[int, list[Msg]]],
        handler: Handler,
        stats: ConsumeStats,
        stop: threading.Event,
        *,
        in_order: bool = False,
    ) -> None:
        readable: list[tuple[Msg, IngestBatch]] = []
        unreadable: list[Msg] = []
        for partition, msgs in items:
            stats.by_partition[partition] = stats.by_partition.get(partition, 0) + len(msgs)
            for msg in msgs:
                try:
                    readable.append((msg, decode_slice(msg.data)))
                except InputError as exc:
                    _log.error("bus %s: %s: %s (dropped)", self.url, msg.subject, exc)
                    unreadable.append(msg)
        if unreadable:
            stats.unreadable += len(unreadable)
            self._loop.run(self._terminate(unreadable))
        groups = _neighbours(readable) if in_order else _by_source(readable)
        for index, group in enumerate(groups):
            merged = _merge([batch for _, batch in group])
            try:
                handler(merged)
            except Exception as exc:
                stats.failures += 1
                if not stats.failing:
                    stats.failing_since = time.monotonic()
                stats.failing += 1
                pending = [msg for rest in groups[index:] for msg, _ in rest]
                delay_s = _backoff(min(stats.failing, 6), cap_s=10.0)
                self._loop.run(self._settle([], pending, delay_s=None if in_order else delay_s))
                if in_order or not isinstance(exc, MistaError):
                    raise
                _log.error(
                    "bus %s: writing failed (%s); %d messages handed back, attempt %d, "
                    "next in %.1f s",
                    self.url,
                    exc,
                    len(pending),
                    stats.failing,
                    delay_s,
                )
                stop.wait(delay_s)
                return
            if stats.failing:
                _log.warning(
                    "bus %s: writing resumed after %d failed attempts over %.1f s",
                    self.url,
                    stats.failing,
                    time.monotonic() - stats.failing_since,
                )
                stats.failing = 0
            self._loop.run(self._settle([msg for msg, _ in group], [], delay_s=None))
            stats.messages += len(group)
            stats.rows += merged.message_count
            stats.batches += 1

    async def _terminate(self, msgs: list[Msg]) -> None:
        for msg in msgs:
            self._held.pop(id(msg), None)
        try:
            for msg in msgs:
                await msg.term()
        except nats.errors.Error as exc:
            _log.warning("bus %s: terminating failed (%s)", self.url, exc)

    # ------------------------------------------------------------------ Bus protocol

    def publish(self, topic: str, message: IngestBatch) -> None:
        """``Bus.publish``: ``publish_batch``; returns once the stream has stored it."""
        self._check_topic(topic)
        self.publish_batch(message)

    def subscribe(self, topic: str, handler: Callable[[IngestBatch], None]) -> None:
        """``Bus.subscribe``: consume every partition in a background thread (consumer
        group ``ingest``) until ``close``."""
        self._check_topic(topic)
        thread = threading.Thread(
            target=self.consume,
            args=(range(self.partitions), handler),
            kwargs={"stop": self._stop, "group": "ingest"},
            name="mista-bus-subscriber",
            daemon=True,
        )
        thread.start()
        self._threads.append(thread)

    @staticmethod
    def _check_topic(topic: str) -> None:
        if topic != INGEST_TOPIC:
            raise ValueError(f"JetStreamBus carries {INGEST_TOPIC!r} only, not {topic!r}")

    def close(self) -> None:
        """Stop subscribers, flush and close the connection, stop the loop. Idempotent."""
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        if not self._loop.loop.is_closed():

            async def shut() -> None:
                if not self._nc.is_closed:
                    await self._nc.close()

            with contextlib.suppress(nats.errors.Error, TimeoutError, OSError):
                self._loop.run(shut(), timeout_s=10)
            self._loop.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"JetStreamBus({self.url!r}, stream={self.stream!r}, partitions={self.partitions})"
