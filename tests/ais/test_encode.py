"""The AIS encoder: round trips through mista's decoder and pyais, pyais's encoder byte for
byte, sentence framing through mista's framer and ingest, and hostile input."""

from __future__ import annotations

import math
from functools import reduce
from operator import xor
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyais import decode as pyais_decode
from pyais.constants import ShipType
from pyais.encode import encode_dict

from mista.ais import Framer, decode_payload
from mista.ais.encode import (
    _CLASS_A,
    _CLASS_B,
    STATIC_B_PART_A_FILL_BITS,
    STATIC_VOYAGE_FILL_BITS,
    TagBlock,
    encode_position_reports,
    encode_static_b_part_a,
    encode_static_b_part_b,
    encode_static_voyage,
    nmea_lines,
    nmea_sentences,
)
from mista.ais.fields import FIELDS
from mista.errors import InputError
from mista.ingest.nmea import nmea_batches
from mista.ingest.rows import SourceContext
from mista.labels import Label
from mista.model import SourceKind

PYAIS_SHIP_TYPES = {t.value for t in ShipType}
SIX_BIT = "@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_ !\"#$%&'()*+,-./0123456789:;<=>?"


def expected_text(text: str) -> str:
    """What a decoder shows for ``text``: capitals, '?' for '@', NUL and anything outside
    the six-bit set, trailing spaces cut."""
    kept = text.rstrip("\x00")  # numpy strings cannot hold trailing NULs
    sent = "".join(
        c.upper() if "a" <= c <= "z" else (c if c in SIX_BIT and c != "@" else "?") for c in kept
    )
    return sent.rstrip(" ")


def pyais_turn(rot: int) -> float:
    """The rate of turn pyais's encoder takes (degrees per minute) for raw ROT_AIS ``rot``."""
    return rot if rot in (-128, -127, 127) else math.copysign((rot / 4.733) ** 2, rot)


def tenths(x: float, na: float, top: int) -> float:
    return na if math.isnan(x) else min(round(x * 10), top) / 10


# --- position reports --------------------------------------------------------------------

nan = st.just(math.nan)
coordinate = st.floats(-180, 180) | nan | st.sampled_from([-180.0, 180.0, -0.00001, 0.0])
latitude = st.floats(-90, 90) | nan | st.sampled_from([-90.0, 90.0, -0.00001])
speed = st.floats(0, 150) | nan | st.sampled_from([102.2, 102.25, 0.05])
angle = st.floats(0, 359.99) | nan
report = st.fixed_dictionaries(
    {
        "msg_type": st.sampled_from([1, 2, 3, 18]),
        "mmsi": st.integers(0, 999_999_999),
        "nav_status": st.integers(0, 15),
        "rot": st.integers(-128, 127),
        "sog_kn": speed,
        "lon": coordinate,
        "lat": latitude,
        "cog": angle,
        "heading": angle,
        "second": st.integers(0, 63),
        "accuracy": st.integers(0, 1),
        "raim": st.integers(0, 1),
        "radio": st.integers(0, (1 << 19) - 1),
    }
)


