"""NMEA framing: one example per rule (line formats, assembly, expiry, reject reasons)."""

from __future__ import annotations

import math
from functools import reduce
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from mista.ais import framing
from mista.ais.framing import (
    MAX_LINE_BYTES,
    REASONS,
    REJECT_CHECKSUM,
    REJECT_INCOMPLETE_MULTIPART,
    REJECT_MALFORMED,
    REJECT_ORPHAN_FRAGMENT,
    REJECT_TAG_BLOCK,
    REJECT_TOO_LONG,
    FramedBatch,
    Framer,
    concat_batches,
    frame_lines,
)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ais-framing.md"
PAYLOAD = "15N0>s?P00G?k7RKAC4h;ww00@C:"


def xor(body: str) -> str:
    return f"{reduce(lambda a, c: a ^ c, body.encode(), 0):02X}"


def sentence(
    payload: str = PAYLOAD,
    *,
    total: int = 1,
    num: int = 1,
    seq: str = "",
    chan: str = "B",
    fill: int = 0,
    talker: str = "AI",
    kind: str = "VDM",
) -> str:
    body = f"{talker}{kind},{total},{num},{seq},{chan},{payload},{fill}"
    return f"!{body}*{xor(body)}"


def tag(fields: str) -> str:
    return f"\\{fields}*{xor(fields)}\\"


def frame(text: str | bytes, **kwargs: int) -> FramedBatch:
    """Feed everything at once, then finish, as one batch."""
    data = text.encode() if isinstance(text, str) else text
    f = Framer(**kwargs)
    return concat_batches([f.feed(data), f.finish()])


def payloads(b: FramedBatch) -> list[bytes]:
    return [b.payload_at(i) for i in range(len(b))]


def reasons(b: FramedBatch) -> list[str]:
    return [r.reason for r in b.rejected]


# --------------------------------------------------------------------------- sentences


def test_one_sentence_gives_every_column() -> None:
    line = sentence(fill=2, chan="A")
    b = frame(line + "\n")
    assert len(b) == 1
    assert payloads(b) == [PAYLOAD.encode()]
    assert b.payload_offsets.dtype == np.int64
    assert b.payload_offsets.tolist() == [0, len(PAYLOAD)]
    assert b.fill_bits.dtype == np.uint8
    assert b.fill_bits.tolist() == [2]
    assert b.line_no.tolist() == [1]
    assert math.isnan(b.received_at[0])
    for column in (b.receiver, b.raw, b.talker, b.channel):
        assert column.type == pa.string()
        assert len(column) == 1
    assert b.receiver.to_pylist() == [None]
    assert b.raw.to_pylist() == [line]
    assert b.talker.to_pylist() == ["AI"]
    assert b.channel.to_pylist() == ["A"]
    assert b.own_ship.tolist() == [False]
    assert b.rejected == []
    assert b.skipped == {}
    assert b.lines == 1


@pytest.mark.parametrize("talker", ["AI", "AB", "BS", "SA", "WS"])
def test_any_talker_and_own_ship_vdo(talker: str) -> None:
    b = frame(f"{sentence(talker=talker)}\n{sentence(talker=talker, kind='VDO', chan='')}\n")
    assert b.talker.to_pylist() == [talker, talker]
    assert b.own_ship.tolist() == [False, True]
    assert b.channel.to_pylist() == ["B", None]


def test_lowercase_checksum_and_crlf_and_no_final_newline() -> None:
    body = f"AIVDM,1,1,,A,{PAYLOAD},0"
    line = f"!{body}*{xor(body).lower()}"
    b = frame(f"{line}\r\n{sentence()}")
    assert len(b) == 2
    assert b.raw.to_pylist()[0] == line  # the CR is not part of the raw line
    assert b.lines == 2


def test_checksum_mismatch_names_both_values() -> None:
    good = sentence()
    bad = good[:-2] + ("00" if good[-2:] != "00" else "01")
    b = frame(bad + "\n")
    assert len(b) == 0
    (r,) = b.rejected
    assert r.reason == REJECT_CHECKSUM
    assert r.detail == f"checksum {bad[-2:]} does not match computed {good[-2:]}"
    assert r.line_no == 1
    assert r.raw == bad


