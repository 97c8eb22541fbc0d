"""The partner exchange's tables on PostgreSQL: cursors, outbox, inbound batches, nonces.

The same tables (migration 6 in ``postgres_schema``), rules and answers as the embedded
store's ``ExchangeTables`` (``embedded_exchange`` describes the tables and the meaning of
every method): the same result types, the same order numbers, the same errors.

Every write that is one transaction there is one transaction here (a scan's outbox rows
and its cursor move, a batch's assignment, an acknowledgement, an inbound batch with its
nonce and amendments), and takes an advisory lock of its own (``EXCHANGE_LOCK``) held to
commit: order numbers are ``max + 1``, so two writers (say a pusher and the receiver, or
two processes) must not interleave, and a partner's reads, which start at its low order
number, must never find a lower number committed later. Report and alert writers keep
their own lock: the exchange only reads what they commit, by seq, which they give out in
commit order. Reads take a pooled connection each and see the store as last committed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import psycopg
import pyarrow as pa

from mista.errors import StoreError
from mista.labels import Label, Level
from mista.model import DEDUPE_WINDOW_S, Alert, AlertStatus

from .embedded_api import _marking
from .embedded_exchange import (
    REPORT_FIELD_COLUMNS,
    AlertChange,
    Given,
    InboundBatch,
    OutboxItem,
    OutboxRow,
    PartnerCursor,
    alert_change,
    alert_cursor_key,
    pending_batch,
    split_id,
)
from .embedded_fusion import FEED_SCHEMA
from .postgres_api import RELEASE_SCHEMA, RELEASED_VESSEL_SCHEMA
from .postgres_read import hex_id, to_arrow, with_first_receiver

if TYPE_CHECKING:
    from .postgres import PostgresStore

__all__ = [
    "AMENDMENT_SCHEMA",
    "EXCHANGE_LOCK",
    "LABEL_MARKS_SCHEMA",
    "OUTBOX_COLUMNS",
    "SHARER_LOCK",
    "PostgresExchangeTables",
    "sole_sharer",
]

#: The advisory lock every exchange write holds to commit (any 64-bit number of our own).
EXCHANGE_LOCK = 0x6D69_7374_7368_6172
#: The session advisory lock of the one process that shares from a database.
SHARER_LOCK = 0x6D69_7374_7368_7231
_UTC_US = pa.timestamp("us", tz="UTC")
#: What ``report_labels_after`` answers.
LABEL_MARKS_SCHEMA = pa.schema([pa.field("seq", pa.int64()), pa.field("label_no", pa.int32())])
#: What ``amendments`` answers.
AMENDMENT_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string()),
        pa.field("sender", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("record", pa.string()),
        pa.field("batch_seq", pa.int64()),
        pa.field("amended_at", _UTC_US),
    ]
)
# ``reports_after`` answers the report feed's columns (seq, id, label_no, the fields, the
# receiver), as the embedded store's does.
assert tuple(FEED_SCHEMA.names[3:-1]) == REPORT_FIELD_COLUMNS
#: The columns an outbox item is enqueued with (``mista store copy`` adds the batch ones).
OUTBOX_COLUMNS = (
    "partner",
    "order_no",
    "record_id",
    "kind",
    "not_before",
    "agreement",
    "clause",
    "item",
)
_OUTBOX_TYPES = ("text", "bigint", "text", "text", "timestamptz", "text", "text", "text")
_OUTBOX_ROW = (
    "order_no, record_id, kind, not_before, item, batch_seq, agreement, clause FROM share_outbox"
)
#: For the reads that join a chunk of reports to the receptions (which have no index on
#: ids): a chunk just written has no statistics yet, the planner then guesses a row or
#: two and loops over the receptions once per report (8 s instead of 10 ms for 10,000).
_NO_NESTED_LOOPS = "SET LOCAL enable_nestloop = off"
#: Text sorts byte-wise, as DuckDB sorts it, whatever the database's collation.
_BYTEWISE = 'COLLATE "C"'


def _signed(half: int) -> int:
    """An unsigned 64-bit id half as the bigint holding the same bits."""
    return half - (1 << 64) if half >= 1 << 63 else half


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise StoreError(f"time {moment.isoformat()} has no timezone: give UTC times")
    return moment


def _utc(moment: datetime | None) -> datetime | None:
    """A time read back, in the embedded store's time zone object (``datetime.UTC``)."""
    return None if moment is None else moment.astimezone(UTC)