def columns(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {k: np.array([r[k] for r in rows]) for k in rows[0]}


@settings(max_examples=60, deadline=None)
@given(st.lists(report, min_size=1, max_size=20))
def test_position_reports_decode_to_what_was_encoded(rows: list[dict[str, Any]]) -> None:
    payloads = encode_position_reports(**columns(rows))
    assert len(payloads) == len(rows)
    for row, payload in zip(rows, payloads, strict=True):
        assert len(payload) == 28
        ours = decode_payload(payload, 0)
        theirs = pyais_decode(f"!AIVDM,1,1,,A,{payload},0*00", error_if_checksum_invalid=False)
        theirs_d = theirs.asdict()
        lon = 181.0 if math.isnan(row["lon"]) else round(row["lon"] * 600000) / 600000
        lat = 91.0 if math.isnan(row["lat"]) else round(row["lat"] * 600000) / 600000
        cog = 360.0 if math.isnan(row["cog"]) else round(row["cog"] * 10) % 3600 / 10
        heading = 511 if math.isnan(row["heading"]) else round(row["heading"]) % 360
        expected = {
            "type": row["msg_type"],
            "mmsi": row["mmsi"],
            "speed": tenths(row["sog_kn"], 102.3, 1022),
            "course": cog,
            "heading": heading,
            "second": row["second"],
            "accuracy": bool(row["accuracy"]),
            "raim": bool(row["raim"]),
            "radio": row["radio"],
        }
        if row["msg_type"] != 18:
            expected["status"] = row["nav_status"]
        for key, value in expected.items():
            assert ours[key] == value, key
            assert theirs_d["msg_type" if key == "type" else key] == value, key
        assert ours["lon"] == pytest.approx(lon, abs=1e-6)
        assert ours["lat"] == pytest.approx(lat, abs=1e-6)
        assert theirs_d["lon"] == pytest.approx(lon, abs=1e-6)
        assert theirs_d["lat"] == pytest.approx(lat, abs=1e-6)
        if row["msg_type"] != 18:
            rot = row["rot"]
            named = {-128: "nan", -127: "fastleft", 127: "fastright"}
            turn = named.get(rot, math.copysign((rot / 4.733) ** 2, rot))
            assert ours["turn"] == pytest.approx(turn)


@settings(max_examples=40, deadline=None)
@given(st.lists(report, min_size=1, max_size=10))
def test_position_reports_match_pyais_encoder_byte_for_byte(rows: list[dict[str, Any]]) -> None:
    # pyais truncates tenths (int(x * 10)) where we round: send values whose tenths agree
    for r in rows:
        for key, top in (("sog_kn", 102.2), ("cog", 359.9)):
            r[key] = 0.0 if math.isnan(r[key]) else min(math.floor(r[key] * 10) / 10, top) + 0.04
        r["heading"] = 0 if math.isnan(r["heading"]) else int(r["heading"])
        r["lon"] = 181.0 if math.isnan(r["lon"]) else r["lon"]
        r["lat"] = 91.0 if math.isnan(r["lat"]) else r["lat"]
    rows = [r for r in rows if abs(r["lon"]) <= 180 and abs(r["lat"]) <= 90]
    if not rows:
        return
    ours = encode_position_reports(**columns(rows))
    for row, payload in zip(rows, ours, strict=True):
        fields = {
            "type": row["msg_type"], "msg_type": row["msg_type"], "mmsi": row["mmsi"],
            "status": row["nav_status"],
            "turn": pyais_turn(row["rot"]), "speed": row["sog_kn"], "accuracy": row["accuracy"],
            "lon": row["lon"], "lat": row["lat"], "course": row["cog"],
            "heading": row["heading"], "second": row["second"], "maneuver": 0,
            "raim": row["raim"], "radio": row["radio"],
        }  # fmt: skip
        if row["msg_type"] == 18:
            del fields["status"], fields["turn"], fields["maneuver"]
        (sentence,) = encode_dict(fields)
        assert sentence.split(",")[5] == payload


def test_extremes_and_not_available_values() -> None:
    payloads = encode_position_reports(
        np.array([1, 18, 3]), np.array([1, 999_999_999, 366_000_000]),
        0, np.array([-128, 0, 127]), np.array([102.2, 500.0, np.nan]),
        np.array([-180.0, 180.0, np.nan]), np.array([-90.0, 90.0, np.nan]),
        np.array([0.0, 359.96, np.nan]), np.array([np.nan, 359.6, 0.0]), 60,
    )  # fmt: skip
    a, b, c = (decode_payload(p) for p in payloads)
    assert (a["lon"], a["lat"], a["speed"], a["heading"], a["turn"]) == (
        -180.0, -90.0, 102.2, 511, "nan",
    )  # fmt: skip
    assert (b["lon"], b["lat"], b["speed"], b["course"], b["heading"]) == (
        180.0, 90.0, 102.2, 0.0, 0,
    )  # fmt: skip
    assert (c["lon"], c["lat"], c["speed"], c["course"]) == (181.0, 91.0, 102.3, 360.0)
    assert c["turn"] == "fastright"


def test_a_large_batch_is_the_same_as_one_by_one() -> None:
    rng = np.random.default_rng(4)
    n = 500
    cols = {
        "msg_type": rng.choice([1, 2, 3, 18], n), "mmsi": rng.integers(0, 10**9, n),
        "nav_status": rng.integers(0, 16, n), "rot": rng.integers(-128, 128, n),
        "sog_kn": rng.uniform(0, 30, n), "lon": rng.uniform(-180, 180, n),
        "lat": rng.uniform(-90, 90, n), "cog": rng.uniform(0, 360, n),
        "heading": rng.uniform(0, 360, n), "second": rng.integers(0, 61, n),
    }  # fmt: skip
    together = encode_position_reports(**cols)
    alone = [encode_position_reports(**{k: v[i : i + 1] for k, v in cols.items()})[0]
             for i in range(0, n, 37)]  # fmt: skip
    assert together[::37] == alone


# --- static data -------------------------------------------------------------------------

text = st.text(
    alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc")), max_size=20
) | st.text(alphabet=SIX_BIT + "abcxyz`{|}~\t", max_size=20)


@settings(max_examples=60, deadline=None)
@given(
    mmsi=st.integers(0, 999_999_999),
    imo=st.integers(0, (1 << 30) - 1),
    callsign=text.filter(lambda s: len(s) <= 7),
    name=text,
    destination=text,
    ship_type=st.integers(0, 255),
    dims=st.tuples(*[st.integers(0, 600)] * 4),
    eta=st.tuples(st.integers(0, 12), st.integers(0, 31), st.integers(0, 24), st.integers(0, 60)),
    draught=st.floats(0, 30) | nan,
    dte=st.integers(0, 1),
)
def test_static_voyage_round_trip(
    mmsi: int, imo: int, callsign: str, name: str, destination: str, ship_type: int,
    dims: tuple[int, int, int, int], eta: tuple[int, int, int, int], draught: float, dte: int,
) -> None:  # fmt: skip
    (payload,) = encode_static_voyage(
        np.array([mmsi]),
        imo,
        [callsign],
        [name],
        ship_type,
        *dims,
        *eta,
        draught,
        [destination],
        dte=dte,
    )
    assert len(payload) == 71
    ours = decode_payload(payload, STATIC_VOYAGE_FILL_BITS)
    bow, stern = min(dims[0], 511), min(dims[1], 511)
    port, starboard = min(dims[2], 63), min(dims[3], 63)
    assert ours["mmsi"] == mmsi
    assert ours["imo"] == imo
    assert ours["shiptype"] == ship_type
    assert (ours["callsign"], ours["shipname"], ours["destination"]) == (
        expected_text(callsign), expected_text(name), expected_text(destination),
    )  # fmt: skip
    assert (ours["to_bow"], ours["to_stern"], ours["to_port"], ours["to_starboard"]) == (
        bow, stern, port, starboard,
    )  # fmt: skip
    assert ours["eta"] == f"{eta[0]:02d}-{eta[1]:02d}T{eta[2]:02d}:{eta[3]:02d}Z"
    assert ours["draught"] == tenths(draught, 0.0, 255)
    assert ours["dte"] == dte
    sentences = nmea_sentences(payload, STATIC_VOYAGE_FILL_BITS, seq_id=3)
    theirs = pyais_decode(*sentences).asdict()
    assert theirs["shipname"] == expected_text(name).lstrip(" ")  # pyais strips both ends
    assert (theirs["month"], theirs["day"], theirs["hour"], theirs["minute"]) == eta
    assert (theirs["to_bow"], theirs["to_starboard"], theirs["imo"]) == (bow, starboard, imo)
    # pyais's encoder upper-cases but knows no '?' replacement, and sends ship types its
    # table does not name as 0: compare where both define the values
    six_bit_only = all(c.upper() in SIX_BIT[1:] for c in callsign + name + destination)
    if six_bit_only and ship_type in PYAIS_SHIP_TYPES:
        fields: dict[str, str | int | float | bytes | bool] = {
            "type": 5, "mmsi": mmsi, "imo": imo, "callsign": callsign, "shipname": name,
            "ship_type": ship_type, "to_bow": bow, "to_stern": stern, "to_port": port,
            "to_starboard": starboard, "epfd": 1, "month": eta[0], "day": eta[1],
            "hour": eta[2], "minute": eta[3], "draught": tenths(draught, 0.0, 255),
            "destination": destination, "dte": dte,
        }  # fmt: skip
        reference = encode_dict(fields, talker_id="AI", radio_channel="A", seq_id=3)
        assert [s.replace("AIVDO", "AIVDM")[:-2] for s in reference] == [s[:-2] for s in sentences]


def test_static_b_parts_round_trip_and_match_pyais() -> None:
    (a,) = encode_static_b_part_a(np.array([503123456]), ["Sea Wind é"])
    (b,) = encode_static_b_part_b(
        np.array([503123456]), 37, ["SRT"], ["vk1ab"], 7, 5, 2, 600, model=3, serial=12345
    )
    assert decode_payload(a, STATIC_B_PART_A_FILL_BITS)["shipname"] == "SEA WIND ?"
    part_b = decode_payload(b, 0)
    assert (part_b["shiptype"], part_b["vendorid"], part_b["callsign"]) == (37, "SRT", "VK1AB")
    assert (part_b["model"], part_b["serial"], part_b["to_starboard"]) == (3, 12345, 63)
    # pyais sends part A with 8 spare bits more (168): the first 160 bits are the same
    (ref_a,) = encode_dict({"type": 24, "mmsi": 503123456, "partno": 0, "shipname": "SEA WIND ?"})
    assert ref_a.split(",")[5][:27] == a
    ref_b_fields: dict[str, str | int | float | bytes | bool] = {
        "type": 24, "mmsi": 503123456, "partno": 1, "ship_type": 37, "vendorid": "SRT",
        "model": 3, "serial": 12345, "callsign": "VK1AB", "to_bow": 7, "to_stern": 5,
        "to_port": 2, "to_starboard": 63,
    }  # fmt: skip
    (ref_b,) = encode_dict(ref_b_fields)
    assert ref_b.split(",")[5] == b
    theirs = pyais_decode(f"!AIVDM,1,1,,A,{a},2*00", error_if_checksum_invalid=False)
    assert theirs.asdict()["shipname"] == "SEA WIND ?"


# --- sentences ---------------------------------------------------------------------------


def ingest(lines: list[str]) -> pa.Table:
    ctx = SourceContext(
        source="sim.nmea", originator="IND", label=Label.default_for("IND"),
        kind=SourceKind.AIS_TERRESTRIAL, strict=True,
    )  # fmt: skip
    data = ("\n".join(lines) + "\n").encode()
    batches = list(nmea_batches([data], ctx))
    assert all(b.rejected.num_rows == 0 for b in batches)
    return pa.concat_tables([b.messages for b in batches])


def test_tagged_lines_ingest_with_receiver_time_and_fields() -> None:
    positions = encode_position_reports(
        np.array([1, 18]), np.array([419000123, 503000456]), 5, 0, np.array([12.3, 0.0]),
        np.array([72.81, -122.5]), np.array([18.9, -33.25]), np.array([90.0, np.nan]),
        np.array([91.0, np.nan]), 30,
    )  # fmt: skip
    (static,) = encode_static_voyage(
        np.array([419000123]), 9123456, ["VWAB1"], ["ganga star"], 70, 100, 20, 5, 6,
        1, 2, 3, 4, 7.5, ["INNSA"],
    )  # fmt: skip
    lines = nmea_lines(
        [*positions, static], [0, 0, STATIC_VOYAGE_FILL_BITS],
        ["IND-ais-mumbai", "USA-sat-1", "IND-ais-mumbai"],
        np.array([1767225600, 1767225610, 1767225620]),
    )  # fmt: skip
    assert len(lines) == 4
    assert lines[2].startswith("\\s:IND-ais-mumbai,c:1767225620,g:1-2-1*")
    assert lines[3].startswith("\\g:2-2-1*")
    table = ingest(lines).to_pylist()
    assert [r["receiver"] for r in table] == ["IND-ais-mumbai", "USA-sat-1", "IND-ais-mumbai"]
    assert [int(r["received_at"].timestamp()) for r in table] == [
        1767225600, 1767225610, 1767225620,
    ]  # fmt: skip
    first, second, third = table
    assert (first["mmsi"], first["lat"], first["lon"], first["speed_kn"]) == (
        419000123, 18.9, 72.81, 12.3,
    )  # fmt: skip
    assert (first["course_deg"], first["heading_deg"], first["nav_status"]) == (90.0, 91.0, 5)
    assert (second["lat"], second["lon"], second["course_deg"], second["heading_deg"]) == (
        -33.25, -122.5, None, None,
    )  # fmt: skip
    assert (third["name"], third["callsign"], third["destination"]) == (
        "GANGA STAR", "VWAB1", "INNSA",
    )  # fmt: skip
    assert (third["imo"], third["ship_type"], third["draught_m"], third["to_bow_m"]) == (
        9123456, 70, 7.5, 100,
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["rx", "IND-ais-mumbai", "b003669794"]),
            st.integers(0, 10**10 - 1),
            st.booleans(),
        ),
        min_size=1,
        max_size=12,
    )
)
def test_bulk_lines_equal_one_by_one_and_frame_cleanly(rows: list[tuple[str, int, bool]]) -> None:
    short = encode_position_reports(np.ones(1, int), np.array([1]), 0, 0, 1.0, 2.0, 3.0, 4.0, 5, 6)
    long_ = encode_static_voyage(
        np.array([2]), 0, [""], ["X"], 0, 0, 0, 0, 0, 0, 0, 24, 60, 0, [""]
    )
    payloads = [long_[0] if is_long else short[0] for _, _, is_long in rows]
    fills = [2 if is_long else 0 for _, _, is_long in rows]
    lines = nmea_lines(payloads, fills, [r[0] for r in rows], np.array([r[1] for r in rows]))
    expected: list[str] = []
    group = 1
    for (source, t, is_long), payload, fill in zip(rows, payloads, fills, strict=True):
        tag = TagBlock(source=source, unix_s=t)
        expected += nmea_sentences(payload, fill, seq_id=group % 10 if is_long else None,
                                   tag_block=tag, group_id=group)  # fmt: skip
        group += is_long
    assert lines == expected
    framer = Framer()
    framed = framer.feed(("\n".join(lines) + "\n").encode())
    assert not framed.rejected
    assert not framer.finish().rejected
    assert len(framed) == len(rows)
    assert framed.receiver.to_pylist() == [r[0] for r in rows]
    assert framed.received_at.tolist() == [float(r[1]) for r in rows]


