"""Query results (Arrow tables) as the API's answers: JSON, GeoJSON, CSV, Parquet, KML, CoT.

Every format carries every column the route answers, ``label`` (the marking) included.
Times are ISO 8601 UTC text with ``Z`` (``2024-03-01T00:00:00Z``) in the text formats and
timestamps in Parquet; GeoJSON points are ``[lon, lat]`` (RFC 7946). JSON, GeoJSON and KML
are built column by column with Arrow string kernels rather than row by row in Python (a
map of 20,000 vessels is one request), and large answers are streamed in slices.
CoT (Cursor-on-Target) events come from ``mista.api.cot.events_xml``.
"""

from __future__ import annotations

import io
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from fastapi.responses import Response, StreamingResponse

from mista.api.cot import events_xml
from mista.api.errors import bad_parameter

__all__ = [
    "FORMATS",
    "GEOMETRY_COLUMN",
    "MEDIA_TYPES",
    "check_format",
    "chunked_response",
    "csv_chunks",
    "feature_collection_chunks",
    "feature_texts",
    "json_objects",
    "json_text",
    "kml_chunks",
    "parquet_bytes",
    "table_response",
    "times_as_text",
]

#: The ``format=`` values every list route takes, JSON first (the default).
FORMATS = ("json", "geojson", "csv", "parquet", "kml", "cot")
MEDIA_TYPES: Mapping[str, str] = {
    "json": "application/json",
    "geojson": "application/geo+json",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
    "kml": "application/vnd.google-earth.kml+xml",
    "cot": "application/xml",
}
_SUFFIXES: Mapping[str, str] = {
    "json": "json",
    "geojson": "geojson",
    "csv": "csv",
    "parquet": "parquet",
    "kml": "kml",
    "cot": "cot.xml",
}
#: Rows per streamed slice (a slice of JSON is a few MB at most).
_SLICE_ROWS = 20_000
#: JSON escapes Arrow's replace kernels can do; a value holding another control character
#: goes through ``json.dumps`` (rare: names and markings are printable).
_CONTROL = r"[\x00-\x1f]"
#: Characters XML 1.0 refuses outright (every other control character is escaped as text).
_XML_REFUSED = r"[\x00-\x08\x0b\x0c\x0e-\x1f]"


def check_format(fmt: str) -> str:
    """``fmt`` if it is a known format, else a 400 naming them."""
    if fmt not in FORMATS:
        raise bad_parameter(f"format {fmt!r:.40} is not one of {', '.join(FORMATS)}")
    return fmt


# -- columns as text -------------------------------------------------------------------


