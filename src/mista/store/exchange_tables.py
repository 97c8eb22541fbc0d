"""The partner exchange's tables of either store backend, behind one interface.

``mista.share.exchange.Exchange`` reads and writes its cursors, outbox and inbound batches
through :class:`SharingTables`; :func:`exchange_tables` gives the implementation for a
store: ``ExchangeTables`` (``embedded_exchange``, DuckDB SQL on the file's connection) for
a ``DuckDBStore``, ``PostgresExchangeTables`` (``postgres_exchange``) for a
``PostgresStore``. Both answer with the same types (the dataclasses of
``embedded_exchange``) and the same Arrow columns.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

import pyarrow as pa

from mista.errors import StoreError
from mista.labels import Label
from mista.model import Alert

from .embedded import DuckDBStore
from .embedded_exchange import (
    AlertChange,
    ExchangeTables,
    Given,
    InboundBatch,
    OutboxItem,
    OutboxRow,
    PartnerCursor,
)
from .postgres import PostgresStore
from .postgres_exchange import PostgresExchangeTables

__all__ = ["SharingTables", "exchange_tables"]


class SharingTables(Protocol):
    """What the exchange reads and writes (``embedded_exchange`` says what each does)."""

    def labels(self) -> dict[int, Label]: ...

    def report_labels_after(self, seq: int, limit: int) -> pa.Table: ...

    def reports_after(
        self,
        seq: int,
        limit: int,
        *,
        label_nos: Sequence[int] | None = None,
        through: int | None = None,
    ) -> pa.Table: ...

    def cursor(self, partner: str) -> PartnerCursor: ...

    def commit_scan(self, partner: str, scanned_seq: int, items: Sequence[OutboxItem]) -> None: ...

    def alert_cursor(self, partner: str) -> int: ...

    def alert_changes_after(self, seq: int, limit: int) -> list[AlertChange]: ...

    def given(self, partner: str, record_ids: Sequence[str]) -> dict[str, Given]: ...

    def commit_alert_scan(
        self, partner: str, alert_seq: int, items: Sequence[OutboxItem]
    ) -> None: ...

    def held_alerts(self, alert_ids: Sequence[str]) -> dict[str, Alert]: ...

    def enqueue(self, partner: str, items: Sequence[OutboxItem]) -> None: ...

    def pending(self, partner: str) -> tuple[int, list[OutboxRow]] | None: ...

    def due(self, partner: str, now: datetime, limit: int) -> list[OutboxRow]: ...

    def assign_batch(
        self,
        partner: str,
        orders: Sequence[int],
        dropped: Sequence[tuple[int, str]],
        *,
        deferred: Sequence[tuple[int, datetime]] = (),
        release_pending: bool = False,
    ) -> int | None: ...

    def mark_sent(self, partner: str, batch_seq: int, sent_at: datetime) -> int: ...

    def partners_given(self, record_id: str) -> dict[str, tuple[str | None, str | None]]: ...

    def latest_not_before(self, partner: str, record_id: str) -> datetime | None: ...

    def latest_item(self, partner: str, record_id: str) -> str | None: ...

    def outbox_counts(self, partner: str) -> dict[str, int]: ...

    def nonce_seen(self, sender: str, nonce: str) -> bool: ...

    def inbound(self, sender: str, seq: int) -> InboundBatch | None: ...

    def record_inbound(
        self,
        batch: InboundBatch,
        *,
        duplicate: bool,
        amendments: Sequence[tuple[str, str, str, str | None]] = (),
        forget_nonces_before: datetime | None = None,
    ) -> None: ...

    def received_from(self, sender: str, record_ids: Sequence[str]) -> set[str]: ...

    def amendments(self) -> pa.Table: ...


def exchange_tables(store: DuckDBStore | PostgresStore) -> SharingTables:
    """The exchange's tables in ``store``, in that store's SQL."""
    if isinstance(store, DuckDBStore):
        return ExchangeTables(store)
    if isinstance(store, PostgresStore):
        return PostgresExchangeTables(store)
    raise StoreError(
        f"the partner exchange needs a DuckDBStore or a PostgresStore, not {type(store).__name__}"
    )