#: Record fields of a released report read back for "view as partner", with their SQL
#: types (as ``embedded_api`` reads them), in the order of the answer's columns.
_IDENTITY_TYPES = {
    "name": "text",
    "callsign": "text",
    "imo": "integer",
    "ship_type": "smallint",
    "destination": "text",
}
_POSITION_TYPES = {
    "lat": "float8",
    "lon": "float8",
    "speed_kn": "float8",
    "course_deg": "float8",
    "heading_deg": "float8",
    "nav_status": "smallint",
    "msg_type": "smallint",
}
#: What text each SQL type takes from a record field (anything else reads as null, as
#: DuckDB's TRY_CAST gives): plain decimals, digits that fit, wire times.
_CASTABLE = {
    "float8": r"^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$",
    "integer": r"^-?[0-9]{1,9}$",
    "smallint": r"^-?[0-9]{1,4}$",
    "timestamptz": r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?"
    r"(Z|[-+][0-9]{2}(:?[0-9]{2})?)?$",
}


def _json_field(name: str, sql_type: str) -> str:
    """SQL of one record field of ``x`` (the item's fields, jsonb) as ``sql_type``."""
    text = f"(x ->> '{name}')"
    if sql_type == "text":
        return f"{text} AS {name}"
    return f"CASE WHEN {text} ~ '{_CASTABLE[sql_type]}' THEN {text}::{sql_type} END AS {name}"


