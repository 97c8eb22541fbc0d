"""AIS payload decoding (ITU-R M.1371-5 messages 1-27) to gpsd's scaled AIVDM JSON fields.

Two paths over one compiled core (``_payload.pyx`` with C generated from :mod:`.fields`):

* :func:`decode_payloads` - bulk and columnar: many armoured payloads in one byte buffer with
  offsets, out come Arrow record batches (one shared ``common`` batch and one per type) and the
  rejected rows with their reason. It never raises for bad input.
* :func:`decode_payload` - one payload to a dict keyed and ordered as gpsd's JSON (without
  ``class``/``device``); raises :class:`PayloadError` (a ``DecodeError``) with the reason.

Reasons a payload is rejected (``PayloadReject.reason``, ``PayloadError.reason``):

``unknown-type``
    message type 0 or 28-63.
``bad-length``
    fewer (or, for some types, more) bits than the type allows (gpsd 3.22's rules), or empty.
``bad-character``
    a character that is not 6-bit armour (``0``-``W``, backquote-``w``).
``bad-fill-bits``
    fill bits outside 0..5, or fill bits on an empty payload.
``out-of-range``
    a position outside +-90 / +-180 degrees that is not the 91 / 181 "not available" value.

No I/O here: callers (framing, ingest) hand in payloads and keep what was rejected.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from mista.ais import _payload
from mista.ais.fields import FIELDS, KINDS, LABELS, MAX_BITS, MIN_BITS, Field
from mista.errors import DecodeError

__all__ = [
    "BAD_CHARACTER",
    "BAD_FILL_BITS",
    "BAD_LENGTH",
    "COMMON_SCHEMA",
    "OUT_OF_RANGE",
    "REASONS",
    "UNKNOWN_TYPE",
    "DecodedBatch",
    "PayloadError",
    "PayloadReject",
    "decode_payload",
    "decode_payloads",
    "to_dicts",
]

UNKNOWN_TYPE: Final = "unknown-type"
BAD_LENGTH: Final = "bad-length"
BAD_CHARACTER: Final = "bad-character"
BAD_FILL_BITS: Final = "bad-fill-bits"
OUT_OF_RANGE: Final = "out-of-range"
REASONS: Final[tuple[str, ...]] = (
    UNKNOWN_TYPE,
    BAD_LENGTH,
    BAD_CHARACTER,
    BAD_FILL_BITS,
    OUT_OF_RANGE,
)
"""Every reason code, in the order of the compiled core's status codes (1..5)."""

_ABSENT: Final = np.iinfo(np.int32).min
_MAX_TYPES: Final = 64


@dataclass(frozen=True, slots=True)
class PayloadReject:
    """A payload that could not be decoded: its input row, reason code and a human detail."""

    row: int
    reason: str
    detail: str


@dataclass(frozen=True, slots=True)
class DecodedBatch:
    """The columnar result of :func:`decode_payloads`.

    ``common`` has one row per decoded message (input order) with the fields most types
    share; ``by_type`` every gpsd field of each type present; both have ``row``, the index
    into the input. ``rejected`` lists the rows that did not decode.
    """

    common: pa.RecordBatch
    by_type: dict[int, pa.RecordBatch]
    rejected: list[PayloadReject]