def _signed(body: str) -> str:
    return f"!{body}*{xor(body)}"


@pytest.mark.parametrize(
    ("line", "detail_part"),
    [
        (_signed("AIVDM,1,1,,B,,0"), "empty payload"),
        (_signed(f"AIVDM,1,1,,B,{PAYLOAD},6"), "fill bits '6'"),
        (_signed(f"AIVDM,1,1,,B,{PAYLOAD},"), "fill bits ''"),
        (_signed(f"AIVDM,x,1,,B,{PAYLOAD},0"), "fragment count 'x'"),
        (_signed(f"AIVDM,2,3,,B,{PAYLOAD},0"), "fragment number '3'"),
        (_signed(f"AIVDM,1,1,a,B,{PAYLOAD},0"), "sequential message id 'a'"),
        (_signed(f"AIVDM,1,1,,AB,{PAYLOAD},0"), "channel 'AB'"),
        (_signed("AIVDM,1,1,,B,15N0|s?P,0"), "payload character '|' at position 5"),
        (_signed(f"AIVDM,1,1,,B,{PAYLOAD}"), "5 fields"),
        (_signed(f"AIVDM,1,1,,B,{PAYLOAD},0,0,0"), "8 fields"),
        (_signed(f"=IVDM,1,1,,B,{PAYLOAD},0"), "talker '=I'"),
        (_signed(f"--VDM,1,1,,B,{PAYLOAD},0"), "talker '--'"),
        (f"!AIVDM,1,1,,B,{PAYLOAD},0", "no *hh checksum"),
        (f"!AIVDM,1,1,,B,{PAYLOAD},0*G1", "'G1' is not hexadecimal"),
        (sentence() + "junk", "unexpected text 'junk' after the checksum"),
        ("xyz " + sentence(), "unexpected text"),
        ("!AIVDM,1,1,,B,15N0\x00s?P,0*00", "byte 0x00 at column 19"),
        (b"!AIVDM,1,1,,B,\xc3\xa9,0*00", "byte 0xC3 at column 15"),
    ],
)
def test_malformed_sentences_say_what_is_wrong(line: str | bytes, detail_part: str) -> None:
    data = line.encode() if isinstance(line, str) else line
    b = frame(data + b"\n")
    assert len(b) == 0
    (r,) = b.rejected
    assert r.reason == REJECT_MALFORMED, r
    assert detail_part in r.detail
    assert r.line_no == 1


def test_signalk_extra_field_takes_the_last_as_fill_bits() -> None:
    # signalk logs: !AIVDM,1,1,1,,<payload>,0,0*1C (one field more than NMEA)
    b = frame(_signed(f"AIVDM,1,1,1,,{PAYLOAD},0,2") + "\n")
    assert payloads(b) == [PAYLOAD.encode()]
    assert b.fill_bits.tolist() == [2]
    assert b.channel.to_pylist() == [None]


def test_channel_digits_and_zero_are_kept() -> None:
    b = frame("\n".join(sentence(chan=c) for c in ("1", "2", "0")) + "\n")
    assert b.channel.to_pylist() == ["1", "2", "0"]


# --------------------------------------------------------------------------- multipart


def test_multipart_is_joined_with_last_fill_and_first_line() -> None:
    one = sentence("53", total=2, num=1, seq="3", fill=0)
    two = sentence("88", total=2, num=2, seq="3", fill=2)
    b = frame(f"{one}\n{two}\n")
    assert payloads(b) == [b"5388"]
    assert b.fill_bits.tolist() == [2]
    assert b.line_no.tolist() == [1]
    assert b.raw.to_pylist() == [f"{one}\n{two}"]
    assert b.rejected == []


