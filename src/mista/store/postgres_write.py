"""The PostgreSQL store's write path: one ``IngestBatch`` in one transaction.

The batch's reports and receptions are sent with COPY (CSV written by Arrow, no Python
loop per row) into temporary staging tables, then moved into ``reports`` and
``receptions`` by one INSERT each that leaves out what is stored already, exactly as the
embedded store decides it (``embedded.py``): the same content ids, the same dedupe window,
the same merge of a transmission heard across a bucket boundary, the same latest-state
upserts. The day partitions a batch reaches are created first, in the same transaction.

Writers serialise on an advisory lock held to commit, so seq numbers are handed out in
commit order (the report feed reads by seq and must never find a gap filled later). What
does not depend on the store (the COPY into staging, in a vessel's order, with each row's
place in the batch and its label's place in the batch's labels) is done before taking the
lock, so two writers overlap there. A batch whose time window holds no stored report (or
reception) skips the anti-join against them: nothing stored can match.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import psycopg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from mista.errors import StoreError
from mista.ingest.batch import IngestBatch, label_id
from mista.labels import Label
from mista.model import DEDUPE_WINDOW_S

from . import WriteResult
from .embedded import (
    _first_occurrences,
    _has_static_fields,
    _id_keys,
    _source_label,
    _unique_receptions,
)
from .embedded_schema import POSITION_TYPES, STATIC_FIELDS, STATIC_TYPES
from .postgres_schema import partition_ddl

__all__ = [
    "REPORT_COLUMNS",
    "WRITER_SETUP",
    "WRITE_LOCK",
    "BatchWriter",
    "copy_csv",
    "label_numbers",
    "signed",
    "source_number",
]

#: The advisory lock every writer holds to commit (any 64-bit number of our own).
WRITE_LOCK = 0x6D69_7374_6177_7231
_WINDOW_US = DEDUPE_WINDOW_S * 1_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MOTION_FIELDS = ("lat", "lon", "speed_kn", "course_deg", "heading_deg", "nav_status")
#: The reports table's columns in order (after seq; geom is generated).
REPORT_COLUMNS = (
    "id_hi",
    "id_lo",
    "content_hash",
    "originator",
    "source_kind",
    "label_no",
    "observed_at",
    "msg_type",
    "mmsi",
    *_MOTION_FIELDS,
    *STATIC_FIELDS,
)
_RECEPTION_COLUMNS = ("id_hi", "id_lo", "received_at", "receiver", "source_no", "line_no", "raw")
_STAGE_REPORTS = """
    CREATE TEMP TABLE _b_reports (
        n bigint, label_at smallint, id_hi bigint, id_lo bigint, content_hash bigint,
        originator text, source_kind text, observed_at timestamptz, msg_type smallint,
        mmsi integer, lat double precision, lon double precision, speed_kn double precision,
        course_deg double precision, heading_deg double precision, nav_status smallint,
        imo integer, name text, callsign text, ship_type smallint, destination text,
        draught_m double precision, to_bow_m smallint, to_stern_m smallint,
        to_port_m smallint, to_starboard_m smallint
    ) ON COMMIT DELETE ROWS
"""
_STAGE_RECEPTIONS = """
    CREATE TEMP TABLE _b_receptions (
        id_hi bigint, id_lo bigint, received_at timestamptz, receiver text,
        line_no bigint, raw text
    ) ON COMMIT DELETE ROWS
"""
_STAGE_REJECTED = """
    CREATE TEMP TABLE _b_rejected (
        source text, line_no bigint, reason text, detail text, raw text
    ) ON COMMIT DELETE ROWS
"""
_STAGE_REMAP = """
    CREATE TEMP TABLE _remap (
        id_hi bigint, id_lo bigint, to_hi bigint, to_lo bigint
    ) ON COMMIT DELETE ROWS
"""
#: Room for a merged batch's staging tables (250,000 reports and their receptions take
#: about 100 MB) in the session's own buffers; the default 8 MB sends most of the COPY to
#: temporary files and reads it back. Settable only before the session first touches a
#: temporary table, so it comes first.
_TEMP_BUFFERS = "SET temp_buffers = '160MB'"
#: What each writing connection runs once: the staging tables (emptied at every commit),
#: after the room they get.
WRITER_SETUP = (_TEMP_BUFFERS, _STAGE_REPORTS, _STAGE_RECEPTIONS, _STAGE_REJECTED, _STAGE_REMAP)


def signed(column: pa.Array | pa.ChunkedArray) -> pa.Array:
    """A uint64 column as int64 holding the same 64 bits (PostgreSQL has no unsigned)."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    values = np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.uint64)
    return pa.array(values.view(np.int64))


