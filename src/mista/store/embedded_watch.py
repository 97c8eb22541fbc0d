"""Watch lists and webhook deliveries in the embedded store (tables of migration 5).

- ``watchlists``: one row per list: its id, the user who owns it, a name, the watched
  MMSIs and the webhook URL alerts about them are POSTed to (or null).
- ``webhook_deliveries``: per (list, alert, revision), how many POSTs were tried, when one
  was answered with success (``delivered_at``, null until then) and the last error: a
  revision is delivered at most once.

Also here: the two reads the live stream needs beside ``report_feed`` and
``alert_changes_after``: where both feeds end now, and the revision of each alert change.
Callers hold the node's store lock around every call (the methods share the store's one
connection).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import duckdb
import pyarrow as pa

from mista.errors import StoreError

__all__ = ["WATCHLIST_COLUMNS", "WatchlistMethods"]

#: The columns ``watchlists`` returns, in order.
WATCHLIST_COLUMNS = ("id", "owner", "name", "mmsis", "webhook", "created_at", "updated_at")


class WatchlistMethods:
    """Watch-list methods of ``DuckDBStore``: each user's lists of vessels of interest and
    which alert revisions their webhooks have been sent."""

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        raise NotImplementedError  # DuckDBStore's connection

    def _writable(self, what: str) -> None:
        raise NotImplementedError  # DuckDBStore refuses writes when opened read-only

    def _reader(self) -> duckdb.DuckDBPyConnection:
        raise NotImplementedError  # DuckDBStore's connection for this thread's reads

    def _watch_rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        try:
            return self.connection.execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"watch lists: {exc}") from None

    def _feed_rows(self, sql: str, params: dict[str, Any]) -> list[tuple[Any, ...]]:
        """A read of the live feeds, on this thread's own connection inside ``reading``."""
        try:
            return self._reader().execute(sql, params).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"live feeds: {exc}") from None

    # -- watch lists ----------------------------------------------------------------------

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
        """Create a watch list of ``owner`` (created and updated at ``now``); a
        StoreError if that id is taken."""
        self._writable("add watch lists")
        try:
            self.connection.execute(
                "INSERT INTO watchlists VALUES ($id, $owner, $name, $mmsis, $webhook, $now, $now)",
                {
                    "id": watchlist_id,
                    "owner": owner,
                    "name": name,
                    "mmsis": list(mmsis),
                    "webhook": webhook,
                    "now": now,
                },
            ).fetchall()
        except duckdb.ConstraintException:
            raise StoreError(f"watch list id {watchlist_id} is taken") from None

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
        """Replace the name, MMSIs and webhook of ``owner``'s list; False when ``owner``
        has no list of that id (another user's list counts as none)."""
        self._writable("change watch lists")
        rows = self._watch_rows(
            "UPDATE watchlists SET name = $name, mmsis = $mmsis, webhook = $webhook, "
            "updated_at = $now WHERE id = $id AND owner = $owner RETURNING id",
            {
                "id": watchlist_id,
                "owner": owner,
                "name": name,
                "mmsis": list(mmsis),
                "webhook": webhook,
                "now": now,
            },
        )
        return bool(rows)

    def remove_watchlist(self, watchlist_id: str, *, owner: str) -> bool:
        """Delete ``owner``'s list and its delivery records; False when ``owner`` has no
        list of that id."""
        self._writable("remove watch lists")
        rows = self._watch_rows(
            "DELETE FROM watchlists WHERE id = $id AND owner = $owner RETURNING id",
            {"id": watchlist_id, "owner": owner},
        )
        if rows:
            self._watch_rows(
                "DELETE FROM webhook_deliveries WHERE watchlist_id = $id", {"id": watchlist_id}
            )
        return bool(rows)

    def watchlists(self, *, owner: str | None = None, watchlist_id: str | None = None) -> pa.Table:
        """Watch lists (of ``owner`` / of that id when given), by owner, creation time and
        id. Columns: ``WATCHLIST_COLUMNS`` (mmsis a list of int32, times UTC)."""
        where, params = ["true"], {}
        if owner is not None:
            where.append("owner = $owner")
            params["owner"] = owner
        if watchlist_id is not None:
            where.append("id = $id")
            params["id"] = watchlist_id
        try:
            return self.connection.sql(
                f"SELECT {', '.join(WATCHLIST_COLUMNS)} FROM watchlists "
                f"WHERE {' AND '.join(where)} ORDER BY owner, created_at, id",
                params=params,
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"reading watch lists: {exc}") from None

    # -- webhook deliveries ---------------------------------------------------------------

    def webhook_delivered(self, watchlist_id: str, alert_id: str, revision: int) -> bool:
        """Whether this revision of the alert was delivered to the list's webhook."""
        rows = self._watch_rows(
            "SELECT 1 FROM webhook_deliveries WHERE watchlist_id = $w AND alert_id = $a "
            "AND revision = $r AND delivered_at IS NOT NULL",
            {"w": watchlist_id, "a": alert_id, "r": revision},
        )
        return bool(rows)

    def record_webhook_attempt(
        self,
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
        self._writable("record webhook deliveries")
        rows = self._watch_rows(
            """
            INSERT INTO webhook_deliveries VALUES ($w, $a, $r, $at, 1, $error)
            ON CONFLICT (watchlist_id, alert_id, revision) DO UPDATE SET
                attempts = webhook_deliveries.attempts + 1,
                delivered_at = coalesce(webhook_deliveries.delivered_at, excluded.delivered_at),
                last_error = excluded.last_error
            RETURNING attempts
            """,
            {"w": watchlist_id, "a": alert_id, "r": revision, "at": delivered_at, "error": error},
        )
        return int(rows[0][0])

    def webhook_deliveries(self, watchlist_id: str | None = None) -> pa.Table:
        """Delivery records (of one list when given), by list, alert and revision. Columns:
        watchlist_id, alert_id, revision, delivered_at, attempts, last_error."""
        where, params = "", {}
        if watchlist_id is not None:
            where, params = "WHERE watchlist_id = $w", {"w": watchlist_id}
        try:
            return self.connection.sql(
                "SELECT watchlist_id, alert_id, revision, delivered_at, attempts, last_error "
                f"FROM webhook_deliveries {where} ORDER BY watchlist_id, alert_id, revision",
                params=params,
            ).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"reading webhook deliveries: {exc}") from None

    def alert_change_seqs(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The alert_seq of each stored change among ``keys`` (alert id, revision); keys of
        no stored change are left out."""
        if not keys:
            return {}
        wanted = pa.table(
            {
                "alert_id": pa.array([key[0] for key in keys], pa.string()),
                "revision": pa.array([key[1] for key in keys], pa.int32()),
            }
        )
        self.connection.register("_wanted_changes", wanted)
        try:
            rows = self._watch_rows(
                "SELECT c.alert_id, c.revision, c.alert_seq FROM alert_changes c "
                "JOIN _wanted_changes w ON w.alert_id = c.alert_id AND w.revision = c.revision",
                {},
            )
        finally:
            self.connection.unregister("_wanted_changes")
        return {(str(a), int(r)): int(seq) for a, r, seq in rows}

    def alert_seq_at(self, moment: datetime) -> int:
        """The last alert_seq stored at or before ``moment`` (0 if none was)."""
        rows = self._watch_rows(
            "SELECT coalesce(max(alert_seq), 0) FROM alert_changes WHERE changed_at <= $m",
            {"m": moment},
        )
        return int(rows[0][0])

    # -- the live feeds -------------------------------------------------------------------

    def feed_ends(self, after_seq: int = 0, after_alert_seq: int = 0) -> tuple[int, int]:
        """(the last report seq, the last alert_seq) stored now: where a live reader that
        wants only what comes next starts its ``report_feed`` / ``alert_changes_after``.
        A reader that knows an earlier end passes it, and only what came after is looked
        at (row-group statistics skip the rest: cheap on a store of millions)."""
        rows = self._feed_rows(
            "SELECT (SELECT coalesce(max(seq), $s) FROM reports WHERE seq > $s), "
            "(SELECT coalesce(max(alert_seq), $a) FROM alert_changes WHERE alert_seq > $a)",
            {"s": after_seq, "a": after_alert_seq},
        )
        return int(rows[0][0]), int(rows[0][1])

    def alert_revisions(self, alert_seqs: Sequence[int]) -> dict[int, int]:
        """The revision each of these alert changes (by alert_seq) made; unknown ones are
        left out."""
        if not alert_seqs:
            return {}
        rows = self._feed_rows(
            "SELECT alert_seq, revision FROM alert_changes WHERE list_contains($seqs, alert_seq)",
            {"seqs": [int(seq) for seq in alert_seqs]},
        )
        return {int(seq): int(revision) for seq, revision in rows}
