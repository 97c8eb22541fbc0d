"""Property: messages of every type pyais can encode decode in mista as pyais decodes them.

Raw field values are drawn per field of pyais's message classes (or per variant for the
types whose layout has variants), encoded with ``pyais.encode_dict``, then decoded by mista
and by pyais; every field both print is compared, with pyais's names and units mapped to
gpsd's (``ship_type`` -> ``shiptype``, year..second -> ``timestamp``, ...).
"""

from __future__ import annotations

import math
from typing import Any

import pyais
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyais.encode import encode_dict

from mista.ais.payload import OUT_OF_RANGE, PayloadError, decode_payload

TEXT = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -./"
# pyais names -> gpsd names (per type where they differ by type)
RENAMED = {"msg_type": "type", "ship_type": "shiptype", "station_type": "stationtype"}
RESERVED = {
    9: {"reserved_1": "regional"},
    18: {"reserved_1": "reserved", "reserved_2": "regional"},
    19: {"reserved_1": "reserved", "reserved_2": "regional"},
    21: {"reserved_1": "regional"},
}
# pyais gives 1/10-minute positions in minutes (raw / 10); gpsd in degrees (raw / 600)
CORNERS = ("ne_lon", "ne_lat", "sw_lon", "sw_lat")
MINUTES = {(17, "lat"), (17, "lon")} | {(t, name) for t in (22, 23) for name in CORNERS}
# pyais 3.3.1 reads type 17's position as unsigned: two's complement it back (width in bits)
PYAIS_UNSIGNED = {(17, "lon"): 18, (17, "lat"): 17}
SIMPLE_TYPES = (1, 2, 3, 4, 5, 7, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19, 20, 21, 23, 27)


def _raw(width: int, signed: bool) -> st.SearchStrategy[int]:
    if signed:
        return st.integers(-(1 << (width - 1)), (1 << (width - 1)) - 1)
    return st.integers(0, (1 << width) - 1)


def _text(chars: int) -> st.SearchStrategy[str]:
    return st.text(TEXT, min_size=0, max_size=chars)