def test_interleaved_multipart_by_sequence_and_channel() -> None:
    lines = [
        sentence("A1", total=2, num=1, seq="1", chan="A"),
        sentence("B1", total=3, num=1, seq="2", chan="A"),
        sentence("C1", total=2, num=1, seq="1", chan="B"),
        sentence("S"),
        sentence("B2", total=3, num=2, seq="2", chan="A"),
        sentence("C2", total=2, num=2, seq="1", chan="B"),
        sentence("A2", total=2, num=2, seq="1", chan="A"),
        sentence("B3", total=3, num=3, seq="2", chan="A"),
    ]
    b = frame("\n".join(lines) + "\n")
    assert payloads(b) == [b"S", b"C1C2", b"A1A2", b"B1B2B3"]
    assert b.line_no.tolist() == [4, 3, 1, 2]
    assert b.rejected == []


def test_receiver_is_part_of_the_key() -> None:
    lines = [
        tag("s:r1") + sentence("A1", total=2, num=1, seq="1"),
        tag("s:r2") + sentence("B1", total=2, num=1, seq="1"),
        tag("s:r1") + sentence("A2", total=2, num=2, seq="1"),
        tag("s:r2") + sentence("B2", total=2, num=2, seq="1"),
    ]
    b = frame("\n".join(lines) + "\n")
    assert payloads(b) == [b"A1A2", b"B1B2"]
    assert b.receiver.to_pylist() == ["r1", "r2"]


def test_tag_block_group_assembles_without_repeating_the_source() -> None:
    # as in the exactEarth tag-block log: only the first fragment carries s: and c:
    lines = [
        tag("g:1-2-3985,s:rEV02,c:1334337317") + sentence("58", total=2, num=1, seq="9"),
        tag("s:rEV02,c:1334337318") + sentence("13"),
        tag("g:2-2-3985") + sentence("PF", total=2, num=2, seq="9", fill=2),
    ]
    b = frame("\n".join(lines) + "\n")
    assert payloads(b) == [b"13", b"58PF"]
    assert b.receiver.to_pylist() == ["rEV02", "rEV02"]
    assert b.received_at.tolist() == [1334337318.0, 1334337317.0]
    assert b.fill_bits.tolist() == [0, 2]


def test_group_expires_after_max_pending_sentences() -> None:
    lines = [sentence("A1", total=2, num=1, seq="1")] + [sentence("S")] * 3
    b = frame("\n".join(lines) + "\n", max_pending_sentences=2)
    assert payloads(b) == [b"S"] * 3
    (r,) = b.rejected
    assert r.reason == REJECT_INCOMPLETE_MULTIPART
    assert r.line_no == 1
    assert "not completed within 2 further sentences" in r.detail
    assert r.raw == lines[0]
    # the rejection comes when the third sentence passes, not at the end
    f = Framer(max_pending_sentences=2)
    assert f.feed(("\n".join(lines[:3]) + "\n").encode()).rejected == []
    assert reasons(f.feed((lines[3] + "\n").encode())) == [REJECT_INCOMPLETE_MULTIPART]


def test_group_within_max_pending_sentences_completes() -> None:
    lines = [sentence("A1", total=2, num=1, seq="1"), sentence("S"), sentence("S")]
    lines.append(sentence("A2", total=2, num=2, seq="1"))
    text = "\n".join(lines) + "\n"
    assert payloads(frame(text, max_pending_sentences=3)) == [b"S", b"S", b"A1A2"]
    # with 2, the last fragment comes one sentence too late
    late = frame(text, max_pending_sentences=2)
    assert payloads(late) == [b"S", b"S"]
    assert reasons(late) == [REJECT_INCOMPLETE_MULTIPART, REJECT_ORPHAN_FRAGMENT]


