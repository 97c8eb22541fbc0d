"""``DuckDBStore``: the embedded store, one DuckDB file, zero setup.

Writes take a whole ``IngestBatch`` (Arrow tables) and commit it in one transaction, so
accepted input is durable batch by batch and a crash loses at most the batch in flight,
which a re-run stores again. Idempotence comes from content ids: a batch is anti-joined
against the reports of its own time window (a report with the same id was observed in the
same ``DEDUPE_WINDOW_S`` bucket), which DuckDB's row-group min/max statistics make cheap
because reports are inserted in time order. All DuckDB SQL lives here and in
``embedded_schema``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mista.errors import InputError, LabelError, StoreError
from mista.ingest.batch import IngestBatch, label_id
from mista.labels import Label, combine
from mista.model import DEDUPE_WINDOW_S, Alert, Track, User
from mista.partitions import VesselPartitions

from . import BBox, WriteResult
from ._users import user_from_row
from .embedded_fusion import FusionTables
from .embedded_schema import (
    MIGRATIONS,
    POSITION_TYPES,
    REBUILT_TABLES,
    STATIC_FIELDS,
    STATIC_TYPES,
)
from .embedded_watch import WatchlistMethods

__all__ = ["MOTION_FIELDS", "POSITION_TYPES", "STATIC_TYPES", "DuckDBStore"]

# POSITION_TYPES: AIS message types whose position is a vessel's (or SAR aircraft's)
# position, and so update its latest state. Base stations (4, 11) and aids to navigation
# (21) are stored as reports with their position but are not vessels. Position-file rows
# have no type. STATIC_TYPES carry static and voyage data (identity). Both live in
# embedded_schema, whose migration 2 replays the latest-state maintenance.
_WINDOW_US = DEDUPE_WINDOW_S * 1_000_000
#: Rows per row group in new stores, a quarter of DuckDB's default: DuckDB writes whole
#: row groups of a transaction straight to the file (anything smaller goes through the
#: write-ahead log and is compressed again at checkpoint), so a batch of a few tens of
#: thousands of messages avoids the double write, and time windows prune in finer steps.
ROW_GROUP_SIZE = 32_768
#: Batches between rebuilds of the small latest-state tables (see embedded_schema).
REBUILD_EVERY_BATCHES = 256
MOTION_FIELDS = ("lat", "lon", "speed_kn", "course_deg", "heading_deg", "nav_status")
#: Batch columns a stored report keeps (the content key is in the reception's raw line).
_REPORT_COLUMNS = (
    "id_hi",
    "id_lo",
    "content_hash",
    "originator",
    "source_kind",
    "observed_at",
    "msg_type",
    "mmsi",
    *MOTION_FIELDS,
    *STATIC_FIELDS,
)
#: The same, in the order of the reports table (after seq).
_STORED_REPORT_COLUMNS = (
    "id_hi",
    "id_lo",
    "content_hash",
    "originator",
    "source_kind",
    "label_no",
    "observed_at",
    "msg_type",
    "mmsi",
    *MOTION_FIELDS,
    *STATIC_FIELDS,
)
_RECEPTION_COLUMNS = ("id_hi", "id_lo", "received_at", "receiver", "line_no", "raw")


def _ts(param: str) -> str:
    """SQL for a timestamp parameter given as epoch microseconds (no tz libraries needed)."""
    return f"make_timestamp(${param}::BIGINT)::TIMESTAMPTZ"


def _us(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise StoreError(f"time {moment.isoformat()} has no timezone: give UTC times")
    return round(moment.timestamp() * 1_000_000)


def _time_range(column: pa.ChunkedArray) -> tuple[int, int] | None:
    """(min, max) epoch microseconds of a timestamp column, ignoring nulls."""
    bounds = pc.min_max(column.cast(pa.int64()))
    low, high = bounds["min"].as_py(), bounds["max"].as_py()
    return None if low is None else (int(low), int(high))


def _id_keys(messages: pa.Table) -> pa.Array:
    """The 16-byte report id of every row as one fixed-size binary array (for hashing)."""
    halves = np.column_stack(
        [
            np.asarray(messages.column("id_hi").to_numpy(), dtype=np.uint64),
            np.asarray(messages.column("id_lo").to_numpy(), dtype=np.uint64),
        ]
    ).astype(">u8")
    return pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(16), messages.num_rows, [None, pa.py_buffer(halves.tobytes())]
    )


def _first_occurrences(keys: pa.Array | pa.ChunkedArray) -> pa.Array:
    """True for the first row of each distinct key, in row order (no sort, no Python loop).

    Dictionary codes are assigned in order of first appearance, so a row is a first
    occurrence exactly when its code exceeds every code before it.
    """
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks()
    encoded = pc.dictionary_encode(keys)
    codes = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    if len(codes) == 0:
        return pa.array([], pa.bool_())
    running = np.maximum.accumulate(codes)
    previous = np.concatenate(([-1], running[:-1]))
    return pa.array(codes > previous)


def _unique_receptions(messages: pa.Table, ids: pa.Array, first_id: pa.Array) -> pa.Array:
    """Mask of the first row of each (id, receiver, raw) within a batch.

    Only rows whose id repeats can repeat a reception, so the costly key is built for those.
    """
    if pc.all(first_id).as_py():
        return first_id
    repeated = pc.is_in(ids, value_set=ids.filter(pc.invert(first_id)))
    picked = messages.filter(repeated)
    key = pc.binary_join_element_wise(
        ids.filter(repeated).cast(pa.binary()),
        pc.fill_null(picked.column("receiver"), "").cast(pa.binary()),
        picked.column("raw").cast(pa.binary()),
        b"\x1f",
    )
    keep = np.ones(messages.num_rows, dtype=bool)
    rows = np.flatnonzero(repeated.to_numpy(zero_copy_only=False))
    keep[rows] = _first_occurrences(key).to_numpy(zero_copy_only=False)
    return pa.array(keep)


def _newest_key(time_col: str, seq_col: str = "seq") -> str:
    """SQL of one HUGEINT ordering rows as (time NULLS FIRST, seq): its max is the newest
    row, as the write path decides (timed beats untimed, then time, then arrival)."""
    return (
        f"(coalesce(epoch_us({time_col}), -4611686018427387904)::HUGEINT "
        f"* 18446744073709551616 + {seq_col})"
    )


def _source_label(batch: IngestBatch) -> Label:
    """The label a batch's rejected lines are kept under: its source's label.

    A batch from one source has one label; should one carry several, its rejected lines
    take their combination (highest level, common releasability), never a wider label.
    """
    if not batch.labels:
        raise StoreError(
            f"batch from {batch.source} has rejected lines but no label: every batch names "
            "its source's label (IngestBatch.labels)"
        )
    if len(set(batch.labels)) == 1:
        return batch.labels[0]
    try:
        return combine(batch.labels, batch.labels[0].originator)
    except LabelError as exc:
        raise StoreError(
            f"batch from {batch.source}: cannot label its rejected lines: {exc}"
        ) from None


def _labels_table(labels: dict[str, tuple[int, Label]]) -> pa.Table:
    rows = list(labels.items())
    return pa.table(
        {
            "label_no": pa.array([no for _, (no, _) in rows], pa.int32()),
            "id": [key for key, _ in rows],
            "level": pa.array([int(label.level) for _, (_, label) in rows], pa.int16()),
            "level_name": [label.level.name for _, (_, label) in rows],
            "originator": [label.originator for _, (_, label) in rows],
            "releasable_to": [sorted(label.releasable_to) for _, (_, label) in rows],
            "categories": pa.array(
                [sorted(label.categories) for _, (_, label) in rows], pa.list_(pa.string())
            ),
            "orcon": [label.orcon for _, (_, label) in rows],
            "marking": [label.to_marking() for _, (_, label) in rows],
        }
    )


def _has_static_fields(messages: pa.Table) -> bool:
    """Whether any message carries a static field: most batches of positions carry none,
    and then updating ``vessels`` (from the new reports with one) would select nothing."""
    rows = messages.num_rows
    return any(messages.column(name).null_count < rows for name in STATIC_FIELDS)


class DuckDBStore(WatchlistMethods):
    """The embedded store. Open read-only for queries (several readers may share a file
    when no writer holds it)."""

    def __init__(self, path: str | os.PathLike[str], *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.exists():
            raise StoreError(
                f"no store at {self.path} (ingest something first: mista ingest FILE "
                "--store PATH, or point --store / MISTA_STORE at an existing store)"
            )
        self._con = duckdb.connect()
        options = "READ_ONLY" if read_only else f"ROW_GROUP_SIZE {ROW_GROUP_SIZE}"
        quoted = str(self.path).replace("'", "''")
        try:
            self._run(f"ATTACH '{quoted}' AS store ({options})")
            self._run("USE store")
        except (duckdb.IOException, duckdb.ResourceInUseException) as exc:
            self._con.close()
            if "lock" in str(exc).lower() or "already attached" in str(exc).lower():
                raise StoreError(
                    f"store {self.path} is in use by another process (wait for it to finish, "
                    "or use another --store)"
                ) from None
            raise StoreError(f"cannot open store {self.path}: {exc}") from None
        except duckdb.Error as exc:
            self._con.close()
            raise StoreError(
                f"cannot open store {self.path}: {exc} (is it a mista DuckDB store?)"
            ) from None
        self._run("SET TimeZone = 'UTC'")
        self._read_only = read_only
        if not read_only:
            # Checkpoint vacuuming would merge each batch's partly filled last row group
            # with its neighbours, rewriting most of the reports at every checkpoint; the
            # append-only tables need no vacuum, and the small upserted tables are rebuilt
            # instead (_rebuild_small_tables).
            self._run("SET max_vacuum_tasks = 0")
        self._batches_since_rebuild = 0
        #: Label numbers of the batch being written (its messages' and its rejected lines').
        self._batch_labels: dict[str, int] = {}
        self._migrate()
        self._seq = self._scalar("SELECT coalesce(max(seq), 0) FROM reports")
        self._next_seq = self._seq
        # Threads reading beside each other (``reading``) each get their own connection to
        # the same database, spawned from this one (made now, before any thread exists).
        self._local = threading.local()
        self._spawner = self._con.cursor()
        self._spawn_lock = threading.Lock()
        self._readers: list[duckdb.DuckDBPyConnection] = []
        self._fusion = FusionTables(self._con, self.path, self._label_numbers, self._reader)

    # -- lifecycle -----------------------------------------------------------------------

    def _run(self, sql: str, params: dict[str, Any] | None = None) -> None:
        # Fetch to the end: DuckDB refuses new work while a result is unfinished.
        self._con.execute(sql, params or {}).fetchall()

    def _scalar(self, sql: str, params: dict[str, Any] | None = None) -> int:
        rows = self._con.execute(sql, params or {}).fetchall()
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def _migrate(self) -> None:
        latest = MIGRATIONS[-1][0]
        exists = self._scalar(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_catalog = current_database() AND table_name = 'schema_migrations'"
        )
        if not exists and self._read_only:
            raise StoreError(f"{self.path} is not a mista store (no schema_migrations table)")
        if not exists:
            self._run(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                "name VARCHAR NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
            )
        current = self._scalar("SELECT coalesce(max(version), 0) FROM schema_migrations")
        if current > latest:
            raise StoreError(
                f"store {self.path} has schema version {current}, newer than this mista "
                f"knows ({latest}): upgrade mista to use it"
            )
        if current < latest and self._read_only:
            raise StoreError(
                f"store {self.path} has schema version {current}, older than {latest}: "
                "open it once for writing (e.g. mista ingest) to migrate it"
            )
        for version, name, statements in MIGRATIONS:
            if version <= current:
                continue
            self._con.begin()
            try:
                for statement in statements:
                    self._run(statement)
                self._run(
                    "INSERT INTO schema_migrations VALUES ($v, $n, now())",
                    {"v": version, "n": name},
                )
                self._con.commit()
            except duckdb.Error as exc:
                self._con.rollback()
                raise StoreError(f"store {self.path}: migration {version} failed: {exc}") from None

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        """The DuckDB connection, for this package's sibling modules (``embedded_exchange``)
        that keep their tables in the same file and must share its transactions. Callers
        outside ``mista.store`` use the methods instead."""
        return self._con

    def schema_version(self) -> int:
        return self._scalar("SELECT max(version) FROM schema_migrations")

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """Within this block, this thread's user reads (vessels, track, positions, alerts,
        tracks, tokens, the API's reads, the report feed and its ends) go through its own
        connection, so they may run beside other threads' reads and writes without the
        node's lock; each sees the store as last committed. Writes still need the lock."""
        before = getattr(self._local, "reading", False)
        self._local.reading = True
        try:
            yield
        finally:
            self._local.reading = before

    def _reader(self) -> duckdb.DuckDBPyConnection:
        """This thread's own connection inside ``reading``, else the store's one."""
        if not getattr(self._local, "reading", False):
            return self._con
        con: duckdb.DuckDBPyConnection | None = getattr(self._local, "con", None)
        if con is None:
            with self._spawn_lock:
                con = self._spawner.cursor()
                self._readers.append(con)
            con.execute("USE store").fetchall()
            con.execute("SET TimeZone = 'UTC'").fetchall()
            self._local.con = con
        return con

    def close(self) -> None:
        try:
            if not self._read_only and self._batches_since_rebuild:
                self._rebuild_small_tables()
        finally:
            with self._spawn_lock:
                for reader in self._readers:
                    reader.close()
                self._readers.clear()
                self._spawner.close()
            self._con.close()

    def _rebuild_small_tables(self) -> None:
        """Rewrite the latest-state tables, dropping the rows their upserts deleted."""
        con = self._con
        try:
            con.begin()
            for table, ddl in REBUILT_TABLES.items():
                self._run(f"ALTER TABLE {table} RENAME TO _{table}_old")
                self._run(ddl)
                self._run(f"INSERT INTO {table} SELECT * FROM _{table}_old")
                self._run(f"DROP TABLE _{table}_old")
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise StoreError(
                f"store {self.path}: compacting the latest state failed: {exc}"
            ) from None
        self._batches_since_rebuild = 0

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

    def _number(self, table: str, number_col: str, key_col: str, key: str) -> int | None:
        """The small integer a label or source is stored under, if it is known."""
        rows = self._con.execute(
            f"SELECT {number_col} FROM {table} WHERE {key_col} = $k", {"k": key}
        ).fetchall()
        return int(rows[0][0]) if rows else None

    def _label_numbers(self, labels: tuple[Label, ...]) -> dict[str, int]:
        """Numbers of the batch's labels, adding labels not seen before (one lookup for all:
        a partner's batch may carry many labels)."""
        wanted = {label_id(label): label for label in labels}
        rows = self._con.execute(
            "SELECT id, label_no FROM labels WHERE list_contains($keys, id)",
            {"keys": list(wanted)},
        ).fetchall()
        numbers: dict[str, int] = {str(key): int(number) for key, number in rows}
        if len(numbers) == len(wanted):
            return numbers
        new: dict[str, tuple[int, Label]] = {}
        next_no = self._scalar("SELECT coalesce(max(label_no), 0) + 1 FROM labels")
        for key, label in wanted.items():
            if key not in numbers:
                numbers[key] = next_no
                new[key] = (next_no, label)
                next_no += 1
        if new:
            self._con.register("_labels", _labels_table(new))
            try:
                self._run("INSERT INTO labels SELECT * FROM _labels")
            finally:
                self._con.unregister("_labels")
        return numbers

    def _source_number(self, name: str) -> int:
        number = self._number("sources", "source_no", "name", name)
        if number is None:
            number = self._scalar("SELECT coalesce(max(source_no), 0) + 1 FROM sources")
            self._run("INSERT INTO sources VALUES ($n, $name)", {"n": number, "name": name})
        return number

    def write(self, batch: IngestBatch) -> WriteResult:
        if self._read_only:
            raise StoreError(f"store {self.path} is open read-only")
        con = self._con
        seq0 = self._next_seq = self._seq
        reports = receptions = rejected = 0
        registered: list[str] = []
        self._batch_labels = {}
        try:
            con.begin()
            if batch.messages.num_rows:
                registered += self._register_messages(batch)
                self._find_cross_bucket_duplicates(batch)
                reports = self._insert_reports(batch)
                receptions = self._insert_receptions(batch)
                if reports:
                    self._update_latest(seq0)
                    if _has_static_fields(batch.messages):
                        self._update_vessels(seq0)
            if batch.rejected.num_rows:
                con.register("_rejected", batch.rejected)
                registered.append("_rejected")
                rejected = self._insert_rejected(batch)
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise StoreError(f"store {self.path}: writing a batch failed: {exc}") from None
        finally:
            for name in registered:
                con.unregister(name)
        self._seq = self._next_seq
        self._batches_since_rebuild += 1
        if self._batches_since_rebuild >= REBUILD_EVERY_BATCHES:
            self._rebuild_small_tables()
        return WriteResult(reports=reports, receptions=receptions, rejected=rejected)

    def _register_messages(self, batch: IngestBatch) -> list[str]:
        """Register the batch's reports (one per id) and receptions (one per hearing)."""
        messages = batch.messages
        ids = _id_keys(messages)
        first = _first_occurrences(ids)
        numbers = self._batch_labels = self._label_numbers(batch.labels)
        reports = messages.select([*_REPORT_COLUMNS, "label_id"]).filter(first)
        keys = list(numbers)
        if len(keys) == 1:  # the usual case: one source, one label
            label_nos: pa.Array = pa.repeat(pa.scalar(numbers[keys[0]], pa.int32()), len(reports))
        else:
            positions = pc.index_in(reports.column("label_id"), value_set=pa.array(keys))
            label_nos = pa.array(np.array([numbers[k] for k in keys], dtype=np.int32)).take(
                positions
            )
        if label_nos.null_count:
            raise StoreError("a batch row has a label that is not in the batch's labels")
        reports = reports.drop_columns(["label_id"]).append_column("label_no", label_nos)
        # Sequence numbers in input order; rows found to be duplicates leave gaps, harmless
        # for an ordering key and cheaper than numbering in SQL (a window is one thread).
        seq = np.arange(self._seq + 1, self._seq + 1 + reports.num_rows, dtype=np.int64)
        self._con.register("_reports", reports.append_column("seq", pa.array(seq)))
        self._next_seq = self._seq + reports.num_rows
        source_no = self._source_number(batch.source)
        hearings = messages.select(list(_RECEPTION_COLUMNS)).filter(
            _unique_receptions(messages, ids, first)
        )
        hearings = hearings.append_column(
            "source_no", pa.repeat(pa.scalar(source_no, pa.int32()), hearings.num_rows)
        )
        self._con.register("_receptions", hearings)
        return ["_reports", "_receptions"]

    def _window_ids(
        self,
        table: str,
        time_col: str,
        extra: str,
        bounds: tuple[int, int] | None,
        untimed: bool,
    ) -> tuple[str, dict[str, int]]:
        """SQL selecting existing rows of ``table`` that a batch could duplicate."""
        parts, params = [], {}
        if bounds is not None:
            parts.append(
                f"SELECT id_hi, id_lo{extra} FROM {table} "
                f"WHERE {time_col} >= {_ts('lo')} AND {time_col} < {_ts('hi')}"
            )
            params = {"lo": bounds[0], "hi": bounds[1]}
        if untimed:
            parts.append(f"SELECT id_hi, id_lo{extra} FROM {table} WHERE {time_col} IS NULL")
        return " UNION ALL ".join(parts), params

    def _find_cross_bucket_duplicates(self, batch: IngestBatch) -> None:
        """Fill ``_remap`` with batch ids that are the same transmission as another report.

        Report ids bucket time by DEDUPE_WINDOW_S, so one transmission heard just before
        and just after a bucket boundary gets two ids. A row whose content was heard less
        than DEDUPE_WINDOW_S earlier in the batch, or less than that before or after it in
        a stored report, is mapped to the earliest of those instead: one observation,
        several receptions. Stored reports later than the row count too, so the order
        batches arrive in does not decide whether a transmission is stored once or twice
        (only which of its times is kept). A row whose own id is stored already (a batch
        sent again) is left as it is.
        """
        self._run(
            "CREATE OR REPLACE TEMP TABLE _remap "
            "(id_hi UBIGINT, id_lo UBIGINT, to_hi UBIGINT, to_lo UBIGINT)"
        )
        timed = _time_range(batch.messages.column("observed_at"))
        if timed is None:
            return
        self._run(
            f"""
            INSERT INTO _remap
            WITH b AS (
                SELECT id_hi, id_lo, observed_at, content_hash
                FROM _reports WHERE observed_at IS NOT NULL
            ), s AS (
                SELECT id_hi, id_lo, observed_at, content_hash FROM reports
                WHERE observed_at > {_ts("lo")} AND observed_at < {_ts("hi")}
            ), o AS (
                SELECT id_hi, id_lo, observed_at, content_hash, true AS stored FROM s
                UNION ALL SELECT id_hi, id_lo, observed_at, content_hash, false FROM b
            ), first AS (
                SELECT b.id_hi, b.id_lo,
                       arg_min({{'hi': o.id_hi, 'lo': o.id_lo}}, o.observed_at) AS target
                FROM b JOIN o ON o.content_hash = b.content_hash
                 AND (o.observed_at < b.observed_at OR o.stored)
                 AND o.observed_at > b.observed_at - INTERVAL {DEDUPE_WINDOW_S} SECOND
                 AND o.observed_at < b.observed_at + INTERVAL {DEDUPE_WINDOW_S} SECOND
                WHERE (o.id_hi <> b.id_hi OR o.id_lo <> b.id_lo)
                  AND NOT EXISTS (
                    SELECT 1 FROM s WHERE s.id_hi = b.id_hi AND s.id_lo = b.id_lo)
                GROUP BY b.id_hi, b.id_lo
            )
            SELECT id_hi, id_lo, target.hi, target.lo FROM first
            """,
            {"lo": timed[0] - _WINDOW_US, "hi": timed[1] + _WINDOW_US},
        )
        # A target that is itself a repeat points on to the first report (one level: a
        # chain needs identical payloads under a minute apart for over two minutes).
        self._run(
            """
            UPDATE _remap SET to_hi = r.to_hi, to_lo = r.to_lo
            FROM _remap r WHERE _remap.to_hi = r.id_hi AND _remap.to_lo = r.id_lo
            """
        )

    def _insert_reports(self, batch: IngestBatch) -> int:
        observed = batch.messages.column("observed_at")
        timed = _time_range(observed)
        bounds = None
        if timed is not None:
            # The stored report with the same id lies in the same dedupe bucket.
            bounds = (
                (timed[0] // _WINDOW_US) * _WINDOW_US,
                (timed[1] // _WINDOW_US + 1) * _WINDOW_US,
            )
        untimed = observed.null_count > 0
        existing, params = self._window_ids("reports", "observed_at", "", bounds, untimed)
        columns = ", ".join(f"b.{name}" for name in _STORED_REPORT_COLUMNS)
        # Batches arrive in time order, so row groups hold narrow time ranges (time windows
        # prune row groups); within a batch rows are sorted by vessel, so a vessel's rows
        # are contiguous and column-segment statistics skip the rest (track queries).
        sql = f"""
            INSERT INTO reports
            SELECT b.seq, {columns}
            FROM _reports b
            LEFT JOIN ({existing}) e ON e.id_hi = b.id_hi AND e.id_lo = b.id_lo
            LEFT JOIN _remap m ON m.id_hi = b.id_hi AND m.id_lo = b.id_lo
            WHERE e.id_hi IS NULL AND m.id_hi IS NULL
            ORDER BY b.mmsi, b.observed_at
        """
        return self._scalar(sql, params)

    def _insert_receptions(self, batch: IngestBatch) -> int:
        received = batch.messages.column("received_at")
        bounds = _time_range(received)
        if bounds is not None:
            bounds = (bounds[0], bounds[1] + 1)
        untimed = received.null_count > 0
        existing, params = self._window_ids(
            "receptions", "received_at", ", receiver, raw", bounds, untimed
        )
        sql = f"""
            INSERT INTO receptions
            SELECT b.id_hi, b.id_lo, b.received_at, b.receiver, b.source_no, b.line_no, b.raw
            FROM (
                SELECT coalesce(m.to_hi, r.id_hi) AS id_hi, coalesce(m.to_lo, r.id_lo) AS id_lo,
                       r.received_at, r.receiver, r.source_no, r.line_no, r.raw
                FROM _receptions r
                LEFT JOIN _remap m ON m.id_hi = r.id_hi AND m.id_lo = r.id_lo
            ) b
            LEFT JOIN ({existing}) e
              ON e.id_hi = b.id_hi AND e.id_lo = b.id_lo AND e.raw = b.raw
             AND coalesce(e.receiver, '') = coalesce(b.receiver, '')
            WHERE e.id_hi IS NULL
        """
        return self._scalar(sql, params)

    def _update_latest(self, seq0: int) -> None:
        fields = ", ".join(MOTION_FIELDS)
        updates = ", ".join(
            f"{name} = excluded.{name}"
            for name in (
                "id_hi",
                "id_lo",
                "seq",
                "observed_at",
                "msg_type",
                *MOTION_FIELDS,
                "source_kind",
            )
        )
        types = ", ".join(str(t) for t in POSITION_TYPES)
        self._run(
            f"""
            INSERT INTO vessel_latest
            SELECT mmsi, id_hi, id_lo, seq, observed_at, msg_type, {fields}, label_no,
                   source_kind
            FROM reports
            WHERE seq > $seq0 AND mmsi IS NOT NULL AND lat IS NOT NULL AND lon IS NOT NULL
              AND (msg_type IS NULL OR msg_type IN ({types}))
            QUALIFY row_number() OVER (
                PARTITION BY mmsi, label_no ORDER BY observed_at DESC NULLS LAST, seq DESC) = 1
            ON CONFLICT (mmsi, label_no) DO UPDATE SET {updates}
            WHERE vessel_latest.observed_at IS NULL
               OR excluded.observed_at >= vessel_latest.observed_at
            """,
            {"seq0": seq0},
        )

    def _update_vessels(self, seq0: int) -> None:
        aggregates = ", ".join(
            f"arg_max({name}, seq) FILTER (WHERE {name} IS NOT NULL)" for name in STATIC_FIELDS
        )
        newer = "(vessels.updated_at IS NULL OR excluded.updated_at >= vessels.updated_at)"
        updates = ", ".join(
            f"{name} = CASE WHEN {newer} THEN coalesce(excluded.{name}, vessels.{name}) "
            f"ELSE coalesce(vessels.{name}, excluded.{name}) END"
            for name in STATIC_FIELDS
        )
        any_static = " OR ".join(f"{name} IS NOT NULL" for name in STATIC_FIELDS)
        types = ", ".join(str(t) for t in STATIC_TYPES)
        self._run(
            f"""
            INSERT INTO vessels
            SELECT mmsi, label_no, max(observed_at), max(seq), {aggregates}
            FROM reports
            WHERE seq > $seq0 AND mmsi IS NOT NULL AND ({any_static})
              AND (msg_type IS NULL OR msg_type IN ({types}))
            GROUP BY mmsi, label_no
            ON CONFLICT (mmsi, label_no) DO UPDATE SET {updates},
                updated_at = greatest(vessels.updated_at, excluded.updated_at),
                seq = greatest(vessels.seq, excluded.seq)
            """,
            {"seq0": seq0},
        )

    def _insert_rejected(self, batch: IngestBatch) -> int:
        lines = batch.rejected.column("line_no")
        bounds = pc.min_max(lines)
        low, high = bounds["min"].as_py(), bounds["max"].as_py()
        window = (
            "e.line_no IS NULL"
            if low is None
            else ("(e.line_no IS NULL OR e.line_no BETWEEN $lo AND $hi)")
        )
        params = {} if low is None else {"lo": low, "hi": high}
        source_label = _source_label(batch)
        key = label_id(source_label)
        known = self._batch_labels  # the numbers this batch's messages were stored under
        params["label_no"] = (
            known[key] if key in known else self._label_numbers((source_label,))[key]
        )
        return self._scalar(
            f"""
            INSERT INTO quarantine
            SELECT DISTINCT q.source, q.line_no, q.reason, q.detail, q.raw, now(), $label_no
            FROM _rejected q
            WHERE NOT EXISTS (
                SELECT 1 FROM quarantine e
                WHERE {window} AND e.source = q.source AND e.reason = q.reason
                  AND e.raw = q.raw AND e.line_no IS NOT DISTINCT FROM q.line_no)
            """,
            params,
        )

    # -- reading -------------------------------------------------------------------------

    def _query(self, sql: str, params: dict[str, Any]) -> pa.Table:
        try:
            return self._reader().sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"store {self.path}: query failed: {exc}") from None

    @staticmethod
    def _window(since: datetime | None, until: datetime | None) -> tuple[str, dict[str, int]]:
        clauses, params = [], {}
        if since is not None:
            clauses.append(f"r.observed_at >= {_ts('since')}")
            params["since"] = _us(since)
        if until is not None:
            clauses.append(f"r.observed_at < {_ts('until')}")
            params["until"] = _us(until)
        return "".join(f" AND {clause}" for clause in clauses), params

    _POSITION_COLUMNS = (
        "r.observed_at, r.mmsi, r.lat, r.lon, r.speed_kn, r.course_deg, r.heading_deg, "
        "r.nav_status, r.msg_type, r.source_kind, r.originator, l.marking AS label, "
        "printf('%016x%016x', r.id_hi, r.id_lo) AS report_id"
    )

    @staticmethod
    def _visible(viewer: User) -> tuple[str, dict[str, Any]]:
        """SQL (over labels ``l``) of DESIGN.md rule 1 for ``viewer``, as ``labels.may_see``
        states it: the viewer's clearance is at least the level, and their nation is in the
        releasability. Every query joins its rows to ``labels l`` and adds this."""
        if not isinstance(viewer, User):
            raise StoreError(f"queries need a viewer (a mista.model.User), got {viewer!r}")
        return (
            "l.level <= $clearance AND list_contains(l.releasable_to, $nation)",
            {"clearance": int(viewer.clearance), "nation": viewer.nation},
        )

    def track(
        self,
        mmsi: int,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
    ) -> pa.Table:
        visible, rule = self._visible(viewer)
        window, params = self._window(since, until)
        return self._query(
            f"""
            SELECT {self._POSITION_COLUMNS}
            FROM reports r JOIN labels l ON l.label_no = r.label_no
            WHERE r.mmsi = $mmsi AND r.lat IS NOT NULL{window} AND {visible}
            ORDER BY r.observed_at NULLS FIRST, r.seq
            """,
            {"mmsi": mmsi, **params, **rule},
        )

    def positions(
        self,
        bbox: BBox,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
    ) -> pa.Table:
        visible, rule = self._visible(viewer)
        window, params = self._window(since, until)
        if bbox.west_deg <= bbox.east_deg:
            lon = "r.lon BETWEEN $west AND $east"
        else:  # crosses the antimeridian
            lon = "(r.lon >= $west OR r.lon <= $east)"
        return self._query(
            f"""
            SELECT {self._POSITION_COLUMNS}
            FROM reports r JOIN labels l ON l.label_no = r.label_no
            WHERE r.lat BETWEEN $south AND $north AND {lon}{window} AND {visible}
            ORDER BY r.observed_at NULLS FIRST, r.seq
            """,
            {
                "west": bbox.west_deg,
                "south": bbox.south_deg,
                "east": bbox.east_deg,
                "north": bbox.north_deg,
                **params,
                **rule,
            },
        )

    def vessels(self, *, viewer: User) -> pa.Table:
        """Per MMSI, the newest position among the labels ``viewer`` may see (the same order
        as the write path: timed beats untimed, then later time, then later arrival), and
        each identity field from the newest visible report that has it."""
        visible, rule = self._visible(viewer)
        newest = ", ".join(
            f"arg_max({name}, k) FILTER (WHERE {name} IS NOT NULL) AS {name}"
            for name in ("name", "callsign", "imo", "ship_type", "destination")
        )
        # One sortable number per row, (time NULLS FIRST, seq), so picking the newest is an
        # aggregate: cheaper than a window over every vessel.
        return self._query(
            f"""
            WITH seen AS (
                SELECT l.label_no FROM labels l WHERE {visible}
            ), newest AS (
                SELECT mmsi, max({_newest_key("observed_at")}) AS k FROM vessel_latest
                WHERE label_no IN (SELECT label_no FROM seen) GROUP BY mmsi
            ), p AS (
                SELECT p.* FROM vessel_latest p
                JOIN newest n ON n.mmsi = p.mmsi AND n.k = {_newest_key("p.observed_at", "p.seq")}
                WHERE p.label_no IN (SELECT label_no FROM seen)
            ), v AS (
                SELECT mmsi, {newest}
                FROM (
                    SELECT *, {_newest_key("updated_at")} AS k FROM vessels
                    WHERE label_no IN (SELECT label_no FROM seen)
                )
                GROUP BY mmsi
            )
            SELECT coalesce(p.mmsi, v.mmsi) AS mmsi, v.name, v.callsign, v.imo, v.ship_type,
                   v.destination, p.observed_at, p.lat, p.lon, p.speed_kn, p.course_deg,
                   p.heading_deg, p.nav_status, p.msg_type, p.source_kind,
                   l.originator, l.marking AS label,
                   printf('%016x%016x', p.id_hi, p.id_lo) AS report_id
            FROM p FULL OUTER JOIN v ON v.mmsi = p.mmsi
            LEFT JOIN labels l ON l.label_no = p.label_no
            ORDER BY mmsi
            """,
            rule,
        )

    def rejected(self, limit: int | None = None, *, viewer: User) -> pa.Table:
        """The quarantine rows whose source's label ``viewer`` may see."""
        visible, rule = self._visible(viewer)
        limit_sql = "" if limit is None else " LIMIT $limit"
        return self._query(
            "SELECT q.source, q.line_no, q.reason, q.detail, q.raw, q.quarantined_at, "
            "l.marking AS label "
            f"FROM quarantine q JOIN labels l ON l.label_no = q.label_no WHERE {visible} "
            f"ORDER BY q.source, q.line_no NULLS FIRST, q.reason{limit_sql}",
            rule if limit is None else {"limit": limit, **rule},
        )

    # -- the fused picture (SQL in embedded_fusion) ---------------------------------------

    def report_feed(
        self, after_seq: int, limit: int, *, partitions: VesselPartitions | None = None
    ) -> pa.Table:
        """Reports after ``after_seq`` in seq order, at most ``limit``, EVERY label: the
        FEED columns (``embedded_fusion.FEED_SCHEMA``); with ``partitions``, of the vessels
        hashing into them only. For workers (fusion), never for a user: users read through
        the filtered queries."""
        return self._fusion.report_feed(after_seq, limit, partitions=partitions)

    def labels(self) -> dict[int, Label]:
        """Every stored label by its number (``label_no`` of the feed, tracks and alerts)."""
        return self._fusion.labels()

    def fusion_cursor(self, part: int = 0) -> int:
        """The seq of the last report fusion part ``part`` fused (0 before any)."""
        return self._fusion.fusion_cursor(part)

    def fusion_read(self, part: int = 0) -> int:
        """The seq of the last report the part had read at its last step (at least its
        fusion cursor)."""
        return self._fusion.fusion_read(part)

    def fusion_state(self, part: int = 0) -> tuple[int, bytes] | None:
        """The part's saved fusion checkpoint: the read seq it was taken at and its bytes."""
        return self._fusion.fusion_state(part)

    def save_fusion_state(self, read: int, state: bytes, part: int = 0) -> None:
        """Replace the part's fusion checkpoint with ``state``, taken when it had read up
        to ``read``."""
        self._writable("save the fusion checkpoint")
        self._fusion.save_fusion_state(read, state, part)

    def clear_fusion_state(self, part: int = 0) -> None:
        """Drop the part's fusion checkpoint (it then resumes with fresh memory)."""
        self._writable("clear the fusion checkpoint")
        self._fusion.clear_fusion_state(part)

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
        self._fusion.write_fusion(
            cursor=cursor, tracks=tracks, points=points, alerts=alerts, read=read, part=part
        )
        self._wrote_upserts()

    def write_alerts(self, alerts: Sequence[Alert]) -> int:
        """Upsert alerts by id (e.g. received from partners), in one transaction; returns
        how many were new or changed."""
        self._writable("write alerts")
        changed = self._fusion.write_alerts(alerts)
        self._wrote_upserts()
        return changed

    def _writable(self, what: str) -> None:
        if self._read_only:
            raise StoreError(f"store {self.path} is open read-only: cannot {what}")

    def _wrote_upserts(self) -> None:
        # Upserted rows leave deleted versions behind: compact with the latest state.
        self._batches_since_rebuild += 1
        if self._batches_since_rebuild >= REBUILD_EVERY_BATCHES:
            self._rebuild_small_tables()

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
        visible, rule = self._visible(viewer)
        return self._fusion.alerts(
            visible,
            rule,
            since=since,
            until=until,
            kinds=kinds,
            include_withdrawn=include_withdrawn,
            limit=limit,
        )

    def tracks(self, *, viewer: User, kind: str | None = None) -> pa.Table:
        """Tracks ``viewer`` may see (of ``kind``, ``ais`` or ``dark``, when given), ordered
        by first time, then id. Columns: id, kind, mmsi, name, first_at, last_at, lat,
        lon (the latest position), points, linked_from, label (its marking)."""
        visible, rule = self._visible(viewer)
        return self._fusion.tracks(visible, rule, kind=kind)

    def alert_changes_after(self, seq: int, limit: int) -> list[tuple[int, Alert]]:
        """Every alert change after ``seq`` in alert_seq order, at most ``limit``, EVERY
        label: (alert_seq, the Alert as it then stood). For sharing, never for a user."""
        return self._fusion.alert_changes_after(seq, limit)

    # -- users ---------------------------------------------------------------------------

    def add_user(self, user: User) -> None:
        """Add a user; an InputError if one of that name exists (remove it first)."""
        if self._read_only:
            raise StoreError(f"store {self.path} is open read-only: cannot add users")
        if self.user(user.name) is not None:
            raise InputError(
                f"user {user.name} already exists in {self.path} (remove it first: "
                f"mista users remove {user.name})"
            )
        try:
            self._run(
                "INSERT INTO users VALUES ($name, $nation, $clearance, $roles, now())",
                {
                    "name": user.name,
                    "nation": user.nation,
                    "clearance": user.clearance.name,
                    "roles": sorted(role.value for role in user.roles),
                },
            )
        except duckdb.ConstraintException:
            raise InputError(f"user {user.name} already exists in {self.path}") from None

    def remove_user(self, name: str) -> bool:
        """Remove a user; False when there was none of that name."""
        if self._read_only:
            raise StoreError(f"store {self.path} is open read-only: cannot remove users")
        self._run("DELETE FROM api_tokens WHERE user_name = $name", {"name": name})
        return self._scalar("DELETE FROM users WHERE name = $name", {"name": name}) > 0

    def add_token(
        self, name: str, token_hash: str, *, created_at: datetime, expires_at: datetime | None
    ) -> None:
        """Keep an API token's SHA-256 (hex) for user ``name``; InputError if no such user."""
        if self._read_only:
            raise StoreError(f"store {self.path} is open read-only: cannot issue tokens")
        if self.user(name) is None:
            raise InputError(
                f"no user {name!r} in {self.path} (add one first: mista users add {name} ...)"
            )
        self._run(
            "INSERT INTO api_tokens VALUES ($hash, $name, $created, $expires)",
            {"hash": token_hash, "name": name, "created": created_at, "expires": expires_at},
        )

    def user_for_token(self, token_hash: str, *, now: datetime) -> User | None:
        """The user a token (by its SHA-256 hex) belongs to, unless unknown or expired."""
        rows = (
            self._reader()
            .execute(
                "SELECT u.name, u.nation, u.clearance, u.roles FROM api_tokens t "
                "JOIN users u ON u.name = t.user_name WHERE t.token_hash = $hash "
                "AND (t.expires_at IS NULL OR t.expires_at > $now)",
                {"hash": token_hash, "now": now},
            )
            .fetchall()
        )
        return self._user(rows[0]) if rows else None

    def revoke_tokens(self, name: str) -> int:
        """Forget every token of user ``name``; how many there were."""
        if self._read_only:
            raise StoreError(f"store {self.path} is open read-only: cannot revoke tokens")
        return self._scalar("DELETE FROM api_tokens WHERE user_name = $name", {"name": name})

    def users(self) -> list[User]:
        """Every user, by name."""
        rows = self._con.execute(
            "SELECT name, nation, clearance, roles FROM users ORDER BY name"
        ).fetchall()
        return [self._user(row) for row in rows]

    def user(self, name: str) -> User | None:
        """The user of that name, if there is one."""
        rows = self._con.execute(
            "SELECT name, nation, clearance, roles FROM users WHERE name = $name", {"name": name}
        ).fetchall()
        return self._user(rows[0]) if rows else None

    def _user(self, row: tuple[Any, ...]) -> User:
        return user_from_row(row, str(self.path))

    def counts(self) -> dict[str, int]:
        tables = (
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
        sql = " UNION ALL ".join(f"SELECT '{t}', count(*) FROM {t}" for t in tables)
        result = self._con.sql(sql).to_arrow_table()
        names, values = result.column(0).to_pylist(), result.column(1).to_pylist()
        return {str(name): int(value) for name, value in zip(names, values, strict=True)}

    def rejected_by_reason(self) -> dict[str, int]:
        result = self._con.sql(
            "SELECT reason, count(*) FROM quarantine GROUP BY reason ORDER BY 2 DESC"
        ).to_arrow_table()
        names = result.column(0).to_pylist()
        values = np.asarray(result.column(1))
        return {str(name): int(value) for name, value in zip(names, values, strict=True)}

    # -- reads for the API (mista.api; the SQL is in embedded_api) -------------------------

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
        visible, rule = self._visible(viewer)
        window, params = self._window(since, until)
        from .embedded_api import ApiTables

        return ApiTables(self._reader(), self.path).positions_page(
            self._POSITION_COLUMNS, visible, window, {**params, **rule}, bbox, limit
        )

    def releases(self, partner: str | None = None, *, limit: int) -> pa.Table:
        """Share outbox items (of ``partner``, or all), newest first (for admins)."""
        from .embedded_api import ApiTables

        return ApiTables(self._reader(), self.path).releases(partner, limit)

    def partners_released_to(self) -> list[str]:
        """Every partner the share outbox holds items for."""
        from .embedded_api import ApiTables

        return ApiTables(self._reader(), self.path).partners_released_to()

    def released_vessels(self, partner: str) -> pa.Table:
        """Per vessel, the latest state ``partner`` received (``vessels`` columns), from
        the sanitised items as sent (for admins: "view as partner")."""
        from .embedded_api import ApiTables

        return ApiTables(self._reader(), self.path).released_vessels(partner)