class PayloadError(DecodeError):
    """A payload :func:`decode_payload` cannot decode; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


COMMON_SCHEMA: Final = pa.schema(
    [
        ("row", pa.int64()),
        ("type", pa.int32()),
        ("repeat", pa.int32()),
        ("mmsi", pa.int32()),
        ("lat", pa.float64()),
        ("lon", pa.float64()),
        ("speed", pa.float64()),
        ("course", pa.float64()),
        ("heading", pa.int32()),
        ("status", pa.int32()),
        ("turn", pa.float64()),
        ("shipname", pa.string()),
        ("callsign", pa.string()),
        ("imo", pa.int32()),
        ("shiptype", pa.int32()),
        ("destination", pa.string()),
        ("draught", pa.float64()),
        ("to_bow", pa.int32()),
        ("to_stern", pa.int32()),
        ("to_port", pa.int32()),
        ("to_starboard", pa.int32()),
        ("second", pa.int32()),
        ("accuracy", pa.bool_()),
    ]
)
"""Columns of ``DecodedBatch.common``: gpsd names and units; null where a type lacks one."""


@dataclass(frozen=True, slots=True)
class _Column:
    field: Field
    slot: int  # value slot (text/data: start; slot + 1: length); label: its source's slot
    conditional: bool


@dataclass(frozen=True, slots=True)
class _CommonColumn:
    name: str
    group: int  # 1 int32 (bool too), 2 float64, 3 text span
    row: int  # row in the core's common int32 / float64 matrix (text: start; +1 length)
    valid: int  # row in the validity matrix


def _common_layout() -> dict[str, _CommonColumn]:
    layout: dict[str, _CommonColumn] = {}
    n_int = n_float = 0
    for valid, field in enumerate(COMMON_SCHEMA):
        if field.name == "row":
            continue  # the core knows it without a column
        if field.type == pa.float64():
            layout[field.name] = _CommonColumn(field.name, 2, n_float, valid)
            n_float += 1
        elif field.type == pa.string():
            layout[field.name] = _CommonColumn(field.name, 3, n_int, valid)
            n_int += 2
        else:
            layout[field.name] = _CommonColumn(field.name, 1, n_int, valid)
            n_int += 1
    return layout


_COMMON: Final = _common_layout()
_N_COMMON_INT: Final = sum(2 if c.group == 3 else 1 for c in _COMMON.values() if c.group != 2)
_N_COMMON_FLOAT: Final = sum(1 for c in _COMMON.values() if c.group == 2)


def _build() -> dict[int, list[_Column]]:
    """Turn :data:`FIELDS` into the compiled core's op table; return the column layouts."""
    ops: list[list[int]] = []
    type_start = np.zeros(_MAX_TYPES, np.int32)
    type_nops = np.zeros(_MAX_TYPES, np.int32)
    type_nslots = np.zeros(_MAX_TYPES, np.int32)
    min_bits = np.zeros(_MAX_TYPES, np.int32)
    max_bits = np.full(_MAX_TYPES, 8192, np.int32)
    names: list[str] = []
    scales: list[float] = []
    labels: list[tuple[str, ...] | None] = []
    sources: list[int] = []
    layouts: dict[int, list[_Column]] = {}
    for msgtype, fields in FIELDS.items():
        type_start[msgtype] = len(ops)
        slots: dict[str, int] = {}
        by_name = {f.name: f for f in fields}
        layout: list[_Column] = []
        nslot = 0
        for f in fields:
            cond, condval, condw = -1, 0, 0
            if f.when is not None:
                src, condval = f.when
                if src == "aux":
                    cond = -2
                elif src == "bits":
                    cond = -3
                else:
                    cond, condw = by_name[src].offset, by_name[src].width
            if f.kind == "label":
                slot = slots[f.source]
            else:
                slot = nslot
                slots[f.name] = slot
                nslot += 2 if f.kind in ("text", "data", "timestamp") else 1
            limit = na = 0
            if f.kind in ("lat", "lon"):
                degrees = 90 if f.kind == "lat" else 180
                limit, na = round(degrees * f.scale), round((degrees + 1) * f.scale)
            common = _COMMON.get(f.name) if f.kind != "label" else None
            ops.append(
                [
                    *(KINDS.index(f.kind), f.offset, f.width, slot, cond, condval, limit, na),
                    *(condw, common.group if common else 0, common.row if common else 0),
                    common.valid if common else 0,
                ]
            )
            names.append(f.name)
            scales.append(f.scale)
            labels.append(LABELS[f.labels] if f.kind == "label" else None)
            sources.append(slot)
            layout.append(_Column(f, slot, f.when is not None))
        type_nops[msgtype] = len(fields)
        type_nslots[msgtype] = nslot
        min_bits[msgtype] = MIN_BITS[msgtype]
        max_bits[msgtype] = MAX_BITS.get(msgtype, 8192)
        layouts[msgtype] = layout
    _payload.configure(
        np.ascontiguousarray(np.array(ops, np.int32)),
        type_start,
        type_nops,
        type_nslots,
        min_bits,
        max_bits,
    )
    _payload.configure_names(names, scales, labels, sources)
    return layouts