@contextmanager
def sole_sharer(store: PostgresStore) -> Iterator[None]:
    """Hold, while the block runs, the claim to be the one process that shares from this
    database (``SHARER_LOCK``, a session advisory lock on a connection of its own); a
    StoreError at once if another process holds it.

    Two processes scanning for the same partner would both queue what they read after
    the same cursor: the cursor check catches only a move back. A share process takes
    this for its life (the lock goes with its connection, also when it dies).
    """
    try:
        con = psycopg.connect(store.url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise StoreError(f"store {store.where}: connecting failed: {exc}") from None
    held = False
    try:
        row = con.execute("SELECT pg_try_advisory_lock(%s)", (SHARER_LOCK,)).fetchone()
        if not (row and row[0]):
            raise StoreError(
                f"store {store.where}: another process shares from this store already "
                "(one share process per store)"
            )
        held = True
        yield
    except psycopg.Error as exc:
        raise StoreError(f"store {store.where}: claiming the exchange failed: {exc}") from None
    finally:
        # Released here, not left to the server: its backend ends a moment after the
        # connection closes, and a claim made meanwhile would find the lock still held.
        if held:
            with contextlib.suppress(psycopg.Error):
                con.execute("SELECT pg_advisory_unlock(%s)", (SHARER_LOCK,))
        con.close()


class PostgresExchangeTables:
    """The exchange's reads and writes on one open ``PostgresStore`` (the embedded
    ``ExchangeTables``' methods, with the same signatures and answers)."""

    def __init__(self, store: PostgresStore) -> None:
        self._store = store
        self._where = store.where

    # -- helpers -------------------------------------------------------------------------

    @contextmanager
    def _reading(self, what: str) -> Iterator[psycopg.Cursor[Any]]:
        # The store lends its pooled connections to the modules of this package.
        try:
            with self._store._connection() as con, con.cursor() as cur:
                yield cur
        except psycopg.Error as exc:
            raise StoreError(f"store {self._where}: {what} failed: {exc}") from None

    def _rows(self, what: str, sql: str, params: Any = ()) -> list[tuple[Any, ...]]:
        with self._reading(what) as cur:
            cur.execute(sql, params)
            return cur.fetchall()

    @contextmanager
    def _transaction(self, what: str) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction holding ``EXCHANGE_LOCK``; rolled back on any error."""
        try:
            with (
                self._store._connection() as con,
                con.transaction(),
                con.cursor() as cur,
            ):
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (EXCHANGE_LOCK,))
                yield cur
        except psycopg.Error as exc:
            raise StoreError(f"store {self._where}: {what} failed: {exc}") from None

    # -- labels and reports --------------------------------------------------------------

    def labels(self) -> dict[int, Label]:
        """Every stored label by its number (the store's own reading of its table)."""
        return self._store.labels()

    def _upper_seq(
        self, cur: psycopg.Cursor[Any], after: int, limit: int, where: str, params: dict[str, Any]
    ) -> int:
        """A seq bound ``upper`` such that the reports after ``after`` matching ``where``
        up to ``upper`` hold the first ``limit`` of them (or every one there is).

        Seqs rise with insertion and a BRIN serves a seq range, so the range starts at
        ``after + limit`` and grows fourfold until it holds ``limit`` reports or reaches
        the last seq handed out (as the report feed bounds its chunks).
        """
        cur.execute("SELECT last FROM report_seq")
        row = cur.fetchone()
        last = int(row[0]) if row else 0
        span = max(1, limit)
        while True:
            upper = min(after + span, last)
            if upper <= after:
                return after
            cur.execute(
                f"SELECT count(*) FROM (SELECT 1 FROM reports r WHERE r.seq > %(after)s "
                f"AND r.seq <= %(upper)s{where} LIMIT %(limit)s) s",
                {**params, "after": after, "upper": upper, "limit": limit},
            )
            found = cur.fetchone()
            if (found is not None and int(found[0]) >= limit) or upper >= last:
                return upper
            span *= 4

    def report_labels_after(self, seq: int, limit: int) -> pa.Table:
        """The seq and label number of the reports ``reports_after(seq, limit)`` reads
        (two narrow columns: a scan decides what it can per label from these alone)."""
        if limit <= 0:
            return LABEL_MARKS_SCHEMA.empty_table()
        with self._reading("reading reports") as cur:
            upper = self._upper_seq(cur, seq, limit, "", {})
            cur.execute(
                "SELECT seq, label_no FROM reports WHERE seq > %s AND seq <= %s "
                "ORDER BY seq LIMIT %s",
                (seq, upper, limit),
            )
            return to_arrow(cur.fetchall(), LABEL_MARKS_SCHEMA)

    def reports_after(
        self,
        seq: int,
        limit: int,
        *,
        label_nos: Sequence[int] | None = None,
        through: int | None = None,
    ) -> pa.Table:
        """Reports with ``seq`` greater than ``seq``, in seq order, at most ``limit``; only
        those under ``label_nos`` and with seq up to ``through`` when given.

        Columns: seq, id (32 hex), label_no, the report's fields (``REPORT_FIELD_COLUMNS``
        of ``embedded_exchange``), and ``receiver`` (the first receiver that heard it,
        when any did): the report feed's schema.
        """
        if limit <= 0:
            return FEED_SCHEMA.empty_table()
        where = ""
        params: dict[str, Any] = {}
        if label_nos is not None:
            where += " AND r.label_no = ANY(%(labels)s::integer[])"
            params["labels"] = [int(number) for number in label_nos]
        fields = ", ".join(f"r.{name}" for name in REPORT_FIELD_COLUMNS)
        with self._reading("reading reports") as cur:
            cur.execute(_NO_NESTED_LOOPS)
            upper = self._upper_seq(cur, seq, limit, where, params)
            if through is not None:
                upper = min(upper, through)
            params |= {"after": seq, "upper": upper, "limit": limit}
            # The chunk first, then the receptions of its time window (a report's first
            # reception is written with it, at its observation time or up to the dedupe
            # window before or after), as the embedded store reads them.
            cur.execute(
                "SELECT min(observed_at), max(observed_at) FROM (SELECT r.observed_at "
                f"FROM reports r WHERE r.seq > %(after)s AND r.seq <= %(upper)s{where} "
                "ORDER BY r.seq LIMIT %(limit)s) s",
                params,
            )
            bounds = cur.fetchone()
            window = ["e.received_at IS NULL"]
            if bounds is not None and bounds[0] is not None:
                window.append("e.received_at BETWEEN %(lo)s AND %(hi)s")
                near = timedelta(seconds=DEDUPE_WINDOW_S)
                params |= {"lo": bounds[0] - near, "hi": bounds[1] + near}
            chunk = (
                f"SELECT r.seq, r.id_hi, r.id_lo, r.label_no, {fields} FROM reports r "
                f"WHERE r.seq > %(after)s AND r.seq <= %(upper)s{where} "
                "ORDER BY r.seq LIMIT %(limit)s"
            )
            cur.execute(
                with_first_receiver(chunk, window, REPORT_FIELD_COLUMNS),
                params,
            )
            return to_arrow(cur.fetchall(), FEED_SCHEMA)

    # -- cursors and outbox --------------------------------------------------------------

    def cursor(self, partner: str) -> PartnerCursor:
        with self._reading("reading a share cursor") as cur:
            return self._cursor(cur, partner)

    @staticmethod
    def _cursor(cur: psycopg.Cursor[Any], partner: str) -> PartnerCursor:
        cur.execute(
            "SELECT scanned_seq, last_batch, low_order FROM share_cursors WHERE partner = %s",
            (partner,),
        )
        row = cur.fetchone()
        if row is None:
            return PartnerCursor(0, 0, 0)
        return PartnerCursor(int(row[0]), int(row[1]), int(row[2]))

    @staticmethod
    def _save_cursor(cur: psycopg.Cursor[Any], partner: str, cursor: PartnerCursor) -> None:
        cur.execute(
            """
            INSERT INTO share_cursors VALUES (%s, %s, %s, %s)
            ON CONFLICT (partner) DO UPDATE SET scanned_seq = excluded.scanned_seq,
                last_batch = excluded.last_batch, low_order = excluded.low_order
            """,
            (partner, cursor.scanned_seq, cursor.last_batch, cursor.low_order),
        )

    @staticmethod
    def _advance_low(
        cur: psycopg.Cursor[Any], partner: str, cursor: PartnerCursor
    ) -> PartnerCursor:
        """The cursor with ``low_order`` moved up to the partner's first open item."""
        cur.execute(
            """
            SELECT coalesce(
                (SELECT min(order_no) FROM share_outbox WHERE partner = %(p)s
                 AND order_no >= %(low)s AND sent_at IS NULL AND dropped IS NULL),
                (SELECT coalesce(max(order_no), 0) + 1 FROM share_outbox))
            """,
            {"p": partner, "low": cursor.low_order},
        )
        row = cur.fetchone()
        assert row is not None
        return PartnerCursor(cursor.scanned_seq, cursor.last_batch, int(row[0]))

    @staticmethod
    def _insert_items(cur: psycopg.Cursor[Any], partner: str, items: Sequence[OutboxItem]) -> None:
        """Queue ``items`` after every item queued before (order numbers: one sequence for
        all partners, given under the exchange lock)."""
        if not items:
            return
        cur.execute("SELECT coalesce(max(order_no), 0) + 1 FROM share_outbox")
        row = cur.fetchone()
        first = int(row[0]) if row else 1
        with cur.copy(f"COPY share_outbox ({', '.join(OUTBOX_COLUMNS)}) FROM STDIN") as copy:
            copy.set_types(list(_OUTBOX_TYPES))
            for order, item in enumerate(items, start=first):
                copy.write_row(
                    (
                        partner,
                        order,
                        item.record_id,
                        item.kind,
                        _aware(item.not_before),
                        item.agreement,
                        item.clause,
                        item.item,
                    )
                )

    def commit_scan(self, partner: str, scanned_seq: int, items: Sequence[OutboxItem]) -> None:
        """Queue ``items`` for ``partner`` and move its cursor to ``scanned_seq``, atomically."""
        with self._transaction(f"queueing releases to {partner}") as cur:
            cursor = self._cursor(cur, partner)
            if scanned_seq < cursor.scanned_seq:
                raise StoreError(
                    f"release cursor of {partner} would move back from {cursor.scanned_seq} "
                    f"to {scanned_seq} (two scanners on one store?)"
                )
            self._insert_items(cur, partner, items)
            self._save_cursor(
                cur, partner, PartnerCursor(scanned_seq, cursor.last_batch, cursor.low_order)
            )

    # -- alerts --------------------------------------------------------------------------

    def alert_cursor(self, partner: str) -> int:
        """The last ``alert_seq`` scanned for ``partner`` (0 before the first scan)."""
        return self.cursor(alert_cursor_key(partner)).scanned_seq

    def alert_changes_after(self, seq: int, limit: int) -> list[AlertChange]:
        """Alert changes with ``alert_seq`` above ``seq``, in order, at most ``limit``, all
        labels, with the revision each made."""
        rows = self._rows(
            "reading alert changes",
            """
            SELECT alert_seq, alert_id, revision, label_no, kind, status, start_at, end_at,
                   lat, lon, mmsis, tracks, evidence
            FROM alert_changes WHERE alert_seq > %s ORDER BY alert_seq LIMIT %s
            """,
            (seq, max(0, limit)),
        )
        return [alert_change(row, _utc) for row in rows]

    def given(self, partner: str, record_ids: Sequence[str]) -> dict[str, Given]:
        """Which of ``record_ids`` were queued for ``partner`` as a record (or correction)
        and not dropped, with the agreement and clause of the first such item and the
        latest due time of every item queued for it."""
        if not record_ids:
            return {}
        rows = self._rows(
            "reading what was given",
            """
            SELECT record_id,
                   (array_agg(agreement ORDER BY order_no)
                       FILTER (WHERE agreement IS NOT NULL))[1],
                   (array_agg(clause ORDER BY order_no) FILTER (WHERE clause IS NOT NULL))[1],
                   max(not_before)
            FROM share_outbox
            WHERE partner = %s AND record_id = ANY(%s::text[]) AND dropped IS NULL
            GROUP BY record_id
            HAVING count(*) FILTER (WHERE kind IN ('record', 'correct')) > 0
            """,
            (partner, list(dict.fromkeys(record_ids))),
        )
        return {
            record: Given(agreement, clause, due.astimezone(UTC))
            for record, agreement, clause, due in rows
        }

    def commit_alert_scan(self, partner: str, alert_seq: int, items: Sequence[OutboxItem]) -> None:
        """Queue ``items`` for ``partner`` and move its alert cursor to ``alert_seq``,
        atomically."""
        key = alert_cursor_key(partner)
        with self._transaction(f"queueing alerts to {partner}") as cur:
            scanned = self._cursor(cur, key).scanned_seq
            if alert_seq < scanned:
                raise StoreError(
                    f"alert cursor of {partner} would move back from {scanned} to {alert_seq} "
                    "(two scanners on one store?)"
                )
            self._insert_items(cur, partner, items)
            self._save_cursor(cur, key, PartnerCursor(alert_seq, 0, 0))

    def held_alerts(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        """The alerts of ``alert_ids`` this store holds, as they stand, with their labels."""
        if not alert_ids:
            return {}
        rows = self._rows(
            "reading held alerts",
            """
            SELECT a.id, a.kind, a.status, a.start_at, a.end_at, a.lat, a.lon, a.mmsis,
                   a.tracks, a.evidence, l.level, l.originator, l.releasable_to,
                   l.categories, l.orcon
            FROM alerts a JOIN labels l ON l.label_no = a.label_no
            WHERE a.id = ANY(%s::text[])
            """,
            (list(dict.fromkeys(alert_ids)),),
        )
        held: dict[str, Alert] = {}
        for ident, kind, status, start, end, lat, lon, mmsis, tracks, evidence, *label in rows:
            level, originator, releasable, categories, orcon = label
            if not originator:
                continue  # a placeholder label naming no nation
            held[ident] = Alert(
                id=ident,
                kind=kind,
                status=AlertStatus(status),
                start=start.astimezone(UTC),
                end=end.astimezone(UTC),
                lat=float(lat),
                lon=float(lon),
                label=Label(
                    Level(level),
                    originator,
                    frozenset(releasable),
                    frozenset(categories),
                    bool(orcon),
                ),
                mmsis=tuple(mmsis),
                tracks=tuple(tracks),
                evidence=evidence,
            )
        return held

    def enqueue(self, partner: str, items: Sequence[OutboxItem]) -> None:
        """Queue ``items`` (amendments) for ``partner`` after everything queued before."""
        with self._transaction(f"queueing amendments to {partner}") as cur:
            self._insert_items(cur, partner, items)

    def _outbox_rows(self, where: str, params: dict[str, Any], limit: str = "") -> list[OutboxRow]:
        """The partner's open items matching ``where``, in order, read from its low order
        number on (one statement: the cursor and the rows from one snapshot)."""
        rows = self._rows(
            "reading the outbox",
            f"""
            SELECT {_OUTBOX_ROW}
            WHERE partner = %(p)s AND dropped IS NULL AND sent_at IS NULL
              AND order_no >= coalesce(
                  (SELECT low_order FROM share_cursors WHERE partner = %(p)s), 0)
              AND {where}
            ORDER BY order_no {limit}
            """,
            params,
        )
        return [
            OutboxRow(
                int(order),
                record,
                kind,
                due.astimezone(UTC),
                item,
                None if batch is None else int(batch),
                agreement,
                clause,
            )
            for order, record, kind, due, item, batch, agreement, clause in rows
        ]

    def pending(self, partner: str) -> tuple[int, list[OutboxRow]] | None:
        """The batch given out to ``partner`` but not acknowledged (its seq and rows)."""
        return pending_batch(self._outbox_rows("batch_seq IS NOT NULL", {"p": partner}))

    def due(self, partner: str, now: datetime, limit: int) -> list[OutboxRow]:
        """Items not yet in a batch whose time has come, in order, at most ``limit``."""
        return self._outbox_rows(
            "batch_seq IS NULL AND not_before <= %(now)s",
            {"p": partner, "now": _aware(now), "limit": max(0, limit)},
            "LIMIT %(limit)s",
        )

    def assign_batch(
        self,
        partner: str,
        orders: Sequence[int],
        dropped: Sequence[tuple[int, str]],
        *,
        deferred: Sequence[tuple[int, datetime]] = (),
        release_pending: bool = False,
    ) -> int | None:
        """Put the items ``orders`` in the partner's next batch and return its seq; mark
        ``dropped`` items (order number, reason) as never to be sent, and move ``deferred``
        items (order number, new due time) later. With
        ``release_pending``, items of an unacknowledged batch not in ``orders`` go back to
        the queue first. One transaction."""
        with self._transaction(f"building a batch for {partner}") as cur:
            cursor = self._cursor(cur, partner)
            if release_pending:
                cur.execute(
                    "UPDATE share_outbox SET batch_seq = NULL WHERE partner = %s "
                    "AND order_no >= %s AND batch_seq IS NOT NULL AND sent_at IS NULL "
                    "AND dropped IS NULL",
                    (partner, cursor.low_order),
                )
            if dropped:
                cur.executemany(
                    "UPDATE share_outbox SET dropped = %s, batch_seq = NULL "
                    "WHERE partner = %s AND order_no = %s",
                    [(reason, partner, order) for order, reason in dropped],
                )
            if deferred:
                cur.executemany(
                    "UPDATE share_outbox SET not_before = %s WHERE partner = %s AND order_no = %s",
                    [(_aware(due), partner, order) for order, due in deferred],
                )
            if dropped:
                cursor = self._advance_low(cur, partner, cursor)
                self._save_cursor(cur, partner, cursor)
            if not orders:
                return None
            seq = cursor.last_batch + 1
            cur.execute(
                "UPDATE share_outbox SET batch_seq = %s WHERE partner = %s "
                "AND order_no = ANY(%s::bigint[])",
                (seq, partner, [int(order) for order in orders]),
            )
            self._save_cursor(
                cur, partner, PartnerCursor(cursor.scanned_seq, seq, cursor.low_order)
            )
            return seq

    def mark_sent(self, partner: str, batch_seq: int, sent_at: datetime) -> int:
        """Record that ``partner`` acknowledged batch ``batch_seq``; returns rows marked."""
        with self._transaction(f"marking batch {batch_seq} to {partner} sent") as cur:
            cursor = self._cursor(cur, partner)
            cur.execute(
                "UPDATE share_outbox SET sent_at = %s "
                "WHERE partner = %s AND order_no >= %s AND batch_seq = %s "
                "AND sent_at IS NULL AND dropped IS NULL",
                (_aware(sent_at), partner, cursor.low_order, batch_seq),
            )
            marked = max(0, cur.rowcount)
            self._save_cursor(cur, partner, self._advance_low(cur, partner, cursor))
        return marked

    def partners_given(self, record_id: str) -> dict[str, tuple[str | None, str | None]]:
        """Partners a record was queued for and not dropped (so it was or will be sent),
        with the agreement and clause that released it."""
        rows = self._rows(
            "reading the partners given a record",
            f"""
            SELECT partner,
                   (array_agg(agreement ORDER BY order_no)
                       FILTER (WHERE agreement IS NOT NULL))[1],
                   (array_agg(clause ORDER BY order_no) FILTER (WHERE clause IS NOT NULL))[1]
            FROM share_outbox
            WHERE record_id = %s AND kind = 'record' AND dropped IS NULL
            GROUP BY partner ORDER BY partner {_BYTEWISE}
            """,
            (record_id,),
        )
        return {partner: (agreement, clause) for partner, agreement, clause in rows}

    def latest_not_before(self, partner: str, record_id: str) -> datetime | None:
        rows = self._rows(
            "reading the outbox",
            "SELECT max(not_before) FROM share_outbox "
            "WHERE partner = %s AND record_id = %s AND dropped IS NULL",
            (partner, record_id),
        )
        return _utc(rows[0][0]) if rows else None

    def latest_item(self, partner: str, record_id: str) -> str | None:
        """The newest record or correction item queued for ``partner`` for a record."""
        rows = self._rows(
            "reading the outbox",
            "SELECT item FROM share_outbox WHERE partner = %s AND record_id = %s "
            "AND kind IN ('record', 'correct') AND dropped IS NULL "
            "ORDER BY order_no DESC LIMIT 1",
            (partner, record_id),
        )
        return str(rows[0][0]) if rows else None

    def outbox_counts(self, partner: str) -> dict[str, int]:
        """Items of ``partner`` by state: queued, in-flight, sent, dropped."""
        rows = self._rows(
            "counting the outbox",
            """
            SELECT CASE WHEN dropped IS NOT NULL THEN 'dropped'
                        WHEN sent_at IS NOT NULL THEN 'sent'
                        WHEN batch_seq IS NOT NULL THEN 'in-flight'
                        ELSE 'queued' END AS state, count(*)
            FROM share_outbox WHERE partner = %s GROUP BY state
            """,
            (partner,),
        )
        counts = {"queued": 0, "in-flight": 0, "sent": 0, "dropped": 0}
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    # -- for admins (what the API's outbox routes read) ---------------------------------

    def releases(self, partner: str | None, limit: int) -> pa.Table:
        """The outbox items (of ``partner``, or of every partner), newest first, at most
        ``limit``, as the embedded store's ``releases`` answers them (``RELEASE_SCHEMA``:
        ``batch`` is the batch seq an item went in, ``dropped`` why it never will)."""
        where = "" if partner is None else "WHERE partner = %(partner)s"
        rows = self._rows(
            "reading releases",
            f"""
            SELECT order_no, partner, record_id, kind, agreement, clause, not_before,
                   sent_at, batch_seq, dropped
            FROM share_outbox {where}
            ORDER BY order_no DESC LIMIT %(limit)s
            """,
            {"partner": partner, "limit": max(0, limit)},
        )
        return to_arrow(rows, RELEASE_SCHEMA)

    def partners_released_to(self) -> list[str]:
        """Every partner the outbox holds items for, by code (byte-wise, as DuckDB)."""
        rows = self._rows(
            "reading partners",
            f"SELECT DISTINCT partner {_BYTEWISE} FROM share_outbox ORDER BY 1",
        )
        return [str(row[0]) for row in rows]

    def released_vessels(self, partner: str) -> pa.Table:
        """Per MMSI, the latest state ``partner`` received, read from the items as they
        were sent (sanitised), never from the node's own reports: the embedded store's
        ``released_vessels``, field for field (``RELEASED_VESSEL_SCHEMA``).

        As there, each field is the newest value it has among the report records sent
        and not withdrawn (newest by observation time, then order; the position fields
        and time among records with a position), and a field the record holds in a form
        its column cannot take reads as null.
        """

        def newest(expr: str, among: str) -> str:
            return (
                f"(array_agg({expr} ORDER BY observed_at DESC NULLS LAST, o DESC) "
                f"FILTER (WHERE {among}{expr} IS NOT NULL))[1]"
            )

        with_position = "lat IS NOT NULL AND "
        columns = [
            *(newest(name, "") for name in _IDENTITY_TYPES),
            newest("observed_at", with_position),
            *(newest(name, with_position) for name in _POSITION_TYPES),
            newest("label_json", with_position),
            newest("record_id", with_position),
        ]
        fields = ", ".join(
            _json_field(name, kind) for name, kind in {**_POSITION_TYPES, **_IDENTITY_TYPES}.items()
        )
        rows = self._rows(
            f"reading what {partner} received",
            f"""
            WITH sent AS (
                SELECT record_id, ((array_agg(item ORDER BY order_no DESC))[1])::jsonb AS j,
                       max(order_no) AS o
                FROM share_outbox
                WHERE partner = %(p)s AND sent_at IS NOT NULL AND dropped IS NULL
                  AND kind IN ('record', 'correct')
                  AND record_id NOT IN (
                      SELECT record_id FROM share_outbox WHERE partner = %(p)s
                      AND kind = 'withdraw' AND sent_at IS NOT NULL)
                GROUP BY record_id
            ), s AS (
                SELECT record_id, o, j -> 'record' -> 'fields' AS x,
                       (j -> 'record' -> 'label')::text AS label_json
                FROM sent WHERE j -> 'record' ->> 'flow' = 'reports'
            ), f AS (
                SELECT record_id, o, label_json, {_json_field("mmsi", "integer")},
                       {_json_field("observed_at", "timestamptz")}, {fields}
                FROM s
            )
            SELECT mmsi, {", ".join(columns)}
            FROM f WHERE mmsi IS NOT NULL GROUP BY mmsi ORDER BY mmsi
            """,
            {"p": partner},
        )
        markings = {text: _marking(text) for text in {row[-2] for row in rows}}
        return to_arrow(
            [(*row[:-2], markings[row[-2]], row[-1]) for row in rows], RELEASED_VESSEL_SCHEMA
        )

    # -- inbound -------------------------------------------------------------------------

    def nonce_seen(self, sender: str, nonce: str) -> bool:
        rows = self._rows(
            "reading nonces",
            "SELECT 1 FROM share_nonces WHERE sender = %s AND nonce = %s",
            (sender, nonce),
        )
        return bool(rows)

    def inbound(self, sender: str, seq: int) -> InboundBatch | None:
        rows = self._rows(
            "reading inbound batches",
            "SELECT sender, seq, batch_hash, items_hash, nonce, received_at, records "
            "FROM share_inbound WHERE sender = %s AND seq = %s",
            (sender, seq),
        )
        if not rows:
            return None
        s, q, batch_hash, items_hash, nonce, received_at, records = rows[0]
        return InboundBatch(
            s, int(q), batch_hash, items_hash, nonce, received_at.astimezone(UTC), int(records)
        )

    def record_inbound(
        self,
        batch: InboundBatch,
        *,
        duplicate: bool,
        amendments: Sequence[tuple[str, str, str, str | None]] = (),
        forget_nonces_before: datetime | None = None,
    ) -> None:
        """Record an accepted batch's nonce (and the batch itself unless it is a resend of
        one accepted before), with the amendments it carried (record id, kind, reason,
        corrected record JSON). One transaction."""
        received_at = _aware(batch.received_at)
        with self._transaction(f"recording batch {batch.seq} from {batch.sender}") as cur:
            cur.execute(
                "INSERT INTO share_nonces VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (batch.sender, batch.nonce, received_at),
            )
            if not duplicate:
                cur.execute(
                    "INSERT INTO share_inbound VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    (
                        batch.sender,
                        batch.seq,
                        batch.batch_hash,
                        batch.items_hash,
                        batch.nonce,
                        received_at,
                        batch.records,
                    ),
                )
                rows = []
                for record_id, kind, reason, record in amendments:
                    hi, lo = split_id(record_id)
                    rows.append(
                        (
                            _signed(hi),
                            _signed(lo),
                            batch.sender,
                            kind,
                            reason,
                            record,
                            batch.seq,
                            received_at,
                        )
                    )
                if rows:
                    cur.executemany(
                        "INSERT INTO share_amendments VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
                        rows,
                    )
            if forget_nonces_before is not None:
                cur.execute(
                    "DELETE FROM share_nonces WHERE seen_at < %s",
                    (_aware(forget_nonces_before),),
                )

    def received_from(self, sender: str, record_ids: Sequence[str]) -> set[str]:
        """Which of ``record_ids`` this store holds as received from ``sender``."""
        if not record_ids:
            return set()
        halves = [split_id(record_id) for record_id in record_ids]
        with self._reading("reading receptions") as cur:
            cur.execute(_NO_NESTED_LOOPS)
            cur.execute(
                f"""
                SELECT DISTINCT {hex_id("r.id_hi", "r.id_lo")}
                FROM receptions r
                JOIN unnest(%s::bigint[], %s::bigint[]) AS i(id_hi, id_lo)
                    ON i.id_hi = r.id_hi AND i.id_lo = r.id_lo
                WHERE r.source_no = (SELECT source_no FROM sources WHERE name = %s)
                """,
                (
                    [_signed(hi) for hi, _ in halves],
                    [_signed(lo) for _, lo in halves],
                    f"partner:{sender}",
                ),
            )
            return {str(row[0]) for row in cur.fetchall()}

    def amendments(self) -> pa.Table:
        """Every amendment received, oldest first (for the query side and tests)."""
        rows = self._rows(
            "reading amendments",
            f"SELECT {hex_id('id_hi', 'id_lo')}, sender, kind, reason, record, batch_seq, "
            "amended_at FROM share_amendments ORDER BY amended_at, batch_seq",
        )
        return to_arrow(rows, AMENDMENT_SCHEMA)