def test_untagged_sentences_match_pyais_framing() -> None:
    (static,) = encode_static_voyage(
        np.array([2]), 0, [""], ["X"], 0, 0, 0, 0, 0, 0, 0, 24, 60, 0, [""]
    )
    ours = nmea_sentences(static, 2, seq_id=0, channel="B", talker="AB")
    (ref,) = [encode_dict({"type": 5, "mmsi": 2, "shipname": "X", "epfd": 1, "hour": 24,
                           "minute": 60}, talker_id="AB", radio_channel="B", seq_id=0)]  # fmt: skip
    assert [s[:-2] for s in ours] == [s.replace("ABVDO", "ABVDM")[:-2] for s in ref]
    single = nmea_sentences("15M2oP0P?v<tSF0l4Q@>4;?p0000", 0)
    body = "AIVDM,1,1,,A,15M2oP0P?v<tSF0l4Q@>4;?p0000,0"
    assert single == [f"!{body}*{reduce(xor, body.encode()):02X}"]


# --- hostile input -----------------------------------------------------------------------

GOOD: dict[str, Any] = {
    "msg_type": np.array([1]), "mmsi": np.array([1]), "nav_status": 0, "rot": 0,
    "sog_kn": 1.0, "lon": 1.0, "lat": 1.0, "cog": 1.0, "heading": 1.0, "second": 1,
}  # fmt: skip


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("mmsi", np.array([-1]), "mmsi: -1 is outside"),
        ("mmsi", np.array([1_000_000_000]), "mmsi: 1000000000 is outside"),
        ("mmsi", np.array([1.5]), "not a whole number"),
        ("mmsi", np.array([np.nan]), "not a whole number"),
        ("msg_type", np.array([5]), "not a position report type"),
        ("lat", 90.5, "lat: 90.5 is outside"),
        ("lon", -180.01, "lon: -180.01 is outside"),
        ("lon", np.inf, "lon: inf is outside"),
        ("sog_kn", -0.1, "sog_kn: -0.1 is negative"),
        ("cog", np.inf, "not a finite angle"),
        ("second", 64, "second: 64 is outside"),
        ("nav_status", 16, "nav_status: 16"),
        ("rot", -129, "rot: -129"),
        ("lat", np.array([1.0, 2.0]), "expected a scalar or 1 values"),
        ("mmsi", np.array(["x"]), "expected integers"),
        ("lat", "north", "expected numbers"),
        ("mmsi", np.array([2**64 - 1], dtype=np.uint64), "mmsi: 18446744073709551615 is"),
        ("mmsi", np.array([1e30]), "mmsi: 1e.30 is outside"),
        ("second", True, None),
        ("rot", np.array([-128.0]), None),
    ],
)
def test_bad_position_input_is_refused(field: str, value: object, message: str | None) -> None:
    if message is None:  # accepted: whole floats and booleans are integers
        (payload,) = encode_position_reports(**{**GOOD, field: value})
        key, expected = {"second": ("second", 1), "rot": ("turn", "nan")}[field]
        assert decode_payload(payload)[key] == expected
        return
    with pytest.raises(InputError, match=message):
        encode_position_reports(**{**GOOD, field: value})