_LAYOUTS: Final = _build()
_OPS: Final[list[Field]] = [f for fields in FIELDS.values() for f in fields]
_LABEL_ARRAYS: Final = {name: pa.array(texts, pa.string()) for name, texts in LABELS.items()}


# --- details for rejects -------------------------------------------------------------------


def _detail(reason: str, payload: bytes, fill: int, msgtype: int, bad_op: int, raw: int) -> str:
    nbits = 6 * len(payload) - fill
    if reason == BAD_FILL_BITS:
        if not payload:
            return f"fill bits {fill} on an empty payload (must be 0)"
        return f"fill bits {fill} not in 0..5"
    if reason == BAD_CHARACTER:
        for i, byte in enumerate(payload):
            if not (48 <= byte < 88 or 96 <= byte < 120):
                return f"character {chr(byte)!r} at position {i} is not 6-bit armour"
        return "payload is not 6-bit armour"
    if reason == UNKNOWN_TYPE:
        return f"message type {msgtype} is not one of 1-27"
    if reason == BAD_LENGTH:
        if nbits < 6:
            return f"{nbits} bits: too short to hold a message type"
        if msgtype < 1 or msgtype > 27:
            return f"{nbits} bits: longer than any AIS message"
        lo, hi = MIN_BITS[msgtype], MAX_BITS.get(msgtype)
        allowed = f"{lo}..{hi}" if hi else f"at least {lo}"
        return f"type {msgtype} message has {nbits} bits, {allowed} expected"
    field = _OPS[bad_op]
    if field.max_value is not None:
        return f"type {msgtype} {field.name} {raw} is not defined (0..{field.max_value})"
    value = raw / field.scale
    degrees = 90 if field.kind == "lat" else 180
    return (
        f"{field.name} {value:.4f} outside -{degrees}..{degrees} and not the "
        f'{degrees + 1} "not available" value'
    )


# --- per message ---------------------------------------------------------------------------


def decode_payload(payload: str | bytes, fill_bits: int = 0) -> dict[str, object]:
    """Decode one armoured payload to gpsd's AIVDM JSON fields (in gpsd's order).

    >>> decode_payload("15Di=4002i<chWiba2`rPpD:04;`")["mmsi"]
    357322000
    """
    raw = payload.encode("ascii", "replace") if isinstance(payload, str) else bytes(payload)
    status, msgtype, bad_op, bad_raw, out = _payload.decode_one(raw, fill_bits)
    if status:
        reason = REASONS[status - 1]
        raise PayloadError(reason, _detail(reason, raw, fill_bits, msgtype, bad_op, bad_raw))
    assert out is not None  # status 0 comes with the dict
    return out


# --- bulk ----------------------------------------------------------------------------------


def _strings(
    arena: npt.NDArray[np.uint8],
    starts: npt.NDArray[np.int32],
    lengths: npt.NDArray[np.int32],
    absent: npt.NDArray[np.bool_] | None,
) -> pa.Array:
    """Gather (start, length) spans of the arena into one Arrow string array."""
    k = len(starts)
    offsets = np.zeros(k + 1, np.int32)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    index = np.repeat(starts - offsets[:-1], lengths) + np.arange(total, dtype=np.int64)
    data = arena[index]
    validity = None
    if absent is not None and absent.any():
        validity = pa.py_buffer(np.packbits(~absent, bitorder="little"))
    return pa.StringArray.from_buffers(k, pa.py_buffer(offsets), pa.py_buffer(data), validity)


