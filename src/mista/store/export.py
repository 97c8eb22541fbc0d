"""Query results (Arrow tables) written as text: table, JSON lines, JSON, CSV or GeoJSON.

One writer for every face, so the CLI, the API and tests agree on the shapes. Times are
ISO 8601 UTC (``2020-06-30T00:00:00Z``); GeoJSON points are ``[lon, lat]`` (RFC 7946); in
CSV a list is its items separated by spaces.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import datetime
from typing import Any, TextIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from mista.errors import InputError

__all__ = ["FORMATS", "write_table"]

#: Output formats, in the order ``--format`` lists them.
FORMATS = ("table", "jsonl", "csv", "geojson", "json")
_ROWS_PER_SLICE = 10_000


def _value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return value


def _rows(table: pa.Table) -> Iterator[dict[str, Any]]:
    for batch in table.to_batches(max_chunksize=_ROWS_PER_SLICE):
        for row in batch.to_pylist():
            yield {key: _value(value) for key, value in row.items()}


def _write_text_table(table: pa.Table, out: TextIO) -> None:
    names = table.column_names
    rows = [["" if v is None else str(v) for v in row.values()] for row in _rows(table)]
    widths = [max([len(name), *(len(row[i]) for row in rows)]) for i, name in enumerate(names)]
    out.write("  ".join(name.ljust(w) for name, w in zip(names, widths, strict=True)).rstrip())
    out.write("\n")
    out.write("  ".join("-" * w for w in widths) + "\n")
    for row in rows:
        out.write("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip() + "\n")
    out.write(f"({table.num_rows:,} rows)\n")


def _flat(table: pa.Table) -> pa.Table:
    """Lists (an alert's MMSIs and tracks) as their items separated by spaces: CSV has no
    lists."""
    for index, field in enumerate(table.schema):
        if pa.types.is_list(field.type) or pa.types.is_large_list(field.type):
            items = pc.cast(table.column(index), pa.list_(pa.string()))
            table = table.set_column(index, field.name, pc.binary_join(items, " "))
    return table


def _write_csv(table: pa.Table, out: TextIO) -> None:
    table = _flat(table)
    buffer = io.BytesIO()
    pa_csv.write_csv(table, buffer, write_options=pa_csv.WriteOptions(quoting_style="needed"))
    out.write(buffer.getvalue().decode("utf-8"))


def _write_geojson(table: pa.Table, out: TextIO) -> None:
    if "lat" not in table.column_names or "lon" not in table.column_names:
        raise InputError("geojson needs rows with lat and lon (use --format jsonl or csv)")
    out.write('{"type": "FeatureCollection", "features": [')
    first = True
    for row in _rows(table):
        lat, lon = row.pop("lat"), row.pop("lon")
        geometry = (
            None
            if lat is None or lon is None
            else {
                "type": "Point",
                "coordinates": [lon, lat],
            }
        )
        feature = {"type": "Feature", "geometry": geometry, "properties": row}
        out.write(("\n" if first else ",\n") + json.dumps(feature))
        first = False
    out.write("\n]}\n")


def _write_json_array(table: pa.Table, out: TextIO) -> None:
    """One JSON array of row objects (a document tools like jq read whole)."""
    out.write("[")
    for index, row in enumerate(_rows(table)):
        out.write(("\n" if index == 0 else ",\n") + json.dumps(row))
    out.write("\n]\n" if table.num_rows else "]\n")


def write_table(table: pa.Table, fmt: str, out: TextIO) -> None:
    """Write ``table`` to ``out`` as ``fmt`` (one of FORMATS)."""
    if fmt == "table":
        _write_text_table(table, out)
    elif fmt == "jsonl":
        for row in _rows(table):
            out.write(json.dumps(row) + "\n")
    elif fmt == "json":
        _write_json_array(table, out)
    elif fmt == "csv":
        _write_csv(table, out)
    elif fmt == "geojson":
        _write_geojson(table, out)
    else:
        raise InputError(f"unknown format {fmt!r} (use one of {', '.join(FORMATS)})")
