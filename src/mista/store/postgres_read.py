"""The PostgreSQL store's queries, answering with the Arrow schemas the embedded store
answers with (column for column, type for type), filtered by DESIGN.md rule 1 in SQL
exactly as ``DuckDBStore._visible`` states it: a row's label level is at most the viewer's
clearance and the viewer's nation is in its releasability.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pyarrow as pa
import pyarrow.csv as pcsv

from mista.errors import StoreError
from mista.labels import Label, Level
from mista.model import DEDUPE_WINDOW_S, User
from mista.partitions import VesselPartitions, partition_sql

from . import BBox
from .embedded_fusion import FEED_SCHEMA

__all__ = [
    "POSITION_SCHEMA",
    "REJECTED_SCHEMA",
    "VESSEL_SCHEMA",
    "Reader",
]

_UTC_US = pa.timestamp("us", tz="UTC")
POSITION_SCHEMA = pa.schema(
    [
        ("observed_at", _UTC_US),
        ("mmsi", pa.int32()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("speed_kn", pa.float64()),
        ("course_deg", pa.float64()),
        ("heading_deg", pa.float64()),
        ("nav_status", pa.int16()),
        ("msg_type", pa.int16()),
        ("source_kind", pa.string()),
        ("originator", pa.string()),
        ("label", pa.string()),
        ("report_id", pa.string()),
    ]
)
#: The vessels' answer: the MMSI, its identity, then the newest position's other columns.
VESSEL_SCHEMA = pa.schema(
    [
        POSITION_SCHEMA.field("mmsi"),
        ("name", pa.string()),
        ("callsign", pa.string()),
        ("imo", pa.int32()),
        ("ship_type", pa.int16()),
        ("destination", pa.string()),
        *(field for field in POSITION_SCHEMA if field.name != "mmsi"),
    ]
)
REJECTED_SCHEMA = pa.schema(
    [
        ("source", pa.string()),
        ("line_no", pa.int64()),
        ("reason", pa.string()),
        ("detail", pa.string()),
        ("raw", pa.string()),
        ("quarantined_at", _UTC_US),
        ("label", pa.string()),
    ]
)


def with_first_receiver(
    chunk: str, window: Sequence[str], fields: Sequence[str], *, radar_only: bool = False
) -> str:
    """SQL of the report feed's rows: the reports ``chunk`` selects (``SELECT r.seq,
    r.id_hi, r.id_lo, r.label_no, FIELDS FROM reports r ...``), each with the first receiver
    among the receptions the ``window`` clauses admit (of two at one time, the first by
    name, as the embedded store picks it), in seq order. Reading the receptions of the
    chunk's time window only lets their BRIN index do the work. With ``radar_only`` only
    radar contacts get theirs (the radar; null for the rest): joining and sorting every
    report's receptions cost most of the fusion feed's time, and fusion uses only the
    radar's name."""
    radar = " AND r.source_kind = 'radar'" if radar_only else ""
    return f"""
        WITH r AS ({chunk}), c AS (
            SELECT DISTINCT ON (e.id_hi, e.id_lo) e.id_hi, e.id_lo, e.receiver
            FROM receptions e JOIN r ON r.id_hi = e.id_hi AND r.id_lo = e.id_lo{radar}
            WHERE e.receiver IS NOT NULL AND ({" OR ".join(window)})
            ORDER BY e.id_hi, e.id_lo,
                     coalesce(e.received_at, timestamptz '1970-01-01 00:00:00+00'),
                     e.receiver COLLATE "C"
        )
        SELECT r.seq, {hex_id("r.id_hi", "r.id_lo")} AS id, r.label_no,
               {", ".join(f"r.{name}" for name in fields)}, c.receiver
        FROM r LEFT JOIN c ON c.id_hi = r.id_hi AND c.id_lo = r.id_lo
        ORDER BY r.seq
        """


def hex_id(hi: str, lo: str) -> str:
    """SQL of a report id as DuckDB prints it: 32 hex digits of the two 64-bit halves
    (``to_hex`` of a negative bigint gives its two's complement, the unsigned bits)."""
    return f"lpad(to_hex({hi}), 16, '0') || lpad(to_hex({lo}), 16, '0')"


_POSITION_COLUMNS = (
    "r.observed_at, r.mmsi, r.lat, r.lon, r.speed_kn, r.course_deg, r.heading_deg, "
    "r.nav_status, r.msg_type, r.source_kind, r.originator, l.marking AS label, "
    f"{hex_id('r.id_hi', 'r.id_lo')} AS report_id"
)