def _numeric(
    values: npt.NDArray[Any], arrow_type: pa.DataType, absent: npt.NDArray[np.bool_] | None
) -> pa.Array:
    """A numeric Arrow array over ``values`` (zero-copy), nulls where ``absent``."""
    if absent is None:
        return pa.array(values, arrow_type)
    validity = pa.py_buffer(np.packbits(~absent, bitorder="little"))
    data = pa.py_buffer(np.ascontiguousarray(values))
    return pa.Array.from_buffers(arrow_type, len(values), [validity, data])


def _fixed(parts: Sequence[tuple[npt.NDArray[Any] | str, int]], k: int) -> pa.Array:
    """Fixed-width strings built from zero-padded numbers and literal separators."""
    width = sum(w for _, w in parts)
    chars = np.empty((k, width), np.uint8)
    pos = 0
    for part, w in parts:
        if isinstance(part, str):
            chars[:, pos] = ord(part)
        else:
            value = part
            for d in range(w - 1, -1, -1):
                chars[:, pos + d] = 48 + value % 10
                value = value // 10
        pos += w
    offsets = np.arange(0, width * (k + 1), width, dtype=np.int32)
    return pa.StringArray.from_buffers(k, pa.py_buffer(offsets), pa.py_buffer(chars))


@dataclass(slots=True)
class _Values:
    """One decoded column of one type, as numpy (``values``) before it becomes Arrow."""

    values: npt.NDArray[Any]  # numbers, or (for text/data) the span starts
    absent: npt.NDArray[np.bool_] | None  # None: present in every row
    lengths: npt.NDArray[np.int32] | None = None  # text/data span lengths


def _values(col: _Column, vals: npt.NDArray[np.int32]) -> _Values:
    """Scale / convert one slot row of the core's output (kinds with a numeric value)."""
    f = col.field
    raw = vals[col.slot]
    absent = None
    if col.conditional:
        absent = raw == _ABSENT
        if not absent.any():
            absent = None
    kind = f.kind
    if kind in ("uint", "int"):
        return _Values(raw, absent)
    if kind == "bool":
        return _Values(raw != 0, absent)
    if kind in ("udec", "sdec", "lat", "lon"):
        return _Values(raw / f.scale, absent)
    if kind in ("text", "data"):
        return _Values(raw, absent, vals[col.slot + 1])
    if kind == "turn":
        rot = raw / 4.733
        turn = np.copysign(rot * rot, raw)
        turn[raw == -128] = math.nan
        turn[raw == 127] = math.inf
        turn[raw == -127] = -math.inf
        return _Values(turn, absent)
    if kind == "timestamp":
        return _Values((raw.astype(np.int64) << 17) | vals[col.slot + 1], absent)
    return _Values(raw, absent)  # label source / eta: formatted in _arrow


def _arrow(
    col: _Column, v: _Values, vals: npt.NDArray[np.int32], arena: npt.NDArray[np.uint8]
) -> pa.Array:
    f = col.field
    kind = f.kind
    if kind in ("text", "data"):
        assert v.lengths is not None
        return _strings(arena, v.values, v.lengths, v.absent)
    if kind == "label":
        source = vals[col.slot]
        mask = source == _ABSENT if col.conditional else None
        if mask is not None and not mask.any():
            mask = None
        index = (np.where(source == _ABSENT, 0, source) if mask is not None else source).astype(
            np.int32
        )
        return pa.DictionaryArray.from_arrays(pa.array(index, mask=mask), _LABEL_ARRAYS[f.labels])
    raw = v.values
    k = len(raw)
    if kind == "eta":
        return _fixed(
            [((raw >> 16) & 15, 2), ("-", 1), ((raw >> 11) & 31, 2), ("T", 1),
             ((raw >> 6) & 31, 2), (":", 1), (raw & 63, 2), ("Z", 1)],
            k,
        )  # fmt: skip
    if kind == "timestamp":
        return _fixed(
            [((raw >> 26) & 16383, 4), ("-", 1), ((raw >> 22) & 15, 2), ("-", 1),
             ((raw >> 17) & 31, 2), ("T", 1), ((raw >> 12) & 31, 2), (":", 1),
             ((raw >> 6) & 63, 2), (":", 1), (raw & 63, 2), ("Z", 1)],
            k,
        )  # fmt: skip
    if kind == "bool":
        return pa.array(raw, pa.bool_(), mask=v.absent)
    return _numeric(raw, _ARROW_TYPES[kind], v.absent)


