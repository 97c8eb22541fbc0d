"""AIS encoding, vectorised: numpy columns in, armoured payloads and NMEA lines out (pure).

Every ``encode_*`` function takes one value per message (numpy arrays or sequences; a
scalar is used for every message; ``mmsi`` must be 1-d, it fixes the count) and returns
one armoured payload per message, in order. Layouts are those of ITU-R M.1371-5 Annex 8
(Tables 45, 48, 57 and 73), the same bit offsets ``mista.ais.fields`` decodes.

``encode_position_reports(msg_type, mmsi, nav_status, rot, sog_kn, lon, lat, cog, heading,
second, *, accuracy=0, raim=0, radio=0, maneuver=0, repeat=0, cs=0, display=0, dsc=0,
band=0, msg22=0, assigned=0) -> list[str]``
    Types 1, 2, 3 (class A; the class B flags ``cs`` ... ``assigned`` are ignored, ``radio``
    must fit 19 bits) and 18 (class B; ``nav_status``, ``rot`` and ``maneuver`` are
    ignored, ``radio`` 20 bits), mixed freely; 168 bits, 28 characters, fill bits 0.
``encode_static_voyage(mmsi, imo, callsign, name, ship_type, to_bow, to_stern, to_port,
to_starboard, eta_month, eta_day, eta_hour, eta_minute, draught_m, destination, *, epfd=1,
ais_version=0, dte=0, repeat=0) -> list[str]``
    Type 5, 424 bits, 71 characters, fill bits :data:`STATIC_VOYAGE_FILL_BITS` (2): two
    sentences each.
``encode_static_b_part_a(mmsi, name, *, repeat=0) -> list[str]``
    Type 24 part A, 160 bits, 27 characters, fill bits :data:`STATIC_B_PART_A_FILL_BITS` (2).
``encode_static_b_part_b(mmsi, ship_type, vendor_id, callsign, to_bow, to_stern, to_port,
to_starboard, *, model=0, serial=0, repeat=0) -> list[str]``
    Type 24 part B, 168 bits, 28 characters, fill bits 0.
``nmea_sentences(payload, fill, *, talker="AI", channel="A", seq_id=None, tag_block=None,
group_id=None) -> list[str]``
    One message as ``!AIVDM`` sentences (payloads over 60 characters are split), each with
    its checksum, optionally behind a ``\\s:<source>,c:<unix seconds>*hh\\`` tag block.
``nmea_lines(payloads, fill, sources, unix_s, *, talker="AI", channel="A",
first_group_id=1) -> list[str]``
    The same for many messages at once (checksums computed with numpy).

Units and "not available" values (ITU-R M.1371-5):

- ``sog_kn`` knots, rounded to 0.1; NaN is 102.3 (not available); 102.2 and more is sent
  as 102.2 ("102.2 knots or higher"); negative raises.
- ``lon`` / ``lat`` degrees, rounded to 1/10000 minute, two's complement; NaN is 181 / 91
  (not available); outside +-180 / +-90 raises.
- ``cog`` degrees, rounded to 0.1 and taken modulo 360; NaN is 360 (not available).
- ``heading`` degrees, rounded to whole degrees and taken modulo 360; NaN is 511.
- ``rot`` the raw ROT_AIS value -128..127 (-128 not available); ``second`` 0-63 (60 not
  available); ``nav_status`` 0-15.
- ``draught_m`` metres, rounded to 0.1; NaN is 0 (not available); 25.5 m and more is sent
  as 25.5. ``to_bow``/``to_stern`` 511 and ``to_port``/``to_starboard`` 63 mean "that or
  more": larger values are sent as the maximum; negative raises.
- ETA: month 1-12 (0 n/a), day 1-31 (0 n/a), hour 0-23 (24 n/a), minute 0-59 (60 n/a).
- Text (call sign 7, names and destination 20, vendor id 3 characters): six-bit ASCII
  padded with ``@``; lower-case letters are sent as capitals and any other character
  outside the six-bit set as ``?``, and so is ``@`` (decoders read it as the end of the
  text); a longer string raises.

Bad input (NaN where there is no "not available" value, out-of-range numbers, negative
MMSIs, too-long strings, wrong lengths) raises :class:`mista.errors.InputError` naming
the field and the first bad value; a payload is never built from it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from mista.ais._encode_bits import Bits, armour, broadcast_ints, six_bit_text, text_fields
from mista.errors import InputError

__all__ = [
    "MAX_SENTENCE_PAYLOAD",
    "STATIC_B_PART_A_FILL_BITS",
    "STATIC_VOYAGE_FILL_BITS",
    "TagBlock",
    "encode_position_reports",
    "encode_static_b_part_a",
    "encode_static_b_part_b",
    "encode_static_voyage",
    "nmea_lines",
    "nmea_sentences",
]

#: The most payload characters one sentence carries (keeps lines within 82 characters).
MAX_SENTENCE_PAYLOAD = 60
#: Fill bits of a type 5 payload (424 bits in 71 characters).
STATIC_VOYAGE_FILL_BITS = 2
#: Fill bits of a type 24 part A payload (160 bits in 27 characters).
STATIC_B_PART_A_FILL_BITS = 2

_MAX_MMSI = 999_999_999
_POSITION_TYPES = (1, 2, 3, 18)


@dataclass(frozen=True, slots=True)
class TagBlock:
    """An NMEA 4.0 tag block: the receiver (``s:``) and the reception time (``c:``)."""

    source: str | None = None
    unix_s: int | None = None


# --- value conversion --------------------------------------------------------------------


def _count(first: object) -> int:
    arr = np.asarray(first)
    if arr.ndim != 1:
        raise InputError(f"expected one value per message (a 1-d array), got shape {arr.shape}")
    return len(arr)


def _floats(name: str, values: object, n: int) -> npt.NDArray[np.float64]:
    arr = np.asarray(values)
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != n):
        raise InputError(f"{name}: expected a scalar or {n} values, got shape {arr.shape}")
    if arr.dtype.kind not in "fiub":
        raise InputError(f"{name}: expected numbers, got {arr.dtype}")
    return np.broadcast_to(arr.astype(np.float64), (n,))


def _first_bad(
    name: str, arr: npt.NDArray[np.float64], bad: npt.NDArray[np.bool_], why: str
) -> None:
    if bad.any():
        raise InputError(f"{name}: {float(arr[int(np.argmax(bad))])!r} {why}")


def _tenths(name: str, values: object, n: int, *, na: int, top: int) -> npt.NDArray[np.int64]:
    """Non-negative values in tenths, NaN as ``na``, anything above ``top`` as ``top``."""
    x = _floats(name, values, n)
    nan = np.isnan(x)
    _first_bad(name, x, ~nan & (x < 0), "is negative")
    raw = np.rint(np.minimum(np.where(nan, 0.0, x), top / 10.0) * 10.0)
    return np.where(nan, na, np.minimum(raw, top)).astype(np.int64)


def _coordinate(name: str, values: object, n: int, limit: int) -> npt.NDArray[np.int64]:
    """Degrees in 1/10000 minute, NaN as ``limit + 1`` degrees (not available)."""
    x = _floats(name, values, n)
    nan = np.isnan(x)
    _first_bad(name, x, ~nan & ~(np.abs(x) <= limit), f"is outside -{limit}..{limit}")
    raw = np.rint(np.where(nan, limit + 1, x) * 600000.0)
    return raw.astype(np.int64)


def _angle(name: str, values: object, n: int, scale: float, na: int) -> npt.NDArray[np.int64]:
    """Degrees times ``scale``, rounded, modulo 360 degrees; NaN as ``na``."""
    x = _floats(name, values, n)
    nan = np.isnan(x)
    _first_bad(name, x, np.isinf(x), "is not a finite angle")
    turns = np.mod(np.where(nan, 0.0, x), 360.0)  # before the cast: no int64 overflow
    raw = np.rint(turns * scale).astype(np.int64) % int(360 * scale)
    return np.where(nan, na, raw)


def _clamped(name: str, values: object, n: int, top: int) -> npt.NDArray[np.int64]:
    """Whole non-negative values, ``top`` and more sent as ``top`` ("that or more")."""
    arr = broadcast_ints(name, values, n, 0, np.iinfo(np.int64).max)
    return np.minimum(arr, top)


# --- payloads -----------------------------------------------------------------------------


# (first bit, width, column) in ITU-R M.1371-5 Table 45 (types 1, 2, 3) and Table 57 (18)
_CLASS_A: tuple[tuple[int, int, str], ...] = (
    (0, 6, "msg_type"), (6, 2, "repeat"), (8, 30, "mmsi"), (38, 4, "nav_status"),
    (42, 8, "rot"), (50, 10, "speed"), (60, 1, "accuracy"), (61, 28, "lon"), (89, 27, "lat"),
    (116, 12, "cog"), (128, 9, "heading"), (137, 6, "second"), (143, 2, "maneuver"),
    (148, 1, "raim"), (149, 19, "radio"),
)  # fmt: skip
_CLASS_B: tuple[tuple[int, int, str], ...] = (
    (0, 6, "msg_type"), (6, 2, "repeat"), (8, 30, "mmsi"), (46, 10, "speed"),
    (56, 1, "accuracy"), (57, 28, "lon"), (85, 27, "lat"), (112, 12, "cog"),
    (124, 9, "heading"), (133, 6, "second"), (141, 1, "cs"), (142, 1, "display"),
    (143, 1, "dsc"), (144, 1, "band"), (145, 1, "msg22"), (146, 1, "assigned"),
    (147, 1, "raim"), (148, 20, "radio"),
)  # fmt: skip
_CLASS_B_FLAGS = ("cs", "display", "dsc", "band", "msg22", "assigned")


def _armour_rows(
    layout: tuple[tuple[int, int, str], ...],
    columns: dict[str, npt.NDArray[np.int64]],
    rows: npt.NDArray[np.intp] | None,
) -> list[str]:
    """Payloads of ``layout`` for ``rows`` of ``columns`` (all rows when None)."""
    if rows is None:
        fields = [(off, width, columns[name]) for off, width, name in layout]
        return armour(len(columns["mmsi"]), 168, fields)
    fields = [(off, width, columns[name][rows]) for off, width, name in layout]
    return armour(len(rows), 168, fields)


def encode_position_reports(
    msg_type: object,
    mmsi: object,
    nav_status: object,
    rot: object,
    sog_kn: object,
    lon: object,
    lat: object,
    cog: object,
    heading: object,
    second: object,
    *,
    accuracy: object = 0,
    raim: object = 0,
    radio: object = 0,
    maneuver: object = 0,
    repeat: object = 0,
    cs: object = 0,
    display: object = 0,
    dsc: object = 0,
    band: object = 0,
    msg22: object = 0,
    assigned: object = 0,
) -> list[str]:
    """Position reports, types 1, 2, 3 and 18 (168 bits, 28 characters, fill bits 0).

    ``mmsi`` must be a 1-d array (it fixes the message count); the other arguments are
    arrays of that length or scalars. Units are in the module docstring. Type 18 rows
    ignore ``nav_status``, ``rot`` and ``maneuver``; types 1-3 ignore the class B flags
    ``cs`` ... ``assigned`` and need ``radio`` below 2**19.
    """
    n = _count(mmsi)
    kind = broadcast_ints("msg_type", msg_type, n, 1, 18)
    known = np.isin(kind, _POSITION_TYPES)
    if not known.all():
        bad = int(kind[~known][0])
        raise InputError(f"msg_type: {bad} is not a position report type (1, 2, 3 or 18)")
    flags = dict(zip(_CLASS_B_FLAGS, (cs, display, dsc, band, msg22, assigned), strict=True))
    columns = {
        "msg_type": kind,
        "repeat": broadcast_ints("repeat", repeat, n, 0, 3),
        "mmsi": broadcast_ints("mmsi", mmsi, n, 0, _MAX_MMSI),
        "nav_status": broadcast_ints("nav_status", nav_status, n, 0, 15),
        "rot": broadcast_ints("rot", rot, n, -128, 127),
        "speed": _tenths("sog_kn", sog_kn, n, na=1023, top=1022),
        "accuracy": broadcast_ints("accuracy", accuracy, n, 0, 1),
        "lon": _coordinate("lon", lon, n, 180),
        "lat": _coordinate("lat", lat, n, 90),
        "cog": _angle("cog", cog, n, 10.0, 3600),
        "heading": _angle("heading", heading, n, 1.0, 511),
        "second": broadcast_ints("second", second, n, 0, 63),
        "maneuver": broadcast_ints("maneuver", maneuver, n, 0, 3),
        "raim": broadcast_ints("raim", raim, n, 0, 1),
        "radio": broadcast_ints("radio", radio, n, 0, (1 << 20) - 1),
        **{name: broadcast_ints(name, v, n, 0, 1) for name, v in flags.items()},
    }
    class_b = kind == 18
    too_wide = ~class_b & (columns["radio"] >= 1 << 19)
    if too_wide.any():
        value = int(columns["radio"][int(np.argmax(too_wide))])
        raise InputError(f"radio: {value} does not fit the 19 bits of types 1, 2 and 3")
    if not class_b.any():
        return _armour_rows(_CLASS_A, columns, None)
    if class_b.all():
        return _armour_rows(_CLASS_B, columns, None)
    # a mix: each layout over its own rows, then back into input order
    rows_b = np.flatnonzero(class_b)
    rows_a = np.flatnonzero(~class_b)
    out = np.empty(n, dtype=object)
    out[rows_a] = _armour_rows(_CLASS_A, columns, rows_a)
    out[rows_b] = _armour_rows(_CLASS_B, columns, rows_b)
    payloads: list[str] = out.tolist()
    return payloads


def encode_static_voyage(
    mmsi: object,
    imo: object,
    callsign: object,
    name: object,
    ship_type: object,
    to_bow: object,
    to_stern: object,
    to_port: object,
    to_starboard: object,
    eta_month: object,
    eta_day: object,
    eta_hour: object,
    eta_minute: object,
    draught_m: object,
    destination: object,
    *,
    epfd: object = 1,
    ais_version: object = 0,
    dte: object = 0,
    repeat: object = 0,
) -> list[str]:
    """Type 5 static and voyage data (ITU-R M.1371-5 Table 48): 71 characters, fill bits 2."""
    n = _count(mmsi)
    fields: list[Bits] = [
        (0, 6, np.full(n, 5, dtype=np.int64)),
        (6, 2, broadcast_ints("repeat", repeat, n, 0, 3)),
        (8, 30, broadcast_ints("mmsi", mmsi, n, 0, _MAX_MMSI)),
        (38, 2, broadcast_ints("ais_version", ais_version, n, 0, 3)),
        (40, 30, broadcast_ints("imo", imo, n, 0, (1 << 30) - 1)),
        *text_fields(70, six_bit_text("callsign", callsign, n, 7)),
        *text_fields(112, six_bit_text("name", name, n, 20)),
        (232, 8, broadcast_ints("ship_type", ship_type, n, 0, 255)),
        (240, 9, _clamped("to_bow", to_bow, n, 511)),
        (249, 9, _clamped("to_stern", to_stern, n, 511)),
        (258, 6, _clamped("to_port", to_port, n, 63)),
        (264, 6, _clamped("to_starboard", to_starboard, n, 63)),
        (270, 4, broadcast_ints("epfd", epfd, n, 0, 15)),
        (274, 4, broadcast_ints("eta_month", eta_month, n, 0, 12)),
        (278, 5, broadcast_ints("eta_day", eta_day, n, 0, 31)),
        (283, 5, broadcast_ints("eta_hour", eta_hour, n, 0, 24)),
        (288, 6, broadcast_ints("eta_minute", eta_minute, n, 0, 60)),
        (294, 8, _tenths("draught_m", draught_m, n, na=0, top=255)),
        *text_fields(302, six_bit_text("destination", destination, n, 20)),
        (422, 1, broadcast_ints("dte", dte, n, 0, 1)),
    ]
    return armour(n, 424, fields)


def encode_static_b_part_a(mmsi: object, name: object, *, repeat: object = 0) -> list[str]:
    """Type 24 part A, the name (ITU-R M.1371-5 Table 73): 160 bits, 27 characters, fill 2."""
    n = _count(mmsi)
    fields: list[Bits] = [
        (0, 6, np.full(n, 24, dtype=np.int64)),
        (6, 2, broadcast_ints("repeat", repeat, n, 0, 3)),
        (8, 30, broadcast_ints("mmsi", mmsi, n, 0, _MAX_MMSI)),
        *text_fields(40, six_bit_text("name", name, n, 20)),
    ]
    return armour(n, 160, fields)


def encode_static_b_part_b(
    mmsi: object,
    ship_type: object,
    vendor_id: object,
    callsign: object,
    to_bow: object,
    to_stern: object,
    to_port: object,
    to_starboard: object,
    *,
    model: object = 0,
    serial: object = 0,
    repeat: object = 0,
) -> list[str]:
    """Type 24 part B (ITU-R M.1371-5 Table 73): 168 bits, 28 characters, fill bits 0.

    ``vendor_id`` is the 3-character manufacturer id; ``model`` (4 bits) and ``serial``
    (20 bits) complete the vendor field. Dimensions as in type 5 (not the mothership
    MMSI an auxiliary craft sends instead).
    """
    n = _count(mmsi)
    fields: list[Bits] = [
        (0, 6, np.full(n, 24, dtype=np.int64)),
        (6, 2, broadcast_ints("repeat", repeat, n, 0, 3)),
        (8, 30, broadcast_ints("mmsi", mmsi, n, 0, _MAX_MMSI)),
        (38, 2, np.ones(n, dtype=np.int64)),
        (40, 8, broadcast_ints("ship_type", ship_type, n, 0, 255)),
        *text_fields(48, six_bit_text("vendor_id", vendor_id, n, 3)),
        (66, 4, broadcast_ints("model", model, n, 0, 15)),
        (70, 20, broadcast_ints("serial", serial, n, 0, (1 << 20) - 1)),
        *text_fields(90, six_bit_text("callsign", callsign, n, 7)),
        (132, 9, _clamped("to_bow", to_bow, n, 511)),
        (141, 9, _clamped("to_stern", to_stern, n, 511)),
        (150, 6, _clamped("to_port", to_port, n, 63)),
        (156, 6, _clamped("to_starboard", to_starboard, n, 63)),
    ]
    return armour(n, 168, fields)


# --- sentences ----------------------------------------------------------------------------

_HEX = [f"{v:02X}" for v in range(256)]
_TALKER = re.compile(r"[A-Z0-9]{2}")
_CHANNEL = re.compile(r"[A-Za-z0-9]?")


def _xor(text: str) -> int:
    acc = 0
    for b in text.encode("ascii"):
        acc ^= b
    return acc


def _check_sentence_args(talker: str, channel: str, fill: int) -> None:
    if _TALKER.fullmatch(talker) is None:
        raise InputError(f"talker {talker!r} is not two capital letters or digits")
    if _CHANNEL.fullmatch(channel) is None:
        raise InputError(f"channel {channel!r} is not empty or one letter or digit")
    if not 0 <= fill <= 5:
        raise InputError(f"fill bits {fill} are outside 0..5")


def _tag_fields(tag_block: TagBlock | None) -> list[str]:
    if tag_block is None:
        return []
    parts = []
    if tag_block.source is not None:
        src = tag_block.source
        if (
            not src
            or len(src) > 64
            or not src.isascii()
            or not src.isprintable()
            or any(c in src for c in ",*\\!$")
        ):
            raise InputError(
                f"tag block source {src!r} must be 1-64 printable ASCII characters "
                "without , * \\ ! $"
            )
        parts.append(f"s:{src}")
    if tag_block.unix_s is not None:
        if not 0 <= tag_block.unix_s < 10**10:
            raise InputError(f"tag block time {tag_block.unix_s} is not unix seconds")
        parts.append(f"c:{int(tag_block.unix_s)}")
    return parts


def _tagged(fields: list[str], sentence: str) -> str:
    if not fields:
        return sentence
    body = ",".join(fields)
    return f"\\{body}*{_HEX[_xor(body)]}\\{sentence}"


def _check_payload(payload: str) -> None:
    if not payload:
        raise InputError("an empty payload cannot be sent")
    codes = np.frombuffer(payload.encode("ascii", "replace"), dtype=np.uint8)
    ok = ((codes >= 48) & (codes <= 87)) | ((codes >= 96) & (codes <= 119))
    if not ok.all() or not payload.isascii():
        raise InputError(f"payload {payload[:32]!r} has characters outside the AIS armour set")


def nmea_sentences(
    payload: str,
    fill: int,
    *,
    talker: str = "AI",
    channel: str = "A",
    seq_id: int | None = None,
    tag_block: TagBlock | None = None,
    group_id: int | None = None,
) -> list[str]:
    """One message as ``!<talker>VDM`` sentences with checksums, without line ends.

    A payload of more than :data:`MAX_SENTENCE_PAYLOAD` characters is split into
    fragments; ``fill`` goes on the last one (0 on the others). Fragments get the
    sequential message id ``seq_id`` (0-9; 0 when None), single sentences ``seq_id`` or
    an empty field. With ``tag_block``, the first sentence carries ``s:`` and ``c:``, and
    every fragment of a multi-sentence message a ``g:<n>-<count>-<group_id>`` group
    (``group_id`` defaults to the sequential id; mista's framer groups fragments by it).
    """
    _check_sentence_args(talker, channel, fill)
    _check_payload(payload)
    if seq_id is not None and not 0 <= seq_id <= 9:
        raise InputError(f"sequential message id {seq_id} is outside 0..9")
    parts = [
        payload[i : i + MAX_SENTENCE_PAYLOAD] for i in range(0, len(payload), MAX_SENTENCE_PAYLOAD)
    ]
    count = len(parts)
    if count > 9:
        raise InputError(f"payload of {len(payload)} characters needs more than 9 sentences")
    seq = "" if count == 1 and seq_id is None else str(seq_id or 0)
    group = (seq_id or 0) if group_id is None else group_id
    if group < 0:
        raise InputError(f"group id {group} is negative")
    tags = _tag_fields(tag_block)
    out = []
    for k, part in enumerate(parts, start=1):
        body = f"{talker}VDM,{count},{k},{seq},{channel},{part},{fill if k == count else 0}"
        sentence = f"!{body}*{_HEX[_xor(body)]}"
        fields = (tags if k == 1 else []) + (
            [f"g:{k}-{count}-{group}"] if tags and count > 1 else []
        )
        out.append(_tagged(fields, sentence))
    return out


def _xor_rows(data: bytes, offsets: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """XOR of the bytes of each row ``data[offsets[i]:offsets[i + 1]]`` (rows not empty)."""
    codes = np.frombuffer(data, dtype=np.uint8)
    return np.bitwise_xor.reduceat(codes, offsets[:-1]).astype(np.uint8)


def _digits_xor(values: npt.NDArray[np.int64]) -> npt.NDArray[np.uint8]:
    """XOR of the ASCII digits of each non-negative integer."""
    acc = np.zeros(len(values), dtype=np.int64)
    rest = values.copy()
    first = True
    while first or rest.any():
        digit = rest % 10
        acc ^= np.where((rest > 0) | first, 48 + digit, 0)
        rest //= 10
        first = False
    return acc.astype(np.uint8)


def nmea_lines(
    payloads: Sequence[str],
    fill: object,
    sources: object,
    unix_s: object,
    *,
    talker: str = "AI",
    channel: str = "A",
    first_group_id: int = 1,
) -> list[str]:
    """Tagged sentences for many messages: ``\\s:<source>,c:<unix_s>*hh\\!AIVDM,...``.

    ``fill``, ``sources`` and ``unix_s`` are one per payload or scalars. Payloads of up to
    :data:`MAX_SENTENCE_PAYLOAD` characters give one line each, checksums computed with
    numpy; longer ones go through :func:`nmea_sentences` with group ids ``first_group_id``,
    ``first_group_id + 1``, ... (their sequential ids cycle 0-9), one line per fragment.
    """
    n = len(payloads)
    if n == 0:
        return []
    _check_sentence_args(talker, channel, 0)
    fills = broadcast_ints("fill", fill, n, 0, 5)
    times = broadcast_ints("unix_s", unix_s, n, 0, 10**10 - 1)
    src = np.broadcast_to(np.asarray(sources, dtype=np.str_), (n,))
    unique, which = np.unique(src, return_inverse=True)
    names: list[str] = unique.tolist()
    for name in names:
        _tag_fields(TagBlock(source=name))
    try:
        data = "".join(payloads).encode("ascii", "replace")
    except TypeError as exc:
        raise InputError(f"payloads must be strings ({exc})") from None
    lengths = np.fromiter((len(p) for p in payloads), dtype=np.int64, count=n)
    if lengths.min() == 0:
        raise InputError("an empty payload cannot be sent")
    codes = np.frombuffer(data, dtype=np.uint8)
    if (
        len(codes) != int(lengths.sum())
        or not (((codes >= 48) & (codes <= 87)) | ((codes >= 96) & (codes <= 119))).all()
    ):
        raise InputError("a payload has characters outside the AIS armour set")
    offsets = np.concatenate([np.zeros(1, np.int64), np.cumsum(lengths)])
    head = f"{talker}VDM,1,1,,{channel},"
    sentence_xor = _xor_rows(data, offsets) ^ _xor(head) ^ _xor(",") ^ (48 + fills).astype(np.uint8)
    name_xor = np.array([_xor(f"s:{nm},c:") for nm in names], dtype=np.uint8)
    tag_xor = name_xor[which] ^ _digits_xor(times)
    single = (lengths <= MAX_SENTENCE_PAYLOAD).tolist()
    out: list[str] = []
    group = first_group_id
    for i, (p, f, nm, t, tx, sx, one) in enumerate(
        zip(
            payloads,
            fills.tolist(),
            which.tolist(),
            times.tolist(),
            tag_xor.tolist(),
            sentence_xor.tolist(),
            single,
            strict=True,
        )
    ):
        if one:
            out.append(f"\\s:{names[nm]},c:{t}*{_HEX[tx]}\\!{head}{p},{f}*{_HEX[sx]}")
        else:
            tag = TagBlock(source=str(src[i]), unix_s=t)
            out.extend(
                nmea_sentences(
                    p,
                    f,
                    talker=talker,
                    channel=channel,
                    seq_id=group % 10,
                    tag_block=tag,
                    group_id=group,
                )
            )
            group += 1
    return out
