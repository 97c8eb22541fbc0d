"""The API's reads on the embedded store that the core queries do not cover.

- ``positions_page``: the positions query with a row limit in SQL (a map's bbox query on a
  large store must not build every row before keeping the first ten thousand).
- ``releases``: what the share outbox holds for a partner (for admins).
- ``released_vessels``: "view as partner": per vessel, the latest state a partner received,
  read from the items as they were sent (sanitised: coarsened, fields removed), never from
  the node's own reports.

``DuckDBStore`` exposes these as methods of its own (a marked block at the end of its
class) that pass in its viewer filter; the SQL lives here. The outbox and its item text are
described in ``embedded_exchange``; an item is ``{"kind": "record" | "correct", "record":
{"id", "flow", "label", "fields"}}`` or ``{"kind": "withdraw", "id", "reason"}``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from mista.errors import StoreError
from mista.labels import Label, Level

from . import BBox

__all__ = ["RELEASE_COLUMNS", "VESSEL_FIELDS", "ApiTables"]

#: Columns of ``releases``, newest item first.
RELEASE_COLUMNS = (
    "order_no",
    "partner",
    "record_id",
    "kind",
    "agreement",
    "clause",
    "not_before",
    "sent_at",
    "batch",
    "dropped",
)
#: Record fields of a released report read back for "view as partner", with their SQL
#: types; identity fields are taken from the newest record that has each.
_POSITION_FIELDS = {
    "lat": "DOUBLE",
    "lon": "DOUBLE",
    "speed_kn": "DOUBLE",
    "course_deg": "DOUBLE",
    "heading_deg": "DOUBLE",
    "nav_status": "SMALLINT",
    "msg_type": "SMALLINT",
}
_IDENTITY_FIELDS = {
    "name": "VARCHAR",
    "callsign": "VARCHAR",
    "imo": "INTEGER",
    "ship_type": "SMALLINT",
    "destination": "VARCHAR",
}
#: The columns of ``released_vessels``, in the order of ``DuckDBStore.vessels``.
VESSEL_FIELDS = (
    "mmsi",
    "name",
    "callsign",
    "imo",
    "ship_type",
    "destination",
    "observed_at",
    "lat",
    "lon",
    "speed_kn",
    "course_deg",
    "heading_deg",
    "nav_status",
    "msg_type",
    "label",
    "report_id",
)


def _field(name: str, sql_type: str) -> str:
    """SQL reading one record field of an item's JSON (null when absent or malformed)."""
    return f"TRY_CAST(j ->> '$.record.fields.{name}' AS {sql_type}) AS {name}"


def _marking(label_json: str | None) -> str | None:
    """The marking of a label as the wire writes it (``mista.wire.label_to_wire``)."""
    if label_json is None:
        return None
    try:
        obj = json.loads(label_json)
        return Label(
            level=Level[obj["level"]],
            originator=obj["originator"],
            releasable_to=frozenset(obj["releasable_to"]),
            categories=frozenset(obj["categories"]),
            orcon=bool(obj["orcon"]),
        ).to_marking()
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not a label: the send path drops such an item, it was never sent