def test_huge_angles_wrap_instead_of_overflowing() -> None:
    big = 1.2345678901234567e21  # beyond int64 when scaled
    (payload,) = encode_position_reports(**{**GOOD, "cog": -719.5, "heading": big})
    decoded = decode_payload(payload)
    assert decoded["course"] == 0.5
    assert decoded["heading"] == round(math.fmod(big, 360)) % 360


def test_bad_static_and_sentence_input_is_refused() -> None:
    with pytest.raises(InputError, match="longer than 20 characters"):
        encode_static_b_part_a(np.array([1]), ["A" * 21])
    with pytest.raises(InputError, match="callsign: 'ABCDEFGH' is longer than 7"):
        encode_static_b_part_b(np.array([1]), 0, ["X"], ["ABCDEFGH"], 0, 0, 0, 0)
    with pytest.raises(InputError, match="eta_month: 13"):
        encode_static_voyage(np.array([1]), 0, [""], [""], 0, 0, 0, 0, 0, 13, 0, 24, 60, 0, [""])
    with pytest.raises(InputError, match="to_bow: -1"):
        encode_static_voyage(np.array([1]), 0, [""], [""], 0, -1, 0, 0, 0, 0, 0, 24, 60, 0, [""])
    with pytest.raises(InputError, match="armour set"):
        nmea_sentences("abc,", 0)
    with pytest.raises(InputError, match="fill bits 6"):
        nmea_sentences("abc", 6)
    with pytest.raises(InputError, match="tag block source"):
        nmea_sentences("abc", 0, tag_block=TagBlock(source="a,b"))
    with pytest.raises(InputError, match="armour set"):
        nmea_lines(["abc\\"], 0, "rx", 0)
    with pytest.raises(InputError, match="payloads must be strings"):
        nmea_lines(["abc", None], 0, "rx", 0)  # type: ignore[list-item]
    with pytest.raises(InputError, match="sequential message id"):
        nmea_sentences("abc", 0, seq_id=10)


