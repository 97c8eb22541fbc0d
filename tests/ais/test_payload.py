"""The payload decoder: examples, the spec table against the output, garbage that never raises."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.ais.fields import FIELDS, LABELS, MIN_BITS
from mista.ais.payload import (
    BAD_CHARACTER,
    BAD_FILL_BITS,
    BAD_LENGTH,
    COMMON_SCHEMA,
    OUT_OF_RANGE,
    REASONS,
    UNKNOWN_TYPE,
    DecodedBatch,
    PayloadError,
    decode_payload,
    decode_payloads,
    to_dicts,
)
from mista.errors import DecodeError

# Real messages from the shared corpus (ais/bench/real_mixed.nmea), one per layout family;
# the expected values are what gpsdecode 3.22 prints for them.
TYPE1 = ("15Di=4002i<chWiba2`rPpD:04;`", 0)
TYPE4 = ("403t>B1vFhQr5`NonbBw?>G00<0n", 0)
TYPE5 = (
    "55CcP802>fv80DMSH0050thhv0lUTt0000000016;0E4@4MWNEgTjCQhD3lQ@0000000000",
    2,
)
TYPE27 = ("Kn9`@i0DCuB@o01T", 0)
TYPE18 = ("B7P?qA000:g9u0L4UKoQ3wQ4oP06", 0)
ARMOUR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"


def bulk(payloads: list[tuple[bytes, int]]) -> DecodedBatch:
    offsets = np.zeros(len(payloads) + 1, np.int64)
    np.cumsum([len(p) for p, _ in payloads], out=offsets[1:])
    fills = np.array([f & 0xFF for _, f in payloads], np.uint8)
    return decode_payloads(b"".join(p for p, _ in payloads), offsets, fills)


def test_a_position_report_decodes_as_gpsd_prints_it() -> None:
    d = decode_payload(*TYPE1)
    assert list(d) == [f.name for f in FIELDS[1]]
    assert d["mmsi"] == 357322000
    assert d["status_text"] == "Under way using engine"
    assert d["speed"] == 17.7
    assert d["course"] == 269.1
    assert round(float(str(d["lon"])), 6) == 177.331613
    assert round(float(str(d["lat"])), 6) == -37.327088
    assert d["turn"] == 0.0


def test_a_base_station_report_has_gpsd_s_timestamp() -> None:
    d = decode_payload(*TYPE4)
    assert d["timestamp"] == "2021-11-01T01:58:05Z"
    assert d["epfd_text"] == "Surveyed"


def test_static_data_texts_end_at_the_first_at_sign_as_in_gpsd() -> None:
    d = decode_payload(*TYPE5)
    assert d["callsign"] == ""  # the call sign starts with '@'
    assert isinstance(d["eta"], str)
    assert len(str(d["eta"])) == len("MM-DDTHH:MMZ")


def test_bytes_and_str_payloads_decode_alike() -> None:
    assert decode_payload(TYPE27[0].encode(), 0) == decode_payload(*TYPE27)


def test_the_field_table_orders_every_per_type_batch() -> None:
    batch = bulk([(p.encode(), f) for p, f in (TYPE1, TYPE4, TYPE5, TYPE27, TYPE18)])
    for msgtype, table in batch.by_type.items():
        assert table.schema.names == ["row"] + [f.name for f in FIELDS[msgtype]]
    assert batch.common.schema == COMMON_SCHEMA


def test_the_field_table_is_well_formed() -> None:
    assert set(FIELDS) == set(range(1, 28)) == set(MIN_BITS)
    for msgtype, fields in FIELDS.items():
        names = [f.name for f in fields]
        assert len(names) == len(set(names)), msgtype
        assert names[:3] == ["type", "repeat", "mmsi"]
        for f in fields:
            if f.kind == "label":
                assert f.source in names
                assert f.labels in LABELS
            elif f.offset >= 0 and f.width > 0:
                assert f.offset + f.width <= max(MIN_BITS[msgtype], 168) + 192, f
    for name, texts in LABELS.items():
        assert len(texts) in (16, 32, 256), name


def test_every_message_type_has_a_batch_with_its_rows() -> None:
    batch = bulk([(p.encode(), f) for p, f in (TYPE18, TYPE1, TYPE27)])
    assert batch.common.column("row").to_pylist() == [0, 1, 2]
    assert batch.common.column("type").to_pylist() == [18, 1, 27]
    assert batch.by_type[27].column("row").to_pylist() == [2]
    assert batch.rejected == []


def test_out_of_range_names_the_value() -> None:
    with pytest.raises(PayloadError) as caught:
        decode_payload("2T8Mur>pJNw77ks5q?7mdfhoOgMo", 0)  # from the corpus: lat -101.547
    assert caught.value.reason == OUT_OF_RANGE
    assert 'lat -101.5470 outside -90..90 and not the 91 "not available" value' in str(caught.value)
    assert isinstance(caught.value, DecodeError)


@pytest.mark.parametrize(
    ("payload", "fill", "reason"),
    [
        ("", 0, BAD_LENGTH),
        ("", 2, BAD_FILL_BITS),
        (TYPE1[0], 6, BAD_FILL_BITS),
        (TYPE1[0], -1, BAD_FILL_BITS),
        (TYPE1[0][:-1] + "x", 0, BAD_CHARACTER),
        (TYPE1[0][:10], 0, BAD_LENGTH),
        ("0" + TYPE1[0][1:], 0, UNKNOWN_TYPE),
        ("L" + TYPE1[0][1:], 0, UNKNOWN_TYPE),
        ("w" + TYPE1[0][1:], 0, UNKNOWN_TYPE),
    ],
)
def test_each_reason(payload: str, fill: int, reason: str) -> None:
    assert reason in REASONS
    with pytest.raises(PayloadError) as caught:
        decode_payload(payload, fill)
    assert caught.value.reason == reason
    assert caught.value.detail
    batch = bulk([(payload.encode(), fill)])
    assert [(r.row, r.reason) for r in batch.rejected] == [(0, reason)]
    assert batch.common.num_rows == 0


def test_to_dicts_gives_input_order_and_none_for_rejects() -> None:
    rows = [(TYPE1[0].encode(), 0), (b"", 0), (TYPE5[0].encode(), 2)]
    batch = bulk(rows)
    dicts = to_dicts(batch, 3)
    assert dicts[1] is None
    assert dicts[0] == decode_payload(*TYPE1)
    assert dicts[2] == decode_payload(*TYPE5)


def test_turn_is_signed_and_keeps_gpsd_s_words() -> None:
    # type 1 with ROT_AIS -20 (turning left), 127 (fastright), -128 (n/a)
    bits = {-20: None, 127: "fastright", -127: "fastleft", -128: "nan"}
    for rot, word in bits.items():
        payload = _with_bits(TYPE1[0], 42, 8, rot & 0xFF)
        d = decode_payload(payload, 0)
        if word is None:
            assert d["turn"] == -((20 / 4.733) ** 2)
        else:
            assert d["turn"] == word
        turn = bulk([(payload.encode(), 0)]).common.column("turn")[0].as_py()
        assert turn == d["turn"] or (word == "nan" and math.isnan(turn)) or math.isinf(turn)


def _with_bits(payload: str, offset: int, width: int, value: int) -> str:
    bits = "".join(f"{ARMOUR.index(c):06b}" for c in payload)
    bits = bits[:offset] + f"{value:0{width}b}" + bits[offset + width :]
    return "".join(ARMOUR[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def test_empty_input_gives_empty_batches() -> None:
    batch = decode_payloads(b"", np.zeros(1, np.int64), np.zeros(0, np.uint8))
    assert batch.common.num_rows == 0
    assert batch.by_type == {}
    assert batch.rejected == []


def test_malformed_offsets_are_a_caller_error() -> None:
    with pytest.raises(ValueError, match="offsets"):
        decode_payloads(b"abc", np.array([0, 5], np.int64), np.zeros(1, np.uint8))
    with pytest.raises(ValueError, match="offsets"):
        decode_payloads(b"abc", np.array([2, 1], np.int64), np.zeros(1, np.uint8))


# --- garbage ---------------------------------------------------------------------------------

armoured = st.text(ARMOUR, max_size=200)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.binary(max_size=120), armoured.map(str.encode)),
            st.integers(0, 255),
        ),
        max_size=40,
    )
)
def test_garbage_never_raises_and_every_row_is_accounted_for(
    rows: list[tuple[bytes, int]],
) -> None:
    batch = bulk(rows)
    decoded = set(batch.common.column("row").to_pylist())
    rejected = {r.row for r in batch.rejected}
    assert decoded.isdisjoint(rejected)
    assert decoded | rejected == set(range(len(rows)))
    assert all(r.reason in REASONS and r.detail for r in batch.rejected)
    for table in batch.by_type.values():
        assert set(table.column("row").to_pylist()) <= decoded
    singles: list[dict[str, object] | None] = []
    for payload, fill in rows:
        try:
            singles.append(decode_payload(payload, fill))
        except PayloadError:
            singles.append(None)
    bulk_dicts = to_dicts(batch, len(rows))
    for a, b in zip(bulk_dicts, singles, strict=True):
        assert (a is None) == (b is None)
        if a is not None and b is not None:
            assert list(a) == list(b)


@pytest.mark.parametrize("payload", [TYPE1[0], TYPE5[0], TYPE27[0], TYPE18[0]])
def test_every_truncation_and_fill_is_decoded_or_rejected(payload: str) -> None:
    rows = [(payload[:cut].encode(), fill) for cut in range(len(payload) + 1) for fill in range(8)]
    batch = bulk(rows)
    assert batch.common.num_rows + len(batch.rejected) == len(rows)
    reasons = {r.reason for r in batch.rejected}
    assert reasons <= {BAD_LENGTH, BAD_FILL_BITS}


def test_common_columns_use_gpsd_units() -> None:
    batch = bulk([(TYPE27[0].encode(), 0), (TYPE1[0].encode(), 0)])
    common = batch.common.to_pylist()
    assert common[0]["speed"] == 0.0
    assert common[0]["type"] == 27
    assert common[1]["speed"] == 17.7
    assert common[1]["shipname"] is None
    assert batch.common.column("speed").type == pa.float64()


def test_the_generated_c_decoders_match_the_field_table() -> None:
    from pathlib import Path

    from mista.ais import payload

    header = Path(payload.__file__).with_name("_payload_types.h").read_text("utf-8")
    assert header == payload.render_c_decoders(), (
        "fields.py changed: run `python -m mista.ais.payload` and rebuild the extension"
    )


# Type 24 part numbers 2 and 3 (line noise in exactEarth logs): Table 65 defines 0 and 1.
PART_2 = b"HqrfegcW5;;=eCmP4>noLD6SiJ8N"
GOOD_POSITION = b"15Di=4002i<chWiba2`rPpD:04;`"


def test_type24_part_number_2_is_out_of_range_on_both_paths() -> None:
    with pytest.raises(PayloadError, match="partno 2 is not defined"):
        decode_payload(PART_2)
    offsets = np.array([0, len(PART_2), len(PART_2) + len(GOOD_POSITION)], np.int64)
    batch = decode_payloads(PART_2 + GOOD_POSITION, offsets, np.zeros(2, np.uint8))
    assert [(r.row, r.reason) for r in batch.rejected] == [(0, "out-of-range")]
    assert batch.common.column("row").to_pylist() == [1]
    assert 24 not in batch.by_type
    assert [None if d is None else d["type"] for d in to_dicts(batch, 2)] == [None, 1]
