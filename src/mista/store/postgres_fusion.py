"""The fused picture on PostgreSQL: tracks, alerts and the fusion cursor (migration 4).

The same tables, rules and answers as the embedded store's (``embedded_fusion`` describes
them): a fusion step's points, tracks, alerts and cursor commit in ONE transaction, an
alert's revision goes up (and it takes the next ``alert_seq``) only when it changed, and
every read for a user filters by DESIGN.md rule 1 in SQL (``postgres_read.visible``).

Writers of the fused picture take the report writers' advisory lock (``WRITE_LOCK``) for
their transaction: new labels are numbered and alert changes are given ``alert_seq`` in
commit order, so sharing, which reads changes by ``alert_seq``, never finds a gap filled
later. Rows go by COPY into per-connection staging tables (``FUSION_STAGING``, emptied at
every commit), then one upsert each moves them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from mista.errors import StoreError
from mista.ingest.batch import label_id
from mista.labels import Label
from mista.model import Alert, AlertStatus, Track, User

from .embedded_fusion import (
    ALERT_STATE,
    _check_part,
    _cursor_of,
    _last_by_id,
    _points_table,
    _state_of,
    alert_of_change,
)
from .postgres_read import to_arrow, visible
from .postgres_write import WRITE_LOCK, copy_csv, label_numbers

__all__ = [
    "ALERT_SCHEMA",
    "FUSION_STAGING",
    "TRACK_COLUMNS",
    "TRACK_SCHEMA",
    "FusionTables",
]

_UTC_US = pa.timestamp("us", tz="UTC")
#: What ``alerts`` answers (the embedded store's columns and types).
ALERT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("start", _UTC_US),
        ("end", _UTC_US),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("mmsis", pa.list_(pa.int32())),
        ("tracks", pa.list_(pa.string())),
        ("evidence", pa.string()),
        ("revision", pa.int32()),
        ("label", pa.string()),
    ]
)
#: What ``tracks`` answers.
TRACK_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("kind", pa.string()),
        ("mmsi", pa.int32()),
        ("name", pa.string()),
        ("first_at", _UTC_US),
        ("last_at", _UTC_US),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("points", pa.int64()),
        ("linked_from", pa.string()),
        ("label", pa.string()),
    ]
)
#: The tracks table's columns (both backends).
TRACK_COLUMNS = (
    "id",
    "kind",
    "mmsi",
    "first_at",
    "last_at",
    "lat",
    "lon",
    "points",
    "label_no",
    "name",
    "linked_from",
)
_TRACK_TYPES = (
    "text",
    "text",
    "integer",
    "timestamptz",
    "timestamptz",
    "float8",
    "float8",
    "bigint",
    "integer",
    "text",
    "text",
)
_ALERT_TYPES = (
    "bigint",
    "text",
    "text",
    "text",
    "timestamptz",
    "timestamptz",
    "float8",
    "float8",
    "integer[]",
    "text[]",
    "text",
    "integer",
)
#: Staging tables of a writing connection (made once per connection, emptied at commit).
FUSION_STAGING = (
    "CREATE TEMP TABLE _f_points (seq bigint, track_id text, flags integer) ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE _f_tracks ("
    + ", ".join(f"{n} {t}" for n, t in zip(TRACK_COLUMNS, _TRACK_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS",
    "CREATE TEMP TABLE _f_alerts ("
    + ", ".join(f"{n} {t}" for n, t in zip(("k", "id", *ALERT_STATE), _ALERT_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS",
)
#: Ids order byte-wise, as DuckDB orders text, whatever the database's collation.
_BYTEWISE = 'COLLATE "C"'


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise StoreError(f"time {moment.isoformat()} has no timezone: give UTC times")
    return moment


class FusionTables:
    """The fused picture's reads and writes, each on a connection the store lends."""

    def __init__(self, where: str) -> None:
        self._where = where  # the store's redacted address, for messages

    def _fail(self, what: str, exc: psycopg.Error) -> StoreError:
        return StoreError(f"store {self._where}: {what} failed: {exc}")

    # -- the cursor ----------------------------------------------------------------------

    def fusion_cursor(self, con: psycopg.Connection[Any], part: int = 0) -> int:
        """The seq of the last report fusion part ``part`` fused (0 before any)."""
        try:
            row = con.execute(f"SELECT seq FROM {_cursor_of(part)}").fetchone()
        except psycopg.Error as exc:
            raise self._fail("reading the fusion cursor", exc) from None
        return int(row[0]) if row else 0

    def fusion_read(self, con: psycopg.Connection[Any], part: int = 0) -> int:
        """The seq of the last report read at the part's last fusion step."""
        try:
            row = con.execute(f"SELECT coalesce(read_seq, seq) FROM {_cursor_of(part)}").fetchone()
        except psycopg.Error as exc:
            raise self._fail("reading the fusion cursor", exc) from None
        return int(row[0]) if row else 0

    def fusion_state(self, con: psycopg.Connection[Any], part: int = 0) -> tuple[int, bytes] | None:
        """The part's fusion checkpoint: the read seq it was taken at and its bytes."""
        try:
            row = con.execute(f"SELECT read_seq, state FROM {_state_of(part)}").fetchone()
        except psycopg.Error as exc:
            raise self._fail("reading the fusion checkpoint", exc) from None
        return (int(row[0]), bytes(row[1])) if row else None

    def save_fusion_state(
        self, con: psycopg.Connection[Any], read: int, state: bytes, part: int = 0
    ) -> None:
        """Replace the part's fusion checkpoint, in one transaction."""
        table, key = ("fusion_state", "true") if part == 0 else ("fusion_part_state", "%s")
        values = (read, state) if part == 0 else (part, read, state)
        try:
            with con.transaction():
                con.execute(f"DELETE FROM {_state_of(part)}")
                con.execute(f"INSERT INTO {table} VALUES ({key}, %s, now(), %s)", values)
        except psycopg.Error as exc:
            raise self._fail("saving the fusion checkpoint", exc) from None

    def clear_fusion_state(self, con: psycopg.Connection[Any], part: int = 0) -> None:
        """Drop the part's fusion checkpoint."""
        try:
            with con.transaction():
                con.execute(f"DELETE FROM {_state_of(part)}")
        except psycopg.Error as exc:
            raise self._fail("clearing the fusion checkpoint", exc) from None

    # -- writing -------------------------------------------------------------------------

    def write_fusion(
        self,
        con: psycopg.Connection[Any],
        *,
        cursor: int,
        tracks: Sequence[Track],
        points: pa.Table,
        alerts: Sequence[Alert],
        read: int | None = None,
        part: int = 0,
    ) -> None:
        """One fusion step in one transaction on ``con``: append ``points`` (a report
        already on a track is not added to it twice), upsert ``tracks`` and ``alerts`` by
        id, and move fusion part ``part``'s cursor to ``cursor`` and its read cursor to
        ``read`` (``cursor`` when None). All or nothing."""
        points = _points_table(points)
        read = cursor if read is None else max(read, cursor)
        _check_part(part)
        try:
            with con.transaction(), con.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                cur.execute(f"SELECT seq FROM {_cursor_of(part)} FOR UPDATE")
                row = cur.fetchone()
                current = int(row[0]) if row else 0
                if cursor < current:
                    raise StoreError(
                        f"store {self._where}: the fusion cursor would move back from "
                        f"{current} to {cursor} (two fusers on one store?)"
                    )
                if points.num_rows:
                    self._append_points(cur, points)
                if tracks:
                    self._upsert_tracks(cur, _last_by_id(tracks))
                if alerts:
                    self._upsert_alerts(cur, _last_by_id(alerts))
                if part == 0:
                    cur.execute("UPDATE fusion_cursor SET seq = %s, read_seq = %s", (cursor, read))
                else:
                    cur.execute(
                        "INSERT INTO fusion_part_cursor VALUES (%s, %s, %s) ON CONFLICT (part) "
                        "DO UPDATE SET seq = excluded.seq, read_seq = excluded.read_seq",
                        (part, cursor, read),
                    )
        except psycopg.Error as exc:
            raise self._fail("writing a fusion step", exc) from None

    def write_alerts(self, con: psycopg.Connection[Any], alerts: Sequence[Alert]) -> int:
        """Upsert alerts (e.g. received from partners) in one transaction; the number that
        were new or changed."""
        if not alerts:
            return 0
        try:
            with con.transaction(), con.cursor() as cur:
                cur.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
                return self._upsert_alerts(cur, _last_by_id(alerts))
        except psycopg.Error as exc:
            raise self._fail("writing alerts", exc) from None

    def _append_points(self, cur: psycopg.Cursor[Any], points: pa.Table) -> None:
        """Append ``points``, each distinct row once, leaving out a (report, track) pair
        already stored: after a restart the fuser replays reports an earlier run may have
        placed (see ``embedded_fusion``). When no stored point falls in the seq range of
        ``points`` (every step but such a replay) they go by COPY straight into the table."""
        points = points.group_by(list(points.column_names), use_threads=False).aggregate([])
        low, high = pc.min_max(points.column("seq")).values()
        cur.execute(
            "SELECT EXISTS (SELECT 1 FROM track_points WHERE seq BETWEEN %s AND %s)",
            (low.as_py(), high.as_py()),
        )
        row = cur.fetchone()
        if not (row and row[0]):
            copy_csv(cur, "track_points", points)
            return
        copy_csv(cur, "_f_points", points)
        cur.execute(
            """
            INSERT INTO track_points
            SELECT p.seq, p.track_id, p.flags FROM _f_points p
            WHERE NOT EXISTS (
                SELECT 1 FROM track_points t WHERE t.seq = p.seq AND t.track_id = p.track_id
            )
            """
        )

    def _numbers(self, cur: psycopg.Cursor[Any], labels: Sequence[Label]) -> list[int]:
        numbers = label_numbers(cur, tuple(dict.fromkeys(labels)))
        return [numbers[label_id(label)] for label in labels]

    def _upsert_tracks(self, cur: psycopg.Cursor[Any], tracks: Sequence[Track]) -> None:
        numbers = self._numbers(cur, [t.label for t in tracks])
        with cur.copy(f"COPY _f_tracks ({', '.join(TRACK_COLUMNS)}) FROM STDIN") as copy:
            copy.set_types(list(_TRACK_TYPES))
            for track, number in zip(tracks, numbers, strict=True):
                copy.write_row(
                    (
                        track.id,
                        track.kind,
                        track.mmsi,
                        track.first_at,
                        track.last_at,
                        track.lat,
                        track.lon,
                        track.points,
                        number,
                        track.name,
                        track.linked_from,
                    )
                )
        columns = ", ".join(TRACK_COLUMNS)
        updates = ", ".join(f"{name} = excluded.{name}" for name in TRACK_COLUMNS[1:])
        cur.execute(
            f"INSERT INTO tracks ({columns}) SELECT {columns} FROM _f_tracks "
            f"ON CONFLICT (id) DO UPDATE SET {updates}"
        )

    def _upsert_alerts(self, cur: psycopg.Cursor[Any], alerts: Sequence[Alert]) -> int:
        """Store the alerts that are new or differ from their stored state; each gets the
        next revision and alert_seq (in the order given) and a row in ``alert_changes``."""
        numbers = self._numbers(cur, [a.label for a in alerts])
        columns = ("k", "id", *ALERT_STATE)
        with cur.copy(f"COPY _f_alerts ({', '.join(columns)}) FROM STDIN") as copy:
            copy.set_types(list(_ALERT_TYPES))
            for k, (alert, number) in enumerate(zip(alerts, numbers, strict=True)):
                copy.write_row(
                    (
                        k,
                        alert.id,
                        alert.kind,
                        AlertStatus(alert.status).value,
                        alert.start,
                        alert.end,
                        alert.lat,
                        alert.lon,
                        list(alert.mmsis),
                        list(alert.tracks),
                        alert.evidence,
                        number,
                    )
                )
        differs = " OR ".join(f"a.{name} IS DISTINCT FROM i.{name}" for name in ALERT_STATE)
        state = ", ".join(ALERT_STATE)
        updates = ", ".join(
            f"{name} = excluded.{name}"
            for name in (*ALERT_STATE, "revision", "alert_seq", "updated_at")
        )
        # The changes, numbered after the last alert_seq, go into alert_changes, and the
        # same rows become the alerts' current state.
        cur.execute(
            f"""
            WITH changed AS (
                INSERT INTO alert_changes
                SELECT (SELECT coalesce(max(alert_seq), 0) FROM alert_changes)
                           + row_number() OVER (ORDER BY i.k),
                       i.id, coalesce(a.revision, 0) + 1,
                       {", ".join(f"i.{name}" for name in ALERT_STATE)}, now()
                FROM _f_alerts i LEFT JOIN alerts a ON a.id = i.id
                WHERE a.id IS NULL OR {differs}
                RETURNING *
            )
            INSERT INTO alerts (id, {state}, revision, alert_seq, updated_at)
            SELECT alert_id, {state}, revision, alert_seq, changed_at FROM changed
            ON CONFLICT (id) DO UPDATE SET {updates}
            """
        )
        return int(cur.rowcount)

    # -- reading for a user --------------------------------------------------------------

    def alerts(
        self,
        con: psycopg.Connection[Any],
        viewer: User,
        *,
        since: datetime | None,
        until: datetime | None,
        kinds: Sequence[str] | None,
        include_withdrawn: bool,
        limit: int | None,
    ) -> pa.Table:
        """Alerts ``viewer`` may see that overlap ``[since, until)`` (end at or after
        ``since``, start before ``until``), ordered by start then id."""
        rule, params = visible(viewer)
        where = [rule]
        if not include_withdrawn:
            where.append("a.status <> 'withdrawn'")
        if since is not None:
            where.append("a.end_at >= %(since)s")
            params["since"] = _aware(since)
        if until is not None:
            where.append("a.start_at < %(until)s")
            params["until"] = _aware(until)
        if kinds is not None:
            where.append("a.kind = ANY(%(kinds)s::text[])")
            params["kinds"] = list(kinds)
        limit_sql = ""
        if limit is not None:
            limit_sql = " LIMIT %(limit)s"
            params["limit"] = limit
        return self._query(
            con,
            f"""
            SELECT a.id, a.kind, a.status, a.start_at, a.end_at, a.lat, a.lon, a.mmsis,
                   a.tracks, a.evidence, a.revision, l.marking
            FROM alerts a JOIN labels l ON l.label_no = a.label_no
            WHERE {" AND ".join(where)}
            ORDER BY a.start_at, a.id {_BYTEWISE}{limit_sql}
            """,
            params,
            ALERT_SCHEMA,
            "reading alerts",
        )

    def tracks(self, con: psycopg.Connection[Any], viewer: User, *, kind: str | None) -> pa.Table:
        """Tracks ``viewer`` may see, of ``kind`` when given, ordered by first time then
        id."""
        rule, params = visible(viewer)
        where = [rule]
        if kind is not None:
            where.append("t.kind = %(kind)s")
            params["kind"] = kind
        return self._query(
            con,
            f"""
            SELECT t.id, t.kind, t.mmsi, t.name, t.first_at, t.last_at, t.lat, t.lon,
                   t.points, t.linked_from, l.marking
            FROM tracks t JOIN labels l ON l.label_no = t.label_no
            WHERE {" AND ".join(where)}
            ORDER BY t.first_at, t.id {_BYTEWISE}
            """,
            params,
            TRACK_SCHEMA,
            "reading tracks",
        )

    def _query(
        self,
        con: psycopg.Connection[Any],
        sql: str,
        params: dict[str, Any],
        schema: pa.Schema,
        what: str,
    ) -> pa.Table:
        try:
            with con.cursor(binary=True) as cur:
                cur.execute(sql, params)
                return to_arrow(cur.fetchall(), schema)
        except psycopg.Error as exc:
            raise self._fail(what, exc) from None

    # -- reading for sharing -------------------------------------------------------------

    def alert_changes_after(
        self, con: psycopg.Connection[Any], seq: int, limit: int, labels: dict[int, Label]
    ) -> list[tuple[int, Alert]]:
        """Alert changes with alert_seq above ``seq``, in order, at most ``limit``, every
        label (``labels``: the store's, by number), each as the ``Alert`` state it set."""
        try:
            rows = con.execute(
                """
                SELECT alert_seq, alert_id, kind, status, start_at, end_at, lat, lon, mmsis,
                       tracks, evidence, label_no
                FROM alert_changes WHERE alert_seq > %s ORDER BY alert_seq LIMIT %s
                """,
                (seq, max(0, limit)),
            ).fetchall()
        except psycopg.Error as exc:
            raise self._fail("reading alert changes", exc) from None
        return [alert_of_change(row, labels, _in_utc, f"store {self._where}") for row in rows]


def _in_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)
