"""Radar contacts: JSON lines, one contact (plot) per line, as a radar or a scenario writes them.

::

    {"time": "2026-01-01T00:00:10.000Z", "radar": "IND-radar-mumbai", "plot": 123,
     "lat": 18.912345, "lon": 72.812345, "range_m": 5120.0, "bearing_deg": 41.5, "sigma_m": 50}

Required: ``time`` (ISO 8601 UTC, ending ``Z`` or ``+00:00``), ``radar`` (the radar's
name: letters, digits and ``._:-``, at most 64), ``plot`` (the radar's plot number, an
integer 0 .. 10**18 - 1), ``lat`` (-90..90) and ``lon`` (-180..180). Optional (absent or
null): ``range_m`` (0 .. 10,000 km), ``bearing_deg`` (0..360) and ``sigma_m`` (position
error, 1 sigma, above 0 and at most 10,000 km). Other keys are ignored (they stay in the
raw line).

A contact becomes a report of kind ``radar`` with no MMSI and no message type: its time
and position, ``receiver`` = the radar, ``raw`` = the line. Its content key is a canonical
text of its values (``radar|plot|time_us|lat_e7|lon_e7|range_mm|bearing_mdeg|sigma_mm``,
integers), so the same contact written with other spacing, key order or number spelling,
or ingested twice, is one report. Range, bearing and sigma live in the content key and the
raw line only (reports have no columns for them).

Parsing is columnar where it can be: lines in the form radars and ``mista simulate`` write
(the keys in the order above) are matched and split by one regular expression over the
block (Arrow), and only the other lines are read one by one with ``json.loads``. Both
give the same values and keys. A line that is not one well-formed contact is quarantined
with its line number and reason, never raised: ``radar-too-long`` (over
``MAX_LINE_CHARS``), ``radar-encoding`` (not UTF-8), ``radar-json`` (not a JSON object),
``radar-duplicate-key``, ``radar-field`` (a required field missing, or a field of the wrong
type or range), ``radar-time``, ``radar-lat`` and ``radar-lon``.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from .batch import MESSAGE_SCHEMA, REJECTED_SCHEMA, IngestBatch, rejected_table
from .rows import SourceContext, build_messages, check_strict

__all__ = ["MAX_LINE_CHARS", "contact_batches", "is_contact_lines"]

#: Longer lines are refused before they are parsed (a contact is about 150 characters).
MAX_LINE_CHARS = 4096
#: Bytes after which a line without its newline is given up on (no character is longer
#: than four bytes in UTF-8, so such a line is over MAX_LINE_CHARS whatever it holds).
_MAX_LINE_BYTES = 4 * MAX_LINE_CHARS
_RADAR_NAME = r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}"
_RADAR_NAME_RE = re.compile(_RADAR_NAME)
_MAX_PLOT = 10**18 - 1
#: Optional fields: (name, lowest, highest, lowest allowed itself, scale of the key's integer).
_OPTIONAL = (
    ("range_m", 0.0, 1e7, True, 1e3),
    ("bearing_deg", 0.0, 360.0, True, 1e3),
    ("sigma_m", 0.0, 1e7, False, 1e3),
)
_REQUIRED = ("time", "radar", "plot", "lat", "lon")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)

# The form radars write, keys in contract order: one regular expression splits a block.
_WS = "[ \t]*"
#: A JSON number a double holds (Arrow's reader refuses the whole block on 1e999, so large
#: exponents are left to the line-by-line reader, which says why).
_NUM = r"-?(?:0|[1-9][0-9]{0,15})(?:\.[0-9]{1,20})?(?:[eE](?:-[0-9]{1,3}|\+?[0-9]{1,2}))?"


def _member(name: str, value: str) -> str:
    return f'{_WS},{_WS}"{name}"{_WS}:{_WS}{value}'


_CANONICAL = (
    rf'^\{{{_WS}"time"{_WS}:{_WS}"[1-9][0-9]{{3}}-[0-9]{{2}}-[0-9]{{2}}T'
    rf'(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{{1,6}})?(?:Z|\+00:00)"'
    + _member("radar", f'"{_RADAR_NAME}"')
    + _member("plot", "(?:0|[1-9][0-9]{0,17})")
    + _member("lat", _NUM)
    + _member("lon", _NUM)
    + "".join(f"(?:{_member(name, f'(?:{_NUM}|null)')})?" for name, *_ in _OPTIONAL)
    + rf"{_WS}\}}{_WS}$"
)


def is_contact_lines(first_chunk: bytes) -> bool:
    """True when input starts like radar contacts: its first non-blank character is ``{``."""
    return first_chunk.lstrip(b" \t\r\n\xef\xbb\xbf")[:1] == b"{"


class _NotAContactError(Exception):
    """A line that is not a contact: the reason and a detail for the quarantine."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(reason, detail)
        self.reason = reason
        self.detail = detail


# -- one line at a time (any key order, any JSON spelling) ------------------------------


def _show(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(fields: dict[str, Any], name: str) -> float:
    value = fields[name]
    # bool is an int in Python; JSON true is not a number.
    if type(value) is float:
        number = value
    elif type(value) is int:
        number = float(value) if abs(value) < 10**300 else math.inf
    else:
        raise _NotAContactError("radar-field", f"{name} {_show(value)} is not a number")
    if not math.isfinite(number):
        raise _NotAContactError("radar-field", f"{name} {_show(value)} is not a finite number")
    return number


def _time_us(value: Any) -> int:
    if type(value) is not str or len(value) > 40:
        raise _NotAContactError("radar-time", f"time {_show(value)} is not an ISO 8601 UTC time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise _NotAContactError(
            "radar-time", f"time {_show(value)} is not an ISO 8601 UTC time"
        ) from None
    offset = moment.utcoffset()
    if offset is None or offset:
        raise _NotAContactError(
            "radar-time", f"time {_show(value)} is not UTC (end it with Z, e.g. ...T00:00:10Z)"
        )
    return (moment - _EPOCH) // _US


def _optional(fields: dict[str, Any], name: str, low: float, high: float, closed: bool) -> float:
    value = _number(fields, name)
    if not (low <= value if closed else low < value) or value > high:
        excluded = "" if closed else f", {low:g} excluded"
        raise _NotAContactError(
            "radar-field", f"{name} {_show(fields[name])} is outside {low:g}..{high:g}{excluded}"
        )
    return value


@dataclass
class _Columns:
    """Values of the contacts of a block, appended line by line."""

    line_no: list[int] = field(default_factory=list)
    observed_us: list[int] = field(default_factory=list)
    radar: list[str] = field(default_factory=list)
    plot: list[int] = field(default_factory=list)
    lat: list[float] = field(default_factory=list)
    lon: list[float] = field(default_factory=list)
    optional: dict[str, list[float | None]] = field(
        default_factory=lambda: {name: [] for name, *_ in _OPTIONAL}
    )


def _parse_into(columns: _Columns, line: str) -> None:
    """Append one contact line's values to ``columns`` (all or none of them)."""
    if len(line) > MAX_LINE_CHARS:
        raise _NotAContactError(
            "radar-too-long", f"line of {len(line)} characters (at most {MAX_LINE_CHARS})"
        )
    if "\ufffd" in line:
        raise _NotAContactError("radar-encoding", "line is not UTF-8")
    try:
        pairs = json.loads(line, object_pairs_hook=list)
    except (ValueError, RecursionError) as exc:
        raise _NotAContactError("radar-json", f"not JSON: {str(exc)[:80]}") from None
    if type(pairs) is not list or (pairs and type(pairs[0]) is not tuple):
        raise _NotAContactError("radar-json", "not a JSON object (one contact per line: {...})")
    fields = dict(pairs)
    if len(fields) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                break
            seen.add(key)
        raise _NotAContactError("radar-duplicate-key", f"key {_show(key)} appears more than once")
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise _NotAContactError("radar-field", f"missing {', '.join(missing)}")
    observed_us = _time_us(fields["time"])
    radar = fields["radar"]
    if type(radar) is not str or not _RADAR_NAME_RE.fullmatch(radar):
        raise _NotAContactError(
            "radar-field",
            f"radar {_show(radar)} is not a radar name (letters, digits, '._:-', at most 64)",
        )
    plot = fields["plot"]
    if type(plot) is not int or not 0 <= plot <= _MAX_PLOT:
        raise _NotAContactError(
            "radar-field", f"plot {_show(plot)} is not an integer plot number 0..10**18-1"
        )
    lat, lon = _number(fields, "lat"), _number(fields, "lon")
    if not -90.0 <= lat <= 90.0:
        raise _NotAContactError(
            "radar-lat", f"lat {_show(fields['lat'])} is not a latitude in -90..90"
        )
    if not -180.0 <= lon <= 180.0:
        raise _NotAContactError(
            "radar-lon", f"lon {_show(fields['lon'])} is not a longitude in -180..180"
        )
    extra = [
        None if fields.get(name) is None else _optional(fields, name, low, high, closed)
        for name, low, high, closed, _ in _OPTIONAL
    ]
    columns.observed_us.append(observed_us)
    columns.radar.append(radar)
    columns.plot.append(plot)
    columns.lat.append(lat)
    columns.lon.append(lon)
    for (name, *_), value in zip(_OPTIONAL, extra, strict=True):
        columns.optional[name].append(value)


# -- a block at once (the canonical form) -----------------------------------------------


_VALUE_SCHEMA = pa.schema(
    [
        pa.field("row", pa.int64()),
        pa.field("observed_us", pa.int64()),
        pa.field("radar", pa.string()),
        pa.field("plot", pa.int64()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        *(pa.field(name, pa.float64()) for name, *_ in _OPTIONAL),
    ]
)


#: How the JSON reader reads lines in the canonical form (the time is checked as text).
_CANONICAL_SCHEMA = pa.schema(
    [
        pa.field("time", pa.string()),
        pa.field("radar", pa.string()),
        pa.field("plot", pa.int64()),
        pa.field("lat", pa.float64()),
        pa.field("lon", pa.float64()),
        *(pa.field(name, pa.float64()) for name, *_ in _OPTIONAL),
    ]
)


def _time_text_us(text: pa.Array) -> pa.Array:
    """Epoch microseconds of canonical times (``YYYY-mm-ddTHH:MM:SS[.ffffff](Z|+00:00)``);
    null where the date does not exist (e.g. 30 February)."""
    written = pc.utf8_slice_codeunits(text, 0, 19)
    base = pc.strptime(written, format="%Y-%m-%dT%H:%M:%S", unit="us", error_is_null=True)
    # strptime rolls 30 February over into March: a real date prints back as written.
    real = pc.and_(
        pc.equal(pc.day(base), pc.cast(pc.utf8_slice_codeunits(text, 8, 10), pa.int64())),
        pc.equal(pc.month(base), pc.cast(pc.utf8_slice_codeunits(text, 5, 7), pa.int64())),
    )
    base = pc.if_else(pc.fill_null(real, False), base, pa.scalar(None, base.type))
    zone_free = pc.utf8_rtrim(pc.replace_substring(text, "+00:00", ""), "Z")
    digits = pc.utf8_rpad(pc.utf8_slice_codeunits(zone_free, 20, 26), 6, "0")
    return pc.add(pc.cast(base, pa.int64()), pc.cast(digits, pa.int64()))


def _lines_buffer(lines: pa.Array) -> pa.Buffer:
    """The lines as one newline-terminated text, without a Python pass over them."""
    text = pc.binary_join_element_wise(lines, "", "\n")
    offsets = np.frombuffer(text.buffers()[1], dtype=np.int32)
    start, end = int(offsets[text.offset]), int(offsets[text.offset + len(text)])
    data: pa.Buffer = text.buffers()[2]
    return data.slice(start, end - start)


def _canonical(raw: pa.Array) -> tuple[pa.Table, pa.Array]:
    """The lines of ``raw`` in the canonical form, parsed and checked: (their values with
    a ``row`` column, rows of ``raw`` left for the line-by-line reader).

    The pattern admits only well-formed JSON objects with these keys in this order and
    values of these types, so Arrow's JSON reader reads them all at once.
    """
    rows = pa.array(np.arange(len(raw), dtype=np.int64))
    matched = pc.fill_null(pc.match_substring_regex(raw, _CANONICAL), False)
    candidates = raw.filter(matched)
    if len(candidates) == 0:
        return _VALUE_SCHEMA.empty_table(), rows
    try:
        parsed = pa_json.read_json(
            pa.BufferReader(_lines_buffer(candidates)),
            parse_options=pa_json.ParseOptions(explicit_schema=_CANONICAL_SCHEMA),
        )
    except pa.ArrowInvalid:  # the pattern should make this impossible: read them one by one
        return _VALUE_SCHEMA.empty_table(), rows
    observed = _time_text_us(parsed.column("time").combine_chunks())
    values = {
        "row": rows.filter(matched),
        "observed_us": observed,
        **{name: parsed.column(name).combine_chunks() for name in _CANONICAL_SCHEMA.names[1:]},
    }
    good = pc.and_(
        pc.is_valid(observed),
        pc.and_(
            pc.less_equal(pc.abs(values["lat"]), 90.0), pc.less_equal(pc.abs(values["lon"]), 180.0)
        ),
    )
    for name, low, high, closed, _ in _OPTIONAL:
        value = values[name]
        above = pc.greater_equal(value, low) if closed else pc.greater(value, low)
        good = pc.and_(good, pc.fill_null(pc.and_(above, pc.less_equal(value, high)), True))
    # Anything the checks refuse goes to the line-by-line reader, which says why.
    table = pa.table(values, schema=_VALUE_SCHEMA).filter(good)
    left = pc.invert(pc.fill_null(pc.is_in(rows, value_set=table.column("row")), False))
    return table, rows.filter(left)


def _scaled(values: pa.ChunkedArray | pa.Array, scale: float) -> pa.Array:
    """Values times ``scale`` rounded half to even, as integer text ('' when null)."""
    scaled = pc.round(pc.multiply(values, scale), round_mode="half_to_even")
    return pc.fill_null(pc.cast(pc.cast(scaled, pa.int64()), pa.string()), "")


def _content_keys(table: pa.Table) -> pa.Array:
    """The canonical text of each contact (integers only, so every spelling agrees)."""
    parts = [
        table.column("radar"),
        pc.cast(table.column("plot"), pa.string()),
        pc.cast(table.column("observed_us"), pa.string()),
        _scaled(table.column("lat"), 1e7),
        _scaled(table.column("lon"), 1e7),
        *(_scaled(table.column(name), scale) for name, *_, scale in _OPTIONAL),
    ]
    return pc.binary_join_element_wise(*parts, "|")


def _block(
    ctx: SourceContext,
    lines: list[str],
    first_line_no: int,
    bad: list[tuple[int | None, str, str, str]],
) -> tuple[pa.Table, pa.Table, int]:
    """Parse one block of lines: (messages, rejected, blank lines). ``bad`` holds lines
    already refused (overlong lines), and receives this block's."""
    raw = pc.utf8_rtrim(pa.array(lines, pa.string()), "\r")
    line_no = pa.array(np.arange(first_line_no, first_line_no + len(lines), dtype=np.int64))
    blank = pc.equal(pc.utf8_trim_whitespace(raw), "")
    blanks = int(pc.sum(blank).as_py() or 0)
    if blanks:
        keep = pc.invert(blank)
        raw, line_no = raw.filter(keep), line_no.filter(keep)
    fast, left = _canonical(raw)
    slow = _Columns()
    texts = raw.take(left).to_pylist()
    numbers = line_no.take(left).to_pylist()
    for row, text, number in zip(left.to_pylist(), texts, numbers, strict=True):
        try:
            _parse_into(slow, text)
        except _NotAContactError as why:
            bad.append((number, why.reason, why.detail, _head(text)))
            continue
        slow.line_no.append(row)
    slow_table = pa.table(
        {
            "row": pa.array(slow.line_no, pa.int64()),
            "observed_us": pa.array(slow.observed_us, pa.int64()),
            "radar": pa.array(slow.radar, pa.string()),
            "plot": pa.array(slow.plot, pa.int64()),
            "lat": pa.array(slow.lat, pa.float64()),
            "lon": pa.array(slow.lon, pa.float64()),
            **{name: pa.array(slow.optional[name], pa.float64()) for name, *_ in _OPTIONAL},
        },
        schema=_VALUE_SCHEMA,
    )
    contacts = pa.concat_tables([fast.cast(_VALUE_SCHEMA), slow_table])
    if slow_table.num_rows and fast.num_rows:
        contacts = contacts.take(pc.sort_indices(contacts.column("row")))
    rows = contacts.column("row")
    messages = MESSAGE_SCHEMA.empty_table()
    if contacts.num_rows:
        columns = {
            "observed_us": contacts.column("observed_us").combine_chunks(),
            "receiver": contacts.column("radar").combine_chunks(),
            "lat": contacts.column("lat").combine_chunks(),
            "lon": contacts.column("lon").combine_chunks(),
            "content_key": _content_keys(contacts).combine_chunks(),
            "raw": raw.take(rows),
            "line_no": line_no.take(rows),
        }
        messages = build_messages(ctx, columns, contacts.num_rows)
    bad.sort(key=lambda row: row[0] or 0)
    rejected = rejected_table(ctx.source, bad) if bad else REJECTED_SCHEMA.empty_table()
    return messages, rejected, blanks


def _head(text: str) -> str:
    """What the quarantine keeps of a line: all of it, or the start of an overlong one."""
    return text if len(text) <= MAX_LINE_CHARS else text[:MAX_LINE_CHARS] + "..."


def _too_long(line_no: int, head: bytes, size: int) -> tuple[int, str, str, str]:
    text = head.decode("utf-8", errors="replace")
    detail = f"line of over {size} bytes (at most {MAX_LINE_CHARS} characters)"
    return (line_no, "radar-too-long", detail, _head(text))


def contact_batches(
    chunks: Iterable[bytes], ctx: SourceContext, position: Callable[[], int | None] | None = None
) -> Iterator[IngestBatch]:
    """Parse radar contact lines from byte chunks into batches (one per chunk of lines).

    A line that grows past ``_MAX_LINE_BYTES`` without a newline is refused as too long and
    its bytes are skipped up to the next newline, so memory stays bounded on hostile input.
    """
    carry = b""
    next_line_no = 1
    overlong: tuple[bytes, int] | None = None  # the start and size of a line being skipped
    pending = iter(chunks)
    done = False
    while not done:
        bad: list[tuple[int | None, str, str, str]] = []
        skipped_lines = 0
        chunk = next(pending, None)
        if chunk is None:
            done = True
            block, carry = carry, b""
            if overlong is not None:
                bad.append(_too_long(next_line_no, *overlong))
                next_line_no, skipped_lines, overlong = next_line_no + 1, 1, None
        else:
            data = carry + chunk
            carry = b""
            if overlong is not None:
                end = data.find(b"\n")
                if end < 0:
                    overlong = (overlong[0], overlong[1] + len(data))
                    continue
                bad.append(_too_long(next_line_no, overlong[0], overlong[1] + end))
                next_line_no, skipped_lines, overlong = next_line_no + 1, 1, None
                data = data[end + 1 :]
            cut = data.rfind(b"\n")
            tail = data[cut + 1 :]
            if len(tail) > _MAX_LINE_BYTES:
                overlong, tail = (tail[:_MAX_LINE_BYTES], len(tail)), b""
            block, carry = data[: cut + 1], tail
        if not block and not bad:
            continue
        lines = block.decode("utf-8", errors="replace").split("\n") if block else []
        if block.endswith(b"\n"):
            lines.pop()
        first_line_no = next_line_no
        next_line_no += len(lines)
        messages, rejected, blanks = _block(ctx, lines, first_line_no, bad)
        batch = IngestBatch(
            source=ctx.source,
            messages=messages,
            rejected=rejected,
            labels=(ctx.label,),
            lines=len(lines) + skipped_lines,
            skipped={"blank-line": blanks} if blanks else {},
            position_bytes=position() if position else None,
        )
        check_strict(batch, ctx.strict)
        yield batch