def test_class_b_flags_and_radio_widths() -> None:
    a, b = encode_position_reports(
        np.array([1, 18]), np.array([1, 2]), 0, 0, 1.0, 2.0, 3.0, 4.0, 5, 6,
        cs=np.array([0, 1]), dsc=1, msg22=1, radio=np.array([(1 << 19) - 1, (1 << 20) - 1]),
    )  # fmt: skip
    class_a, class_b = decode_payload(a), decode_payload(b)
    assert class_a["radio"] == (1 << 19) - 1
    assert (class_b["cs"], class_b["display"], class_b["dsc"], class_b["msg22"]) == (
        True, False, True, True,
    )  # fmt: skip
    assert class_b["radio"] == (1 << 20) - 1
    with pytest.raises(InputError, match="19 bits of types 1, 2 and 3"):
        encode_position_reports(**{**GOOD, "radio": 1 << 19})
    with pytest.raises(InputError, match="expected one value per message"):
        encode_position_reports(**{**GOOD, "mmsi": 5})
    assert encode_position_reports(**{**GOOD, "msg_type": np.array([], int), "mmsi": []}) == []
    assert nmea_lines([], 0, "rx", 0) == []


def test_static_b_parts_ingest_as_identity_rows() -> None:
    (a,) = encode_static_b_part_a(np.array([503123456]), ["Sea Wind"])
    (b,) = encode_static_b_part_b(np.array([503123456]), 37, ["SRT"], ["VK1AB"], 7, 5, 2, 3)
    lines = nmea_lines([a, b], [STATIC_B_PART_A_FILL_BITS, 0], "AUS-ais-darwin", 1767225600)
    part_a, part_b = ingest(lines).to_pylist()
    assert (part_a["mmsi"], part_a["name"], part_a["receiver"]) == (
        503123456, "SEA WIND", "AUS-ais-darwin",
    )  # fmt: skip
    assert (part_b["callsign"], part_b["ship_type"], part_b["to_bow_m"]) == ("VK1AB", 37, 7)


@pytest.mark.parametrize(("msg_type", "layout"), [(1, _CLASS_A), (18, _CLASS_B)])
def test_position_layouts_agree_with_the_decoder_tables(
    msg_type: int, layout: tuple[tuple[int, int, str], ...]
) -> None:
    decoder_names = {"msg_type": "type", "nav_status": "status", "rot": "turn", "cog": "course"}
    decoded = {f.name: (f.offset, f.width) for f in FIELDS[msg_type]}
    for offset, width, name in layout:
        if name == "assigned":  # gpsd does not print the type 18 assigned flag
            assert (offset, width) == (146, 1)
            continue
        assert decoded[decoder_names.get(name, name)] == (offset, width), name


def test_empty_columns_give_no_payloads() -> None:
    none = np.array([], np.int64)
    n9 = (none,) * 9
    assert encode_static_voyage(none, none, [], [], *n9, np.array([]), []) == []
    assert encode_static_b_part_a(none, []) == []
    assert encode_static_b_part_b(none, none, "SIM", [], none, none, none, none) == []
