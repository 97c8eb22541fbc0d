"""The API's reads on PostgreSQL beside the core queries: where the live feeds end, the
revision of each alert change, and the partner exchange's reads for admins.

The partner exchange (share outbox, inbound batches) is not on PostgreSQL yet
(docs/postgres.md), so a PostgreSQL store has released nothing: ``releases``,
``partners_released_to`` and ``released_vessels`` answer empty, with the embedded store's
columns and types. The paged positions are ``postgres_read.Reader.positions`` with a limit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg
import pyarrow as pa

from mista.errors import StoreError

from .embedded_api import RELEASE_COLUMNS, VESSEL_FIELDS
from .postgres_read import VESSEL_SCHEMA

__all__ = ["RELEASED_VESSEL_SCHEMA", "RELEASE_SCHEMA", "ApiReads"]

_UTC_US = pa.timestamp("us", tz="UTC")
#: What ``releases`` answers (the embedded store's columns and types).
RELEASE_SCHEMA = pa.schema(
    [
        ("order_no", pa.int64()),
        ("partner", pa.string()),
        ("record_id", pa.string()),
        ("kind", pa.string()),
        ("agreement", pa.string()),
        ("clause", pa.string()),
        ("not_before", _UTC_US),
        ("sent_at", _UTC_US),
        ("batch", pa.int64()),
        ("dropped", pa.string()),
    ]
)
assert tuple(RELEASE_SCHEMA.names) == RELEASE_COLUMNS
#: What ``released_vessels`` answers: the vessels' columns a partner received (no source
#: kind nor originator: a partner's record carries neither).
RELEASED_VESSEL_SCHEMA = pa.schema([VESSEL_SCHEMA.field(name) for name in VESSEL_FIELDS])


class ApiReads:
    """The API's extra reads, each on a connection the store lends."""

    def __init__(self, where: str) -> None:
        self._where = where  # the store's redacted address, for messages

    def feed_ends(
        self, con: psycopg.Connection[Any], after_seq: int, after_alert_seq: int
    ) -> tuple[int, int]:
        """(the last report seq, the last alert_seq) stored now, each at least the end the
        reader already knows.

        The last seq handed out (``report_seq``) may belong to a duplicate that was never
        stored, so the stored maximum is looked for below it in ranges growing fourfold
        (a BRIN on seq serves each range; a batch's duplicates leave short gaps)."""
        try:
            with con.cursor() as cur:
                cur.execute("SELECT last FROM report_seq")
                row = cur.fetchone()
                last = int(row[0]) if row else 0
                report_end, span = after_seq, 1024
                while last > after_seq:
                    low = max(after_seq, last - span)
                    cur.execute(
                        "SELECT max(seq) FROM reports WHERE seq > %s AND seq <= %s", (low, last)
                    )
                    found = cur.fetchone()
                    if found is not None and found[0] is not None:
                        report_end = int(found[0])
                        break
                    if low == after_seq:
                        break
                    last, span = low, span * 4
                cur.execute(
                    "SELECT coalesce(max(alert_seq), %s) FROM alert_changes WHERE alert_seq > %s",
                    (after_alert_seq, after_alert_seq),
                )
                found = cur.fetchone()
                alert_end = int(found[0]) if found else after_alert_seq
        except psycopg.Error as exc:
            raise StoreError(
                f"store {self._where}: reading the feeds' ends failed: {exc}"
            ) from None
        return report_end, alert_end

    def alert_revisions(
        self, con: psycopg.Connection[Any], alert_seqs: Sequence[int]
    ) -> dict[int, int]:
        """The revision each of these alert changes (by alert_seq) made; unknown ones are
        left out."""
        if not alert_seqs:
            return {}
        try:
            rows = con.execute(
                "SELECT alert_seq, revision FROM alert_changes WHERE alert_seq = ANY(%s)",
                ([int(seq) for seq in alert_seqs],),
            ).fetchall()
        except psycopg.Error as exc:
            raise StoreError(
                f"store {self._where}: reading alert revisions failed: {exc}"
            ) from None
        return {int(seq): int(revision) for seq, revision in rows}