def _iso_times(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    """Timestamps (UTC, or naive meaning UTC) as ``2024-03-01T00:00:00Z``, with a fraction
    only when a value has one.

    Arrow's ``strftime`` looks the zone up for every value (tens of ms for 20,000 rows);
    the cast of zone-less timestamps to text is plain arithmetic, so the values are read as
    zone-less UTC first.
    """
    micros = column.cast(pa.timestamp("us", tz=column.type.tz), safe=False).cast(pa.int64())
    naive = micros.cast(pa.timestamp("us"))
    try:
        text = naive.cast(pa.timestamp("s")).cast(pa.string())  # whole seconds: no fraction
    except pa.ArrowInvalid:
        text = pc.replace_substring_regex(naive.cast(pa.string()), r"\.0+$", "")
    text = pc.replace_substring(text, " ", "T", max_replacements=1)
    return pc.binary_join_element_wise(text, "Z", "")


def times_as_text(table: pa.Table) -> pa.Table:
    """``table`` with each timestamp column as ISO 8601 UTC text."""
    for index, field in enumerate(table.schema):
        if pa.types.is_timestamp(field.type):
            table = table.set_column(index, field.name, _iso_times(table.column(index)))
    return table


def _lists_as_text(table: pa.Table) -> pa.Table:
    """Lists (an alert's MMSIs and tracks) as their items separated by spaces."""
    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            items = pc.cast(table.column(index), pa.list_(pa.string()))
            table = table.set_column(index, field.name, pc.binary_join(items, " "))
    return table


def _json_strings(column: pa.Array) -> pa.Array:
    """Text as JSON string literals (null stays null)."""
    if pc.any(pc.match_substring_regex(column, _CONTROL)).as_py():
        return pa.array(
            [None if value is None else json.dumps(value) for value in column.to_pylist()],
            pa.string(),
        )
    escaped = pc.replace_substring(column, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    return pc.binary_join_element_wise('"', escaped, '"', "")


def _json_values(column: pa.Array, *, raw: bool = False) -> pa.Array:
    """One column as JSON value text per row, ``null`` for nulls. ``raw``: the column
    already holds JSON text (e.g. an alert's evidence object), checked before it is used."""
    kind = column.type
    if raw:
        return pa.array([_raw_json(value) for value in column.to_pylist()], pa.string())
    if pa.types.is_timestamp(kind):
        text = _json_strings(_iso_times(column))
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        text = _json_strings(column.cast(pa.string()))
    elif pa.types.is_floating(kind):
        finite = pc.is_finite(column)
        text = pc.if_else(finite, column.cast(pa.string()), pa.scalar(None, pa.string()))
    elif pa.types.is_integer(kind):
        text = column.cast(pa.string())
    elif pa.types.is_boolean(kind):
        text = pc.if_else(column, "true", "false")
    else:  # lists and anything else: rare columns of small tables
        text = pa.array(
            [None if value is None else json.dumps(_plain(value)) for value in column.to_pylist()],
            pa.string(),
        )
    return pc.fill_null(text, "null")


def _raw_json(text: str | None) -> str:
    """Stored JSON text as a value; text that is not JSON stays text (a string literal)."""
    if text is None:
        return "null"
    try:
        return json.dumps(json.loads(text))
    except (ValueError, RecursionError):
        return json.dumps(text)


def _plain(value: Any) -> Any:
    """A Python value from ``to_pylist`` as JSON can hold it."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if hasattr(value, "isoformat"):
        return value.isoformat().replace("+00:00", "Z")
    return value


def json_objects(
    table: pa.Table, *, raw_json: Sequence[str] = (), omit: Sequence[str] = ()
) -> pa.Array:
    """Each row of ``table`` as one JSON object text (keys in column order); ``raw_json``
    columns hold JSON text to embed as values; ``omit`` columns are left out."""
    names = [name for name in table.column_names if name not in omit]
    if table.num_rows == 0:
        return pa.array([], pa.string())
    if not names:
        return pa.array(["{}"] * table.num_rows, pa.string())
    parts: list[Any] = []
    for position, name in enumerate(names):
        column = table.column(name).combine_chunks()
        key = ("{" if position == 0 else ",") + json.dumps(name) + ":"
        parts += [key, _json_values(column, raw=name in raw_json)]
    parts.append("}")
    return pc.binary_join_element_wise(*parts, "")


def _joined(items: pa.Array) -> bytes:
    """The texts of ``items`` (no nulls) joined by commas, as UTF-8, straight from the
    array's data buffer (no Python string per item)."""
    if len(items) == 0:
        return b""
    items = pc.binary_join_element_wise(items, ",", "").cast(pa.string())
    offsets = np.frombuffer(items.buffers()[1], dtype=np.int32)
    first, last = int(offsets[items.offset]), int(offsets[items.offset + len(items)])
    joined: bytes = items.buffers()[2].slice(first, last - 1 - first).to_pybytes()
    return joined


def json_text(
    head: Mapping[str, Any], key: str, table: pa.Table, *, raw_json: Sequence[str] = ()
) -> Iterator[bytes]:
    """``{**head, key: [row objects...]}`` as JSON, in slices."""
    opening = json.dumps(dict(head))[:-1]
    yield f"{opening}{', ' if head else ''}{json.dumps(key)}: [".encode()
    for offset in range(0, table.num_rows, _SLICE_ROWS):
        rows = json_objects(table.slice(offset, _SLICE_ROWS), raw_json=raw_json)
        yield (b", " if offset else b"") + _joined(rows)
    yield b"]}"


# -- GeoJSON ---------------------------------------------------------------------------


#: A column of this name holds each row's GeoJSON geometry as text (zones, land); without
#: it, rows are points at their ``lat``/``lon``.
GEOMETRY_COLUMN = "geometry"


def _point_geometries(table: pa.Table) -> pa.Array:
    """GeoJSON Points from lat/lon (``null`` without a position)."""
    lat = table.column("lat").combine_chunks()
    lon = table.column("lon").combine_chunks()
    placed = pc.and_(pc.is_finite(lat), pc.is_finite(lon))
    point = pc.binary_join_element_wise(
        '{"type": "Point", "coordinates": [',
        lon.cast(pa.string()),
        ", ",
        lat.cast(pa.string()),
        "]}",
        "",
    )
    return pc.fill_null(pc.if_else(placed, point, pa.scalar(None, pa.string())), "null")


def feature_texts(
    table: pa.Table, raw_json: Sequence[str] = (), ids: str | None = None
) -> pa.Array:
    """Features: the geometry column's GeoJSON, else points from lat/lon; properties from
    every other column, and the ``ids`` column's value as the feature id when given."""
    if GEOMETRY_COLUMN in table.column_names:
        geometry = pc.fill_null(table.column(GEOMETRY_COLUMN).combine_chunks(), "null")
        omit: tuple[str, ...] = (GEOMETRY_COLUMN,)
    else:
        geometry = _point_geometries(table)
        omit = ("lat", "lon")
    properties = json_objects(table, raw_json=raw_json, omit=omit)
    opening: Any = '{"type": "Feature", '
    if ids is not None:
        ident = _json_values(table.column(ids).combine_chunks())
        opening = pc.binary_join_element_wise('{"type": "Feature", "id": ', ident, ", ", "")
    return pc.binary_join_element_wise(
        opening, '"geometry": ', geometry, ', "properties": ', properties, "}", ""
    )


def feature_collection_chunks(
    table: pa.Table,
    *,
    raw_json: Sequence[str] = (),
    members: Mapping[str, Any] | None = None,
    ids: str | None = None,
) -> Iterator[bytes]:
    """A GeoJSON FeatureCollection of ``table``'s rows, in slices. ``members`` are extra
    top-level members (OGC API's counts and links); ``ids`` names a column whose value
    becomes each feature's ``id``."""
    extra = "".join(f", {json.dumps(k)}: {json.dumps(v)}" for k, v in (members or {}).items())
    yield f'{{"type": "FeatureCollection"{extra}, "features": ['.encode()
    for offset in range(0, table.num_rows, _SLICE_ROWS):
        part = table.slice(offset, _SLICE_ROWS)
        features = feature_texts(part, raw_json, ids)
        yield (b", " if offset else b"") + _joined(features)
    yield b"]}"


# -- CSV and Parquet --------------------------------------------------------------------


def csv_chunks(table: pa.Table) -> Iterator[bytes]:
    """CSV with a header row; times as ISO text, lists as items separated by spaces."""
    flat = _lists_as_text(times_as_text(table))
    options = pa_csv.WriteOptions(quoting_style="needed", include_header=True)
    if flat.num_rows == 0:
        buffer = io.BytesIO()
        pa_csv.write_csv(flat, buffer, write_options=options)
        yield buffer.getvalue()
        return
    for offset in range(0, flat.num_rows, _SLICE_ROWS):
        buffer = io.BytesIO()
        options = pa_csv.WriteOptions(quoting_style="needed", include_header=offset == 0)
        pa_csv.write_csv(flat.slice(offset, _SLICE_ROWS), buffer, write_options=options)
        yield buffer.getvalue()


def parquet_bytes(table: pa.Table) -> bytes:
    """The table as one Parquet file (zstd), timestamps and lists kept as such."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


# -- KML -------------------------------------------------------------------------------


def _xml_text(column: pa.Array) -> pa.Array:
    """Values as escaped XML text ('' for null)."""
    text = pc.fill_null(column.cast(pa.string()), "")
    text = pc.replace_substring_regex(text, _XML_REFUSED, "")
    for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;")):
        text = pc.replace_substring(text, char, entity)
    return text


def _placemark_names(table: pa.Table) -> pa.Array:
    """What a Placemark is called: the vessel's name, else its MMSI, else the row's id."""
    names = pa.nulls(table.num_rows, pa.string())
    for column in ("id", "report_id", "mmsi", "name"):
        if column in table.column_names:
            values = table.column(column).combine_chunks().cast(pa.string())
            names = pc.coalesce(pc.if_else(pc.equal(values, ""), None, values), names)
    return pc.fill_null(names, "")


def kml_chunks(table: pa.Table, title: str) -> Iterator[bytes]:
    """A KML 2.2 document: one Placemark per row with a position, every column (label
    included) in its ExtendedData."""
    yield (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<name>{_xml_text(pa.array([title])).to_pylist()[0]}</name>\n"
    ).encode()
    text_table = _lists_as_text(times_as_text(table))
    lat = table.column("lat").combine_chunks()
    lon = table.column("lon").combine_chunks()
    placed = pc.and_(pc.is_finite(lat), pc.is_finite(lon))
    text_table = text_table.filter(pc.fill_null(placed, False))
    for offset in range(0, text_table.num_rows, _SLICE_ROWS):
        part = text_table.slice(offset, _SLICE_ROWS)
        pieces: list[Any] = [
            "<Placemark><name>",
            _xml_text(_placemark_names(part)),
            "</name><ExtendedData>",
        ]
        for name in part.column_names:
            pieces += [
                f'<Data name="{name}"><value>',
                _xml_text(part.column(name).combine_chunks()),
                "</value></Data>",
            ]
        pieces += [
            "</ExtendedData><Point><coordinates>",
            part.column("lon").combine_chunks().cast(pa.float64()).cast(pa.string()),
            ",",
            part.column("lat").combine_chunks().cast(pa.float64()).cast(pa.string()),
            "</coordinates></Point></Placemark>\n",
        ]
        yield "".join(pc.binary_join_element_wise(*pieces, "").to_pylist()).encode()
    yield b"</Document></kml>\n"


# -- the answer ------------------------------------------------------------------------


def table_response(
    table: pa.Table,
    fmt: str,
    *,
    key: str,
    name: str,
    head: Mapping[str, Any] | None = None,
    raw_json: Sequence[str] = (),
) -> Response:
    """The answer of a list route: ``table`` as ``fmt``. JSON is ``{"count": n, **head,
    key: [...]}``; the other formats hold the rows alone, offered for download as
    ``name.<suffix>``."""
    check_format(fmt)
    media = MEDIA_TYPES[fmt]
    headers = {}
    if fmt != "json":
        headers["Content-Disposition"] = f'attachment; filename="{name}.{_SUFFIXES[fmt]}"'
    if fmt == "json":
        document = {"count": table.num_rows, **(head or {})}
        chunks = json_text(document, key, table, raw_json=raw_json)
        return chunked_response(chunks, table, headers, media)
    if fmt == "geojson":
        chunks = feature_collection_chunks(table, raw_json=raw_json)
        return chunked_response(chunks, table, headers, media)
    if fmt == "csv":
        return chunked_response(csv_chunks(table), table, headers, media)
    if fmt == "parquet":
        return Response(parquet_bytes(table), 200, headers, media)
    if fmt == "kml":
        return chunked_response(kml_chunks(table, name), table, headers, media)
    rows = [_row_values(row) for row in table.to_pylist()]
    return Response(events_xml(rows), 200, headers, media)


def chunked_response(
    chunks: Iterator[bytes], table: pa.Table, headers: Mapping[str, str], media: str
) -> Response:
    """An answer made of ``chunks``: whole when ``table`` fits in one slice (no worker-thread
    hop per chunk, and a Content-Length), streamed slice by slice when it is larger."""
    if table.num_rows <= _SLICE_ROWS:
        return Response(b"".join(chunks), 200, headers, media)
    return StreamingResponse(chunks, 200, headers, media)


def _row_values(row: dict[str, Any]) -> dict[str, Any]:
    """A row for CoT: non-finite floats as None (times stay datetimes)."""
    return {
        key: None if isinstance(value, float) and not math.isfinite(value) else value
        for key, value in row.items()
    }
