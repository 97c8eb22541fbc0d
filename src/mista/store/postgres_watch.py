"""Watch lists and webhook deliveries on PostgreSQL (migration 5).

The same tables and behaviour as the embedded store's (``embedded_watch`` describes them):
each user's lists of vessels of interest, and per (list, alert, revision) how many POSTs to
the list's webhook were tried, when one succeeded and the last error; a revision is
delivered at most once. Every method runs on a connection the store lends, each change in
its own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import psycopg
import pyarrow as pa

from mista.errors import StoreError

from .postgres_read import to_arrow

__all__ = ["DELIVERY_SCHEMA", "WATCHLIST_SCHEMA", "WatchTables"]

_UTC_US = pa.timestamp("us", tz="UTC")
#: What ``watchlists`` answers (the embedded store's columns and types).
WATCHLIST_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("owner", pa.string()),
        ("name", pa.string()),
        ("mmsis", pa.list_(pa.int32())),
        ("webhook", pa.string()),
        ("created_at", _UTC_US),
        ("updated_at", _UTC_US),
    ]
)
#: What ``webhook_deliveries`` answers.
DELIVERY_SCHEMA = pa.schema(
    [
        ("watchlist_id", pa.string()),
        ("alert_id", pa.string()),
        ("revision", pa.int32()),
        ("delivered_at", _UTC_US),
        ("attempts", pa.int32()),
        ("last_error", pa.string()),
    ]
)
#: Text orders byte-wise, as DuckDB orders it, whatever the database's collation.
_BYTEWISE = 'COLLATE "C"'


class WatchTables:
    """Watch lists and webhook deliveries, each call on a connection the store lends."""

    def __init__(self, where: str) -> None:
        self._where = where  # the store's redacted address, for messages

    def _rows(
        self, con: psycopg.Connection[Any], sql: str, params: dict[str, Any]
    ) -> list[tuple[Any, ...]]:
        """Run one statement in its own transaction; its rows."""
        try:
            with con.transaction(), con.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        except psycopg.Error as exc:
            raise StoreError(f"watch lists ({self._where}): {exc}") from None

    def _table(
        self, con: psycopg.Connection[Any], sql: str, params: dict[str, Any], schema: pa.Schema
    ) -> pa.Table:
        return to_arrow(self._rows(con, sql, params), schema)

    # -- watch lists ----------------------------------------------------------------------

    def add_watchlist(
        self,
        con: psycopg.Connection[Any],
        watchlist_id: str,
        *,
        owner: str,
        name: str,
        mmsis: Sequence[int],
        webhook: str | None,
        now: datetime,
    ) -> None:
        """Create a watch list of ``owner`` (created and updated at ``now``); a
        StoreError if that id is taken."""
        try:
            with con.transaction(), con.cursor() as cur:
                cur.execute(
                    "INSERT INTO watchlists VALUES (%(id)s, %(owner)s, %(name)s, "
                    "%(mmsis)s::integer[], %(webhook)s, %(now)s, %(now)s)",
                    {
                        "id": watchlist_id,
                        "owner": owner,
                        "name": name,
                        "mmsis": [int(mmsi) for mmsi in mmsis],
                        "webhook": webhook,
                        "now": now,
                    },
                )
        except psycopg.errors.UniqueViolation:
            raise StoreError(f"watch list id {watchlist_id} is taken") from None
        except psycopg.Error as exc:
            raise StoreError(f"watch lists ({self._where}): {exc}") from None

    def update_watchlist(
        self,
        con: psycopg.Connection[Any],
        watchlist_id: str,
        *,
        owner: str,
        name: str,
        mmsis: Sequence[int],
        webhook: str | None,
        now: datetime,
    ) -> bool:
        """Replace the name, MMSIs and webhook of ``owner``'s list; False when ``owner``
        has no list of that id (another user's list counts as none)."""
        rows = self._rows(
            con,
            "UPDATE watchlists SET name = %(name)s, mmsis = %(mmsis)s::integer[], "
            "webhook = %(webhook)s, updated_at = %(now)s "
            "WHERE id = %(id)s AND owner = %(owner)s RETURNING id",
            {
                "id": watchlist_id,
                "owner": owner,
                "name": name,
                "mmsis": [int(mmsi) for mmsi in mmsis],
                "webhook": webhook,
                "now": now,
            },
        )
        return bool(rows)

    def remove_watchlist(
        self, con: psycopg.Connection[Any], watchlist_id: str, *, owner: str
    ) -> bool:
        """Delete ``owner``'s list and its delivery records (one transaction); False when
        ``owner`` has no list of that id."""
        try:
            with con.transaction(), con.cursor() as cur:
                cur.execute(
                    "DELETE FROM watchlists WHERE id = %s AND owner = %s RETURNING id",
                    (watchlist_id, owner),
                )
                if not cur.fetchall():
                    return False
                cur.execute(
                    "DELETE FROM webhook_deliveries WHERE watchlist_id = %s", (watchlist_id,)
                )
                return True
        except psycopg.Error as exc:
            raise StoreError(f"watch lists ({self._where}): {exc}") from None

    def watchlists(
        self, con: psycopg.Connection[Any], *, owner: str | None, watchlist_id: str | None
    ) -> pa.Table:
        """Watch lists (of ``owner`` / of that id when given), by owner, creation time and
        id."""
        where, params = ["true"], {}
        if owner is not None:
            where.append("owner = %(owner)s")
            params["owner"] = owner
        if watchlist_id is not None:
            where.append("id = %(id)s")
            params["id"] = watchlist_id
        return self._table(
            con,
            f"SELECT {', '.join(WATCHLIST_SCHEMA.names)} FROM watchlists "
            f"WHERE {' AND '.join(where)} "
            f"ORDER BY owner {_BYTEWISE}, created_at, id {_BYTEWISE}",
            params,
            WATCHLIST_SCHEMA,
        )

    # -- webhook deliveries ---------------------------------------------------------------

    def webhook_delivered(
        self, con: psycopg.Connection[Any], watchlist_id: str, alert_id: str, revision: int
    ) -> bool:
        """Whether this revision of the alert was delivered to the list's webhook."""
        rows = self._rows(
            con,
            "SELECT 1 FROM webhook_deliveries WHERE watchlist_id = %(w)s "
            "AND alert_id = %(a)s AND revision = %(r)s AND delivered_at IS NOT NULL",
            {"w": watchlist_id, "a": alert_id, "r": revision},
        )
        return bool(rows)

    def record_webhook_attempt(
        self,
        con: psycopg.Connection[Any],
        watchlist_id: str,
        alert_id: str,
        revision: int,
        *,
        delivered_at: datetime | None,
        error: str | None,
    ) -> int:
        """Count one POST of this revision to the list's webhook: ``delivered_at`` when it
        succeeded, else the ``error``; returns the attempts so far. A delivered revision
        stays delivered."""
        rows = self._rows(
            con,
            """
            INSERT INTO webhook_deliveries VALUES (%(w)s, %(a)s, %(r)s, %(at)s, 1, %(error)s)
            ON CONFLICT (watchlist_id, alert_id, revision) DO UPDATE SET
                attempts = webhook_deliveries.attempts + 1,
                delivered_at = coalesce(webhook_deliveries.delivered_at, excluded.delivered_at),
                last_error = excluded.last_error
            RETURNING attempts
            """,
            {"w": watchlist_id, "a": alert_id, "r": revision, "at": delivered_at, "error": error},
        )
        return int(rows[0][0])

    def alert_change_seqs(
        self, con: psycopg.Connection[Any], keys: Sequence[tuple[str, int]]
    ) -> dict[tuple[str, int], int]:
        """The alert_seq of each stored change among ``keys`` (alert id, revision)."""
        if not keys:
            return {}
        rows = self._rows(
            con,
            "SELECT c.alert_id, c.revision, c.alert_seq FROM alert_changes c "
            "JOIN unnest(%(ids)s::text[], %(revisions)s::integer[]) AS w(alert_id, revision) "
            "ON w.alert_id = c.alert_id AND w.revision = c.revision",
            {"ids": [key[0] for key in keys], "revisions": [key[1] for key in keys]},
        )
        return {(str(a), int(r)): int(seq) for a, r, seq in rows}

    def alert_seq_at(self, con: psycopg.Connection[Any], moment: datetime) -> int:
        """The last alert_seq stored at or before ``moment`` (0 if none was)."""
        rows = self._rows(
            con,
            "SELECT coalesce(max(alert_seq), 0) FROM alert_changes WHERE changed_at <= %(m)s",
            {"m": moment},
        )
        return int(rows[0][0])

    def webhook_deliveries(
        self, con: psycopg.Connection[Any], watchlist_id: str | None
    ) -> pa.Table:
        """Delivery records (of one list when given), by list, alert and revision."""
        where, params = "", {}
        if watchlist_id is not None:
            where, params = "WHERE watchlist_id = %(w)s", {"w": watchlist_id}
        return self._table(
            con,
            f"SELECT {', '.join(DELIVERY_SCHEMA.names)} FROM webhook_deliveries {where} "
            f"ORDER BY watchlist_id {_BYTEWISE}, alert_id {_BYTEWISE}, revision",
            params,
            DELIVERY_SCHEMA,
        )
