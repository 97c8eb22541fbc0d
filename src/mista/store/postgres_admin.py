"""Moving a node's store up to PostgreSQL, and migrating either backend's schema.

``copy_to_postgres`` copies an embedded store (one DuckDB file) into an empty PostgreSQL
database in ONE transaction: labels, sources, reports (into their day partitions),
receptions, quarantine, users, API tokens, the latest state, the fused picture (tracks,
track points, alerts, alert changes, every fusion part's cursor) and watch lists with
their webhook deliveries, every row as stored (same seq numbers, content ids, label numbers, alert
revisions and alert_seqs), so the copy answers every query as the file did and fusion
resumes where it stopped. It then counts every table on both sides, compares digests of
the content ids (count, sums and XOR of the 64-bit halves) of reports, receptions and the
latest state, and digests of the other copied tables' keys (ids, revisions, seqs; see
``_KEY_DIGESTS``), and reports what it found. The partner exchange's tables (not on
PostgreSQL yet) are not copied: the report names them with their row counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa

from mista.errors import StoreError

from .embedded import DuckDBStore
from .embedded_fusion import ALERT_STATE
from .embedded_schema import MIGRATIONS as DUCKDB_MIGRATIONS
from .postgres import PostgresStore, is_postgres_url, redacted
from .postgres_exchange import OUTBOX_COLUMNS
from .postgres_fusion import TRACK_COLUMNS
from .postgres_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from .postgres_schema import partition_ddl
from .postgres_write import WRITE_LOCK, copy_csv

__all__ = ["COPIED_TABLES", "CopyReport", "copy_to_postgres", "migrate"]

#: Tables copied, in order; each with its columns as both backends name them.
COPIED_TABLES: dict[str, tuple[str, ...]] = {
    "labels": (
        "label_no",
        "id",
        "level",
        "level_name",
        "originator",
        "releasable_to",
        "categories",
        "orcon",
        "marking",
    ),
    "sources": ("source_no", "name"),
    "reports": (
        "seq",
        "id_hi",
        "id_lo",
        "content_hash",
        "originator",
        "source_kind",
        "label_no",
        "observed_at",
        "msg_type",
        "mmsi",
        "lat",
        "lon",
        "speed_kn",
        "course_deg",
        "heading_deg",
        "nav_status",
        "imo",
        "name",
        "callsign",
        "ship_type",
        "destination",
        "draught_m",
        "to_bow_m",
        "to_stern_m",
        "to_port_m",
        "to_starboard_m",
    ),
    "receptions": ("id_hi", "id_lo", "received_at", "receiver", "source_no", "line_no", "raw"),
    "quarantine": (
        "source",
        "line_no",
        "reason",
        "detail",
        "raw",
        "quarantined_at",
        "label_no",
    ),
    "users": ("name", "nation", "clearance", "roles", "created_at"),
    "api_tokens": ("token_hash", "user_name", "created_at", "expires_at"),
    "vessel_latest": (
        "mmsi",
        "id_hi",
        "id_lo",
        "seq",
        "observed_at",
        "msg_type",
        "lat",
        "lon",
        "speed_kn",
        "course_deg",
        "heading_deg",
        "nav_status",
        "label_no",
        "source_kind",
    ),
    "vessels": (
        "mmsi",
        "label_no",
        "updated_at",
        "seq",
        "imo",
        "name",
        "callsign",
        "ship_type",
        "destination",
        "draught_m",
        "to_bow_m",
        "to_stern_m",
        "to_port_m",
        "to_starboard_m",
    ),
    "tracks": TRACK_COLUMNS,
    "track_points": ("seq", "track_id", "flags"),
    "alerts": ("id", *ALERT_STATE, "revision", "alert_seq", "updated_at"),
    "alert_changes": ("alert_seq", "alert_id", "revision", *ALERT_STATE, "changed_at"),
    # Part 0's cursor is set after the copy; the other parts' rows are copied as they are.
    "fusion_part_cursor": ("part", "seq", "read_seq"),
    "watchlists": ("id", "owner", "name", "mmsis", "webhook", "created_at", "updated_at"),
    "webhook_deliveries": (
        "watchlist_id",
        "alert_id",
        "revision",
        "delivered_at",
        "attempts",
        "last_error",
    ),
}
COPIED_TABLES.update(
    {
        "share_cursors": ("partner", "scanned_seq", "last_batch", "low_order"),
        "share_outbox": (*OUTBOX_COLUMNS, "batch_seq", "sent_at", "dropped"),
        "share_inbound": (
            "sender",
            "seq",
            "batch_hash",
            "items_hash",
            "nonce",
            "received_at",
            "records",
        ),
        "share_nonces": ("sender", "nonce", "seen_at"),
        "share_amendments": (
            "id_hi",
            "id_lo",
            "sender",
            "kind",
            "reason",
            "record",
            "batch_seq",
            "amended_at",
        ),
    }
)
#: Tables with list columns: copied row by row (psycopg writes the arrays).
_ROW_BY_ROW = {"labels", "users", "alerts", "alert_changes", "watchlists"}
#: Tables holding content ids, compared by digest after the copy.
_DIGESTED = ("reports", "receptions", "vessel_latest")
#: Digests of the other copied tables' keys, the same SQL on both sides: counts, sums, and
#: the MD5 of every key in order ({c}: how ids sort byte-wise, as DuckDB sorts text).
_KEY_DIGESTS = {
    "tracks": "count(*), coalesce(sum(points), 0), md5(coalesce(string_agg("
    "id || ':' || CAST(label_no AS VARCHAR), ',' ORDER BY id{c}), ''))",
    "track_points": "count(*), coalesce(sum(seq), 0), coalesce(sum(flags), 0), "
    "coalesce(sum(length(track_id)), 0)",
    "alerts": "count(*), md5(coalesce(string_agg(id || ':' || CAST(revision AS VARCHAR) || ':' "
    "|| CAST(alert_seq AS VARCHAR) || ':' || CAST(label_no AS VARCHAR), ',' ORDER BY id{c}), ''))",
    "alert_changes": "count(*), coalesce(sum(alert_seq), 0), md5(coalesce(string_agg("
    "alert_id || ':' || CAST(revision AS VARCHAR) || ':' || status, ',' ORDER BY alert_seq), ''))",
    "watchlists": "count(*), md5(coalesce(string_agg(id || ':' || owner, ',' ORDER BY id{c}), ''))",
    "fusion_part_cursor": "count(*), coalesce(sum(part), 0), coalesce(sum(seq), 0), "
    "coalesce(sum(read_seq), 0)",
    "share_cursors": "count(*), coalesce(sum(scanned_seq), 0), coalesce(sum(last_batch), 0), "
    "coalesce(sum(low_order), 0), md5(coalesce(string_agg(partner, ',' ORDER BY partner{c}), ''))",
    "share_outbox": "count(*), coalesce(sum(order_no), 0), coalesce(sum(batch_seq), 0), "
    "md5(coalesce(string_agg(partner || ':' || record_id || ':' || md5(item), ',' "
    "ORDER BY order_no), ''))",
    "share_inbound": "count(*), coalesce(sum(seq), 0), coalesce(sum(records), 0), "
    "md5(coalesce(string_agg(sender || ':' || batch_hash, ',' ORDER BY sender{c}, seq), ''))",
    "share_nonces": "count(*), md5(coalesce(string_agg(sender || ':' || nonce, ',' "
    "ORDER BY sender{c}, nonce{c}), ''))",
    "share_amendments": "count(*), coalesce(sum(batch_seq), 0), md5(coalesce(string_agg("
    "sender || ':' || kind || ':' || reason, ',' ORDER BY sender{c}, batch_seq, kind{c}, "
    "reason{c}), ''))",
    "webhook_deliveries": "count(*), coalesce(sum(attempts), 0), md5(coalesce(string_agg("
    "watchlist_id || ':' || alert_id || ':' || CAST(revision AS VARCHAR), ',' "
    "ORDER BY watchlist_id{c}, alert_id{c}, revision), ''))",
}
#: Embedded tables of parts not on PostgreSQL (not copied; reported when not empty).
NOT_COPIED: tuple[str, ...] = ()
_BYTEWISE = ' COLLATE "C"'
_CHUNK_ROWS = 100_000
#: Tables written in the order their BRIN indexes expect (a live node writes them so):
#: rows out of order make every BRIN range span the whole table, and each page of the
#: fusion feed would then read every block of the day's reports and receptions.
_COPY_ORDER = {"reports": "seq", "receptions": "received_at, id_hi, id_lo, receiver"}
_TWO_64 = 1 << 64


@dataclass
class CopyReport:
    """What a copy moved and whether both sides agree."""

    source: str
    target: str
    #: table -> (rows in the file, rows in the database)
    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    #: table -> (file digest, database digest) of its content ids or keys
    digests: dict[str, tuple[tuple[int | str, ...], tuple[int | str, ...]]] = field(
        default_factory=dict
    )
    #: tables of parts not yet on PostgreSQL, with their rows, left in the file
    left_behind: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def differences(self) -> list[str]:
        """Every table whose count or id digest differs (empty when the copy is exact)."""
        found = [
            f"{table}: {a:,} rows in the file, {b:,} in the database"
            for table, (a, b) in self.counts.items()
            if a != b
        ]
        found += [
            f"{table}: content ids differ (digest {a} in the file, {b} in the database)"
            for table, (a, b) in self.digests.items()
            if a != b
        ]
        return found


def migrate(location: str) -> tuple[int, int]:
    """Bring the store at ``location`` (a DuckDB file, or a postgresql:// URL) to this
    mista's schema; (version before, version after). A missing file or empty database
    starts at 0 and is created."""
    if is_postgres_url(location):
        before = _postgres_version(location)
        with PostgresStore(location) as store:
            return before, store.schema_version()
    path = Path(location)
    before = _duckdb_version(path) if path.exists() else 0
    with DuckDBStore(path) as store:
        return before, store.schema_version()


def _postgres_version(url: str) -> int:
    try:
        with psycopg.connect(url, connect_timeout=10) as con:
            row = con.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
            if not row or not row[0]:
                return 0
            row = con.execute("SELECT coalesce(max(version), 0) FROM schema_migrations").fetchone()
            return int(row[0]) if row else 0
    except psycopg.Error as exc:
        raise StoreError(f"cannot read the schema version of {redacted(url)}: {exc}") from None


def _duckdb_version(path: Path) -> int:
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as exc:
        raise StoreError(f"cannot open store {path}: {exc}") from None
    try:
        found = con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_migrations'"
        ).fetchall()
        if not found[0][0]:
            return 0
        return int(con.execute("SELECT max(version) FROM schema_migrations").fetchall()[0][0])
    finally:
        con.close()


def copy_to_postgres(source: Path, url: str) -> CopyReport:
    """Copy the embedded store ``source`` into the empty PostgreSQL store at ``url`` (made
    and migrated if need be), in one transaction, and verify counts and content ids."""
    if not is_postgres_url(url):
        raise StoreError(f"--to {url!r} is not a postgresql:// URL")
    if not source.is_file():
        raise StoreError(f"no store at {source} (give the DuckDB file to copy)")
    started = time.perf_counter()
    report = CopyReport(source=str(source), target=redacted(url))
    with DuckDBStore(source, read_only=True) as duck, PostgresStore(url) as target:
        del target  # opened to migrate the schema; the copy uses its own connection
        file = duck.connection
        report.left_behind = {
            table: count for table in NOT_COPIED if (count := _duck_count(file, table))
        }
        try:
            with psycopg.connect(url) as con:
                con.execute("SET TimeZone = 'UTC'")
                with con.transaction(), con.cursor() as cur:
                    cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                    _refuse_if_not_empty(cur, report.target)
                    for table, columns in COPIED_TABLES.items():
                        if table == "reports":
                            _make_partitions(cur, file)
                        _copy_table(cur, file, table, columns)
                    cur.execute(
                        "UPDATE report_seq SET last = (SELECT coalesce(max(seq), 0) FROM reports)"
                    )
                    cur.execute(
                        "UPDATE fusion_cursor SET seq = %s, read_seq = %s",
                        (_duck_cursor(file), _duck_cursor(file)),
                    )
                for table in COPIED_TABLES:
                    row = con.execute(f"SELECT count(*) FROM {table}").fetchone()
                    report.counts[table] = (_duck_count(file, table), int(row[0]) if row else -1)
                for table in _DIGESTED:
                    report.digests[table] = (_duck_digest(file, table), _pg_digest(con, table))
                for table, sql in _KEY_DIGESTS.items():
                    report.digests[table] = (
                        _plain(file.execute(f"SELECT {sql.format(c='')} FROM {table}").fetchall()),
                        _plain(
                            con.execute(f"SELECT {sql.format(c=_BYTEWISE)} FROM {table}").fetchall()
                        ),
                    )
                row = con.execute("SELECT seq FROM fusion_cursor").fetchone()
                report.digests["fusion_cursor"] = (
                    (_duck_cursor(file),),
                    (int(row[0]) if row else -1,),
                )
        except psycopg.Error as exc:
            raise StoreError(
                f"copying {source} to {report.target} failed, nothing was written: {exc}"
            ) from None
        # Summarise the BRIN ranges and gather the planner's statistics now (VACUUM runs
        # outside a transaction, so after the copy's): the bulk write left every range
        # unsummarised, and each page of the fusion feed would read the whole day until
        # autovacuum came round.
        try:
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("VACUUM (ANALYZE) reports, receptions")
        except psycopg.Error as exc:
            raise StoreError(
                f"copied {source} to {report.target}, but VACUUM failed: {exc} (run "
                "VACUUM (ANALYZE) reports, receptions in it before fusing)"
            ) from None
    report.seconds = time.perf_counter() - started
    return report


def _plain(rows: list[tuple[Any, ...]]) -> tuple[int | str, ...]:
    """A digest row as plain ints and text (DuckDB's HUGEINT, PostgreSQL's numeric)."""
    return tuple(value if isinstance(value, str) else int(value) for value in rows[0])


def _duck_cursor(file: duckdb.DuckDBPyConnection) -> int:
    rows = file.execute("SELECT seq FROM fusion_cursor").fetchall()
    return int(rows[0][0]) if rows else 0


def _refuse_if_not_empty(cur: psycopg.Cursor[Any], where: str) -> None:
    cur.execute(
        "SELECT (SELECT count(*) FROM labels) + (SELECT count(*) FROM users) "
        "+ (SELECT last FROM report_seq) + (SELECT seq FROM fusion_cursor) "
        "+ (SELECT count(*) FROM tracks) + (SELECT count(*) FROM alert_changes) "
        "+ (SELECT count(*) FROM watchlists)"
    )
    row = cur.fetchone()
    if row and row[0]:
        raise StoreError(
            f"{where} already holds data: copy into an empty database (createdb a new one)"
        )


def _duck_count(file: duckdb.DuckDBPyConnection, table: str) -> int:
    exists = file.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = $t", {"t": table}
    ).fetchall()[0][0]
    if not exists:
        return 0
    return int(file.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0])


def _make_partitions(cur: psycopg.Cursor[Any], file: duckdb.DuckDBPyConnection) -> None:
    days = file.execute(
        "SELECT DISTINCT epoch_us(observed_at) // 86400000000 FROM reports "
        "WHERE observed_at IS NOT NULL"
    ).fetchall()
    for (day,) in days:
        cur.execute(partition_ddl(date(1970, 1, 1) + timedelta(days=int(day))))


def _copy_table(
    cur: psycopg.Cursor[Any],
    file: duckdb.DuckDBPyConnection,
    table: str,
    columns: tuple[str, ...],
) -> None:
    """Stream one table from the file into the database, a chunk at a time."""
    names = ", ".join(columns)
    query = f"SELECT {names} FROM {table}"
    if table in _COPY_ORDER:
        query += f" ORDER BY {_COPY_ORDER[table]}"
    if table in _ROW_BY_ROW:
        rows = file.sql(query).to_arrow_table().to_pylist()
        with cur.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row.values()))
        return
    for chunk in file.sql(query).to_arrow_reader(_CHUNK_ROWS):
        copy_csv(cur, table, pa.Table.from_batches([chunk]))


def _duck_digest(file: duckdb.DuckDBPyConnection, table: str) -> tuple[int, ...]:
    """(rows, sum of id_hi, sum of id_lo, XOR of id_hi, XOR of id_lo) as unsigned."""
    row = file.execute(
        f"SELECT count(*), coalesce(sum(id_hi), 0)::VARCHAR, coalesce(sum(id_lo), 0)::VARCHAR, "
        f"coalesce(bit_xor(id_hi), 0), coalesce(bit_xor(id_lo), 0) FROM {table}"
    ).fetchall()[0]
    return tuple(int(value) for value in row)


def _pg_digest(con: psycopg.Connection[Any], table: str) -> tuple[int, ...]:
    """The same digest as ``_duck_digest``, the signed halves read as unsigned."""

    def unsigned(column: str) -> str:
        return f"({column}::numeric + CASE WHEN {column} < 0 THEN {_TWO_64} ELSE 0 END)"

    row = con.execute(
        f"SELECT count(*), coalesce(sum({unsigned('id_hi')}), 0), "
        f"coalesce(sum({unsigned('id_lo')}), 0), coalesce(bit_xor(id_hi), 0), "
        f"coalesce(bit_xor(id_lo), 0) FROM {table}"
    ).fetchone()
    if row is None:
        return ()
    count, hi_sum, lo_sum, hi_xor, lo_xor = row
    return (int(count), int(hi_sum), int(lo_sum), int(hi_xor) % _TWO_64, int(lo_xor) % _TWO_64)


#: The newest schema versions this mista knows, per backend (for messages).
LATEST_VERSIONS = {"duckdb": DUCKDB_MIGRATIONS[-1][0], "postgresql": POSTGRES_MIGRATIONS[-1][0]}