@st.composite
def simple_message(draw: st.DrawFn, msgtype: int) -> dict[str, Any]:
    """A message of a type pyais describes with one field list."""
    cls = pyais.messages.MSG_CLASS[msgtype]
    data: dict[str, Any] = {"msg_type": msgtype}
    for field in cls.fields():
        meta = field.metadata
        if field.name == "msg_type" or meta["is_spare"]:
            continue
        width, d_type = meta["width"], meta["d_type"]
        if d_type is str:
            data[field.name] = draw(_text(20 if meta["variable_length"] else width // 6))
        elif d_type is bytes:
            data[field.name] = draw(st.binary(max_size=16))
        else:
            # positions are signed everywhere (pyais 3.3.1 reads type 17's as unsigned)
            raw = draw(_raw(width, meta["signed"] or field.name in ("lat", "lon")))
            convert = meta["to_converter"]
            data[field.name] = convert(raw) if convert else (bool(raw) if d_type is bool else raw)
    return data


@st.composite
def variant_message(draw: st.DrawFn, msgtype: int) -> dict[str, Any]:
    """A message of a type whose layout depends on a flag (6, 8, 16, 22, 24, 25, 26)."""
    data: dict[str, Any] = {
        "msg_type": msgtype,
        "repeat": draw(_raw(2, False)),
        "mmsi": draw(_raw(30, False)),
    }

    def u(width: int) -> int:
        return draw(_raw(width, False))

    if msgtype == 6:
        data |= {"seqno": u(2), "dest_mmsi": u(30), "retransmit": u(1), "dac": u(10)}
        data |= {"fi": u(6), "data": draw(st.binary(min_size=1, max_size=40))}
    elif msgtype == 8:
        data |= {"dac": u(10), "fi": u(6), "data": draw(st.binary(min_size=1, max_size=40))}
    elif msgtype == 16:
        data |= {"mmsi1": u(30), "offset1": u(12), "increment1": u(10)}
        data |= {"mmsi2": u(30), "offset2": u(12), "increment2": u(10)}
    elif msgtype == 22:
        data |= {"channel_a": u(12), "channel_b": u(12), "txrx": u(4), "power": u(1)}
        data |= {"band_a": u(1), "band_b": u(1), "zonesize": u(3)}
        if draw(st.booleans()):
            data |= {"addressed": 1, "dest1": u(30), "dest2": u(30)}
        else:
            for name, width in (("ne_lon", 18), ("ne_lat", 17), ("sw_lon", 18), ("sw_lat", 17)):
                data[name] = draw(_raw(width, True)) / 10  # pyais: minutes
    elif msgtype == 24:
        if draw(st.booleans()):
            data |= {"partno": 0, "shipname": draw(_text(20))}
        else:
            data |= {"partno": 1, "ship_type": u(8), "vendorid": draw(_text(3))}
            data |= {"model": u(4), "serial": u(20), "callsign": draw(_text(7))}
            data |= {"to_bow": u(9), "to_stern": u(9), "to_port": u(6), "to_starboard": u(6)}
    else:  # 25, 26
        addressed, structured = draw(st.booleans()), draw(st.booleans())
        data |= {"addressed": addressed, "structured": structured}
        if addressed:
            data["dest_mmsi"] = u(30)
        if structured:
            data["app_id"] = u(16)
        data["data"] = draw(st.binary(min_size=1, max_size=8 if msgtype == 25 else 60))
        if msgtype == 26:
            data["radio"] = u(20)
    return data


def _payload(sentences: list[str]) -> tuple[str, int]:
    fields = [s.split(",") for s in sentences]
    return "".join(f[5] for f in fields), int(fields[-1][6].split("*")[0])


def _same(key: str, mine: object, theirs: object) -> bool:
    if isinstance(mine, str) and key == "turn":
        return {"nan": -128, "fastleft": -127, "fastright": 127}[mine] == int(float(str(theirs)))
    if key == "turn":
        assert isinstance(mine, float)
        return round(mine) == theirs
    if isinstance(mine, str):
        # pyais also strips leading spaces; gpsd (and mista) only trailing ones
        return isinstance(theirs, str) and mine.strip() == theirs.split("@")[0].strip()
    if isinstance(mine, bool) or isinstance(theirs, bool):
        return bool(mine) == bool(theirs)
    if isinstance(mine, float):
        return math.isclose(mine, float(str(theirs)), abs_tol=1e-6)
    return mine == int(float(str(theirs)))


def check(data: dict[str, Any]) -> None:
    msgtype = data["msg_type"]
    payload, fill = _payload(encode_dict(data))
    theirs: dict[str, Any] = pyais.decode(*encode_dict(data)).asdict()
    try:
        mine = decode_payload(payload, fill)
    except PayloadError as error:
        failure = error
    else:
        compare_fields(msgtype, data, mine, theirs, (payload, fill))
        return
    assert failure.reason == OUT_OF_RANGE, failure
    lat, lon = theirs["lat"], theirs["lon"]
    if msgtype == 17:  # pyais reads these unsigned: the detail names the value instead
        assert "outside" in failure.detail
    else:
        assert (abs(lat) > 90 and lat != 91) or (abs(lon) > 180 and lon != 181), failure


def compare_fields(
    msgtype: int,
    data: dict[str, Any],
    mine: dict[str, Any],
    theirs: dict[str, Any],
    where: tuple[str, int],
) -> None:
    """Every field both decoders give, after mapping pyais's names and units to gpsd's."""
    names = RENAMED | RESERVED.get(msgtype, {})
    compared = 0
    for key, value in theirs.items():
        gpsd = names.get(key, key)
        if gpsd not in mine or value is None or gpsd in ("data", "radio"):
            continue
        if msgtype == 21 and gpsd == "name":
            # gpsd's name is the 20 characters and the extension, up to the first '@'
            value = (data["name"].ljust(20, "@") + data.get("name_ext", "")).split("@")[0]
        compared += 1
        if (msgtype, gpsd) in PYAIS_UNSIGNED:
            width = PYAIS_UNSIGNED[(msgtype, gpsd)]
            raw = round(value * 10)
            value = (raw - (1 << width) if raw >= 1 << (width - 1) else raw) / 10
        if (msgtype, gpsd) in MINUTES:
            value = value / 60
        assert _same(gpsd, mine[gpsd], value), (gpsd, mine[gpsd], value, where)
    if msgtype in (4, 11):
        stamp = "{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}Z"
        assert mine["timestamp"] == stamp.format(**theirs)
    if msgtype == 5:
        assert mine["eta"] == "{month:02d}-{day:02d}T{hour:02d}:{minute:02d}Z".format(**theirs)
    if msgtype in (6, 8, 17, 25) and isinstance(theirs.get("data"), bytes):
        nbits, hexdata = str(mine["data"]).split(":")
        assert bytes.fromhex(hexdata)[: len(theirs["data"])] == theirs["data"][: int(nbits) // 8]
    assert compared >= 3


@pytest.mark.parametrize("msgtype", SIMPLE_TYPES)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pyais_encoded_messages_decode_alike(msgtype: int, data: st.DataObject) -> None:
    check(data.draw(simple_message(msgtype)))


@pytest.mark.parametrize("msgtype", [6, 8, 16, 22, 24, 25, 26])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_pyais_encoded_variants_decode_alike(msgtype: int, data: st.DataObject) -> None:
    check(data.draw(variant_message(msgtype)))