_ARROW_TYPES: Final = {
    "uint": pa.int32(),
    "int": pa.int32(),
    "bool": pa.bool_(),
    "udec": pa.float64(),
    "sdec": pa.float64(),
    "lat": pa.float64(),
    "lon": pa.float64(),
    "turn": pa.float64(),
}


def _common_batch(
    ok_rows: npt.NDArray[np.int64],
    common: tuple[npt.NDArray[np.int32], npt.NDArray[np.float64], npt.NDArray[np.uint8]],
    arena: npt.NDArray[np.uint8],
) -> pa.RecordBatch:
    ints, floats, valid = common
    k = len(ok_rows)
    arrays = [pa.array(ok_rows, pa.int64())]
    for field in COMMON_SCHEMA:
        if field.name == "row":
            continue
        col = _COMMON[field.name]
        validity = pa.py_buffer(valid[col.valid])  # written by the core, Arrow's layout
        if col.group == 3:
            # the core leaves a zero span where the type has no such text
            text = _strings(arena, ints[col.row], ints[col.row + 1], None)
            buffers = text.buffers()
            arrays.append(pa.StringArray.from_buffers(k, buffers[1], buffers[2], validity))
            continue
        if col.group == 2:
            data = pa.py_buffer(floats[col.row])
        elif field.type == pa.bool_():
            data = pa.py_buffer(np.packbits(ints[col.row] != 0, bitorder="little"))
        else:
            data = pa.py_buffer(ints[col.row])
        arrays.append(pa.Array.from_buffers(field.type, k, [validity, data]))
    return pa.RecordBatch.from_arrays(arrays, schema=COMMON_SCHEMA)


def decode_payloads(
    payload: bytes | bytearray | memoryview | npt.NDArray[np.uint8],
    offsets: npt.NDArray[np.int64],
    fill_bits: npt.NDArray[np.uint8],
) -> DecodedBatch:
    """Decode ``len(offsets) - 1`` payloads, ``payload[offsets[i]:offsets[i+1]]`` each.

    Never raises for bad message content: every input row is either in ``common`` (and its
    type's batch) or in ``rejected``. Raises ``ValueError`` if the offsets are malformed.
    """
    buf = np.frombuffer(payload, np.uint8) if not isinstance(payload, np.ndarray) else payload
    offs = np.ascontiguousarray(offsets, np.int64)
    fills = np.ascontiguousarray(fill_bits, np.uint8)
    status, types, bad_op, bad_raw, tables, arena, common = _payload.decode_bulk(
        buf, offs, fills, _N_COMMON_INT, _N_COMMON_FLOAT, len(COMMON_SCHEMA)
    )
    ok = status == 0
    by_type: dict[int, pa.RecordBatch] = {}
    for msgtype in sorted(tables):
        rows, vals = tables[msgtype]
        arrays = [pa.array(rows, pa.int64())]
        names = ["row"]
        for col in _LAYOUTS[msgtype]:
            arrays.append(_arrow(col, _values(col, vals), vals, arena))
            names.append(col.field.name)
        by_type[msgtype] = pa.RecordBatch.from_arrays(arrays, names=names)
    rejected = []
    for row in np.flatnonzero(~ok).tolist():
        reason = REASONS[int(status[row]) - 1]
        chunk = bytes(buf[offs[row] : offs[row + 1]])
        fill = int(fills[row])
        detail = _detail(reason, chunk, fill, int(types[row]), int(bad_op[row]), int(bad_raw[row]))
        rejected.append(PayloadReject(row, reason, detail))
    return DecodedBatch(_common_batch(np.flatnonzero(ok), common, arena), by_type, rejected)


