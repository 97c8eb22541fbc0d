"""``PostgresStore``: the store on PostgreSQL 15 + PostGIS 3, for nodes that outgrow one file.

Opened with a ``postgresql://`` URL (``mista.node.open_store`` picks it for one). It keeps
the embedded store's behaviour, table for table (``postgres_schema``): the same content
ids and idempotent batch writes (``postgres_write``, bulk COPY), the same latest state, and
the same visibility rule in SQL, so queries (``postgres_read``) return the same Arrow
tables as ``DuckDBStore`` on the same input. Several processes may share one database:
connections come from a pool, writers serialise on an advisory lock per batch.

It holds the fused picture too (``postgres_fusion``: tracks, alerts, the fusion cursor, a
fusion step in one transaction), watch lists and webhook deliveries (``postgres_watch``)
and the API's extra reads (``postgres_api``), and the partner exchange's tables are in
the same database (``postgres_exchange``: share cursors, outbox, inbound batches), so a
whole node runs on it (``mista serve``, or one role per process).

With ``replica=URL`` (a streaming replica of the same database) the users' reads of
latest state, tracks, boxes, alerts and the feed's ends go there, so analysts' queries
scale with replicas; they see the picture as the replica has replayed it (normally under
a second behind). Writes, the workers' feeds and what users write (watch lists, tokens)
stay on the primary.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import datetime
from types import TracebackType
from typing import Any, Self

import psycopg
import pyarrow as pa
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool, PoolTimeout

from mista.errors import InputError, StoreError
from mista.ingest.batch import IngestBatch
from mista.labels import Label
from mista.model import Alert, Track, User
from mista.partitions import VesselPartitions

from . import BBox, WriteResult
from ._users import user_from_row
from .postgres_api import ApiReads
from .postgres_exchange import PostgresExchangeTables
from .postgres_fusion import FUSION_STAGING, FusionTables
from .postgres_read import Reader
from .postgres_schema import MIGRATIONS
from .postgres_watch import WatchTables
from .postgres_write import WRITER_SETUP, BatchWriter

_log = logging.getLogger(__name__)

__all__ = ["MIGRATE_LOCK", "PostgresStore", "is_postgres_url", "redacted"]

#: The advisory lock held while migrating (two nodes starting at once migrate once).
MIGRATE_LOCK = 0x6D69_7374_616D_6967
#: The tables ``counts`` counts (the embedded store's keys).
_COUNTED = (
    "reports",
    "receptions",
    "vessel_latest",
    "vessels",
    "quarantine",
    "labels",
    "sources",
    "tracks",
    "track_points",
    "alerts",
    "alert_changes",
)
_CONNECT_TIMEOUT_S = 10.0


def is_postgres_url(text: str) -> bool:
    """Whether ``text`` names a PostgreSQL store (``postgresql://`` or ``postgres://``)."""
    return text.startswith(("postgresql://", "postgres://"))


def redacted(url: str) -> str:
    """The URL's host, port and database, never its password (for messages)."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable URL)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{host}:{port}/{parts.get('dbname') or ''}"


def _open_pool(
    url: str,
    size: int,
    configure: Callable[[psycopg.Connection[Any]], None],
    name: str,
) -> ConnectionPool[psycopg.Connection[Any]]:
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        url,
        min_size=1,
        max_size=max(1, size),
        open=False,
        configure=configure,
        kwargs={"connect_timeout": int(_CONNECT_TIMEOUT_S)},
        name=name,
    )
    try:
        pool.open(wait=True, timeout=_CONNECT_TIMEOUT_S)
    except PoolTimeout:
        pool.close()
        raise StoreError(
            f"cannot connect to the store at {redacted(url)} within {_CONNECT_TIMEOUT_S:.0f} s "
            "(is PostgreSQL running there, and do the URL's user and password hold?)"
        ) from None
    return pool


class PostgresStore:
    """The store on a PostgreSQL database (schema migrated on open unless read-only)."""

    def __init__(
        self,
        url: str,
        *,
        read_only: bool = False,
        pool_size: int = 4,
        replica: str | None = None,
    ) -> None:
        if not is_postgres_url(url):
            raise InputError(f"{url!r} is not a postgresql:// URL")
        if replica is not None and not is_postgres_url(replica):
            raise InputError(f"replica {replica!r} is not a postgresql:// URL")
        self.url = url
        self.where = redacted(url)
        self._read_only = read_only

        def configure(con: psycopg.Connection[Any]) -> None:
            con.execute("SET TimeZone = 'UTC'")
            if read_only:
                con.execute("SET default_transaction_read_only = on")
            else:
                # Room to sort and hash a batch of tens of thousands of rows in memory.
                con.execute("SET work_mem = '64MB'")
                for statement in (*WRITER_SETUP, *FUSION_STAGING):
                    con.execute(statement)
            con.commit()

        self._probe(url)
        self._pool = _open_pool(url, pool_size, configure, "mista-store")
        # The users' heavy reads (latest state, tracks, boxes, alerts) may go to a streaming
        # replica; writes, workers' feeds and everything a user just wrote stay here.
        self._replica_pool = self._pool
        if replica is not None:

            def configure_replica(con: psycopg.Connection[Any]) -> None:
                con.execute("SET TimeZone = 'UTC'")
                con.execute("SET default_transaction_read_only = on")
                con.commit()

            try:
                self._probe(replica)
                self._replica_pool = _open_pool(
                    replica, pool_size, configure_replica, "mista-replica"
                )
            except BaseException:
                self._pool.close()
                raise
        self._reader = Reader(self.where)
        self._writer = BatchWriter()
        self._fusion = FusionTables(self.where)
        self._watch = WatchTables(self.where)
        self._api = ApiReads(self.where)
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    # -- lifecycle -----------------------------------------------------------------------

    @staticmethod
    def _probe(url: str) -> None:
        """Connect once, to fail at once with the server's reason (the pool would retry
        until its timeout and say only that it timed out)."""
        try:
            psycopg.connect(url, connect_timeout=int(_CONNECT_TIMEOUT_S)).close()
        except psycopg.Error as exc:
            reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
            raise StoreError(
                f"cannot connect to the store at {redacted(url)}: {reason} (is PostgreSQL "
                "running there, and do the URL's user, password and database hold?)"
            ) from None

    @contextmanager
    def _replica_connection(self) -> Iterator[psycopg.Connection[Any]]:
        """A connection for a user's read: the replica's when there is one."""
        if self._replica_pool is self._pool:
            with self._connection() as con:
                yield con
            return
        try:
            with self._replica_pool.connection() as con:
                yield con
        except PoolTimeout:
            raise StoreError(
                f"store {self.where}: no replica connection within "
                f"{self._replica_pool.timeout:g} s (is the replica up?)"
            ) from None
        except psycopg.OperationalError as exc:
            raise StoreError(f"store {self.where}: replica connection failed: {exc}") from None

    @contextmanager
    def _connection(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            with self._pool.connection() as con:
                yield con
        except PoolTimeout:
            raise StoreError(
                f"store {self.where}: no database connection within {self._pool.timeout:g} s "
                "(is PostgreSQL up, or is every pooled connection busy?)"
            ) from None
        except psycopg.OperationalError as exc:
            raise StoreError(f"store {self.where}: connection failed: {exc}") from None

    def _rows(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._connection() as con, con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise StoreError(f"store {self.where}: {exc}") from None

    def _change(self, sql: str, params: Sequence[Any] | dict[str, Any] = ()) -> int:
        """Run one statement in its own transaction; the rows it changed."""
        self._writable()
        try:
            with self._connection() as con, con.transaction(), con.cursor() as cur:
                cur.execute(sql, params)
                return cur.rowcount
        except psycopg.Error as exc:
            raise StoreError(f"store {self.where}: {exc}") from None

    def _writable(self, what: str = "write") -> None:
        if self._read_only:
            raise StoreError(f"store {self.where} is open read-only: cannot {what}")

    def schema_version(self) -> int:
        """The newest migration applied (0 for an empty database)."""
        rows = self._rows("SELECT to_regclass('schema_migrations') IS NOT NULL")
        if not rows or not rows[0][0]:
            return 0
        rows = self._rows("SELECT coalesce(max(version), 0) FROM schema_migrations")
        return int(rows[0][0])

    def _migrate(self) -> None:
        latest = MIGRATIONS[-1][0]
        current = self.schema_version()
        if current > latest:
            raise StoreError(
                f"store {self.where} has schema version {current}, newer than this mista "
                f"knows ({latest}): upgrade mista to use it"
            )
        if current == latest:
            return
        if self._read_only:
            raise StoreError(
                f"store {self.where} has schema version {current}, older than {latest}: "
                "migrate it first (mista store migrate --store URL)"
            )
        try:
            with self._connection() as con, con.transaction(), con.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATE_LOCK,))
                cur.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, "
                    "name text NOT NULL, applied_at timestamptz NOT NULL)"
                )
                cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
                row = cur.fetchone()
                applied = int(row[0]) if row else 0
                for version, name, statements in MIGRATIONS:
                    if version <= applied:
                        continue  # another process migrated while we waited
                    # Some rebuild indexes over every partition: say what takes the time.
                    _log.info("store %s: schema migration %d: %s", self.where, version, name)
                    for statement in statements:
                        cur.execute(statement)
                    cur.execute(
                        "INSERT INTO schema_migrations VALUES (%s, %s, now())", (version, name)
                    )
        except psycopg.Error as exc:
            raise StoreError(f"store {self.where}: migrating the schema failed: {exc}") from None

    def reading(self) -> AbstractContextManager[None]:
        """Reads may always run beside other threads' reads and writes here: each call
        takes its own pooled connection and sees the store as last committed."""
        return nullcontext()

    def close(self) -> None:
        if self._replica_pool is not self._pool:
            self._replica_pool.close()
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- writing -------------------------------------------------------------------------

    def write(self, batch: IngestBatch) -> WriteResult:
        """Store one batch in one transaction (committed before returning), idempotently."""
        self._writable("write batches")
        try:
            with self._connection() as con:
                return self._writer.write(con, batch)
        except psycopg.Error as exc:
            raise StoreError(f"store {self.where}: writing a batch failed: {exc}") from None

    # -- reading -------------------------------------------------------------------------

    def vessels(self, *, viewer: User) -> pa.Table:
        """Per vessel, the newest position and identity among the labels ``viewer`` may see."""
        with self._replica_connection() as con:
            return self._reader.vessels(con, viewer)

    def track(
        self,
        mmsi: int,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
    ) -> pa.Table:
        """One vessel's positions ``viewer`` may see, in time order."""
        with self._replica_connection() as con:
            return self._reader.track(con, mmsi, since, until, viewer)

    def positions(
        self,
        bbox: BBox,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
    ) -> pa.Table:
        """Every position inside ``bbox`` that ``viewer`` may see, in time order."""
        with self._replica_connection() as con:
            return self._reader.positions(con, bbox, since, until, viewer)

    def rejected(self, limit: int | None = None, *, viewer: User) -> pa.Table:
        """The quarantine rows whose source's label ``viewer`` may see."""
        with self._connection() as con:
            return self._reader.rejected(con, limit, viewer)

    def report_feed(
        self, after_seq: int, limit: int, *, partitions: VesselPartitions | None = None
    ) -> pa.Table:
        """Reports after ``after_seq`` in seq order, at most ``limit``, EVERY label (for
        workers, never for a user); with ``partitions``, of the vessels hashing into them
        only."""
        with self._connection() as con:
            return self._reader.report_feed(con, after_seq, limit, partitions)

    def labels(self) -> dict[int, Label]:
        """Every stored label by its number."""
        with self._connection() as con:
            return self._reader.labels(con)

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables (the embedded store's keys)."""
        sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in _COUNTED)
        return {str(name): int(value) for name, value in self._rows(sql)}

    def rejected_by_reason(self) -> dict[str, int]:
        rows = self._rows("SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC")
        return {str(reason): int(count) for reason, count in rows}

    # -- users and tokens ----------------------------------------------------------------

    def add_user(self, user: User) -> None:
        """Add a user; an InputError if one of that name exists (remove it first)."""
        self._writable("add users")
        try:
            self._change(
                "INSERT INTO users VALUES (%s, %s, %s, %s, now())",
                (
                    user.name,
                    user.nation,
                    user.clearance.name,
                    sorted(role.value for role in user.roles),
                ),
            )
        except StoreError as exc:
            if "users_pkey" in str(exc):
                raise InputError(
                    f"user {user.name} already exists in {self.where} (remove it first: "
                    f"mista users remove {user.name})"
                ) from None
            raise

    def remove_user(self, name: str) -> bool:
        """Remove a user and their tokens; False when there was none of that name."""
        self._writable("remove users")
        try:
            with self._connection() as con, con.transaction(), con.cursor() as cur:
                cur.execute("DELETE FROM api_tokens WHERE user_name = %s", (name,))
                cur.execute("DELETE FROM users WHERE name = %s", (name,))
                return cur.rowcount > 0
        except psycopg.Error as exc:
            raise StoreError(f"store {self.where}: {exc}") from None

    def users(self) -> list[User]:
        """Every user, by name."""
        rows = self._rows("SELECT name, nation, clearance, roles FROM users ORDER BY name")
        return [self._user(row) for row in rows]

    def user(self, name: str) -> User | None:
        """The user of that name, if there is one."""
        rows = self._rows(
            "SELECT name, nation, clearance, roles FROM users WHERE name = %s", (name,)
        )
        return self._user(rows[0]) if rows else None

    def _user(self, row: tuple[Any, ...]) -> User:
        return user_from_row(row, str(self.where))

    def add_token(
        self, name: str, token_hash: str, *, created_at: datetime, expires_at: datetime | None
    ) -> None:
        """Keep an API token's SHA-256 (hex) for user ``name``; InputError if no such user."""
        self._writable("issue tokens")
        if self.user(name) is None:
            raise InputError(
                f"no user {name!r} in {self.where} (add one first: mista users add {name} ...)"
            )
        self._change(
            "INSERT INTO api_tokens VALUES (%s, %s, %s, %s)",
            (token_hash, name, created_at, expires_at),
        )

    def user_for_token(self, token_hash: str, *, now: datetime) -> User | None:
        """The user a token (by its SHA-256 hex) belongs to, unless unknown or expired."""
        rows = self._rows(
            "SELECT u.name, u.nation, u.clearance, u.roles FROM api_tokens t "
            "JOIN users u ON u.name = t.user_name WHERE t.token_hash = %s "
            "AND (t.expires_at IS NULL OR t.expires_at > %s)",
            (token_hash, now),
        )
        return self._user(rows[0]) if rows else None

    def revoke_tokens(self, name: str) -> int:
        """Forget every token of user ``name``; how many there were."""
        self._writable("revoke tokens")
        return self._change("DELETE FROM api_tokens WHERE user_name = %s", (name,))

    # -- the fused picture (SQL in postgres_fusion) ----------------------------------------

    def fusion_cursor(self, part: int = 0) -> int:
        """The seq of the last report fusion part ``part`` fused (0 before any)."""
        with self._connection() as con:
            return self._fusion.fusion_cursor(con, part)

    def fusion_read(self, part: int = 0) -> int:
        """The seq of the last report the part had read at its last step (at least its
        fusion cursor)."""
        with self._connection() as con:
            return self._fusion.fusion_read(con, part)

    def fusion_state(self, part: int = 0) -> tuple[int, bytes] | None:
        """The part's saved fusion checkpoint: the read seq it was taken at and its bytes."""
        with self._connection() as con:
            return self._fusion.fusion_state(con, part)

    def save_fusion_state(self, read: int, state: bytes, part: int = 0) -> None:
        """Replace the part's fusion checkpoint with ``state``, taken when it had read up
        to ``read``."""
        self._writable("save the fusion checkpoint")
        with self._connection() as con:
            self._fusion.save_fusion_state(con, read, state, part)

    def clear_fusion_state(self, part: int = 0) -> None:
        """Drop the part's fusion checkpoint (it then resumes with fresh memory)."""
        self._writable("clear the fusion checkpoint")
        with self._connection() as con:
            self._fusion.clear_fusion_state(con, part)

    def write_fusion(
        self,
        *,
        cursor: int,
        tracks: Sequence[Track],
        points: pa.Table,
        alerts: Sequence[Alert],
        read: int | None = None,
        part: int = 0,
    ) -> None:
        """One fusion step in ONE transaction: append ``points`` (seq int64, track_id
        string, flags uint16), upsert ``tracks`` and ``alerts`` by id (an alert's revision
        goes up, and it takes the next alert_seq, only when it changed), and move the
        fusion cursor of part ``part`` (``mista.detect.parts``) to ``cursor`` and its read
        cursor to ``read`` (``cursor`` when None). On any error nothing is written."""
        self._writable("write the fused picture")
        with self._connection() as con:
            self._fusion.write_fusion(
                con,
                cursor=cursor,
                tracks=tracks,
                points=points,
                alerts=alerts,
                read=read,
                part=part,
            )

    def write_alerts(self, alerts: Sequence[Alert]) -> int:
        """Upsert alerts by id (e.g. received from partners), in one transaction; returns
        how many were new or changed."""
        self._writable("write alerts")
        with self._connection() as con:
            return self._fusion.write_alerts(con, alerts)

    def alerts(
        self,
        *,
        viewer: User,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Sequence[str] | None = None,
        include_withdrawn: bool = False,
        limit: int | None = None,
    ) -> pa.Table:
        """Alerts ``viewer`` may see that overlap ``[since, until)`` (end at or after
        ``since``, start before ``until``), of ``kinds`` when given, without withdrawn
        ones unless ``include_withdrawn``; ordered by start, then id. Columns: id, kind,
        status, start, end, lat, lon, mmsis, tracks, evidence (JSON text), revision,
        label (its marking)."""
        with self._replica_connection() as con:
            return self._fusion.alerts(
                con,
                viewer,
                since=since,
                until=until,
                kinds=kinds,
                include_withdrawn=include_withdrawn,
                limit=limit,
            )

    def tracks(self, *, viewer: User, kind: str | None = None) -> pa.Table:
        """Tracks ``viewer`` may see (of ``kind`` when given), ordered by first time, then
        id. Columns: id, kind, mmsi, name, first_at, last_at, lat, lon (the latest
        position), points, linked_from, label (its marking)."""
        with self._replica_connection() as con:
            return self._fusion.tracks(con, viewer, kind=kind)

    def alert_changes_after(self, seq: int, limit: int) -> list[tuple[int, Alert]]:
        """Every alert change after ``seq`` in alert_seq order, at most ``limit``, EVERY
        label: (alert_seq, the Alert as it then stood). For sharing, never for a user."""
        with self._connection() as con:
            return self._fusion.alert_changes_after(con, seq, limit, self._reader.labels(con))

    # -- watch lists and webhook deliveries (SQL in postgres_watch) -----------------------

    def add_watchlist(
        self,
        watchlist_id: str,
        *,
        owner: str,
        name: str,
        mmsis: Sequence[int],
        webhook: str | None,
        now: datetime,
    ) -> None:
        """Create a watch list of user ``owner``; a StoreError if that id is taken."""
        self._writable("add watch lists")
        with self._connection() as con:
            self._watch.add_watchlist(
                con, watchlist_id, owner=owner, name=name, mmsis=mmsis, webhook=webhook, now=now
            )

    def update_watchlist(
        self,
        watchlist_id: str,
        *,
        owner: str,
        name: str,
        mmsis: Sequence[int],
        webhook: str | None,
        now: datetime,
    ) -> bool:
        """Replace ``owner``'s list's name, MMSIs and webhook; False when ``owner`` has no
        list of that id (another user's list counts as none)."""
        self._writable("change watch lists")
        with self._connection() as con:
            return self._watch.update_watchlist(
                con, watchlist_id, owner=owner, name=name, mmsis=mmsis, webhook=webhook, now=now
            )

    def remove_watchlist(self, watchlist_id: str, *, owner: str) -> bool:
        """Delete ``owner``'s list and its delivery records; False when there is none."""
        self._writable("remove watch lists")
        with self._connection() as con:
            return self._watch.remove_watchlist(con, watchlist_id, owner=owner)

    def watchlists(self, *, owner: str | None = None, watchlist_id: str | None = None) -> pa.Table:
        """Watch lists (of ``owner`` / of that id when given), by owner, creation time, id.
        Columns: id, owner, name, mmsis list<int32>, webhook, created_at, updated_at."""
        with self._connection() as con:
            return self._watch.watchlists(con, owner=owner, watchlist_id=watchlist_id)

    def webhook_delivered(self, watchlist_id: str, alert_id: str, revision: int) -> bool:
        """Whether this revision of the alert was delivered to the list's webhook."""
        with self._connection() as con:
            return self._watch.webhook_delivered(con, watchlist_id, alert_id, revision)

    def record_webhook_attempt(
        self,
        watchlist_id: str,
        alert_id: str,
        revision: int,
        *,
        delivered_at: datetime | None,
        error: str | None,
    ) -> int:
        """Count one POST of this revision to the list's webhook (``delivered_at`` when it
        succeeded, else the ``error``); returns the attempts so far."""
        self._writable("record webhook deliveries")
        with self._connection() as con:
            return self._watch.record_webhook_attempt(
                con, watchlist_id, alert_id, revision, delivered_at=delivered_at, error=error
            )

    def webhook_deliveries(self, watchlist_id: str | None = None) -> pa.Table:
        """Delivery records: watchlist_id, alert_id, revision, delivered_at, attempts,
        last_error; by list, alert and revision."""
        with self._connection() as con:
            return self._watch.webhook_deliveries(con, watchlist_id)

    def alert_change_seqs(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The alert_seq of each stored change among ``keys`` (alert id, revision)."""
        with self._connection() as con:
            return self._watch.alert_change_seqs(con, keys)

    def alert_seq_at(self, moment: datetime) -> int:
        """The last alert_seq stored at or before ``moment`` (0 if none was)."""
        with self._connection() as con:
            return self._watch.alert_seq_at(con, moment)

    # -- the API's extra reads (SQL in postgres_api) ---------------------------------------

    def feed_ends(self, after_seq: int = 0, after_alert_seq: int = 0) -> tuple[int, int]:
        """(last report seq, last alert_seq) stored now, where live readers start; only
        what is above the ends a reader already knows is looked at."""
        with self._replica_connection() as con:
            return self._api.feed_ends(con, after_seq, after_alert_seq)

    def alert_revisions(self, alert_seqs: Sequence[int]) -> dict[int, int]:
        """The revision each alert change (by alert_seq) made; unknown ones left out."""
        with self._connection() as con:
            return self._api.alert_revisions(con, alert_seqs)

    def positions_page(
        self,
        bbox: BBox,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
        limit: int,
    ) -> pa.Table:
        """``positions`` in time order, at most ``limit`` rows (the limit is in the SQL)."""
        with self._replica_connection() as con:
            return self._reader.positions(con, bbox, since, until, viewer, limit=limit)

    def releases(self, partner: str | None = None, *, limit: int) -> pa.Table:
        """The share outbox's items (of ``partner``, or of every partner), newest first, at
        most ``limit``, with the embedded store's columns (order_no, partner, record_id,
        kind, agreement, clause, not_before, sent_at, batch, dropped)."""
        return PostgresExchangeTables(self).releases(partner, limit)

    def partners_released_to(self) -> list[str]:
        """Every partner the share outbox holds items for."""
        return PostgresExchangeTables(self).partners_released_to()

    def released_vessels(self, partner: str) -> pa.Table:
        """Per vessel, what ``partner`` received (read from the items as sent), with the
        embedded store's columns."""
        return PostgresExchangeTables(self).released_vessels(partner)