def visible(viewer: User) -> tuple[str, dict[str, Any]]:
    """SQL (over labels ``l``) of DESIGN.md rule 1 for ``viewer``, as ``labels.may_see``
    states it and the embedded store's filter does."""
    if not isinstance(viewer, User):
        raise StoreError(f"queries need a viewer (a mista.model.User), got {viewer!r}")
    return (
        "l.level <= %(clearance)s AND %(nation)s = ANY(l.releasable_to)",
        {"clearance": int(viewer.clearance), "nation": viewer.nation},
    )


def _window(since: datetime | None, until: datetime | None) -> tuple[str, dict[str, Any]]:
    clauses, params = [], {}
    for name, moment, op in (("since", since, ">="), ("until", until, "<")):
        if moment is None:
            continue
        if moment.tzinfo is None:
            raise StoreError(f"time {moment.isoformat()} has no timezone: give UTC times")
        clauses.append(f"r.observed_at {op} %({name})s")
        params[name] = moment
    return "".join(f" AND {clause}" for clause in clauses), params


def to_arrow(rows: list[tuple[Any, ...]], schema: pa.Schema) -> pa.Table:
    """Rows as an Arrow table of ``schema`` (one array per column)."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in schema]
    return pa.Table.from_arrays(
        [pa.array(column, field.type) for column, field in zip(columns, schema, strict=True)],
        schema=schema,
    )


def _csv_options(schema: pa.Schema) -> pcsv.ConvertOptions:
    """How COPY's CSV becomes ``schema``: timestamps come as epoch microseconds, NULL as
    an unquoted empty field, and an empty string as a quoted one."""
    types = {
        field.name: pa.int64() if pa.types.is_timestamp(field.type) else field.type
        for field in schema
    }
    return pcsv.ConvertOptions(
        column_types=types,
        null_values=[""],
        strings_can_be_null=True,
        quoted_strings_can_be_null=False,
    )


class Reader:
    """The queries, each on a connection the store lends."""

    def __init__(self, where: str) -> None:
        self._where = where  # the store's redacted address, for messages

    def query(
        self, con: psycopg.Connection[Any], sql: str, params: dict[str, Any], schema: pa.Schema
    ) -> pa.Table:
        try:
            # Binary results: fewer bytes to parse than text (about a fifth less time for a
            # chunk of the report feed), the same Python values.
            with con.cursor(binary=True) as cur:
                cur.execute(sql, params)
                return to_arrow(cur.fetchall(), schema)
        except psycopg.Error as exc:
            raise StoreError(f"store {self._where}: query failed: {exc}") from None

    def query_csv(
        self, con: psycopg.Connection[Any], sql: str, params: dict[str, Any], schema: pa.Schema
    ) -> pa.Table:
        """``query`` for many rows: ``sql``'s rows (named as ``schema``, in its order, with
        a ``seq`` to order by) as CSV through COPY, parsed by Arrow. The report feed reads
        this way at about a third of the client CPU of fetching Python tuples."""
        columns = ", ".join(
            f"(extract(epoch FROM q.{field.name}) * 1000000)::bigint"
            if pa.types.is_timestamp(field.type)
            else f"q.{field.name}"
            for field in schema
        )
        data = io.BytesIO()
        try:
            with (
                con.cursor() as cur,
                cur.copy(
                    f"COPY (SELECT {columns} FROM ({sql}) q ORDER BY q.seq) TO STDOUT (FORMAT csv)",
                    params,
                ) as copy,
            ):
                for chunk in copy:
                    data.write(chunk)
        except psycopg.Error as exc:
            raise StoreError(f"store {self._where}: query failed: {exc}") from None
        if not data.tell():
            return schema.empty_table()
        data.seek(0)
        table = pcsv.read_csv(
            data,
            read_options=pcsv.ReadOptions(column_names=schema.names),
            convert_options=_csv_options(schema),
        )
        return pa.Table.from_arrays(
            [column.cast(field.type) for column, field in zip(table.columns, schema, strict=True)],
            schema=schema,
        )

    def track(
        self,
        con: psycopg.Connection[Any],
        mmsi: int,
        since: datetime | None,
        until: datetime | None,
        viewer: User,
    ) -> pa.Table:
        rule, params = visible(viewer)
        window, times = _window(since, until)
        return self.query(
            con,
            f"""
            SELECT {_POSITION_COLUMNS}
            FROM reports r JOIN labels l ON l.label_no = r.label_no
            WHERE r.mmsi = %(mmsi)s AND r.lat IS NOT NULL{window} AND {rule}
            ORDER BY r.observed_at NULLS FIRST, r.seq
            """,
            {"mmsi": mmsi, **times, **params},
            POSITION_SCHEMA,
        )

    def positions(
        self,
        con: psycopg.Connection[Any],
        bbox: BBox,
        since: datetime | None,
        until: datetime | None,
        viewer: User,
        limit: int | None = None,
    ) -> pa.Table:
        """Positions inside ``bbox`` ``viewer`` may see, in time order (at most ``limit``)."""
        rule, params = visible(viewer)
        window, times = _window(since, until)
        limit_sql = "" if limit is None else " LIMIT %(limit)s"
        envelope = "ST_MakeEnvelope(%(w{0})s, %(south)s, %(e{0})s, %(north)s, 4326)"
        if bbox.west_deg <= bbox.east_deg:
            lon = "r.lon BETWEEN %(west)s AND %(east)s"
            boxes = f"r.geom && {envelope.format('')}"
            extra = {"w": bbox.west_deg, "e": bbox.east_deg}
        else:  # crosses the antimeridian: two boxes
            lon = "(r.lon >= %(west)s OR r.lon <= %(east)s)"
            boxes = f"(r.geom && {envelope.format('1')} OR r.geom && {envelope.format('2')})"
            extra = {"w1": bbox.west_deg, "e1": 180.0, "w2": -180.0, "e2": bbox.east_deg}
        # The GiST index finds candidates by the envelope; the plain comparisons keep the
        # answer exactly the embedded store's (inclusive bounds).
        return self.query(
            con,
            f"""
            SELECT {_POSITION_COLUMNS}
            FROM reports r JOIN labels l ON l.label_no = r.label_no
            WHERE {boxes} AND r.lat BETWEEN %(south)s AND %(north)s AND {lon}{window}
              AND {rule}
            ORDER BY r.observed_at NULLS FIRST, r.seq{limit_sql}
            """,
            {
                "limit": limit,
                "west": bbox.west_deg,
                "south": bbox.south_deg,
                "east": bbox.east_deg,
                "north": bbox.north_deg,
                **extra,
                **times,
                **params,
            },
            POSITION_SCHEMA,
        )

    def vessels(self, con: psycopg.Connection[Any], viewer: User) -> pa.Table:
        """Per MMSI, the newest visible position (timed beats untimed, then later time,
        then later arrival) and each identity field from the newest visible row with it."""
        rule, params = visible(viewer)
        newest = ", ".join(
            f"(array_agg({name} ORDER BY updated_at DESC NULLS LAST, seq DESC) "
            f"FILTER (WHERE {name} IS NOT NULL))[1] AS {name}"
            for name in ("name", "callsign", "imo", "ship_type", "destination")
        )
        return self.query(
            con,
            f"""
            WITH seen AS (
                SELECT l.label_no FROM labels l WHERE {rule}
            ), p AS (
                SELECT DISTINCT ON (mmsi) * FROM vessel_latest
                WHERE label_no IN (SELECT label_no FROM seen)
                ORDER BY mmsi, observed_at DESC NULLS LAST, seq DESC
            ), v AS (
                SELECT mmsi, {newest} FROM vessels
                WHERE label_no IN (SELECT label_no FROM seen)
                GROUP BY mmsi
            )
            SELECT coalesce(p.mmsi, v.mmsi) AS mmsi, v.name, v.callsign, v.imo, v.ship_type,
                   v.destination, p.observed_at, p.lat, p.lon, p.speed_kn, p.course_deg,
                   p.heading_deg, p.nav_status, p.msg_type, p.source_kind,
                   l.originator, l.marking AS label,
                   {hex_id("p.id_hi", "p.id_lo")} AS report_id
            FROM p FULL OUTER JOIN v ON v.mmsi = p.mmsi
            LEFT JOIN labels l ON l.label_no = p.label_no
            ORDER BY 1
            """,
            params,
            VESSEL_SCHEMA,
        )

    def rejected(self, con: psycopg.Connection[Any], limit: int | None, viewer: User) -> pa.Table:
        rule, params = visible(viewer)
        limit_sql = "" if limit is None else " LIMIT %(limit)s"
        return self.query(
            con,
            "SELECT q.source, q.line_no, q.reason, q.detail, q.raw, q.quarantined_at, "
            "l.marking AS label "
            f"FROM quarantine q JOIN labels l ON l.label_no = q.label_no WHERE {rule} "
            # Text sorts byte-wise, as DuckDB sorts it, whatever the database's collation.
            'ORDER BY q.source COLLATE "C", q.line_no NULLS FIRST, q.reason COLLATE "C"'
            f"{limit_sql}",
            params if limit is None else {"limit": limit, **params},
            REJECTED_SCHEMA,
        )

    def report_feed(
        self,
        con: psycopg.Connection[Any],
        after_seq: int,
        limit: int,
        partitions: VesselPartitions | None = None,
    ) -> pa.Table:
        """Reports after ``after_seq`` in seq order, every label, with the radar of each
        radar contact (as the embedded store picks it; null for other reports); with
        ``partitions``, of the vessels hashing into them only (the embedded store's SQL,
        ``partition_sql``).

        Two statements, as the embedded store does: the chunk's seq range and time window
        (narrow columns), then its reports joined to the receptions of that window, so
        both are found through their BRIN indexes with the bounds known to the planner.
        """
        if limit <= 0:
            return FEED_SCHEMA.empty_table()
        held = "" if partitions is None else f" AND {partition_sql('r.mmsi', partitions)}"
        bounds = self._feed_bounds(con, after_seq, limit, partitions)
        if bounds is None:
            return FEED_SCHEMA.empty_table()
        upper, low, high, untimed = bounds
        window = []
        params: dict[str, Any] = {"after": after_seq, "upper": upper}
        if low is not None and high is not None:
            window.append("e.received_at BETWEEN %(lo)s AND %(hi)s")
            near = timedelta(seconds=DEDUPE_WINDOW_S)  # merged copies: up to a window off
            params |= {"lo": low - near, "hi": high + near}
        if untimed:
            window.append("e.received_at IS NULL")
        fields = FEED_SCHEMA.names[3:-1]
        chunk = (
            f"SELECT r.seq, r.id_hi, r.id_lo, r.label_no, {', '.join(f'r.{n}' for n in fields)} "
            f"FROM reports r WHERE r.seq > %(after)s AND r.seq <= %(upper)s{held}"
        )
        return self.query_csv(
            con,
            with_first_receiver(chunk, window, fields, radar_only=True),
            params,
            FEED_SCHEMA,
        )

    def _feed_bounds(
        self,
        con: psycopg.Connection[Any],
        after_seq: int,
        limit: int,
        partitions: VesselPartitions | None = None,
    ) -> tuple[int, datetime | None, datetime | None, bool] | None:
        """(last seq, first and last observation time, whether any is untimed) of the next
        ``limit`` reports after ``after_seq`` (of ``partitions`` only, when given); None
        when there are none.

        Seqs are dense except where duplicates left gaps, so ``after + limit`` usually
        bounds the chunk; the range grows fourfold until it holds ``limit`` reports or
        reaches the last seq handed out (a BRIN on seq serves every range). The reports of
        some partitions are a share of all, so their range starts at twice the span that
        share predicts (radar contacts hash into no partition).
        """
        held = "" if partitions is None else f" AND {partition_sql('mmsi', partitions)}"
        try:
            with con.cursor() as cur:
                cur.execute("SELECT last FROM report_seq")
                row = cur.fetchone()
                last = int(row[0]) if row else 0
                span = max(1, limit)
                if partitions is not None:
                    span = max(1, 2 * limit * partitions.count // len(partitions.members))
                while True:
                    upper = min(after_seq + span, last)
                    cur.execute(
                        "SELECT count(*), max(seq), min(observed_at), max(observed_at), "
                        "count(*) > count(observed_at) FROM (SELECT seq, observed_at "
                        f"FROM reports WHERE seq > %s AND seq <= %s{held} ORDER BY seq LIMIT %s) s",
                        (after_seq, upper, limit),
                    )
                    found = cur.fetchone()
                    assert found is not None
                    count, top, low, high, untimed = found
                    if count >= limit or upper >= last:
                        break
                    span *= 4
        except psycopg.Error as exc:
            raise StoreError(
                f"store {self._where}: reading the report feed failed: {exc}"
            ) from None
        if not count:
            return None
        return int(top), low, high, bool(untimed)

    def labels(self, con: psycopg.Connection[Any]) -> dict[int, Label]:
        """Every stored label by number (placeholders naming no nation left out)."""
        with con.cursor() as cur:
            cur.execute(
                "SELECT label_no, level, originator, releasable_to, categories, orcon FROM labels"
            )
            rows = cur.fetchall()
        return {
            int(number): Label(
                level=Level(level),
                originator=originator,
                releasable_to=frozenset(releasable),
                categories=frozenset(categories),
                orcon=bool(orcon),
            )
            for number, level, originator, releasable, categories, orcon in rows
            if originator
        }