def _gpsd_value(name: str, value: object) -> object:
    if name == "turn" and isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "fastright" if value > 0 else "fastleft"
    return value


def _pylist(column: pa.Array) -> list[Any]:
    # numpy's tolist() is several times faster than Arrow's to_pylist() for plain numbers
    if column.null_count == 0 and (
        pa.types.is_integer(column.type)
        or pa.types.is_floating(column.type)
        or pa.types.is_boolean(column.type)
    ):
        values: list[Any] = column.to_numpy(zero_copy_only=False).tolist()
    else:
        values = column.to_pylist()
    return values


def to_dicts(batch: DecodedBatch, n: int) -> list[dict[str, object] | None]:
    """Per input row (``n`` rows), the dict :func:`decode_payload` gives, or None if rejected."""
    result: list[dict[str, object] | None] = [None] * n
    for msgtype, table in batch.by_type.items():
        names = table.schema.names[1:]
        columns = [_pylist(table.column(name)) for name in names]
        if "turn" in names:
            turn = names.index("turn")
            columns[turn] = [_gpsd_value("turn", v) for v in columns[turn]]
        rows = table.column("row").to_numpy().tolist()
        conditional = any(c.conditional for c in _LAYOUTS[msgtype])
        for row, values in zip(rows, zip(*columns, strict=True), strict=True):
            if conditional:
                result[row] = {k: v for k, v in zip(names, values, strict=True) if v is not None}
            else:
                result[row] = dict(zip(names, values, strict=True))
    return result


# --- code generation -----------------------------------------------------------------------
# The bulk path runs straight-line C per message type, generated from FIELDS (no per-field
# interpretation, no branch on kinds): ``python -m mista.ais.payload`` rewrites
# ``_payload_types.h``; a test checks the committed header is what this renders.

