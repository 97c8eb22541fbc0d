"""The AIS message layouts as data: ITU-R M.1371-5, Annex 8, section 3 (messages 1-27).

Each message type is a tuple of :class:`Field` rows **in the order gpsd's AIVDM JSON prints
them** (``json_aivdm_dump`` in gpsd's ``gpsd_json.c``), not in bit order, because that order
is the output contract (dict keys, Arrow columns). Bit offsets and widths are those of the ITU
tables cited per type. The compiled decoder runs C generated from these rows
(``python -m mista.ais.payload`` writes ``_payload_types.h``; a test fails when it is stale),
and ``payload.py`` builds the dict path's op table from them at import time, so the two
cannot drift; a test checks the Arrow column names against the rows too.

Kinds (what the decoder does with the bits):

``uint`` / ``int``
    unsigned / two's-complement integer, printed as is.
``bool``
    one bit, ``true``/``false``.
``udec`` / ``sdec``
    unsigned / signed integer divided by ``scale`` (a float, e.g. speed in knots).
``lat`` / ``lon``
    signed integer divided by ``scale`` (degrees); 91 / 181 mean "not available" and any other
    value outside +-90 / +-180 rejects the message as ``out-of-range``.
``text``
    6-bit ASCII, ``width`` bits; trailing ``@`` and spaces trimmed as gpsd does.
``data``
    the remaining bits (up to ``width`` bits before the end when ``width`` < 0) as gpsd's
    ``"<bit count>:<hex>"`` string, the last byte padded with zero bits.
``turn``
    rate of turn (8-bit signed ROT_AIS): ``nan`` (-128), ``fastleft`` (-127),
    ``fastright`` (127), else sign * (ROT_AIS / 4.733)**2 degrees per minute.
``eta``
    20 bits month, day, hour, minute as gpsd's ``"MM-DDTHH:MMZ"``.
``timestamp``
    40 bits year, month, day, hour, minute, second as ``"YYYY-MM-DDTHH:MM:SSZ"``.
``label``
    not in the message: the text gpsd prints for field ``source`` (``status_text`` ...), from
    :data:`LABELS` (``labels`` names the table).

``offset`` is the first bit (0 = the first bit of the type field); ``-1`` means "right after
the previous field that is present" (types 25 and 26, whose layout shifts with the
addressed/structured flags). ``when`` makes a row conditional on an earlier integer field of
the same message (``("addressed", 1)``); the special source ``"aux"`` is true when the MMSI
is an auxiliary craft's (98MIDXXXX, type 24 part B); ``("bits", n)`` is true when the
message has at least ``n`` bits. A field that is not present is left out
of the dict and null in Arrow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

__all__ = [
    "FIELDS",
    "KINDS",
    "LABELS",
    "MAX_BITS",
    "MIN_BITS",
    "Field",
    "Kind",
]

Kind = Literal[
    "uint", "int", "bool", "udec", "sdec", "lat", "lon", "text", "data", "turn", "eta",
    "timestamp", "label",
]  # fmt: skip
KINDS: Final[tuple[str, ...]] = (
    "uint", "int", "bool", "udec", "sdec", "lat", "lon", "text", "data", "turn", "eta",
    "timestamp", "label",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class Field:
    """One row of an ITU-R M.1371-5 message table, named as gpsd names it."""

    name: str
    offset: int
    width: int
    kind: Kind
    scale: float = 1.0
    units: str = ""
    na: float | int | str | None = None  # the "not available" value as gpsd prints it
    when: tuple[str, int] | None = None
    labels: str = ""  # for kind "label": the LABELS table; the source field is `source`
    source: str = ""
    max_value: int | None = None  # a larger raw value is out-of-range (the spec defines no more)


def _f(
    name: str,
    offset: int,
    width: int,
    kind: Kind = "uint",
    scale: float = 1.0,
    units: str = "",
    na: float | int | str | None = None,
    when: tuple[str, int] | None = None,
) -> Field:
    return Field(name, offset, width, kind, scale, units, na, when)


def _label(name: str, source: str, labels: str, when: tuple[str, int] | None = None) -> Field:
    return Field(name, 0, 0, "label", when=when, labels=labels, source=source)


_HEAD: Final = (_f("type", 0, 6), _f("repeat", 6, 2), _f("mmsi", 8, 30))

# Table 45 (messages 1, 2, 3: position report, SOTDMA/ITDMA)
_POSITION_A: Final = (
    *_HEAD,
    _f("status", 38, 4, na=15),
    _label("status_text", "status", "status"),
    _f("turn", 42, 8, "turn", units="deg/min", na="nan"),
    _f("speed", 50, 10, "udec", 10.0, "kn", 102.3),
    _f("accuracy", 60, 1, "bool"),
    _f("lon", 61, 28, "lon", 600000.0, "deg", 181),
    _f("lat", 89, 27, "lat", 600000.0, "deg", 91),
    _f("course", 116, 12, "udec", 10.0, "deg", 360.0),
    _f("heading", 128, 9, units="deg", na=511),
    _f("second", 137, 6, units="s", na=60),
    _f("maneuver", 143, 2),
    _f("raim", 148, 1, "bool"),
    _f("radio", 149, 19),
)

# Table 46 (message 4: base station report; message 11: UTC/date response)
_BASE: Final = (
    *_HEAD,
    _f("timestamp", 38, 40, "timestamp", units="UTC", na="0000-00-00T24:60:60Z"),
    _f("accuracy", 78, 1, "bool"),
    _f("lon", 79, 28, "lon", 600000.0, "deg", 181),
    _f("lat", 107, 27, "lat", 600000.0, "deg", 91),
    _f("epfd", 134, 4, na=0),
    _label("epfd_text", "epfd", "epfd"),
    _f("raim", 148, 1, "bool"),
    _f("radio", 149, 19),
)

# Table 48 (message 5: ship static and voyage related data)
_STATIC: Final = (
    *_HEAD,
    _f("imo", 40, 30, na=0),
    _f("ais_version", 38, 2),
    _f("callsign", 70, 42, "text"),
    _f("shipname", 112, 120, "text"),
    _f("shiptype", 232, 8, na=0),
    _label("shiptype_text", "shiptype", "shiptype"),
    _f("to_bow", 240, 9, units="m"),
    _f("to_stern", 249, 9, units="m"),
    _f("to_port", 258, 6, units="m"),
    _f("to_starboard", 264, 6, units="m"),
    _f("epfd", 270, 4, na=0),
    _label("epfd_text", "epfd", "epfd"),
    _f("eta", 274, 20, "eta", units="UTC", na="00-00T24:60Z"),
    _f("draught", 294, 8, "udec", 10.0, "m", 0.0),
    _f("destination", 302, 120, "text"),
    _f("dte", 422, 1),
)

# Table 49 (message 6: addressed binary message)
_ADDRESSED_BINARY: Final = (
    *_HEAD,
    _f("seqno", 38, 2),
    _f("dest_mmsi", 40, 30),
    _f("retransmit", 70, 1, "bool"),
    _f("dac", 72, 10),
    _f("fid", 82, 6),
    _f("data", 88, 0, "data"),
)

# Table 50 (message 7: binary acknowledge; message 13: safety related acknowledge)
_ACK: Final = (
    *_HEAD,
    _f("mmsi1", 40, 30),
    _f("mmsi2", 72, 30),
    _f("mmsi3", 104, 30),
    _f("mmsi4", 136, 30),
)

# Table 51 (message 8: binary broadcast message)
_BROADCAST_BINARY: Final = (
    *_HEAD,
    _f("dac", 40, 10),
    _f("fid", 50, 6),
    _f("data", 56, 0, "data"),
)

# Table 52 (message 9: standard SAR aircraft position report)
_SAR: Final = (
    *_HEAD,
    _f("alt", 38, 12, units="m", na=4095),
    _f("speed", 50, 10, units="kn", na=1023),
    _f("accuracy", 60, 1, "bool"),
    _f("lon", 61, 28, "lon", 600000.0, "deg", 181),
    _f("lat", 89, 27, "lat", 600000.0, "deg", 91),
    _f("course", 116, 12, "udec", 10.0, "deg", 360.0),
    _f("second", 128, 6, units="s", na=60),
    _f("regional", 134, 8),
    _f("dte", 142, 1),
    _f("raim", 147, 1, "bool"),
    _f("radio", 148, 20),
)

# Table 53 (message 10: UTC/date inquiry)
_UTC_INQUIRY: Final = (*_HEAD, _f("dest_mmsi", 40, 30))

# Table 54 (message 12: addressed safety related message)
_SAFETY_ADDRESSED: Final = (
    *_HEAD,
    _f("seqno", 38, 2),
    _f("dest_mmsi", 40, 30),
    _f("retransmit", 70, 1, "bool"),
    _f("text", 72, 0, "text"),
)

# Table 55 (message 14: safety related broadcast message)
_SAFETY_BROADCAST: Final = (*_HEAD, _f("text", 40, 0, "text"))

# Table 56 (message 15: interrogation)
_INTERROGATION: Final = (
    *_HEAD,
    _f("mmsi1", 40, 30),
    _f("type1_1", 70, 6),
    _f("offset1_1", 76, 12),
    _f("type1_2", 90, 6),
    _f("offset1_2", 96, 12),
    _f("mmsi2", 110, 30),
    _f("type2_1", 140, 6),
    _f("offset2_1", 146, 12),
)

# Table 57 (message 16: assigned mode command); the second pair only in a 144-bit message
_SECOND_PAIR: Final = ("bits", 144)
_ASSIGNED_MODE: Final = (
    *_HEAD,
    _f("mmsi1", 40, 30),
    _f("offset1", 70, 12),
    _f("increment1", 82, 10),
    _f("mmsi2", 92, 30, when=_SECOND_PAIR),
    _f("offset2", 122, 12, when=_SECOND_PAIR),
    _f("increment2", 134, 10, when=_SECOND_PAIR),
)

# Table 58 (message 17: GNSS broadcast binary message); position in 1/10 minute
_GNSS: Final = (
    *_HEAD,
    _f("lon", 40, 18, "lon", 600.0, "deg", 181),
    _f("lat", 58, 17, "lat", 600.0, "deg", 91),
    _f("data", 80, 0, "data"),
)

# Table 59 (message 18: standard class B equipment position report)
_POSITION_B: Final = (
    *_HEAD,
    _f("reserved", 38, 8),
    _f("speed", 46, 10, "udec", 10.0, "kn", 102.3),
    _f("accuracy", 56, 1, "bool"),
    _f("lon", 57, 28, "lon", 600000.0, "deg", 181),
    _f("lat", 85, 27, "lat", 600000.0, "deg", 91),
    _f("course", 112, 12, "udec", 10.0, "deg", 360.0),
    _f("heading", 124, 9, units="deg", na=511),
    _f("second", 133, 6, units="s", na=60),
    _f("regional", 139, 2),
    _f("cs", 141, 1, "bool"),
    _f("display", 142, 1, "bool"),
    _f("dsc", 143, 1, "bool"),
    _f("band", 144, 1, "bool"),
    _f("msg22", 145, 1, "bool"),
    _f("raim", 147, 1, "bool"),
    _f("radio", 148, 20),
)

# Table 60 (message 19: extended class B equipment position report)
_POSITION_B_EXT: Final = (
    *_HEAD,
    _f("reserved", 38, 8),
    _f("speed", 46, 10, "udec", 10.0, "kn", 102.3),
    _f("accuracy", 56, 1, "bool"),
    _f("lon", 57, 28, "lon", 600000.0, "deg", 181),
    _f("lat", 85, 27, "lat", 600000.0, "deg", 91),
    _f("course", 112, 12, "udec", 10.0, "deg", 360.0),
    _f("heading", 124, 9, units="deg", na=511),
    _f("second", 133, 6, units="s", na=60),
    _f("regional", 139, 4),
    _f("shipname", 143, 120, "text"),
    _f("shiptype", 263, 8, na=0),
    _label("shiptype_text", "shiptype", "shiptype"),
    _f("to_bow", 271, 9, units="m"),
    _f("to_stern", 280, 9, units="m"),
    _f("to_port", 289, 6, units="m"),
    _f("to_starboard", 295, 6, units="m"),
    _f("epfd", 301, 4, na=0),
    _label("epfd_text", "epfd", "epfd"),
    _f("raim", 305, 1, "bool"),
    _f("dte", 306, 1),
    _f("assigned", 307, 1, "bool"),
)

# Table 61 (message 20: data link management message)
_DATALINK: Final = tuple(
    [*_HEAD]
    + [
        _f(f"{name}{i + 1}", 40 + 30 * i + off, width)
        for i in range(4)
        for name, off, width in (
            ("offset", 0, 12),
            ("number", 12, 4),
            ("timeout", 16, 3),
            ("increment", 19, 11),
        )
    ]
)

# Table 62 (message 21: aids-to-navigation report); the name extension (bits 272-359) is
# appended to the name, as gpsd does.
_ATON: Final = (
    *_HEAD,
    _f("aid_type", 38, 5),
    _label("aid_type_text", "aid_type", "aid_type"),
    _f("name", 43, 120, "text"),
    _f("lon", 164, 28, "lon", 600000.0, "deg", 181),
    _f("lat", 192, 27, "lat", 600000.0, "deg", 91),
    _f("accuracy", 163, 1, "bool"),
    _f("to_bow", 219, 9, units="m"),
    _f("to_stern", 228, 9, units="m"),
    _f("to_port", 237, 6, units="m"),
    _f("to_starboard", 243, 6, units="m"),
    _f("epfd", 249, 4, na=0),
    _label("epfd_text", "epfd", "epfd"),
    _f("second", 253, 6, units="s", na=60),
    _f("regional", 260, 8),
    _f("off_position", 259, 1, "bool"),
    _f("raim", 268, 1, "bool"),
    _f("virtual_aid", 269, 1, "bool"),
)

# Table 63 (message 22: channel management); corners in 1/10 minute
_BROADCAST: Final = ("addressed", 0)
_ADDRESSED: Final = ("addressed", 1)
_CHANNEL: Final = (
    *_HEAD,
    _f("channel_a", 40, 12),
    _f("channel_b", 52, 12),
    _f("txrx", 64, 4),
    _f("power", 68, 1, "bool"),
    _f("ne_lon", 69, 18, "sdec", 600.0, "deg", when=_BROADCAST),
    _f("ne_lat", 87, 17, "sdec", 600.0, "deg", when=_BROADCAST),
    _f("sw_lon", 104, 18, "sdec", 600.0, "deg", when=_BROADCAST),
    _f("sw_lat", 122, 17, "sdec", 600.0, "deg", when=_BROADCAST),
    _f("dest1", 69, 30, when=_ADDRESSED),
    _f("dest2", 104, 30, when=_ADDRESSED),
    _f("addressed", 139, 1, "bool"),
    _f("band_a", 140, 1, "bool"),
    _f("band_b", 141, 1, "bool"),
    _f("zonesize", 142, 3),
)

# Table 64 (message 23: group assignment command); corners in 1/10 minute
_GROUP: Final = (
    *_HEAD,
    _f("ne_lon", 40, 18, "sdec", 600.0, "deg"),
    _f("ne_lat", 58, 17, "sdec", 600.0, "deg"),
    _f("sw_lon", 75, 18, "sdec", 600.0, "deg"),
    _f("sw_lat", 93, 17, "sdec", 600.0, "deg"),
    _f("stationtype", 110, 4),
    _label("stationtype_text", "stationtype", "stationtype"),
    _f("shiptype", 114, 8, na=0),
    _label("shiptype_text", "shiptype", "shiptype"),
    _f("txrx", 144, 2),
    _f("interval", 146, 4),
    _f("quiet", 150, 4, units="min"),
)

# Tables 65-66 (message 24: static data report, part A = 0, part B = 1)
_PART_A: Final = ("partno", 0)
_PART_B: Final = ("partno", 1)
_NOT_AUX: Final = ("aux", 0)
_STATIC_B: Final = (
    *_HEAD,
    Field("partno", 38, 2, "uint", max_value=1),  # Table 65: 0 is part A, 1 part B
    _f("shipname", 40, 120, "text", when=_PART_A),
    _f("shiptype", 40, 8, na=0, when=_PART_B),
    _label("shiptype_text", "shiptype", "shiptype", when=_PART_B),
    _f("vendorid", 48, 18, "text", when=_PART_B),
    _f("model", 66, 4, when=_PART_B),
    _f("serial", 70, 20, when=_PART_B),
    _f("callsign", 90, 42, "text", when=_PART_B),
    _f("mothership_mmsi", 132, 30, when=("aux", 1)),
    _f("to_bow", 132, 9, units="m", when=_NOT_AUX),
    _f("to_stern", 141, 9, units="m", when=_NOT_AUX),
    _f("to_port", 150, 6, units="m", when=_NOT_AUX),
    _f("to_starboard", 156, 6, units="m", when=_NOT_AUX),
)

# Table 67 (message 25: single slot binary message)
_SINGLE_SLOT: Final = (
    *_HEAD,
    _f("addressed", 38, 1, "bool"),
    _f("structured", 39, 1, "bool"),
    _f("dest_mmsi", -1, 30, when=("addressed", 1)),
    _f("app_id", -1, 16, when=("structured", 1)),
    _f("data", -1, 0, "data"),
)

# Table 68 (message 26: multiple slot binary message with communications state); the last
# 20 bits are the communication state, not data.
_MULTI_SLOT: Final = (
    *_HEAD,
    _f("addressed", 38, 1, "bool"),
    _f("structured", 39, 1, "bool"),
    _f("dest_mmsi", -1, 30, when=("addressed", 1)),
    _f("app_id", -1, 16, when=("structured", 1)),
    _f("data", -1, -20, "data"),
    _f("radio", -20, 20),
)

# Table 70 (message 27: long-range AIS broadcast); position in 1/10 minute
_LONG_RANGE: Final = (
    *_HEAD,
    _f("status", 40, 4, na=15),
    _label("status_text", "status", "status"),
    _f("accuracy", 38, 1, "bool"),
    _f("lon", 44, 18, "lon", 600.0, "deg", 181),
    _f("lat", 62, 17, "lat", 600.0, "deg", 91),
    _f("speed", 79, 6, units="kn", na=63),
    _f("course", 85, 9, units="deg", na=511),
    _f("raim", 39, 1, "bool"),
    _f("gnss", 94, 1, "bool"),
)

FIELDS: Final[dict[int, tuple[Field, ...]]] = {
    1: _POSITION_A,
    2: _POSITION_A,
    3: _POSITION_A,
    4: _BASE,
    5: _STATIC,
    6: _ADDRESSED_BINARY,
    7: _ACK,
    8: _BROADCAST_BINARY,
    9: _SAR,
    10: _UTC_INQUIRY,
    11: _BASE,
    12: _SAFETY_ADDRESSED,
    13: _ACK,
    14: _SAFETY_BROADCAST,
    15: _INTERROGATION,
    16: _ASSIGNED_MODE,
    17: _GNSS,
    18: _POSITION_B,
    19: _POSITION_B_EXT,
    20: _DATALINK,
    21: _ATON,
    22: _CHANNEL,
    23: _GROUP,
    24: _STATIC_B,
    25: _SINGLE_SLOT,
    26: _MULTI_SLOT,
    27: _LONG_RANGE,
}
"""Per message type, the fields in gpsd JSON order."""

# Fewest bits a message may have (shorter: ``bad-length``), following gpsd 3.22's length
# checks in ``driver_ais.c``; a field past the end of a shorter-than-nominal message reads as
# zero bits, which is what gpsd prints (e.g. the missing mmsi2..4 of a one-ack message 7).
MIN_BITS: Final[dict[int, int]] = {
    1: 168, 2: 168, 3: 168, 4: 168, 5: 420, 6: 88, 7: 72, 8: 56, 9: 168, 10: 72,
    11: 168, 12: 72, 13: 72, 14: 40, 15: 88, 16: 96, 17: 80, 18: 168, 19: 312, 20: 72,
    21: 272, 22: 168, 23: 160, 24: 160, 25: 40, 26: 60, 27: 96,
}  # fmt: skip

# Most bits a message may have (longer: ``bad-length``), per gpsd 3.22 where it checks.
MAX_BITS: Final[dict[int, int]] = {
    6: 1008, 7: 168, 8: 1008, 12: 1008, 13: 168, 14: 1008, 15: 168, 16: 168, 17: 816,
    20: 184, 21: 360, 25: 168, 26: 1064, 27: 168,
}  # fmt: skip

_SHIP_CATEGORY: Final = (
    "all ships of this type",
    "Hazardous category A",
    "Hazardous category B",
    "Hazardous category C",
    "Hazardous category D",
    "Reserved for future use",
    "Reserved for future use",
    "Reserved for future use",
    "Reserved for future use",
    "No additional information",
)


def _ship_types() -> tuple[str, ...]:
    """Table 53 of M.1371-5 as gpsd words it (``ship_type_legends``)."""
    named = {
        30: "Fishing",
        31: "Towing",
        32: "Towing: length exceeds 200m or breadth exceeds 25m",
        33: "Dredging or underwater ops",
        34: "Diving ops",
        35: "Military ops",
        36: "Sailing",
        37: "Pleasure Craft",
        38: "Reserved",
        39: "Reserved",
        50: "Pilot Vessel",
        51: "Search and Rescue vessel",
        52: "Tug",
        53: "Port Tender",
        54: "Anti-pollution equipment",
        55: "Law Enforcement",
        56: "Spare - Local Vessel",
        57: "Spare - Local Vessel",
        58: "Medical Transport",
        59: "Ship according to RR Resolution No. 18",
    }
    groups = {
        2: "Wing in ground (WIG)",
        4: "High speed craft (HSC)",
        6: "Passenger",
        7: "Cargo",
        8: "Tanker",
        9: "Other Type",
    }
    out = ["Not available"] + ["Reserved for future use"] * 19
    for code in range(20, 100):
        if code in named:
            out.append(named[code])
        else:
            out.append(f"{groups[code // 10]} - {_SHIP_CATEGORY[code % 10]}")
    out[29] = "Wing in ground (WIG) - Reserved for future use"
    out[99] = "Other Type - no additional information"
    return tuple(out + ["INVALID SHIP TYPE"] * 156)


LABELS: Final[dict[str, tuple[str, ...]]] = {
    # Table 45, navigational status
    "status": (
        "Under way using engine",
        "At anchor",
        "Not under command",
        "Restricted manoeuverability",
        "Constrained by her draught",
        "Moored",
        "Aground",
        "Engaged in fishing",
        "Under way sailing",
        "Reserved for HSC",
        "Reserved for WIG",
        "Reserved",
        "Reserved",
        "Reserved",
        "Reserved",
        "Not defined",
    ),
    # Table 47, type of electronic position fixing device (gpsd: 9..15 "INVALID EPFD")
    "epfd": (
        "Undefined",
        "GPS",
        "GLONASS",
        "Combined GPS/GLONASS",
        "Loran-C",
        "Chayka",
        "Integrated navigation system",
        "Surveyed",
        "Galileo",
    )
    + ("INVALID EPFD",) * 7,
    "shiptype": _ship_types(),
    # Table 71, type of aids to navigation
    "aid_type": (
        "Unspecified",
        "Reference point",
        "RACON (radar transponder marking a navigation hazard)",
        "Fixed offshore structure",
        "Spare, Reserved for future use.",
        "Light, without sectors",
        "Light, with sectors",
        "Leading Light Front",
        "Leading Light Rear",
        "Beacon, Cardinal N",
        "Beacon, Cardinal E",
        "Beacon, Cardinal S",
        "Beacon, Cardinal W",
        "Beacon, Port hand",
        "Beacon, Starboard hand",
        "Beacon, Preferred Channel port hand",
        "Beacon, Preferred Channel starboard hand",
        "Beacon, Isolated danger",
        "Beacon, Safe water",
        "Beacon, Special mark",
        "Cardinal Mark N",
        "Cardinal Mark E",
        "Cardinal Mark S",
        "Cardinal Mark W",
        "Port hand Mark",
        "Starboard hand Mark",
        "Preferred Channel Port hand",
        "Preferred Channel Starboard hand",
        "Isolated danger",
        "Safe Water",
        "Special Mark",
        "Light Vessel / LANBY / Rigs",
    ),
    # Table 64, station type
    "stationtype": (
        "All types of mobiles",
        "Reserved for future use",
        "All types of Class B mobile stations",
        "SAR airborne mobile station",
        "Aid to Navigation station",
        "Class B shipborne mobile station",
    )
    + ("Regional use and inland waterways",) * 4
    + ("Reserved for future use",) * 6,
}
"""Text gpsd prints beside a coded field (``*_text``), indexed by the code."""
