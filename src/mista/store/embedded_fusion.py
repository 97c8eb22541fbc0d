"""The fused picture's tables in the embedded store: tracks, alerts, and the fusion cursor.

All DuckDB SQL of fusion and detection output lives here; ``DuckDBStore`` delegates to
``FusionTables``. The tables (migration 4 in ``embedded_schema``) share the store's file
and connection, so a fusion step's points, tracks, alerts and cursor commit in one
transaction, and a crash leaves either all or none of them.

- ``tracks``: one row per track as it stands (``mista.model.Track``), upserted by id.
- ``track_points``: which report (``seq``) a track holds, with the fuser's point flags
  (``mista.fuse.chunk.PointFlag``); appended.
- ``alerts``: one row per alert as it stands (``mista.model.Alert``), upserted by id. An
  alert that comes again unchanged keeps its revision; a change bumps ``revision`` and
  takes the next ``alert_seq``.
- ``alert_changes``: every change, with the whole state it set, in ``alert_seq`` order
  (sharing scans these the way it scans reports).
- ``fusion_cursor``: one row, the seq of the last report fused (``seq``) and of the last
  report read (``read_seq``, migration 7; the fuser's reorder buffer holds those between).
- ``fusion_state``: one row at most, a checkpoint of the fuser's and detectors' memory and
  the ``read_seq`` it was taken at (migration 7).
- ``fusion_part_cursor`` and ``fusion_part_state``: the same for each fusion part after the
  first, a row per part (migration 8; ``mista.detect.parts``). Part 0 uses the two above.

Labels of tracks and alerts are stored by number in the store's ``labels`` table, as
reports' are, and every read for a user filters by the store's visibility rule in SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mista.errors import StoreError
from mista.ingest.batch import label_id
from mista.labels import Label, Level
from mista.model import DEDUPE_WINDOW_S, Alert, AlertStatus, Track
from mista.partitions import VesselPartitions, partition_sql

from .embedded_schema import STATIC_FIELDS

__all__ = [
    "ALERT_STATE",
    "FEED_COLUMNS",
    "FEED_SCHEMA",
    "MAX_PARTS",
    "POINTS_SCHEMA",
    "FusionTables",
    "alert_of_change",
]

_UTC_US = pa.timestamp("us", tz="UTC")
#: Above any seq a store reaches; bounds ``after + limit`` so a huge limit cannot overflow.
_MAX_SEQ = 2**62
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

#: What ``report_feed`` returns, in order (the contract's FEED columns).
FEED_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("label_no", pa.int32()),
        pa.field("originator", pa.string()),
        pa.field("source_kind", pa.string()),
        pa.field("observed_at", _UTC_US),
        pa.field("msg_type", pa.int16()),
        pa.field("mmsi", pa.int32()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("speed_kn", pa.float64()),
        pa.field("course_deg", pa.float64()),
        pa.field("heading_deg", pa.float64()),
        pa.field("nav_status", pa.int16()),
        pa.field("imo", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("callsign", pa.string()),
        pa.field("ship_type", pa.int16()),
        pa.field("destination", pa.string()),
        pa.field("draught_m", pa.float64()),
        pa.field("to_bow_m", pa.int16()),
        pa.field("to_stern_m", pa.int16()),
        pa.field("to_port_m", pa.int16()),
        pa.field("to_starboard_m", pa.int16()),
        pa.field("receiver", pa.string()),
    ]
)
FEED_COLUMNS = tuple(FEED_SCHEMA.names)
#: The report columns the feed reads as stored (between label_no and receiver).
_REPORT_FIELDS = FEED_COLUMNS[3:-1]
assert set(STATIC_FIELDS) <= set(_REPORT_FIELDS)
#: The track points ``write_fusion`` takes.
POINTS_SCHEMA = pa.schema(
    [
        pa.field("seq", pa.int64()),
        pa.field("track_id", pa.string()),
        pa.field("flags", pa.uint16()),
    ]
)
_TRACK_SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("mmsi", pa.int32()),
        pa.field("first_at", _UTC_US),
        pa.field("last_at", _UTC_US),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("points", pa.int64()),
        pa.field("label_no", pa.int32()),
        pa.field("name", pa.string()),
        pa.field("linked_from", pa.string()),
    ]
)
_ALERT_SCHEMA = pa.schema(
    [
        pa.field("k", pa.int64()),
        pa.field("id", pa.string()),
        pa.field("kind", pa.string()),
        pa.field("status", pa.string()),
        pa.field("start_at", _UTC_US),
        pa.field("end_at", _UTC_US),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        pa.field("mmsis", pa.list_(pa.int32())),
        pa.field("tracks", pa.list_(pa.string())),
        pa.field("evidence", pa.string()),
        pa.field("label_no", pa.int32()),
    ]
)
#: The alert fields whose change makes a new revision (both backends' column names).
ALERT_STATE = (
    "kind",
    "status",
    "start_at",
    "end_at",
    "lat",
    "lon",
    "mmsis",
    "tracks",
    "evidence",
    "label_no",
)

_Record = TypeVar("_Record", Track, Alert)
LabelNumbers = Callable[[tuple[Label, ...]], dict[str, int]]


def _ts(param: str) -> str:
    """SQL for a time parameter passed as epoch microseconds (see ``_us``)."""
    return f"make_timestamp(${param}::BIGINT)::TIMESTAMPTZ"


def _us(moment: datetime) -> int:
    """Epoch microseconds of an aware time (DuckDB's Python time zones need pytz)."""
    if moment.tzinfo is None:
        raise StoreError(f"time {moment.isoformat()} has no timezone: give UTC times")
    return (moment - _EPOCH) // timedelta(microseconds=1)


def _time(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=int(micros))


def _last_by_id(records: Sequence[_Record]) -> list[_Record]:
    """One record per id, the last given, in order of first appearance."""
    return list({record.id: record for record in records}.values())


class FusionTables:
    """The fused picture's reads and writes on one open ``DuckDBStore``'s connection.

    ``label_numbers`` is the store's own label numbering (adding labels not seen before),
    so tracks and alerts share the label numbers of the reports they rest on.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        path: Path,
        label_numbers: LabelNumbers,
        reader: Callable[[], duckdb.DuckDBPyConnection] | None = None,
    ) -> None:
        self._con = con
        self._path = path
        self._label_numbers = label_numbers
        #: The connection users' reads (alerts, tracks) go through: the calling thread's
        #: own while it reads beside others (``DuckDBStore.reading``), else ``con``.
        self._reader = reader or (lambda: con)

    # -- helpers -------------------------------------------------------------------------

    def _rows(self, sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
        try:
            return self._con.execute(sql, params or {}).fetchall()
        except duckdb.Error as exc:
            raise StoreError(f"store {self._path}: fusion query failed: {exc}") from None

    def _table(self, sql: str, params: dict[str, Any], what: str) -> pa.Table:
        try:
            return self._reader().sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"store {self._path}: {what} failed: {exc}") from None

    @contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        con = self._con
        try:
            con.begin()
            yield
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise StoreError(f"store {self._path}: {what} failed: {exc}") from None
        except BaseException:
            con.rollback()
            raise

    @contextmanager
    def _registered(self, name: str, table: pa.Table) -> Iterator[None]:
        self._con.register(name, table)
        try:
            yield
        finally:
            self._con.unregister(name)

    # -- the report feed -----------------------------------------------------------------

    def report_feed(
        self, after_seq: int, limit: int, *, partitions: VesselPartitions | None = None
    ) -> pa.Table:
        """Reports with seq above ``after_seq``, in seq order, at most ``limit``, every
        label: the FEED columns (``FEED_SCHEMA``); with ``partitions``, of those whose
        MMSI hashes into them only (``partition_sql``). ``receiver`` is the radar that saw a
        radar contact (of two at one time, the first by name), null for other reports:
        fusion needs no other receiver, and finding each report's first would cost most of
        the read (the exchange's report pages name every report's).

        Two statements: the seq range and time window of the chunk (narrow columns), then
        the reports of that range joined to the first receivers of that window's
        receptions (row-group statistics prune both tables to the chunk). A report's first
        reception is written with it, received at its observation time or, when a copy
        was merged into it, up to the dedupe window before or after.
        """
        if limit <= 0:
            return FEED_SCHEMA.empty_table()
        bounds = (
            self._feed_bounds(after_seq, limit)
            if partitions is None
            else self._partition_bounds(after_seq, limit, partitions)
        )
        if bounds is None:
            return FEED_SCHEMA.empty_table()
        upper, low_us, high_us, untimed = bounds
        held = "" if partitions is None else f" AND {partition_sql('mmsi', partitions)}"
        window = []
        params: dict[str, Any] = {"after": after_seq, "upper": upper}
        if low_us is not None and high_us is not None:
            window.append(f"e.received_at BETWEEN {_ts('lo')} AND {_ts('hi')}")
            # A copy merged into a report was received up to the dedupe window before or
            # after its observation time.
            params["lo"] = low_us - DEDUPE_WINDOW_S * 1_000_000
            params["hi"] = high_us + DEDUPE_WINDOW_S * 1_000_000
        if untimed:
            window.append("e.received_at IS NULL")
        fields = ", ".join(f"r.{name}" for name in _REPORT_FIELDS)
        # No ORDER BY: sorting the few seq values in numpy and taking rows is cheaper than
        # DuckDB sorting the wide rows.
        chunk = self._table(
            f"""
            WITH r AS (
                SELECT seq, id_hi, id_lo, label_no, {", ".join(_REPORT_FIELDS)}
                FROM reports WHERE seq > $after AND seq <= $upper{held}
            ), c AS (
                SELECT e.id_hi, e.id_lo,
                       (min({{'t': coalesce(e.received_at, TIMESTAMPTZ '1970-01-01'),
                              'r': e.receiver}}) FILTER (WHERE e.receiver IS NOT NULL)).r
                           AS receiver
                FROM receptions e SEMI JOIN r
                  ON r.id_hi = e.id_hi AND r.id_lo = e.id_lo AND r.source_kind = 'radar'
                WHERE {" OR ".join(window)}
                GROUP BY e.id_hi, e.id_lo
            )
            SELECT r.seq, r.id_hi, r.id_lo, r.label_no, {fields}, c.receiver
            FROM r LEFT JOIN c ON c.id_hi = r.id_hi AND c.id_lo = r.id_lo
            """,
            params,
            "reading the report feed",
        )
        seq = chunk.column("seq").to_numpy()
        if len(seq) > 1 and not bool(np.all(seq[1:] > seq[:-1])):
            chunk = chunk.take(np.argsort(seq, kind="stable"))
        columns = [
            chunk.column("seq"),
            _hex_ids(chunk.column("id_hi"), chunk.column("id_lo")),
            *(chunk.column(name) for name in FEED_COLUMNS[2:]),
        ]
        return pa.Table.from_arrays(
            [column.cast(field.type) for column, field in zip(columns, FEED_SCHEMA, strict=True)],
            schema=FEED_SCHEMA,
        )

    def _feed_bounds(
        self, after_seq: int, limit: int
    ) -> tuple[int, int | None, int | None, bool] | None:
        """(last seq, first and last observation time in epoch microseconds, whether any
        report is untimed) of the next ``limit`` reports after ``after_seq``; None when
        there are none.

        Seqs are dense except where a batch's duplicates left gaps, so the range
        ``after_seq + limit`` usually holds exactly ``limit`` reports and is counted from
        row-group statistics and two narrow columns; only a range with gaps needs the
        top-N over every later seq.
        """
        summary = (
            "SELECT count(*), max(seq), epoch_us(min(observed_at)), "
            "epoch_us(max(observed_at)), count(*) - count(observed_at) FROM "
        )
        rows = self._rows(
            summary + "reports WHERE seq > $after AND seq <= $upper",
            {"after": after_seq, "upper": min(after_seq + limit, _MAX_SEQ)},
        )
        count, upper, low, high, untimed = rows[0]
        if count < limit:
            rows = self._rows(
                summary + "(SELECT seq, observed_at FROM reports WHERE seq > $after "
                "ORDER BY seq LIMIT $limit)",
                {"after": after_seq, "limit": limit},
            )
            count, upper, low, high, untimed = rows[0]
        if not count:
            return None
        return int(upper), low, high, bool(untimed)

    def _partition_bounds(
        self, after_seq: int, limit: int, partitions: VesselPartitions
    ) -> tuple[int, int | None, int | None, bool] | None:
        """``_feed_bounds`` of the reports of ``partitions`` only. They are a share of
        every report, so the seq range starts at twice the span that share predicts (radar
        contacts hash into no partition) and grows fourfold until it holds ``limit`` of
        them or reaches the last seq: each step a top-N of two narrow columns."""
        rows = self._rows("SELECT max(seq) FROM reports")
        last = rows[0][0] if rows else None
        if last is None or last <= after_seq:
            return None
        span = max(1, 2 * limit * partitions.count // len(partitions.members))
        while True:
            upper = min(after_seq + span, int(last))
            rows = self._rows(
                "SELECT count(*), max(seq), epoch_us(min(observed_at)), "
                "epoch_us(max(observed_at)), count(*) - count(observed_at) FROM "
                "(SELECT seq, observed_at FROM reports WHERE seq > $after AND seq <= $upper "
                f"AND {partition_sql('mmsi', partitions)} ORDER BY seq LIMIT $limit)",
                {"after": after_seq, "upper": upper, "limit": limit},
            )
            count, top, low, high, untimed = rows[0]
            if count >= limit or upper >= last:
                break
            span *= 4
        if not count:
            return None
        return int(top), low, high, bool(untimed)

    # -- labels and cursor ---------------------------------------------------------------

    def labels(self) -> dict[int, Label]:
        """Every stored label by its number (placeholders naming no nation left out)."""
        rows = self._rows(
            "SELECT label_no, level, originator, releasable_to, categories, orcon FROM labels"
        )
        labels: dict[int, Label] = {}
        for number, level, originator, releasable, categories, orcon in rows:
            if not originator:
                continue  # a placeholder label naming no nation (see migration 2)
            labels[int(number)] = Label(
                level=Level(level),
                originator=originator,
                releasable_to=frozenset(releasable),
                categories=frozenset(categories),
                orcon=bool(orcon),
            )
        return labels

    def fusion_cursor(self, part: int = 0) -> int:
        rows = self._rows(f"SELECT seq FROM {_cursor_of(part)}")
        return int(rows[0][0]) if rows else 0

    def fusion_read(self, part: int = 0) -> int:
        rows = self._rows(f"SELECT coalesce(read_seq, seq) FROM {_cursor_of(part)}")
        return int(rows[0][0]) if rows else 0

    def fusion_state(self, part: int = 0) -> tuple[int, bytes] | None:
        rows = self._rows(f"SELECT read_seq, state FROM {_state_of(part)}")
        return (int(rows[0][0]), bytes(rows[0][1])) if rows else None

    def save_fusion_state(self, read: int, state: bytes, part: int = 0) -> None:
        with self._transaction("saving the fusion checkpoint"):
            self._con.execute(f"DELETE FROM {_state_of(part)}").fetchall()
            key = "true" if part == 0 else str(part)
            table = "fusion_state" if part == 0 else "fusion_part_state"
            self._con.execute(
                f"INSERT INTO {table} VALUES ({key}, $read, $now, $state)",
                {"read": read, "now": datetime.now(UTC), "state": state},
            ).fetchall()

    def clear_fusion_state(self, part: int = 0) -> None:
        with self._transaction("clearing the fusion checkpoint"):
            self._con.execute(f"DELETE FROM {_state_of(part)}").fetchall()

    # -- writing -------------------------------------------------------------------------

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
        """One fusion step in one transaction: append ``points`` (a report already on a
        track is not added to it twice), upsert ``tracks`` and ``alerts`` by id, and move
        fusion part ``part``'s cursor to ``cursor`` and its read cursor to ``read``
        (``cursor`` when None). All or nothing."""
        points = _points_table(points)
        read = cursor if read is None else max(read, cursor)
        _check_part(part)
        with self._transaction("writing a fusion step"):
            current = self.fusion_cursor(part)
            if cursor < current:
                raise StoreError(
                    f"store {self._path}: the fusion cursor would move back from {current} "
                    f"to {cursor} (two fusers on one store?)"
                )
            if points.num_rows:
                # After a restart the fuser replays reports an earlier run may already have
                # placed (its reorder buffer had held older ones back, so the cursor stayed
                # behind them): a report is placed on a track once. The range keeps the
                # check to the few row groups those report numbers can be in.
                low, high = pc.min_max(points.column("seq")).values()
                with self._registered("_fusion_points", points):
                    self._con.execute(
                        """
                        INSERT INTO track_points
                        SELECT DISTINCT p.seq, p.track_id, p.flags FROM _fusion_points p
                        WHERE NOT EXISTS (
                            SELECT 1 FROM track_points t
                            WHERE t.seq BETWEEN $low AND $high
                              AND t.seq = p.seq AND t.track_id = p.track_id
                        )
                        """,
                        {"low": low.as_py(), "high": high.as_py()},
                    ).fetchall()
            if tracks:
                self._upsert_tracks(_last_by_id(tracks))
            if alerts:
                self._upsert_alerts(_last_by_id(alerts))
            if part == 0:
                self._con.execute(
                    "UPDATE fusion_cursor SET seq = $s, read_seq = $r", {"s": cursor, "r": read}
                ).fetchall()
            else:
                self._con.execute(
                    "INSERT INTO fusion_part_cursor VALUES ($p, $s, $r) ON CONFLICT (part) "
                    "DO UPDATE SET seq = excluded.seq, read_seq = excluded.read_seq",
                    {"p": part, "s": cursor, "r": read},
                ).fetchall()

    def write_alerts(self, alerts: Sequence[Alert]) -> int:
        """Upsert alerts (e.g. received from partners) in one transaction; the number that
        were new or changed."""
        if not alerts:
            return 0
        with self._transaction("writing alerts"):
            return self._upsert_alerts(_last_by_id(alerts))

    def _numbers(self, labels: Sequence[Label]) -> list[int]:
        numbers = self._label_numbers(tuple(dict.fromkeys(labels)))
        return [numbers[label_id(label)] for label in labels]

    def _upsert_tracks(self, tracks: Sequence[Track]) -> None:
        table = pa.table(
            {
                "id": [t.id for t in tracks],
                "kind": [t.kind for t in tracks],
                "mmsi": [t.mmsi for t in tracks],
                "first_at": [t.first_at for t in tracks],
                "last_at": [t.last_at for t in tracks],
                "lat": [t.lat for t in tracks],
                "lon": [t.lon for t in tracks],
                "points": [t.points for t in tracks],
                "label_no": self._numbers([t.label for t in tracks]),
                "name": [t.name for t in tracks],
                "linked_from": [t.linked_from for t in tracks],
            },
            schema=_TRACK_SCHEMA,
        )
        names = _TRACK_SCHEMA.names
        updates = ", ".join(f"{name} = excluded.{name}" for name in names[1:])
        with self._registered("_fusion_tracks", table):
            self._con.execute(
                f"INSERT INTO tracks SELECT {', '.join(names)} FROM _fusion_tracks "
                f"ON CONFLICT (id) DO UPDATE SET {updates}"
            ).fetchall()

    def _upsert_alerts(self, alerts: Sequence[Alert]) -> int:
        """Store the alerts that are new or differ from their stored state; each gets the
        next revision and alert_seq (in the order given) and a row in ``alert_changes``."""
        table = pa.table(
            {
                "k": pa.array(range(len(alerts)), pa.int64()),
                "id": [a.id for a in alerts],
                "kind": [a.kind for a in alerts],
                "status": [AlertStatus(a.status).value for a in alerts],
                "start_at": [a.start for a in alerts],
                "end_at": [a.end for a in alerts],
                "lat": [a.lat for a in alerts],
                "lon": [a.lon for a in alerts],
                "mmsis": [list(a.mmsis) for a in alerts],
                "tracks": [list(a.tracks) for a in alerts],
                "evidence": [a.evidence for a in alerts],
                "label_no": self._numbers([a.label for a in alerts]),
            },
            schema=_ALERT_SCHEMA,
        )
        differs = " OR ".join(f"a.{name} IS DISTINCT FROM i.{name}" for name in ALERT_STATE)
        state = ", ".join(ALERT_STATE)
        # Two statements: the changes (numbered after the last alert_seq) into
        # alert_changes, then those same rows, the newest alert_seqs, into alerts.
        with self._registered("_alerts_in", table):
            rows = self._con.execute(
                f"""
                INSERT INTO alert_changes
                SELECT (SELECT coalesce(max(alert_seq), 0) FROM alert_changes)
                           + row_number() OVER (ORDER BY i.k),
                       i.id, coalesce(a.revision, 0) + 1,
                       {", ".join(f"i.{name}" for name in ALERT_STATE)}, now()
                FROM _alerts_in i LEFT JOIN alerts a ON a.id = i.id
                WHERE a.id IS NULL OR {differs}
                """
            ).fetchall()
        changed = int(rows[0][0]) if rows else 0
        if changed:
            updates = ", ".join(
                f"{name} = excluded.{name}"
                for name in (*ALERT_STATE, "revision", "alert_seq", "updated_at")
            )
            self._con.execute(
                f"""
                INSERT INTO alerts (id, {state}, revision, alert_seq, updated_at)
                SELECT alert_id, {state}, revision, alert_seq, changed_at FROM alert_changes
                WHERE alert_seq > (SELECT max(alert_seq) FROM alert_changes) - $changed
                ON CONFLICT (id) DO UPDATE SET {updates}
                """,
                {"changed": changed},
            ).fetchall()
        return int(changed)

    # -- reading for a user --------------------------------------------------------------

    def alerts(
        self,
        visible: str,
        rule: dict[str, Any],
        *,
        since: datetime | None,
        until: datetime | None,
        kinds: Sequence[str] | None,
        include_withdrawn: bool,
        limit: int | None,
    ) -> pa.Table:
        """Alerts under labels the rule ``visible`` (over labels ``l``) lets through that
        overlap ``[since, until)`` (end at or after ``since``, start before ``until``),
        ordered by start then id."""
        where = [visible]
        params: dict[str, Any] = dict(rule)
        if not include_withdrawn:
            where.append("a.status <> 'withdrawn'")
        if since is not None:
            where.append(f"a.end_at >= {_ts('since')}")
            params["since"] = _us(since)
        if until is not None:
            where.append(f"a.start_at < {_ts('until')}")
            params["until"] = _us(until)
        if kinds is not None:
            where.append("list_contains($kinds, a.kind)")
            params["kinds"] = list(kinds)
        limit_sql = ""
        if limit is not None:
            limit_sql = " LIMIT $limit"
            params["limit"] = limit
        return self._table(
            f"""
            SELECT a.id, a.kind, a.status, a.start_at AS "start", a.end_at AS "end", a.lat,
                   a.lon, a.mmsis, a.tracks, a.evidence, a.revision, l.marking AS label
            FROM alerts a JOIN labels l ON l.label_no = a.label_no
            WHERE {" AND ".join(where)}
            ORDER BY a.start_at, a.id{limit_sql}
            """,
            params,
            "reading alerts",
        )

    def tracks(self, visible: str, rule: dict[str, Any], *, kind: str | None) -> pa.Table:
        """Tracks under labels the rule ``visible`` lets through, of ``kind`` when given,
        ordered by first time then id."""
        where, params = [visible], dict(rule)
        if kind is not None:
            where.append("t.kind = $kind")
            params["kind"] = kind
        return self._table(
            f"""
            SELECT t.id, t.kind, t.mmsi, t.name, t.first_at, t.last_at, t.lat, t.lon,
                   t.points, t.linked_from, l.marking AS label
            FROM tracks t JOIN labels l ON l.label_no = t.label_no
            WHERE {" AND ".join(where)}
            ORDER BY t.first_at, t.id
            """,
            params,
            "reading tracks",
        )

    # -- reading for sharing -------------------------------------------------------------

    def alert_changes_after(self, seq: int, limit: int) -> list[tuple[int, Alert]]:
        """Alert changes with alert_seq above ``seq``, in order, at most ``limit``, every
        label, each as the ``Alert`` state it set."""
        rows = self._rows(
            """
            SELECT alert_seq, alert_id, kind, status, epoch_us(start_at), epoch_us(end_at),
                   lat, lon, mmsis, tracks, evidence, label_no
            FROM alert_changes WHERE alert_seq > $after ORDER BY alert_seq LIMIT $limit
            """,
            {"after": seq, "limit": limit},
        )
        if not rows:
            return []
        labels = self.labels()
        return [alert_of_change(row, labels, _time, f"store {self._path}") for row in rows]


def alert_of_change(
    row: Sequence[Any],
    labels: dict[int, Label],
    time_of: Callable[[Any], datetime],
    where: str,
) -> tuple[int, Alert]:
    """(alert_seq, the Alert as it then stood) from an alert change row (alert_seq, id,
    kind, status, start, end, lat, lon, mmsis, tracks, evidence, label_no); ``time_of``
    reads the backend's time; a StoreError names ``where`` if the label is not stored."""
    number, ident, kind, status, start, end, lat, lon, mmsis, tracks, evidence, label = row
    if label not in labels:
        raise StoreError(f"{where}: alert {ident} names label {label}, which is not stored")
    alert = Alert(
        id=ident,
        kind=kind,
        status=AlertStatus(status),
        start=time_of(start),
        end=time_of(end),
        lat=lat,
        lon=lon,
        label=labels[label],
        mmsis=tuple(mmsis),
        tracks=tuple(tracks),
        evidence=evidence,
    )
    return int(number), alert


def _hex_ids(id_hi: pa.ChunkedArray, id_lo: pa.ChunkedArray) -> pa.Array:
    """Report ids as 32 lowercase hex digits (as ``printf('%016x%016x')`` writes them):
    the big-endian bytes of both halves hexed in one call, cut into rows without a copy."""
    halves = np.column_stack(
        [
            np.asarray(id_hi.to_numpy(), dtype=np.uint64),
            np.asarray(id_lo.to_numpy(), dtype=np.uint64),
        ]
    ).astype(">u8")
    text = halves.tobytes().hex().encode("ascii")
    offsets = np.arange(0, 32 * (len(halves) + 1), 32, dtype=np.int32)
    return pa.StringArray.from_buffers(
        len(halves), pa.py_buffer(offsets.tobytes()), pa.py_buffer(text)
    )


def _points_table(points: pa.Table) -> pa.Table:
    """``points`` as POINTS_SCHEMA (columns by name; a StoreError naming what is wrong)."""
    missing = [name for name in POINTS_SCHEMA.names if name not in points.column_names]
    if missing:
        raise StoreError(
            f"track points lack columns {', '.join(missing)} (need seq int64, track_id "
            "string, flags uint16)"
        )
    try:
        return points.select(POINTS_SCHEMA.names).cast(POINTS_SCHEMA)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise StoreError(f"track points have columns of the wrong type: {exc}") from None


#: Most fusion parts a store keeps (``mista.detect.parts`` checks the node's config).
MAX_PARTS = 16


def _check_part(part: int) -> None:
    if not 0 <= part < MAX_PARTS:
        raise StoreError(f"fusion part {part} is not one of 0-{MAX_PARTS - 1}")


def _cursor_of(part: int) -> str:
    """The row holding fusion part ``part``'s cursors (part 0: ``fusion_cursor``; the same
    SQL on both backends)."""
    _check_part(part)
    return "fusion_cursor" if part == 0 else f"fusion_part_cursor WHERE part = {int(part)}"


def _state_of(part: int) -> str:
    """The row holding fusion part ``part``'s checkpoint."""
    _check_part(part)
    return "fusion_state" if part == 0 else f"fusion_part_state WHERE part = {int(part)}"