_HEADER_PRELUDE: Final = r"""/* Generated by `python -m mista.ais.payload` from mista/ais/fields.py:
 * do not edit.
 *
 * One straight-line decoder per AIS message type (ITU-R M.1371-5 Annex 8). Each writes the
 * type's int32 slots at out[slot * stride], texts/data into the arena as (start, length),
 * and the shared columns into one row of the common tile (ti: int32, tf: float64, mask: one
 * bit per common column present). Returns 0, 2 (bad-length) or 5 (out-of-range).
 */
#ifndef MISTA_PAYLOAD_TYPES_H
#define MISTA_PAYLOAD_TYPES_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MISTA_ABSENT INT32_MIN

/* eight bytes as one big-endian word: one unaligned load and a byte swap */
static inline uint64_t mista_load_be64(const uint8_t *p) {
    uint64_t w;
    memcpy(&w, p, 8);
    return __builtin_bswap64(w);
}

/* w (1..56) bits from bit off, unsigned / two's complement */
static inline uint64_t mista_u(const uint8_t *buf, int64_t off, int w) {
    return (mista_load_be64(buf + (off >> 3)) << (off & 7)) >> (64 - w);
}

static inline int64_t mista_s(const uint8_t *buf, int64_t off, int w) {
    return ((int64_t)(mista_u(buf, off, w) << (64 - w))) >> (64 - w);
}

/* rate of turn in degrees/minute: NaN n/a, +-inf for fastright/fastleft */
static inline double mista_turn(int64_t raw) {
    double r;
    if (raw == -128) return NAN;
    if (raw == 127) return INFINITY;
    if (raw == -127) return -INFINITY;
    r = raw / 4.733;
    return raw >= 0 ? r * r : -(r * r);
}

static inline uint8_t mista_char(uint64_t v) { return (uint8_t)(v < 32 ? v + 64 : v); }

/* 6-bit text [off, end) (+ type 21's name extension from bit 272), cut at the first '@'
 * and trimmed of trailing spaces as gpsd does */
static inline void mista_text(const uint8_t *buf, int64_t nbits, int64_t off, int64_t end,
                              int ext21, uint8_t *arena, int64_t *pos, int32_t *start,
                              int32_t *len) {
    int64_t p = *pos, s = *pos, k, nchar = (end - off) / 6;
    for (k = 0; k < nchar; k++) arena[p++] = mista_char(mista_u(buf, off + 6 * k, 6));
    if (ext21 && nbits > 272)
        for (k = 0; k < (nbits - 272) / 6; k++)
            arena[p++] = mista_char(mista_u(buf, 272 + 6 * k, 6));
    for (k = s; k < p; k++)
        if (arena[k] == '@') { p = k; break; }
    while (p > s && arena[p - 1] == ' ') p--;
    *start = (int32_t)s;
    *len = (int32_t)(p - s);
    *pos = p;
}

static inline char mista_hex(uint64_t v) { return (char)(v < 10 ? '0' + v : 'a' + v - 10); }

/* bits [off, end) as gpsd's "<bits>:<hex>", left-aligned in whole bytes */
static inline void mista_data(const uint8_t *buf, int64_t off, int64_t end, uint8_t *arena,
                              int64_t *pos, int32_t *start, int32_t *len) {
    int64_t p = *pos, m = end - off, k;
    int w;
    uint64_t u;
    if (m >= 1000) arena[p++] = (uint8_t)('0' + (m / 1000) % 10);
    if (m >= 100) arena[p++] = (uint8_t)('0' + (m / 100) % 10);
    if (m >= 10) arena[p++] = (uint8_t)('0' + (m / 10) % 10);
    arena[p++] = (uint8_t)('0' + m % 10);
    arena[p++] = ':';
    for (k = 0; k < m; k += 8) {
        w = m - k >= 8 ? 8 : (int)(m - k);
        u = mista_u(buf, off + k, w) << (8 - w);
        arena[p++] = (uint8_t)mista_hex(u >> 4);
        arena[p++] = (uint8_t)mista_hex(u & 15);
    }
    *start = (int32_t)*pos;
    *len = (int32_t)(p - *pos);
    *pos = p;
}

#define MISTA_ARGS const uint8_t *buf, int64_t nbits, int32_t *out, int64_t stride, \
    uint8_t *arena, int64_t *pos, int *bad_op, int64_t *bad_raw, int32_t *ti, double *tf, \
    uint32_t *mask
"""


def _c_condition(f: Field, by_name: dict[str, Field]) -> str:
    assert f.when is not None
    src, value = f.when
    if src == "aux":
        aux = "(mista_u(buf, 8, 30) / 10000000 == 98)"
        return f"(mista_u(buf, 38, 2) == 1 && {aux} == {value})"
    if src == "bits":
        return f"(nbits >= {value})"
    cond = by_name[src]
    return f"((int64_t)mista_u(buf, {cond.offset}, {cond.width}) == {value})"


