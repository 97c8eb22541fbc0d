"""The partner exchange's tables in the embedded store: cursors, outbox, inbound batches.

All DuckDB SQL of the sharing layer lives here; ``mista.share.exchange`` decides what goes
in. The tables (migration 3 in ``embedded_schema``) share the store's file and
connection, so a cursor move and the outbox rows it produces commit in one transaction,
and a crash leaves either both or neither.

- ``share_cursors``: per partner, the last report ``seq`` scanned, the last batch seq given
  out, and the outbox order number below which everything is sent or dropped. The alert
  cursor of a partner is a row of its own, keyed ``<PARTNER>/alerts`` (no nation code has
  a ``/``), whose ``scanned_seq`` is the last ``alert_seq`` scanned (its other columns
  stay 0).
- ``share_outbox``: per partner, items in order (``order_no``, one sequence for all
  partners): a record, a correction or a
  withdrawal, due at ``not_before``, with the agreement and clause that released it and the
  item as canonical JSON. ``batch_seq`` is set when the item is first put in a batch (a
  resend reuses it), ``sent_at`` when the partner acknowledged that batch, ``dropped`` (a
  reason) when a later decision no longer allowed sending it.
- ``share_inbound``: batches accepted from partners (sender, seq, hashes, nonce, count).
- ``share_nonces``: every nonce accepted, so a replayed batch is refused.
- ``alert_changes`` and ``alerts`` (migration 4, written by ``mista.store.embedded_fusion``)
  are read here for sharing: every change with the revision it made, and the alerts a
  receiver holds.
- ``share_amendments``: withdrawals and corrections received for stored records. Reports
  are append-only, so queries must hide a report with a ``withdraw`` row here and show the
  newest ``correct`` row's record in place of the stored fields (the query side does not
  do this yet).

Callers hold the exchange lock around every call: these methods share the store's one
connection with ``DuckDBStore.write``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from mista.errors import StoreError
from mista.labels import Label, Level
from mista.model import DEDUPE_WINDOW_S, Alert, AlertStatus

from .embedded import MOTION_FIELDS, DuckDBStore
from .embedded_schema import STATIC_FIELDS

__all__ = [
    "AlertChange",
    "ExchangeTables",
    "Given",
    "InboundBatch",
    "OutboxItem",
    "OutboxRow",
    "PartnerCursor",
    "alert_change",
    "alert_cursor_key",
    "pending_batch",
]

_UTC_US = pa.timestamp("us", tz="UTC")
_OUTBOX_SCHEMA = pa.schema(
    [
        pa.field("partner", pa.string()),
        pa.field("order_no", pa.int64()),
        pa.field("record_id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("not_before", _UTC_US),
        pa.field("agreement", pa.string()),
        pa.field("clause", pa.string()),
        pa.field("item", pa.string()),
    ]
)
#: Report columns a release scan reads (besides seq, id and label).
REPORT_FIELD_COLUMNS = (
    "originator",
    "source_kind",
    "observed_at",
    "msg_type",
    "mmsi",
    *MOTION_FIELDS,
    *STATIC_FIELDS,
)


@dataclass(frozen=True, slots=True)
class PartnerCursor:
    """Where release to one partner stands: the last report seq scanned, the last batch seq
    given out, and the order number below which every item is sent or dropped (outbox
    reads start there, so they skip the row groups of what is done)."""

    scanned_seq: int
    last_batch: int
    low_order: int


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """One item to queue for a partner (its order number is given on insert)."""

    record_id: str
    kind: str
    not_before: datetime
    agreement: str | None
    clause: str | None
    item: str


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """A queued item as read back."""

    order_no: int
    record_id: str
    kind: str
    not_before: datetime
    item: str
    batch_seq: int | None
    agreement: str | None
    clause: str | None


@dataclass(frozen=True, slots=True)
class AlertChange:
    """One change of an alert, as sharing scans it: the state it set (``fields``: kind,
    status, start, end, lat, lon, mmsis and tracks as tuples, evidence as JSON text), the
    revision it made and the number of its label."""

    seq: int
    id: str
    revision: int
    label_no: int
    fields: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Given:
    """A record queued for a partner and not dropped: the agreement and clause of its first
    item, and the latest due time of its items (later items for it go after that)."""

    agreement: str | None
    clause: str | None
    not_before: datetime


@dataclass(frozen=True, slots=True)
class InboundBatch:
    """An accepted inbound batch, as recorded."""

    sender: str
    seq: int
    batch_hash: str
    items_hash: str
    nonce: str
    received_at: datetime
    records: int


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _ts(param: str) -> str:
    """SQL for a time parameter passed as epoch microseconds (see ``_us``)."""
    return f"make_timestamp(${param}::BIGINT)::TIMESTAMPTZ"


def _us(moment: datetime) -> int:
    """Epoch microseconds of an aware time (DuckDB's Python time zones need pytz)."""
    if moment.tzinfo is None:
        raise StoreError(f"time {moment.isoformat()} has no timezone: give UTC times")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _time(micros: int | None) -> datetime | None:
    return None if micros is None else _EPOCH + timedelta(microseconds=int(micros))


def alert_cursor_key(partner: str) -> str:
    """The ``share_cursors`` key of a partner's alert cursor (both backends)."""
    return f"{partner}/alerts"


def pending_batch(rows: Sequence[OutboxRow]) -> tuple[int, list[OutboxRow]] | None:
    """Of outbox rows given out in batches, the first batch's seq and rows (both backends:
    a partner has one batch pending at most, this picks it)."""
    if not rows:
        return None
    seq = min(row.batch_seq for row in rows if row.batch_seq is not None)
    return seq, [row for row in rows if row.batch_seq == seq]


def alert_change(row: Sequence[Any], time_of: Callable[[Any], datetime | None]) -> AlertChange:
    """An ``AlertChange`` from a row (alert_seq, alert_id, revision, label_no, kind, status,
    start, end, lat, lon, mmsis, tracks, evidence); ``time_of`` reads the backend's time."""
    number, ident, revision, label_no, *state = row
    kind, status, start, end, lat, lon, mmsis, tracks, evidence = state
    fields = {
        "kind": kind,
        "status": status,
        "start": time_of(start),
        "end": time_of(end),
        "lat": float(lat),
        "lon": float(lon),
        "mmsis": tuple(mmsis),
        "tracks": tuple(tracks),
        "evidence": evidence,
    }
    return AlertChange(int(number), ident, int(revision), int(label_no), fields)


def split_id(record_id: str) -> tuple[int, int]:
    """A 32-hex report id as the (high, low) UBIGINT halves the reports table keeps."""
    return int(record_id[:16], 16), int(record_id[16:], 16)


class ExchangeTables:
    """The exchange's reads and writes on one open, writable ``DuckDBStore``."""

    def __init__(self, store: DuckDBStore) -> None:
        self._store = store
        self._con = store.connection

    # -- helpers -------------------------------------------------------------------------

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql, params or {}).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"store {self._store.path}: exchange query failed: {exc}") from None

    @contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        con = self._con
        try:
            con.begin()
            yield
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise StoreError(f"store {self._store.path}: {what} failed: {exc}") from None
        except BaseException:
            con.rollback()
            raise

    # -- labels and reports --------------------------------------------------------------

    def labels(self) -> dict[int, Label]:
        """Every stored label by its number (the store's own reading of its table)."""
        return self._store.labels()

    def report_labels_after(self, seq: int, limit: int) -> pa.Table:
        """The seq and label number of the reports ``reports_after(seq, limit)`` reads
        (two narrow columns: a scan decides what it can per label from these alone)."""
        try:
            return self._con.sql(
                "SELECT seq, label_no FROM reports WHERE seq > $after ORDER BY seq LIMIT $limit",
                params={"after": seq, "limit": limit},
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"store {self._store.path}: reading reports failed: {exc}") from None

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

        Columns: seq, id (32 hex), label_no, :data:`REPORT_FIELD_COLUMNS`, and ``receiver``
        (the first receiver that heard it, when any did).
        """
        columns = ", ".join(f"r.{name}" for name in REPORT_FIELD_COLUMNS)
        where = ["r.seq > $after"]
        params: dict[str, Any] = {"after": seq, "limit": limit}
        if label_nos is not None:
            where.append("list_contains($labels, r.label_no)")
            params["labels"] = [int(number) for number in label_nos]
        if through is not None:
            where.append("r.seq <= $through")
            params["through"] = through
        try:
            chunk = self._con.sql(
                f"""
                SELECT r.seq, r.id_hi, r.id_lo, printf('%016x%016x', r.id_hi, r.id_lo) AS id,
                       r.label_no, {columns}
                FROM reports r WHERE {" AND ".join(where)} ORDER BY r.seq LIMIT $limit
                """,
                params=params,
            ).to_arrow_table()
            receivers = self._first_receivers(chunk)
        except duckdb.Error as exc:
            raise StoreError(f"store {self._store.path}: reading reports failed: {exc}") from None
        return chunk.drop_columns(["id_hi", "id_lo"]).append_column("receiver", receivers)

    def _first_receivers(self, chunk: pa.Table) -> pa.Array:
        """The first receiver of each report of ``chunk`` (null where none is known).

        A report's first reception is written with it and received at its observation time
        (or up to the dedupe window before or after, when a copy was merged into it), so
        only that time window of the receptions is read. Of two at one time, the first by
        name (as the report feed picks it).
        """
        if chunk.num_rows == 0:
            return pa.array([], pa.string())
        observed = chunk.column("observed_at")
        timed = [t for t in (observed.combine_chunks().drop_null().to_pylist()) if t]
        window = ["received_at IS NULL"]
        params: dict[str, Any] = {}
        if timed:
            window.append(f"received_at BETWEEN {_ts('lo')} AND {_ts('hi')}")
            near = timedelta(seconds=DEDUPE_WINDOW_S)
            params = {"lo": _us(min(timed) - near), "hi": _us(max(timed) + near)}
        keys = chunk.select(["id_hi", "id_lo"]).append_column(
            "k", pa.array(range(chunk.num_rows), pa.int64())
        )
        self._con.register("_share_chunk", keys)
        try:
            heard = self._con.sql(
                f"""
                SELECT c.receiver FROM _share_chunk k
                LEFT JOIN (
                    SELECT id_hi, id_lo,
                           (min({{'t': coalesce(received_at, TIMESTAMPTZ '1970-01-01'),
                                  'r': receiver}}) FILTER (WHERE receiver IS NOT NULL)).r
                               AS receiver
                    FROM receptions
                    WHERE ({" OR ".join(window)})
                      AND (id_hi, id_lo) IN (SELECT (id_hi, id_lo) FROM _share_chunk)
                    GROUP BY id_hi, id_lo
                ) c ON c.id_hi = k.id_hi AND c.id_lo = k.id_lo
                ORDER BY k.k
                """,
                params=params,
            ).to_arrow_table()
        finally:
            self._con.unregister("_share_chunk")
        return heard.column("receiver").combine_chunks()

    # -- cursors and outbox --------------------------------------------------------------

    def cursor(self, partner: str) -> PartnerCursor:
        rows = self._rows(
            "SELECT scanned_seq, last_batch, low_order FROM share_cursors WHERE partner = $p",
            {"p": partner},
        )
        if not rows:
            return PartnerCursor(0, 0, 0)
        scanned, batch, low = rows[0]
        return PartnerCursor(int(scanned), int(batch), int(low))

    def _save_cursor(self, partner: str, cursor: PartnerCursor) -> None:
        self._con.execute(
            """
            INSERT INTO share_cursors VALUES ($p, $s, $b, $o)
            ON CONFLICT (partner) DO UPDATE SET scanned_seq = excluded.scanned_seq,
                last_batch = excluded.last_batch, low_order = excluded.low_order
            """,
            {"p": partner, "s": cursor.scanned_seq, "b": cursor.last_batch, "o": cursor.low_order},
        ).fetchall()

    def _next_order(self) -> int:
        """The next order number. One sequence for all partners, in insertion order, so
        every partner's done items sit in early row groups that its reads skip."""
        rows = self._rows("SELECT coalesce(max(order_no), 0) + 1 FROM share_outbox")
        return int(rows[0][0])

    def _advance_low(self, partner: str, cursor: PartnerCursor) -> PartnerCursor:
        """The cursor with ``low_order`` moved up to the partner's first open item."""
        rows = self._rows(
            """
            SELECT coalesce(
                (SELECT min(order_no) FROM share_outbox WHERE partner = $p
                 AND order_no >= $low AND sent_at IS NULL AND dropped IS NULL),
                (SELECT coalesce(max(order_no), 0) + 1 FROM share_outbox))
            """,
            {"p": partner, "low": cursor.low_order},
        )
        return PartnerCursor(cursor.scanned_seq, cursor.last_batch, int(rows[0][0]))

    def _insert_items(self, partner: str, items: Sequence[OutboxItem]) -> None:
        if not items:
            return
        first_order = self._next_order()
        table = pa.table(
            {
                "partner": pa.array([partner] * len(items), pa.string()),
                "order_no": pa.array(range(first_order, first_order + len(items)), pa.int64()),
                "record_id": [item.record_id for item in items],
                "kind": [item.kind for item in items],
                "not_before": pa.array([item.not_before for item in items], _UTC_US),
                "agreement": pa.array([item.agreement for item in items], pa.string()),
                "clause": pa.array([item.clause for item in items], pa.string()),
                "item": [item.item for item in items],
            },
            schema=_OUTBOX_SCHEMA,
        )
        self._con.register("_share_items", table)
        try:
            self._con.execute(
                "INSERT INTO share_outbox (partner, order_no, record_id, kind, not_before, "
                "agreement, clause, item) SELECT * FROM _share_items"
            ).fetchall()
        finally:
            self._con.unregister("_share_items")

    def commit_scan(self, partner: str, scanned_seq: int, items: Sequence[OutboxItem]) -> None:
        """Queue ``items`` for ``partner`` and move its cursor to ``scanned_seq``, atomically."""
        with self._transaction(f"queueing releases to {partner}"):
            cursor = self.cursor(partner)
            if scanned_seq < cursor.scanned_seq:
                raise StoreError(
                    f"release cursor of {partner} would move back from {cursor.scanned_seq} "
                    f"to {scanned_seq} (two scanners on one store?)"
                )
            self._insert_items(partner, items)
            self._save_cursor(
                partner, PartnerCursor(scanned_seq, cursor.last_batch, cursor.low_order)
            )

    # -- alerts --------------------------------------------------------------------------

    def alert_cursor(self, partner: str) -> int:
        """The last ``alert_seq`` scanned for ``partner`` (0 before the first scan)."""
        return self.cursor(alert_cursor_key(partner)).scanned_seq

    def alert_changes_after(self, seq: int, limit: int) -> list[AlertChange]:
        """Alert changes with ``alert_seq`` above ``seq``, in order, at most ``limit``, all
        labels, with the revision each made."""
        rows = self._rows(
            """
            SELECT alert_seq, alert_id, revision, label_no, kind, status, epoch_us(start_at),
                   epoch_us(end_at), lat, lon, mmsis, tracks, evidence
            FROM alert_changes WHERE alert_seq > $after ORDER BY alert_seq LIMIT $limit
            """,
            {"after": seq, "limit": limit},
        )
        return [alert_change(row, _time) for row in rows]

    def given(self, partner: str, record_ids: Sequence[str]) -> dict[str, Given]:
        """Which of ``record_ids`` were queued for ``partner`` as a record (or correction)
        and not dropped, with the agreement and clause of the first such item and the
        latest due time of every item queued for it."""
        if not record_ids:
            return {}
        rows = self._rows(
            """
            SELECT record_id, arg_min(agreement, order_no), arg_min(clause, order_no),
                   epoch_us(max(not_before))
            FROM share_outbox
            WHERE partner = $p AND list_contains($ids, record_id) AND dropped IS NULL
            GROUP BY record_id HAVING count_if(kind IN ('record', 'correct')) > 0
            """,
            {"p": partner, "ids": list(dict.fromkeys(record_ids))},
        )
        return {
            record: Given(agreement, clause, _EPOCH + timedelta(microseconds=int(due)))
            for record, agreement, clause, due in rows
        }

    def commit_alert_scan(self, partner: str, alert_seq: int, items: Sequence[OutboxItem]) -> None:
        """Queue ``items`` for ``partner`` and move its alert cursor to ``alert_seq``,
        atomically."""
        key = alert_cursor_key(partner)
        with self._transaction(f"queueing alerts to {partner}"):
            scanned = self.cursor(key).scanned_seq
            if alert_seq < scanned:
                raise StoreError(
                    f"alert cursor of {partner} would move back from {scanned} to {alert_seq} "
                    "(two scanners on one store?)"
                )
            self._insert_items(partner, items)
            self._save_cursor(key, PartnerCursor(alert_seq, 0, 0))

    def held_alerts(self, alert_ids: Sequence[str]) -> dict[str, Alert]:
        """The alerts of ``alert_ids`` this store holds, as they stand, with their labels."""
        if not alert_ids:
            return {}
        rows = self._rows(
            """
            SELECT a.id, a.kind, a.status, epoch_us(a.start_at), epoch_us(a.end_at), a.lat,
                   a.lon, a.mmsis, a.tracks, a.evidence, l.level, l.originator,
                   l.releasable_to, l.categories, l.orcon
            FROM alerts a JOIN labels l ON l.label_no = a.label_no
            WHERE list_contains($ids, a.id)
            """,
            {"ids": list(dict.fromkeys(alert_ids))},
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
                start=_EPOCH + timedelta(microseconds=int(start)),
                end=_EPOCH + timedelta(microseconds=int(end)),
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
        with self._transaction(f"queueing amendments to {partner}"):
            self._insert_items(partner, items)

    def _outbox_rows(self, where: str, params: dict[str, Any], limit: str = "") -> list[OutboxRow]:
        rows = self._rows(
            f"""
            SELECT order_no, record_id, kind, epoch_us(not_before), item, batch_seq, agreement,
                   clause
            FROM share_outbox
            WHERE partner = $p AND order_no >= $low AND dropped IS NULL AND sent_at IS NULL
              AND {where}
            ORDER BY order_no {limit}
            """,
            {**params, "low": self.cursor(params["p"]).low_order},
        )
        return [
            OutboxRow(
                int(order),
                record,
                kind,
                _EPOCH + timedelta(microseconds=due),
                item,
                batch,
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
            f"batch_seq IS NULL AND not_before <= {_ts('now')}",
            {"p": partner, "now": _us(now), "limit": limit},
            "LIMIT $limit",
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
        with self._transaction(f"building a batch for {partner}"):
            cursor = self.cursor(partner)
            if release_pending:
                self._con.execute(
                    "UPDATE share_outbox SET batch_seq = NULL WHERE partner = $p "
                    "AND order_no >= $low AND batch_seq IS NOT NULL AND sent_at IS NULL "
                    "AND dropped IS NULL",
                    {"p": partner, "low": cursor.low_order},
                ).fetchall()
            for order, reason in dropped:
                self._con.execute(
                    "UPDATE share_outbox SET dropped = $r, batch_seq = NULL "
                    "WHERE partner = $p AND order_no = $o",
                    {"p": partner, "o": order, "r": reason},
                ).fetchall()
            for order, not_before in deferred:
                self._con.execute(
                    f"UPDATE share_outbox SET not_before = {_ts('t')} "
                    "WHERE partner = $p AND order_no = $o",
                    {"p": partner, "o": order, "t": _us(not_before)},
                ).fetchall()
            if dropped:
                cursor = self._advance_low(partner, cursor)
                self._save_cursor(partner, cursor)
            if not orders:
                return None
            seq = cursor.last_batch + 1
            self._con.execute(
                "UPDATE share_outbox SET batch_seq = $s WHERE partner = $p "
                "AND order_no BETWEEN $first AND $last AND list_contains($orders, order_no)",
                {
                    "p": partner,
                    "s": seq,
                    "orders": list(orders),
                    "first": min(orders),
                    "last": max(orders),
                },
            ).fetchall()
            self._save_cursor(partner, PartnerCursor(cursor.scanned_seq, seq, cursor.low_order))
            return seq

    def mark_sent(self, partner: str, batch_seq: int, sent_at: datetime) -> int:
        """Record that ``partner`` acknowledged batch ``batch_seq``; returns rows marked."""
        with self._transaction(f"marking batch {batch_seq} to {partner} sent"):
            rows = self._con.execute(
                f"UPDATE share_outbox SET sent_at = {_ts('t')} "
                "WHERE partner = $p AND order_no >= $low AND batch_seq = $s "
                "AND sent_at IS NULL AND dropped IS NULL",
                {
                    "p": partner,
                    "s": batch_seq,
                    "t": _us(sent_at),
                    "low": self.cursor(partner).low_order,
                },
            ).fetchall()
            self._save_cursor(partner, self._advance_low(partner, self.cursor(partner)))
        return int(rows[0][0]) if rows else 0

    def partners_given(self, record_id: str) -> dict[str, tuple[str | None, str | None]]:
        """Partners a record was queued for and not dropped (so it was or will be sent),
        with the agreement and clause that released it."""
        rows = self._rows(
            """
            SELECT partner, arg_min(agreement, order_no), arg_min(clause, order_no)
            FROM share_outbox
            WHERE record_id = $r AND kind = 'record' AND dropped IS NULL
            GROUP BY partner ORDER BY partner
            """,
            {"r": record_id},
        )
        return {partner: (agreement, clause) for partner, agreement, clause in rows}

    def latest_not_before(self, partner: str, record_id: str) -> datetime | None:
        rows = self._rows(
            "SELECT epoch_us(max(not_before)) FROM share_outbox "
            "WHERE partner = $p AND record_id = $r "
            "AND dropped IS NULL",
            {"p": partner, "r": record_id},
        )
        return _time(rows[0][0]) if rows else None

    def latest_item(self, partner: str, record_id: str) -> str | None:
        """The newest record or correction item queued for ``partner`` for a record."""
        rows = self._rows(
            "SELECT arg_max(item, order_no) FROM share_outbox WHERE partner = $p "
            "AND record_id = $r AND kind IN ('record', 'correct') AND dropped IS NULL",
            {"p": partner, "r": record_id},
        )
        return rows[0][0] if rows else None

    def outbox_counts(self, partner: str) -> dict[str, int]:
        """Items of ``partner`` by state: queued, in-flight, sent, dropped."""
        rows = self._rows(
            """
            SELECT CASE WHEN dropped IS NOT NULL THEN 'dropped'
                        WHEN sent_at IS NOT NULL THEN 'sent'
                        WHEN batch_seq IS NOT NULL THEN 'in-flight'
                        ELSE 'queued' END AS state, count(*)
            FROM share_outbox WHERE partner = $p GROUP BY state
            """,
            {"p": partner},
        )
        counts = {"queued": 0, "in-flight": 0, "sent": 0, "dropped": 0}
        counts.update({str(state): int(n) for state, n in rows})
        return counts

    # -- inbound -------------------------------------------------------------------------

    def nonce_seen(self, sender: str, nonce: str) -> bool:
        rows = self._rows(
            "SELECT 1 FROM share_nonces WHERE sender = $s AND nonce = $n", {"s": sender, "n": nonce}
        )
        return bool(rows)

    def inbound(self, sender: str, seq: int) -> InboundBatch | None:
        rows = self._rows(
            "SELECT sender, seq, batch_hash, items_hash, nonce, epoch_us(received_at), records "
            "FROM share_inbound WHERE sender = $s AND seq = $q",
            {"s": sender, "q": seq},
        )
        if not rows:
            return None
        s, q, batch_hash, items_hash, nonce, received_at, records = rows[0]
        moment = _EPOCH + timedelta(microseconds=int(received_at))
        return InboundBatch(s, int(q), batch_hash, items_hash, nonce, moment, int(records))

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
        with self._transaction(f"recording batch {batch.seq} from {batch.sender}"):
            self._con.execute(
                f"INSERT INTO share_nonces VALUES ($s, $n, {_ts('t')}) ON CONFLICT DO NOTHING",
                {"s": batch.sender, "n": batch.nonce, "t": _us(batch.received_at)},
            ).fetchall()
            if not duplicate:
                self._con.execute(
                    f"INSERT INTO share_inbound VALUES ($s, $q, $h, $i, $n, {_ts('t')}, $r)",
                    {
                        "s": batch.sender,
                        "q": batch.seq,
                        "h": batch.batch_hash,
                        "i": batch.items_hash,
                        "n": batch.nonce,
                        "t": _us(batch.received_at),
                        "r": batch.records,
                    },
                ).fetchall()
                for record_id, kind, reason, record in amendments:
                    hi, lo = split_id(record_id)
                    self._con.execute(
                        "INSERT INTO share_amendments "
                        f"VALUES ($hi, $lo, $s, $k, $r, $rec, $q, {_ts('t')})",
                        {
                            "hi": hi,
                            "lo": lo,
                            "s": batch.sender,
                            "k": kind,
                            "r": reason,
                            "rec": record,
                            "q": batch.seq,
                            "t": _us(batch.received_at),
                        },
                    ).fetchall()
            if forget_nonces_before is not None:
                self._con.execute(
                    f"DELETE FROM share_nonces WHERE seen_at < {_ts('t')}",
                    {"t": _us(forget_nonces_before)},
                ).fetchall()

    def received_from(self, sender: str, record_ids: Sequence[str]) -> set[str]:
        """Which of ``record_ids`` this store holds as received from ``sender``."""
        if not record_ids:
            return set()
        halves = [split_id(record_id) for record_id in record_ids]
        self._con.register(
            "_share_ids",
            pa.table(
                {
                    "id_hi": pa.array([hi for hi, _ in halves], pa.uint64()),
                    "id_lo": pa.array([lo for _, lo in halves], pa.uint64()),
                }
            ),
        )
        try:
            rows = self._rows(
                """
                SELECT DISTINCT printf('%016x%016x', r.id_hi, r.id_lo)
                FROM receptions r JOIN sources s ON s.source_no = r.source_no
                JOIN _share_ids i ON i.id_hi = r.id_hi AND i.id_lo = r.id_lo
                WHERE s.name = $src
                """,
                {"src": f"partner:{sender}"},
            )
        finally:
            self._con.unregister("_share_ids")
        return {str(row[0]) for row in rows}

    def amendments(self) -> pa.Table:
        """Every amendment received, oldest first (for the query side and tests)."""
        try:
            return self._con.sql(
                "SELECT printf('%016x%016x', id_hi, id_lo) AS record_id, sender, kind, reason, "
                "record, batch_seq, amended_at FROM share_amendments ORDER BY amended_at, "
                "batch_seq"
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(
                f"store {self._store.path}: reading amendments failed: {exc}"
            ) from None