def _as_signed(table: pa.Table) -> pa.Table:
    for at, field in enumerate(table.schema):
        if pa.types.is_uint64(field.type):
            table = table.set_column(at, field.name, signed(table.column(at)))
    return table


def _as_naive_utc(table: pa.Table) -> pa.Table:
    """UTC timestamp columns without their zone: Arrow writes a zoned timestamp to CSV
    about 30 times slower (0.8 s per 229k values), and a session in UTC reads the naive
    text as the same instant."""
    for at, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type) and field.type.tz in ("UTC", "+00:00", "Z"):
            naive = pa.timestamp(field.type.unit)
            table = table.set_column(at, field.name, table.column(at).cast(naive))
    return table


_UTC_NAMES = frozenset({"UTC", "ETC/UTC", "UCT", "ETC/UCT", "UNIVERSAL", "ZULU"})


def _session_in_utc(cur: psycopg.Cursor[Any]) -> bool:
    """Whether the session's TimeZone is UTC (the store's pool sets it on every connection)."""
    zone = cur.connection.info.parameter_status("TimeZone") or ""
    return zone.upper() in _UTC_NAMES


def copy_csv(cur: psycopg.Cursor[Any], table_name: str, table: pa.Table) -> None:
    """COPY ``table`` (Arrow; uint64 columns go as the same bits in int64) into
    ``table_name``, its columns by name, as CSV written by Arrow."""
    if not table.num_rows:
        return
    table = _as_signed(table)
    if _session_in_utc(cur):
        table = _as_naive_utc(table)
    out = io.BytesIO()
    pcsv.write_csv(table, out, pcsv.WriteOptions(include_header=False))
    columns = ", ".join(table.column_names)
    with cur.copy(f"COPY {table_name} ({columns}) FROM STDIN (FORMAT csv)") as copy:
        copy.write(out.getbuffer())