def _c_field(col: _Column, op_index: int) -> list[str]:
    """Statements decoding one field (``raw`` / ``cur`` / ``s`` / ``l`` are locals)."""
    f = col.field
    slot = col.slot
    off = "cur" if f.offset == -1 else (f"nbits - {-f.offset}" if f.offset < -1 else str(f.offset))
    common = _COMMON.get(f.name)
    code: list[str] = []
    if f.kind in ("text", "data"):
        if f.width > 0:
            end = f"{off} + {f.width}"
        elif f.width == 0:
            end = "nbits"
        else:
            end = f"nbits - {-f.width}"
        code.append(f"e = {end};")
        if f.kind == "data":
            # types 25/26: the header the flags announce (and 26's radio) must fit
            code.append(f"if (e < {off}) return 2;")
            code.append(f"mista_data(buf, {off}, e, arena, pos, &s, &l);")
        else:
            ext = 1 if f.name == "name" else 0
            code.append(f"mista_text(buf, nbits, {off}, e, {ext}, arena, pos, &s, &l);")
        code.append(f"out[{slot} * stride] = s; out[{slot + 1} * stride] = l; cur = e;")
        if common is not None:
            code.append(f"ti[{common.row}] = s; ti[{common.row + 1}] = l;")
            code.append(f"m |= 1u << {common.valid};")
        return code
    signed = f.kind in ("int", "sdec", "lat", "lon", "turn")
    read = "mista_s" if signed else "(int64_t)mista_u"
    code.append(f"raw = {read}(buf, {off}, {f.width}); cur = {off} + {f.width};")
    if f.kind in ("lat", "lon"):
        degrees = 90 if f.kind == "lat" else 180
        limit, na = round(degrees * f.scale), round((degrees + 1) * f.scale)
        code.append(f"if ((raw > {limit} || raw < -{limit}) && raw != {na}) {{")
        code.append(f"    *bad_op = {op_index}; *bad_raw = raw; return 5;")
        code.append("}")
    if f.max_value is not None:
        code.append(f"if (raw > {f.max_value}) {{")
        code.append(f"    *bad_op = {op_index}; *bad_raw = raw; return 5;")
        code.append("}")
    if f.kind == "timestamp":
        code.append(f"out[{slot} * stride] = (int32_t)(raw >> 17);")
        code.append(f"out[{slot + 1} * stride] = (int32_t)(raw & 0x1FFFF);")
    else:
        code.append(f"out[{slot} * stride] = (int32_t)raw;")
    if common is not None:
        if common.group == 2:
            value = "mista_turn(raw)" if f.kind == "turn" else f"(double)raw / {f.scale!r}"
            code.append(f"tf[{common.row}] = {value};")
        else:
            code.append(f"ti[{common.row}] = (int32_t)raw;")
        code.append(f"m |= 1u << {common.valid};")
    return code


def render_c_decoders() -> str:
    """The C of ``_payload_types.h``: one straight-line decoder per type, from FIELDS."""
    lines = [_HEADER_PRELUDE]
    op_index = 0
    for msgtype, fields in FIELDS.items():
        by_name = {f.name: f for f in fields}
        lines.append(f"static int mista_type_{msgtype}(MISTA_ARGS) {{")
        lines.append("    int64_t raw = 0, cur = 0, e = 0;")
        lines.append("    int32_t s = 0, l = 0;")
        lines.append("    uint32_t m = 0;")
        lines.append("    (void)raw; (void)cur; (void)e; (void)s; (void)l; (void)arena; (void)pos;")
        lines.append("    (void)bad_op; (void)bad_raw; (void)nbits; (void)ti; (void)tf;")
        for common in _COMMON.values():
            if common.group == 3:  # no span unless this type writes one
                lines.append(f"    ti[{common.row}] = 0; ti[{common.row + 1}] = 0;")
        for col in _LAYOUTS[msgtype]:
            index = op_index
            op_index += 1
            f = col.field
            if f.kind == "label":
                continue
            lines.append(f"    /* {f.name} */")
            body = _c_field(col, index)
            if f.when is None:
                lines.extend("    " + c for c in body)
                continue
            lines.append(f"    if {_c_condition(f, by_name)} {{")
            lines.extend("        " + c for c in body)
            lines.append("    } else {")
            lines.append(f"        out[{col.slot} * stride] = MISTA_ABSENT;")
            if f.kind in ("text", "data"):
                lines.append(f"        out[{col.slot + 1} * stride] = 0;")
            lines.append("    }")
        lines.append("    *mask = m;")
        lines.append("    return 0;")
        lines.append("}")
        lines.append("")
    lines.append("static int mista_decode_type(int t, MISTA_ARGS) {")
    lines.append("    switch (t) {")
    for msgtype in FIELDS:
        args = "buf, nbits, out, stride, arena, pos, bad_op, bad_raw, ti, tf, mask"
        lines.append(f"    case {msgtype}: return mista_type_{msgtype}({args});")
    lines.append("    default: return 1;")
    lines.append("    }")
    lines.append("}")
    lines.append("#endif")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    from pathlib import Path

    header = Path(__file__).with_name("_payload_types.h")
    header.write_text(render_c_decoders(), "utf-8")
    print(f"wrote {header}")
