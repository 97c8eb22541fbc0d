"""CSV position files (MarineCadastre full columns, or ``mmsi,timestamp,lat,lon,track_id``).

The header names the columns (matched case-insensitively, with common aliases), so column
order does not matter and unknown columns are kept only in the raw line. Parsing is
columnar (Arrow compute over a block of lines); a row that cannot be used is quarantined
with its line number and reason, and parsing never raises on bad rows.

Rules: one line is one row (no quoted fields: MarineCadastre never quotes, and a stray
quote must not swallow the lines after it). Times are ISO 8601 UTC
(``2020-06-30T00:00:00``, optional fraction, optional ``Z``). Required: MMSI (1-9 digits),
time, latitude (-90..90) and longitude (-180..180). Optional fields that do not parse, or
that hold a "not available" value (SOG 102.3, COG 360, heading 511), are null. COG below
zero (MarineCadastre writes some) is taken modulo 360.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .batch import MESSAGE_SCHEMA, REJECTED_SCHEMA, IngestBatch
from .rows import SourceContext, build_messages, check_strict

__all__ = ["is_position_header", "position_batches"]

#: Field name -> header aliases (lower case). MarineCadastre names first.
_ALIASES: dict[str, tuple[str, ...]] = {
    "mmsi": ("mmsi",),
    "time": ("basedatetime", "timestamp", "time", "datetime"),
    "lat": ("lat", "latitude"),
    "lon": ("lon", "longitude", "long"),
    "speed_kn": ("sog", "speed"),
    "course_deg": ("cog", "course"),
    "heading_deg": ("heading",),
    "name": ("vesselname", "shipname", "name"),
    "imo": ("imo",),
    "callsign": ("callsign",),
    "ship_type": ("vesseltype", "shiptype"),
    "nav_status": ("status",),
    "draught_m": ("draft", "draught"),
}
_REQUIRED = ("mmsi", "time", "lat", "lon")
_NUMBER = r"^[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?$"
_TIME = (
    r"^(?P<base>[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2})"
    r"(?P<frac>\.[0-9]{1,6})?(?P<zone>Z|\+00:?00)?$"
)


@dataclass(frozen=True, slots=True)
class _Header:
    columns: int
    index: dict[str, int]
    problem: str | None


def _parse_header(line: str) -> _Header:
    names = [name.strip().lower() for name in line.rstrip("\r").split(",")]
    index: dict[str, int] = {}
    for field, aliases in _ALIASES.items():
        for alias in aliases:
            if alias in names:
                index[field] = names.index(alias)
                break
    missing = [field for field in _REQUIRED if field not in index]
    problem = (
        f"header lacks {', '.join(missing)} (columns: {line.strip()[:200]!r})" if missing else None
    )
    return _Header(columns=len(names), index=index, problem=problem)


def is_position_header(first_line: bytes) -> bool:
    """True when a first line looks like a CSV position header (it names an mmsi column)."""
    text = first_line.decode("utf-8", errors="replace").strip().lower()
    return not text.startswith(("!", "$", "\\")) and "," in text and "mmsi" in text.split(",")[0:30]


def _number(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(float64 with nulls, is_valid mask) for text columns."""
    ok = pc.fill_null(pc.match_substring_regex(values, _NUMBER), False)
    parsed = pc.cast(pc.if_else(ok, values, "nan"), pa.float64())
    return pc.if_else(ok, parsed, pa.scalar(None, pa.float64())), ok