def test_new_fragment_one_supersedes_an_open_group() -> None:
    lines = [
        sentence("R1", total=3, num=1, seq="4"),
        sentence("R2", total=3, num=2, seq="4"),
        sentence("Q1", total=2, num=1, seq="4"),
        sentence("Q2", total=2, num=2, seq="4"),
    ]
    b = frame("\n".join(lines) + "\n")
    assert payloads(b) == [b"Q1Q2"]
    assert [(r.line_no, r.reason) for r in b.rejected] == [
        (1, REJECT_INCOMPLETE_MULTIPART),
        (2, REJECT_INCOMPLETE_MULTIPART),
    ]
    assert "superseded by a new fragment 1 on line 3" in b.rejected[0].detail
    assert [r.raw for r in b.rejected] == lines[:2]


def test_orphan_fragment() -> None:
    b = frame(sentence("Q2", total=2, num=2, seq="7", chan="A") + "\n")
    (r,) = b.rejected
    assert r.reason == REJECT_ORPHAN_FRAGMENT
    assert r.detail == "fragment 2 of 2 (sequence 7, channel A) has no open group"


def test_missing_middle_fragment_breaks_the_group() -> None:
    lines = [sentence("R1", total=3, num=1, seq="4"), sentence("R3", total=3, num=3, seq="4")]
    b = frame("\n".join(lines) + "\n")
    assert len(b) == 0
    assert reasons(b) == [REJECT_INCOMPLETE_MULTIPART, REJECT_ORPHAN_FRAGMENT]
    assert "broken by fragment 3 of 3 on line 2" in b.rejected[0].detail


def test_finish_flushes_open_groups_as_incomplete() -> None:
    f = Framer()
    first = f.feed((sentence("A1", total=2, num=1, seq="1") + "\n").encode())
    assert len(first) == 0
    assert first.rejected == []
    last = f.finish()
    (r,) = last.rejected
    assert r.reason == REJECT_INCOMPLETE_MULTIPART
    assert "open at the end of input" in r.detail
    assert last.lines == 0


def test_finish_frames_the_partial_last_line() -> None:
    f = Framer()
    assert len(f.feed(sentence()[:20].encode())) == 0
    b = f.feed(sentence()[20:].encode())
    assert len(b) == 0
    assert b.lines == 0
    last = f.finish()
    assert payloads(last) == [PAYLOAD.encode()]
    assert last.lines == 1


def test_finish_makes_the_framer_ready_for_a_new_stream() -> None:
    f = Framer()
    f.feed(f"{sentence()}\n{sentence('A1', total=2, num=1, seq='1')}\n".encode())
    f.finish()
    b = f.feed(f"# next file\n{sentence('A2', total=2, num=2, seq='1')}\n".encode())
    assert b.line_no.tolist() == []
    assert [(r.line_no, r.reason) for r in b.rejected] == [(2, REJECT_ORPHAN_FRAGMENT)]


def test_several_sentences_on_one_line() -> None:
    # gfw ais-tools logs write both fragments of a message on one line
    line = (
        tag("s:rMT2083,c:1698785948")
        + sentence("53", total=2, num=1, seq="8", talker="AB", chan="A")
        + tag("s:rMT2083,c:1698785947")
        + sentence("88", total=2, num=2, seq="8", chan="A", fill=2)
    )
    b = frame(line + "\n")
    assert payloads(b) == [b"5388"]
    assert b.raw.to_pylist() == [line]
    assert b.talker.to_pylist() == ["AB"]
    assert b.received_at.tolist() == [1698785948.0]
    assert b.lines == 1


# --------------------------------------------------------------------------- tag blocks


def test_tag_block_time_and_source() -> None:
    lines = [
        tag("s:rORBCOMM008,c:1418169601,T:2014-12-10 00.00.01") + sentence(),
        tag("c:1327992119173") + sentence(),  # 13 digits: milliseconds
    ]
    b = frame("\n".join(lines) + "\n")
    assert b.receiver.to_pylist() == ["rORBCOMM008", None]
    assert b.received_at.tolist() == [1418169601.0, 1327992119.173]