class ApiTables:
    """The API's reads on one open ``DuckDBStore`` connection."""

    def __init__(self, connection: duckdb.DuckDBPyConnection, path: Path) -> None:
        self._con = connection
        self._path = path

    def _query(self, sql: str, params: dict[str, Any], what: str) -> pa.Table:
        try:
            return self._con.sql(sql, params=params).to_arrow_table()
        except duckdb.Error as exc:
            raise StoreError(f"store {self._path}: {what} failed: {exc}") from None

    def positions_page(
        self,
        columns: str,
        visible: str,
        window: str,
        params: dict[str, Any],
        bbox: BBox,
        limit: int,
    ) -> pa.Table:
        """Positions inside ``bbox`` in time order, at most ``limit``: ``columns`` over
        reports ``r`` and labels ``l``, ``visible`` the viewer's filter and ``window`` the
        time clauses (both with their ``params``), as ``DuckDBStore.positions`` builds them."""
        if bbox.west_deg <= bbox.east_deg:
            lon = "r.lon BETWEEN $west AND $east"
        else:  # crosses the antimeridian
            lon = "(r.lon >= $west OR r.lon <= $east)"
        return self._query(
            f"""
            SELECT {columns}
            FROM reports r JOIN labels l ON l.label_no = r.label_no
            WHERE r.lat BETWEEN $south AND $north AND {lon}{window} AND {visible}
            ORDER BY r.observed_at NULLS FIRST, r.seq
            LIMIT $limit
            """,
            {
                "west": bbox.west_deg,
                "south": bbox.south_deg,
                "east": bbox.east_deg,
                "north": bbox.north_deg,
                "limit": limit,
                **params,
            },
            "reading positions",
        )

    def releases(self, partner: str | None, limit: int) -> pa.Table:
        """The outbox items (of ``partner``, or of every partner), newest first, at most
        ``limit``: :data:`RELEASE_COLUMNS` (``batch`` is the batch seq it went in, null
        while queued; ``dropped`` the reason it will never be sent, if so)."""
        where = "" if partner is None else "WHERE partner = $partner"
        params: dict[str, Any] = {"limit": limit}
        if partner is not None:
            params["partner"] = partner
        return self._query(
            f"""
            SELECT order_no, partner, record_id, kind, agreement, clause, not_before,
                   sent_at, batch_seq AS batch, dropped
            FROM share_outbox {where}
            ORDER BY order_no DESC LIMIT $limit
            """,
            params,
            "reading releases",
        )

    def partners_released_to(self) -> list[str]:
        """Every partner the outbox holds items for, by code."""
        table = self._query(
            "SELECT DISTINCT partner FROM share_outbox ORDER BY partner", {}, "reading partners"
        )
        return [str(name) for name in table.column("partner").to_pylist()]

    def released_vessels(self, partner: str) -> pa.Table:
        """Per MMSI, the latest state ``partner`` received: the position fields of the
        newest (by observation time, then order) report record sent and not withdrawn,
        each identity field from the newest such record that has it, the marking of the
        label it was sent under and its record id. Columns: :data:`VESSEL_FIELDS`."""
        position_fields = ", ".join(_field(n, t) for n, t in _POSITION_FIELDS.items())
        identity_fields = ", ".join(_field(n, t) for n, t in _IDENTITY_FIELDS.items())
        newest_position = ", ".join(
            f"arg_max({name}, k) FILTER (WHERE lat IS NOT NULL) AS {name}"
            for name in _POSITION_FIELDS
        )
        newest_identity = ", ".join(
            f"arg_max({name}, k) FILTER (WHERE {name} IS NOT NULL) AS {name}"
            for name in _IDENTITY_FIELDS
        )
        table = self._query(
            f"""
            WITH sent AS (
                SELECT record_id, arg_max(item, order_no)::JSON AS j, max(order_no) AS o
                FROM share_outbox
                WHERE partner = $p AND sent_at IS NOT NULL AND dropped IS NULL
                  AND kind IN ('record', 'correct')
                  AND record_id NOT IN (
                      SELECT record_id FROM share_outbox WHERE partner = $p
                      AND kind = 'withdraw' AND sent_at IS NOT NULL)
                GROUP BY record_id
            ), f AS (
                SELECT record_id, o, TRY_CAST(j ->> '$.record.fields.mmsi' AS INTEGER) AS mmsi,
                       TRY_CAST(j ->> '$.record.fields.observed_at' AS TIMESTAMPTZ)
                           AS observed_at,
                       (j -> '$.record.label')::VARCHAR AS label_json,
                       {position_fields}, {identity_fields}
                FROM sent WHERE j ->> '$.record.flow' = 'reports'
            ), k AS (
                SELECT *, (coalesce(epoch_us(observed_at), -4611686018427387904)::HUGEINT
                           * 18446744073709551616 + o) AS k
                FROM f WHERE mmsi IS NOT NULL
            )
            SELECT mmsi, {newest_identity},
                   arg_max(observed_at, k) FILTER (WHERE lat IS NOT NULL) AS observed_at,
                   {newest_position},
                   arg_max(label_json, k) FILTER (WHERE lat IS NOT NULL) AS label_json,
                   arg_max(record_id, k) FILTER (WHERE lat IS NOT NULL) AS report_id
            FROM k GROUP BY mmsi ORDER BY mmsi
            """,
            {"p": partner},
            f"reading what {partner} received",
        )
        labels = table.column("label_json").to_pylist()
        markings = {text: _marking(text) for text in set(labels)}
        marking = pa.array([markings[text] for text in labels], pa.string())
        table = table.drop_columns(["label_json"])
        table = table.add_column(table.schema.get_field_index("report_id"), "label", marking)
        table = table.select(list(VESSEL_FIELDS))
        return table.cast(_vessel_schema(table.schema))


def _vessel_schema(schema: pa.Schema) -> pa.Schema:
    """The schema as read, with observed_at a UTC timestamp however DuckDB typed it."""
    index = schema.get_field_index("observed_at")
    return schema.set(index, pa.field("observed_at", pa.timestamp("us", tz="UTC")))