def _time(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def _time_range(column: pa.ChunkedArray | pa.Array) -> tuple[int, int] | None:
    bounds = pc.min_max(column.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return None if low is None else (int(low), int(high))


def _days(column: pa.ChunkedArray | pa.Array) -> set[date]:
    """The UTC days of a timestamp column's values."""
    us = pc.drop_null(column.cast(pa.int64())).to_numpy(zero_copy_only=False)
    if not len(us):
        return set()
    days = np.unique(np.floor_divide(us, 86_400_000_000))
    return {date(1970, 1, 1) + timedelta(days=int(day)) for day in days}


def _window(
    column: str, bounds: tuple[int, int] | None, untimed: bool
) -> tuple[str, dict[str, Any]]:
    """SQL (and its parameters) selecting rows of ``column`` in ``[lo, hi)``, or null."""
    parts, params = [], {}
    if bounds is not None:
        parts.append(f"({column} >= %(lo)s AND {column} < %(hi)s)")
        params = {"lo": _time(bounds[0]), "hi": _time(bounds[1])}
    if untimed:
        parts.append(f"{column} IS NULL")
    return "(" + (" OR ".join(parts) or "false") + ")", params


@dataclass(frozen=True)
class _Staged:
    """A batch's reports and receptions in the staging tables (before the write lock):
    ``_b_reports`` holds the first occurrence of each id, with ``n`` its place among them
    (0 up, input order: its seq is the batch's first seq plus ``n``) and ``label_at`` its
    label's place in ``label_keys`` (1 up); ``_b_receptions`` each distinct hearing."""

    count: int
    label_keys: tuple[str, ...]
    observed: tuple[int, int] | None
    untimed: bool
    received: tuple[int, int] | None
    unreceived: bool


def _stage(cur: psycopg.Cursor[Any], batch: IngestBatch) -> _Staged:
    """COPY ``batch``'s messages into the staging tables; nothing here reads the store, so
    it runs before the write lock. Reports go in a vessel's order (mmsi, then time): the
    insert keeps the staging order, so a vessel's rows share pages (track queries)."""
    messages = batch.messages
    ids = _id_keys(messages)
    first = _first_occurrences(ids)
    keys = tuple(dict.fromkeys(label_id(label) for label in batch.labels))
    staged = messages.select(
        [name for name in REPORT_COLUMNS if name != "label_no"] + ["label_id"]
    ).filter(first)
    positions = pc.index_in(staged.column("label_id"), value_set=pa.array(keys, pa.string()))
    if positions.null_count:
        raise StoreError("a batch row has a label that is not in the batch's labels")
    count = staged.num_rows
    staged = staged.drop_columns(["label_id"]).append_column(
        "label_at", pc.add(positions, 1).cast(pa.int16())
    )
    staged = staged.append_column("n", pa.array(np.arange(count, dtype=np.int64)))
    order = pc.sort_indices(
        staged, sort_keys=[("mmsi", "ascending", "at_end"), ("observed_at", "ascending", "at_end")]
    )
    copy_csv(cur, "_b_reports", staged.take(order))
    hearings = messages.select([name for name in _RECEPTION_COLUMNS if name != "source_no"]).filter(
        _unique_receptions(messages, ids, first)
    )
    copy_csv(cur, "_b_receptions", hearings)
    observed, received = messages.column("observed_at"), messages.column("received_at")
    return _Staged(
        count=count,
        label_keys=keys,
        observed=_time_range(observed),
        untimed=observed.null_count > 0,
        received=_time_range(received),
        unreceived=received.null_count > 0,
    )


def _any_stored(cur: psycopg.Cursor[Any], table: str, window: str, params: dict[str, Any]) -> bool:
    """Whether ``table`` (as ``e``) holds a row in ``window``: when not, no stored row can
    match a batch row there, and the anti-join against the table is left out. Never costs
    more than that anti-join's own scan of the window, and usually far less (BRIN)."""
    cur.execute(f"SELECT EXISTS (SELECT 1 FROM {table} e WHERE {window})", params)
    row = cur.fetchone()
    return bool(row and row[0])


class BatchWriter:
    """Writes batches through one connection's transactions; remembers the day partitions
    it has made (creating one twice is a no-op, this only saves the statement)."""

    def __init__(self) -> None:
        self._partitions: set[date] = set()

    def write(self, con: psycopg.Connection[Any], batch: IngestBatch) -> WriteResult:
        """Store ``batch`` in one transaction on ``con``; what it added."""
        reports = receptions = rejected = 0
        if batch.messages.num_rows:
            self._ensure_partitions(con, batch.messages.column("observed_at"))
        with con.transaction(), con.cursor() as cur:
            # The batch statements look costly to the planner (staging tables have no
            # statistics), so PostgreSQL would JIT-compile each one: 0.3-0.5 s of compiling
            # per statement, more than running it.
            cur.execute("SET LOCAL jit = off")
            # Hash joins only. Without statistics on the staging tables the planner sorts a
            # whole batch by id to merge-join it with a few stored ids; a hash join keeps
            # the staging order (a vessel's order) and needs no sort. And statistics older
            # than the newest rows make the stored window look empty, so it would pick a
            # nested loop that scans the window once per batch row (an INSERT into
            # receptions was seen running for 20 minutes so).
            cur.execute("SET LOCAL enable_mergejoin = off")
            cur.execute("SET LOCAL enable_nestloop = off")
            staged = _stage(cur, batch) if batch.messages.num_rows else None
            if batch.rejected.num_rows:
                copy_csv(cur, "_b_rejected", batch.rejected)
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            numbers: dict[str, int] = {}
            if staged is not None:
                numbers = label_numbers(cur, batch.labels)
                reports, receptions = self._write_messages(cur, batch, staged, numbers)
            if batch.rejected.num_rows:
                rejected = self._write_rejected(cur, batch, numbers)
        return WriteResult(reports=reports, receptions=receptions, rejected=rejected)

    def _ensure_partitions(self, con: psycopg.Connection[Any], observed: pa.ChunkedArray) -> None:
        """Create the day partitions the batch reaches, in a short transaction of their own:
        creating one locks the whole reports table, which readers should wait on for the
        statement only, not for the batch. A partition left empty by a failed batch is
        harmless."""
        new = _days(observed) - self._partitions
        if not new:
            return
        with con.transaction(), con.cursor() as cur:
            cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            for day in sorted(new):
                cur.execute(partition_ddl(day))
        self._partitions |= new

    def _write_messages(
        self,
        cur: psycopg.Cursor[Any],
        batch: IngestBatch,
        staged: _Staged,
        numbers: dict[str, int],
    ) -> tuple[int, int]:
        """Move the staged rows into the store (the caller holds the write lock)."""
        cur.execute("SELECT last FROM report_seq FOR UPDATE")
        row = cur.fetchone()
        seq0 = int(row[0]) if row else 0
        # Seqs in input order; duplicates leave gaps, harmless for an ordering key.
        cur.execute("UPDATE report_seq SET last = %s", (seq0 + staged.count,))
        source_no = source_number(cur, batch.source)
        label_nos = [numbers[key] for key in staged.label_keys]

        timed = staged.observed
        self._find_cross_bucket_duplicates(cur, timed)
        reports = self._insert_reports(cur, timed, staged.untimed, seq0, label_nos)
        receptions = self._insert_receptions(cur, staged, source_no)
        if reports:
            bounds = None if timed is None else (timed[0], timed[1] + 1)
            rows, params = _window("observed_at", bounds, True)
            params |= {"seq0": seq0, "seq1": seq0 + staged.count}
            new_rows = f"seq > %(seq0)s AND seq <= %(seq1)s AND {rows}"
            self._update_latest(cur, new_rows, params)
            if _has_static_fields(batch.messages):
                self._update_vessels(cur, new_rows, params)
        return reports, receptions

    def _find_cross_bucket_duplicates(
        self, cur: psycopg.Cursor[Any], timed: tuple[int, int] | None
    ) -> None:
        """``_remap``: batch ids that are the same transmission as a report heard less than
        DEDUPE_WINDOW_S before them in the batch, or before or after them in the store;
        see ``DuckDBStore._find_cross_bucket_duplicates``."""
        if timed is None:
            return
        # Another report less than a bucket away lies in the row's bucket or a neighbour:
        # joining on (content hash, bucket) keeps a content repeated all day (a static
        # report) from matching every other copy of it in the window.
        bucket = f"floor(extract(epoch FROM observed_at) / {DEDUPE_WINDOW_S})::bigint"
        window = f"interval '{DEDUPE_WINDOW_S} seconds'"
        cur.execute(
            f"""
            INSERT INTO _remap
            WITH b AS (
                SELECT id_hi, id_lo, observed_at, content_hash, {bucket} AS k
                FROM _b_reports WHERE observed_at IS NOT NULL
            ), s AS (
                SELECT id_hi, id_lo, observed_at, content_hash, {bucket} AS k FROM reports
                WHERE observed_at > %(lo)s AND observed_at < %(hi)s
            ), o AS (
                SELECT id_hi, id_lo, observed_at, content_hash, k, true AS stored FROM s
                UNION ALL SELECT id_hi, id_lo, observed_at, content_hash, k, false FROM b
            )
            SELECT DISTINCT ON (b.id_hi, b.id_lo) b.id_hi, b.id_lo, o.id_hi, o.id_lo
            FROM b JOIN (o CROSS JOIN (VALUES (-1), (0), (1)) AS near (d))
              ON o.content_hash = b.content_hash AND o.k + near.d = b.k
             AND (o.observed_at < b.observed_at OR o.stored)
             AND o.observed_at > b.observed_at - {window}
             AND o.observed_at < b.observed_at + {window}
            WHERE (o.id_hi <> b.id_hi OR o.id_lo <> b.id_lo)
              AND NOT EXISTS (SELECT 1 FROM s WHERE s.id_hi = b.id_hi AND s.id_lo = b.id_lo)
            ORDER BY b.id_hi, b.id_lo, o.observed_at
            """,
            {"lo": _time(timed[0] - _WINDOW_US), "hi": _time(timed[1] + _WINDOW_US)},
        )
        # A target that is itself a repeat points on to the first report (one level).
        cur.execute(
            "UPDATE _remap m SET to_hi = r.to_hi, to_lo = r.to_lo FROM _remap r "
            "WHERE m.to_hi = r.id_hi AND m.to_lo = r.id_lo"
        )

    def _insert_reports(
        self,
        cur: psycopg.Cursor[Any],
        timed: tuple[int, int] | None,
        untimed: bool,
        seq0: int,
        label_nos: list[int],
    ) -> int:
        bounds = None
        if timed is not None:
            # A stored report with the same id lies in the same dedupe bucket.
            bounds = (
                (timed[0] // _WINDOW_US) * _WINDOW_US,
                (timed[1] // _WINDOW_US + 1) * _WINDOW_US,
            )
        window, params = _window("e.observed_at", bounds, untimed)
        unstored = "true"
        if _any_stored(cur, "reports", window, params):
            unstored = (
                "NOT EXISTS (SELECT 1 FROM reports e "
                f"WHERE e.id_hi = b.id_hi AND e.id_lo = b.id_lo AND {window})"
            )
        columns = ", ".join(REPORT_COLUMNS)
        picked = ", ".join(
            "(%(label_nos)s::integer[])[b.label_at]" if name == "label_no" else f"b.{name}"
            for name in REPORT_COLUMNS
        )
        # No ORDER BY: the staging table is in a vessel's order, and a scan of it through
        # hash anti-joins (merge joins are off) keeps that order.
        cur.execute(
            f"""
            INSERT INTO reports (seq, {columns})
            SELECT %(seq0)s + 1 + b.n, {picked} FROM _b_reports b
            WHERE {unstored}
              AND NOT EXISTS (
                SELECT 1 FROM _remap m WHERE m.id_hi = b.id_hi AND m.id_lo = b.id_lo)
            """,
            params | {"seq0": seq0, "label_nos": label_nos},
        )
        return cur.rowcount

    def _insert_receptions(self, cur: psycopg.Cursor[Any], staged: _Staged, source_no: int) -> int:
        bounds = staged.received
        if bounds is not None:
            bounds = (bounds[0], bounds[1] + 1)
        window, params = _window("e.received_at", bounds, staged.unreceived)
        unstored = "true"
        if _any_stored(cur, "receptions", window, params):
            unstored = f"""NOT EXISTS (
                SELECT 1 FROM receptions e
                WHERE e.id_hi = b.id_hi AND e.id_lo = b.id_lo AND e.raw = b.raw
                  AND coalesce(e.receiver, '') = coalesce(b.receiver, '') AND {window})"""
        cur.execute(
            f"""
            INSERT INTO receptions ({", ".join(_RECEPTION_COLUMNS)})
            SELECT b.id_hi, b.id_lo, b.received_at, b.receiver, %(source_no)s, b.line_no, b.raw
            FROM (
                SELECT coalesce(m.to_hi, r.id_hi) AS id_hi, coalesce(m.to_lo, r.id_lo) AS id_lo,
                       r.received_at, r.receiver, r.line_no, r.raw
                FROM _b_receptions r
                LEFT JOIN _remap m ON m.id_hi = r.id_hi AND m.id_lo = r.id_lo
            ) b
            WHERE {unstored}
            """,
            params | {"source_no": source_no},
        )
        return cur.rowcount

    def _update_latest(
        self, cur: psycopg.Cursor[Any], new_rows: str, params: dict[str, Any]
    ) -> None:
        fields = (
            "id_hi",
            "id_lo",
            "seq",
            "observed_at",
            "msg_type",
            *_MOTION_FIELDS,
            "source_kind",
        )
        updates = ", ".join(f"{name} = excluded.{name}" for name in fields)
        types = ", ".join(str(t) for t in POSITION_TYPES)
        motion = ", ".join(_MOTION_FIELDS)
        cur.execute(
            f"""
            INSERT INTO vessel_latest (mmsi, id_hi, id_lo, seq, observed_at, msg_type,
                                       {motion}, label_no, source_kind)
            SELECT DISTINCT ON (mmsi, label_no)
                   mmsi, id_hi, id_lo, seq, observed_at, msg_type, {motion}, label_no,
                   source_kind
            FROM reports
            WHERE {new_rows} AND mmsi IS NOT NULL AND lat IS NOT NULL AND lon IS NOT NULL
              AND (msg_type IS NULL OR msg_type IN ({types}))
            ORDER BY mmsi, label_no, observed_at DESC NULLS LAST, seq DESC
            ON CONFLICT (mmsi, label_no) DO UPDATE SET {updates}
            WHERE vessel_latest.observed_at IS NULL
               OR excluded.observed_at >= vessel_latest.observed_at
            """,
            params,
        )

    def _update_vessels(
        self, cur: psycopg.Cursor[Any], new_rows: str, params: dict[str, Any]
    ) -> None:
        aggregates = ", ".join(
            f"(array_agg({name} ORDER BY seq DESC) FILTER (WHERE {name} IS NOT NULL))[1]"
            for name in STATIC_FIELDS
        )
        newer = "(vessels.updated_at IS NULL OR excluded.updated_at >= vessels.updated_at)"
        updates = ", ".join(
            f"{name} = CASE WHEN {newer} THEN coalesce(excluded.{name}, vessels.{name}) "
            f"ELSE coalesce(vessels.{name}, excluded.{name}) END"
            for name in STATIC_FIELDS
        )
        any_static = " OR ".join(f"{name} IS NOT NULL" for name in STATIC_FIELDS)
        types = ", ".join(str(t) for t in STATIC_TYPES)
        cur.execute(
            f"""
            INSERT INTO vessels (mmsi, label_no, updated_at, seq, {", ".join(STATIC_FIELDS)})
            SELECT mmsi, label_no, max(observed_at), max(seq), {aggregates}
            FROM reports
            WHERE {new_rows} AND mmsi IS NOT NULL AND ({any_static})
              AND (msg_type IS NULL OR msg_type IN ({types}))
            GROUP BY mmsi, label_no
            ON CONFLICT (mmsi, label_no) DO UPDATE SET {updates},
                updated_at = greatest(vessels.updated_at, excluded.updated_at),
                seq = greatest(vessels.seq, excluded.seq)
            """,
            params,
        )

    def _write_rejected(
        self, cur: psycopg.Cursor[Any], batch: IngestBatch, numbers: dict[str, int]
    ) -> int:
        source_label = _source_label(batch)
        key = label_id(source_label)
        label_no = numbers[key] if key in numbers else label_numbers(cur, (source_label,))[key]
        lines = batch.rejected.column("line_no")
        bounds = pc.min_max(lines)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        window = "e.line_no IS NULL"
        params: dict[str, Any] = {"label_no": label_no}
        if low is not None:
            window = "(e.line_no IS NULL OR e.line_no BETWEEN %(lo)s AND %(hi)s)"
            params |= {"lo": low, "hi": high}
        cur.execute(
            f"""
            INSERT INTO quarantine (source, line_no, reason, detail, raw, quarantined_at,
                                    label_no)
            SELECT DISTINCT q.source, q.line_no, q.reason, q.detail, q.raw, now(),
                   %(label_no)s
            FROM _b_rejected q
            WHERE NOT EXISTS (
                SELECT 1 FROM quarantine e
                WHERE {window} AND e.source = q.source AND e.reason = q.reason
                  AND e.raw = q.raw AND e.line_no IS NOT DISTINCT FROM q.line_no)
            """,
            params,
        )
        return cur.rowcount


def label_numbers(cur: psycopg.Cursor[Any], labels: Sequence[Label]) -> dict[str, int]:
    """Numbers of ``labels`` by label id, adding those not stored yet (the caller holds
    the write lock, so numbers are handed out once)."""
    wanted = {label_id(label): label for label in labels}
    cur.execute("SELECT id, label_no FROM labels WHERE id = ANY(%s)", (list(wanted),))
    numbers = {str(key): int(number) for key, number in cur.fetchall()}
    missing = [key for key in wanted if key not in numbers]
    if not missing:
        return numbers
    cur.execute("SELECT coalesce(max(label_no), 0) + 1 FROM labels")
    row = cur.fetchone()
    next_no = int(row[0]) if row else 1
    rows = []
    for key in missing:
        label = wanted[key]
        numbers[key] = next_no
        rows.append(
            (
                next_no,
                key,
                int(label.level),
                label.level.name,
                label.originator,
                sorted(label.releasable_to),
                sorted(label.categories),
                label.orcon,
                label.to_marking(),
            )
        )
        next_no += 1
    cur.executemany("INSERT INTO labels VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)", rows)
    return numbers


def source_number(cur: psycopg.Cursor[Any], name: str) -> int:
    """The number of source ``name``, added when new."""
    cur.execute("SELECT source_no FROM sources WHERE name = %s", (name,))
    row = cur.fetchone()
    if row:
        return int(row[0])
    cur.execute(
        "INSERT INTO sources SELECT coalesce(max(source_no), 0) + 1, %s FROM sources "
        "RETURNING source_no",
        (name,),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])