@pytest.mark.parametrize(
    ("line", "detail_part"),
    [
        ("\\c:1420030798*00\\" + sentence(), "tag block checksum 00 does not match computed"),
        ("\\c:1420030798*00" + sentence(), "no closing backslash"),
        ("\\c:1420030798\\" + sentence(), "has no *hh checksum"),
        (tag("c:14200x") + sentence(), "c:14200x is not a number"),
        (tag("g:1-x-3") + sentence(), "g:1-x-3 is not"),
        (tag("g:3-2-3") + sentence(), "g:3-2-3 is not"),
        (tag("nokey") + sentence(), "'nokey' is not key:value"),
        (tag("s:") + sentence(), "s: is empty"),
    ],
)
def test_bad_tag_blocks(line: str, detail_part: str) -> None:
    b = frame(line + "\n")
    assert len(b) == 0
    (r,) = b.rejected
    assert r.reason == REJECT_TAG_BLOCK
    assert detail_part in r.detail


def test_tag_block_alone_is_metadata() -> None:
    b = frame("\\si:AISD*3F\\\n" + sentence() + "\n")
    assert len(b) == 1
    assert b.skipped == {"tag-block": 1}


# --------------------------------------------------------------------------- receiver logs


def test_epoch_prefix() -> None:
    b = frame("1452468552.938 " + sentence() + "\n")
    assert b.received_at.tolist() == [1452468552.938]
    assert b.raw.to_pylist() == ["1452468552.938 " + sentence()]


def test_exact_earth_millisecond_suffix() -> None:
    b = frame(sentence() + ",1327992119173\n")
    assert b.received_at.tolist() == [1327992119.173]
    assert b.receiver.to_pylist() == [None]


@pytest.mark.parametrize(
    ("suffix", "receiver", "at"),
    [
        (",r003669946,1325394060,1325394001", "r003669946", 1325394060.0),
        (",b003669794,1272412827", "b003669794", 1272412827.0),
        (",d-109,S2105,t050056.00,T56.137,r003669946,1325394060,1325394001", "r003669946",
         1325394060.0),
        (",rb03660465,1152921694", "rb03660465", 1152921694.0),
        (",d-100", None, math.nan),
        (",s29534", None, math.nan),
    ],
)  # fmt: skip
def test_libais_and_noaadata_suffixes(suffix: str, receiver: str | None, at: float) -> None:
    b = frame(sentence() + suffix + "\n")
    assert b.receiver.to_pylist() == [receiver]
    assert b.received_at[0] == at or (math.isnan(at) and math.isnan(b.received_at[0]))


def _pghp(fields: str) -> str:
    body = f"PGHP,{fields}"
    return f"${body}*{xor(body)}"


def test_gatehouse_pghp_gives_time_and_station_to_the_next_sentence_only() -> None:
    lines = [
        "\\si:AISD*3F\\",
        _pghp("1,2014,10,2,16,30,3,887,219,1,992190917,1,7B"),
        sentence(),
        sentence(),
        _pghp("1,2014,10,2,16,30,4,137,219,,,1,62"),
        "",
        sentence(),
    ]
    b = frame("\n".join(lines) + "\n")
    assert b.received_at[0] == pytest.approx(1412267403.887)
    assert math.isnan(b.received_at[1])
    assert b.received_at[2] == pytest.approx(1412267404.137)
    assert b.receiver.to_pylist() == ["992190917", None, None]
    assert b.skipped == {"tag-block": 1, "nmea:PGHP": 2, "blank": 1}


def test_own_time_wins_over_pghp() -> None:
    lines = [_pghp("1,2014,10,2,16,30,3,887,219,1,992190917,1,7B"), sentence() + ",1411920140"]
    b = frame("\n".join(lines) + "\n")
    assert b.received_at.tolist() == [1411920140.0]
    assert b.receiver.to_pylist() == ["992190917"]


def test_pghp_with_bad_checksum_is_rejected() -> None:
    b = frame("$PGHP,1,2009,5,9,0,0,0,10,338,2,,1,09*17\n" + sentence() + "\n")
    assert reasons(b) == [REJECT_CHECKSUM]
    assert math.isnan(b.received_at[0])