def _time_us(values: pa.Array) -> pa.Array:
    """int64 epoch microseconds, null where the text is not an ISO 8601 UTC time."""
    parts = pc.extract_regex(values, _TIME)
    base = pc.replace_substring(pc.struct_field(parts, "base"), " ", "T")
    whole = pc.strptime(base, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
    frac = pc.fill_null(pc.struct_field(parts, "frac"), "")
    frac_us = pc.cast(pc.utf8_slice_codeunits(pc.utf8_rpad(frac, 7, "0"), 1, 7), pa.int64())
    return pc.add(pc.cast(whole, pa.int64()), frac_us)


class _Reasons:
    """The first reason each row fails, built column by column without Python loops."""

    def __init__(self, n: int) -> None:
        self.reason: pa.Array = pa.nulls(n, pa.string())
        self.detail: pa.Array = pa.nulls(n, pa.string())

    def add(self, bad: pa.Array, reason: str, field: str, values: pa.Array, why: str) -> None:
        first = pc.and_(pc.fill_null(bad, True), pc.is_null(self.reason))
        detail = pc.binary_join_element_wise(f"{field} '", pc.fill_null(values, ""), f"' {why}", "")
        self.reason = pc.if_else(first, reason, self.reason)
        self.detail = pc.if_else(first, detail, self.detail)


def _rows(
    ctx: SourceContext, header: _Header, lines: list[str], first_line_no: int
) -> tuple[pa.Table | None, int, pa.Table | None]:
    """Parse one block of data lines: (messages, blank lines, rejected)."""
    raw = pc.utf8_rtrim(pa.array(lines, pa.string()), "\r")
    line_no = pa.array(np.arange(first_line_no, first_line_no + len(lines), dtype=np.int64))
    blank = pc.equal(pc.utf8_trim_whitespace(raw), "")
    blanks = pc.sum(blank).as_py() or 0
    if blanks:
        keep = pc.invert(blank)
        raw, line_no = raw.filter(keep), line_no.filter(keep)
    canonical = pc.replace_substring_regex(pc.utf8_trim_whitespace(raw), r"\s*,\s*", ",")
    fields = pc.split_pattern(canonical, ",")
    n = len(raw)
    reasons = _Reasons(n)
    if header.problem is not None:
        reasons.add(pa.repeat(pa.scalar(True), n), "csv-header", "header", raw, header.problem)
        return None, blanks, _rejected_rows(ctx, reasons, raw, line_no)
    counts = pc.list_value_length(fields)
    reasons.add(
        pc.not_equal(counts, header.columns),
        "csv-columns",
        "row",
        pc.cast(counts, pa.string()),
        f"fields found, the header has {header.columns}",
    )
    padded = pc.if_else(
        pc.equal(counts, header.columns), fields, pa.scalar([""] * header.columns, fields.type)
    )

    def column(field: str) -> pa.Array:
        return pc.list_element(padded, header.index[field])

    mmsi_text = column("mmsi")
    mmsi_ok = pc.match_substring_regex(mmsi_text, r"^0*[1-9][0-9]{0,8}$")
    reasons.add(pc.invert(mmsi_ok), "csv-mmsi", "mmsi", mmsi_text, "is not an MMSI (1-9 digits)")
    time_text = column("time")
    observed_us = _time_us(time_text)
    reasons.add(
        pc.is_null(observed_us), "csv-time", "time", time_text, "is not an ISO 8601 UTC time"
    )
    lat, lat_ok = _number(column("lat"))
    lon, lon_ok = _number(column("lon"))
    lat_ok = pc.and_(lat_ok, pc.less_equal(pc.abs(pc.fill_null(lat, 999.0)), 90.0))
    lon_ok = pc.and_(lon_ok, pc.less_equal(pc.abs(pc.fill_null(lon, 999.0)), 180.0))
    reasons.add(pc.invert(lat_ok), "csv-lat", "lat", column("lat"), "is not a latitude in -90..90")
    reasons.add(
        pc.invert(lon_ok), "csv-lon", "lon", column("lon"), "is not a longitude in -180..180"
    )
    rejected = _rejected_rows(ctx, reasons, raw, line_no)
    good = pc.is_null(reasons.reason)
    if not pc.any(good).as_py():
        return None, blanks, rejected
    mmsi = pc.cast(pc.if_else(mmsi_ok, mmsi_text, "0"), pa.int64())
    columns: dict[str, pa.Array] = {
        "mmsi": mmsi,
        "lat": lat,
        "lon": lon,
        "observed_us": observed_us,
        "content_key": canonical,
        "raw": raw,
        "line_no": line_no,
    }
    optional = _optional_columns(header, column)
    columns.update(optional)
    chosen = {name: array.filter(good) for name, array in columns.items()}
    messages = build_messages(ctx, chosen, len(chosen["raw"]))
    return messages, blanks, rejected


def _optional_columns(header: _Header, column: Callable[[str], pa.Array]) -> dict[str, pa.Array]:
    out: dict[str, pa.Array] = {}
    null_float = pa.scalar(None, pa.float64())
    if "speed_kn" in header.index:
        speed, _ = _number(column("speed_kn"))
        bad = pc.or_(pc.less(speed, 0.0), pc.greater_equal(speed, 102.25))
        out["speed_kn"] = pc.if_else(pc.fill_null(bad, True), null_float, speed)
    if "course_deg" in header.index:
        course, _ = _number(column("course_deg"))
        bad = pc.or_(pc.less_equal(course, -360.0), pc.greater_equal(course, 360.0))
        wrapped = pc.subtract(course, pc.multiply(pc.floor(pc.divide(course, 360.0)), 360.0))
        out["course_deg"] = pc.if_else(pc.fill_null(bad, True), null_float, wrapped)
    if "heading_deg" in header.index:
        heading, _ = _number(column("heading_deg"))
        bad = pc.or_(pc.less(heading, 0.0), pc.greater_equal(heading, 360.0))
        out["heading_deg"] = pc.if_else(pc.fill_null(bad, True), null_float, heading)
    for field, low, high in (
        ("ship_type", 1, 99),
        ("nav_status", 0, 15),
        ("draught_m", 0.1, 25.5),
    ):
        if field in header.index:
            value, _ = _number(column(field))
            bad = pc.or_(pc.less(value, low), pc.greater(value, high))
            kept = pc.if_else(pc.fill_null(bad, True), null_float, value)
            out[field] = kept if field == "draught_m" else pc.cast(pc.round(kept), pa.int16())
    if "imo" in header.index:
        digits = pc.replace_substring_regex(pc.utf8_upper(column("imo")), r"^IMO", "")
        ok = pc.match_substring_regex(digits, r"^[0-9]{1,9}$")
        imo = pc.cast(pc.if_else(ok, digits, "0"), pa.int64())
        out["imo"] = pc.if_else(pc.and_(ok, pc.greater(imo, 0)), imo, pa.scalar(None, pa.int64()))
    for field in ("name", "callsign"):
        if field in header.index:
            out[field] = column(field)
    return out


def _rejected_rows(
    ctx: SourceContext, reasons: _Reasons, raw: pa.Array, line_no: pa.Array
) -> pa.Table | None:
    bad = pc.is_valid(reasons.reason)
    if not pc.any(bad).as_py():
        return None
    table = pa.table(
        {
            "line_no": line_no.filter(bad),
            "reason": reasons.reason.filter(bad),
            "detail": reasons.detail.filter(bad),
            "raw": raw.filter(bad),
        }
    )
    source = pa.repeat(pa.scalar(ctx.source, pa.string()), table.num_rows)
    return pa.Table.from_arrays(
        [source, table["line_no"], table["reason"], table["detail"], table["raw"]],
        schema=REJECTED_SCHEMA,
    )


def position_batches(
    chunks: Iterable[bytes], ctx: SourceContext, position: Callable[[], int | None] | None = None
) -> Iterator[IngestBatch]:
    """Parse CSV position rows from byte chunks into batches (one per chunk of lines)."""
    header: _Header | None = None
    carry = b""
    next_line_no = 1
    pending = iter(chunks)
    done = False
    while not done:
        chunk = next(pending, None)
        if chunk is None:
            done = True
            block, carry = carry, b""
        else:
            data = carry + chunk
            cut = data.rfind(b"\n")
            if cut < 0:
                carry = data
                continue
            block, carry = data[: cut + 1], data[cut + 1 :]
        if not block:
            continue
        lines = block.decode("utf-8", errors="replace").split("\n")
        if block.endswith(b"\n"):
            lines.pop()
        read = len(lines)
        first_line_no = next_line_no
        next_line_no += read
        if header is None and lines:
            header = _parse_header(lines.pop(0))
            first_line_no += 1
        assert header is not None
        messages, blanks, rejected = _rows(ctx, header, lines, first_line_no)
        batch = IngestBatch(
            source=ctx.source,
            messages=messages if messages is not None else MESSAGE_SCHEMA.empty_table(),
            rejected=rejected if rejected is not None else REJECTED_SCHEMA.empty_table(),
            labels=(ctx.label,),
            lines=read,
            skipped={"blank-line": blanks} if blanks else {},
            position_bytes=position() if position else None,
        )
        check_strict(batch, ctx.strict)
        yield batch