def test_non_ais_lines_are_skipped_by_kind() -> None:
    text = "\n".join(
        [
            "# a comment",
            "",
            "   ",
            "Virtual AIS Receiver Stream Broadcast v1.1.0 <DEMO>",
            "$GPGGA,000000.00,3349.2466,S,15117.3888,E,2,08,1.00,19,M,023,M,,*4F",
            "$BSALR,,006,V,V,general failure*62",
            "!AIPWR,UNIT=0,PWV",
            "$=IALR,,,,,*07",
            sentence(),
        ]
    )
    b = frame(text + "\n")
    assert len(b) == 1
    assert b.rejected == []
    assert b.skipped == {
        "comment": 1,
        "blank": 2,
        "text": 1,
        "nmea:GPGGA": 1,
        "nmea:BSALR": 1,
        "nmea:AIPWR": 1,
        "nmea:other": 1,
    }
    assert b.lines == 9


# --------------------------------------------------------------------------- hostile input


def test_too_long_line_in_one_chunk_and_across_chunks() -> None:
    long = b"!" + b"A" * (MAX_LINE_BYTES + 10)
    for chunks in ([long + b"\n"], [long[:100], long[100:], b"\n"]):
        f = Framer()
        b = concat_batches([*(f.feed(c) for c in chunks), f.feed(sentence().encode()), f.finish()])
        assert reasons(b) == [REJECT_TOO_LONG]
        assert len(b.rejected[0].raw) == 256
        assert str(MAX_LINE_BYTES + 11) in b.rejected[0].detail
        assert len(b) == 1


def test_empty_input_and_empty_chunks() -> None:
    f = Framer()
    assert len(f.feed(b"")) == 0
    b = f.finish()
    assert len(b) == 0
    assert b.lines == 0
    assert b.payload_offsets.tolist() == [0]


def test_batches_outlive_their_framer_and_are_read_only() -> None:
    import gc

    f = Framer()
    b = f.feed(f"{tag('s:r1,c:1')}{sentence()}\n".encode())
    later = f.feed(f"{sentence('AB')}\n".encode())
    del f
    gc.collect()
    assert payloads(b) == [PAYLOAD.encode()]
    assert b.receiver.to_pylist() == ["r1"]
    assert b.received_at.tolist() == [1.0]
    assert payloads(later) == [b"AB"]
    assert not b.line_no.flags.writeable


def test_bytearray_and_memoryview_chunks() -> None:
    data = (sentence() + "\n").encode()
    assert len(Framer().feed(bytearray(data))) == 1
    assert len(Framer().feed(memoryview(data))) == 1


def test_max_pending_sentences_must_be_positive() -> None:
    for bad in (0, 1025):
        with pytest.raises(ValueError, match="max_pending_sentences"):
            Framer(max_pending_sentences=bad)


# --------------------------------------------------------------------------- API


def test_frame_lines_gives_one_batch_per_line() -> None:
    lines: list[str | bytes] = [sentence(), b"# c", sentence("A1", total=2, num=1, seq="1")]
    batches = list(frame_lines(lines))
    assert [len(b) for b in batches] == [1, 0, 0, 0]
    assert reasons(batches[-1]) == [REJECT_INCOMPLETE_MULTIPART]
    assert sum(b.lines for b in batches) == 3


def test_concat_batches_renumbers_offsets() -> None:
    f = Framer()
    a = f.feed((sentence("AB") + "\n").encode())
    b = f.feed((sentence("CDE") + "\n# x\n").encode())
    both = concat_batches([a, b])
    assert payloads(both) == [b"AB", b"CDE"]
    assert both.line_no.tolist() == [1, 2]
    assert both.skipped == {"comment": 1}
    assert both.lines == 3
    assert len(concat_batches([])) == 0


def test_public_names() -> None:
    for name in framing.__all__:
        assert hasattr(framing, name)


def test_every_reason_code_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for reason in REASONS:
        assert f"`{reason}`" in text, reason
    for kind in ("comment", "blank", "text", "tag-block", "nmea:other"):
        assert f"`{kind}`" in text, kind
