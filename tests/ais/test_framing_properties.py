"""NMEA framing laws over generated input: chunking does not matter, garbage never
raises, every line is accounted for, and well-formed sentences come back unchanged."""

from __future__ import annotations

import math
import random
from functools import reduce
from itertools import pairwise

from hypothesis import given, settings
from hypothesis import strategies as st

from mista.ais.framing import MAX_LINE_BYTES, FramedBatch, Framer, concat_batches

ARMOUR = "0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw"


def xor(body: str) -> str:
    return f"{reduce(lambda a, c: a ^ c, body.encode(), 0):02X}"


payloads = st.text(alphabet=ARMOUR, min_size=1, max_size=70)
talkers = st.sampled_from(["AI", "AB", "BS", "SA"])
channels = st.sampled_from(["A", "B", "1", "2", ""])


@st.composite
def sentences(draw: st.DrawFn) -> tuple[str, dict[str, object]]:
    """A single-sentence message, sometimes with a prefix, tag block or suffix."""
    payload, talker, chan = draw(payloads), draw(talkers), draw(channels)
    fill = draw(st.integers(0, 5))
    kind = draw(st.sampled_from(["VDM", "VDO"]))
    body = f"{talker}{kind},1,1,,{chan},{payload},{fill}"
    line = f"!{body}*{xor(body)}"
    at, receiver = math.nan, None
    decoration = draw(st.sampled_from(["none", "prefix", "tag", "suffix"]))
    seconds = draw(st.integers(1_000_000_000, 1_999_999_999))
    if decoration == "prefix":
        line = f"{seconds}.5 {line}"
        at = seconds + 0.5
    elif decoration == "tag":
        receiver = draw(st.from_regex(r"r[A-Z0-9]{1,12}", fullmatch=True))
        fields = f"s:{receiver},c:{seconds}"
        line = f"\\{fields}*{xor(fields)}\\{line}"
        at = float(seconds)
    elif decoration == "suffix":
        line = f"{line},{seconds}123"
        at = seconds + 0.123
    expected = {"payload": payload, "fill": fill, "talker": talker, "channel": chan or None}
    expected |= {"own_ship": kind == "VDO", "at": at, "receiver": receiver}
    return line, expected


def fragments(parts: list[str], seq: int | str) -> list[str]:
    """The sentences of one multi-sentence message, in order."""
    lines = []
    for i, part in enumerate(parts, 1):
        body = f"AIVDM,{len(parts)},{i},{seq},A,{part},{2 if i == len(parts) else 0}"
        lines.append(f"!{body}*{xor(body)}")
    return lines


@st.composite
def multipart(draw: st.DrawFn) -> list[str]:
    """The fragments of one message, in order."""
    parts = draw(st.lists(payloads, min_size=2, max_size=4))
    return fragments(parts, draw(st.integers(0, 9)))


def corrupt(data: st.DataObject, line: str) -> bytes:
    """A well-formed line with a byte changed, dropped or the line cut short."""
    raw = line.encode()
    i = data.draw(st.integers(0, max(len(raw) - 1, 0)))
    how = data.draw(st.sampled_from(["flip", "drop", "cut"]))
    if how == "flip":
        return (
            raw[:i]
            + bytes([data.draw(st.integers(0, 255).filter(lambda b: b != 10))])
            + raw[i + 1 :]
        )
    if how == "drop":
        return raw[:i] + raw[i + 1 :]
    return raw[:i]


@st.composite
def documents(draw: st.DrawFn) -> list[bytes]:
    """Lines (without terminators) mixing good, multipart, corrupted, garbage and other."""
    data = draw(st.data())
    lines: list[bytes] = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["good", "multi", "corrupt", "garbage", "other", "huge"]))
        if kind == "good":
            lines.append(draw(sentences())[0].encode())
        elif kind == "multi":
            lines.extend(part.encode() for part in draw(multipart()))
        elif kind == "corrupt":
            lines.append(corrupt(data, draw(sentences())[0]))
        elif kind == "garbage":
            lines.append(draw(st.binary(max_size=120)).replace(b"\n", b""))
        elif kind == "other":
            lines.append(
                draw(
                    st.sampled_from(
                        [b"", b"# comment", b"$GPGGA,1,2*00", b"\\si:AISD*3F\\", b"text",
                         b"$PGHP,1,2014,10,2,16,30,3,887,219,1,992190917,1,7B*5C", b"\r"]
                    )
                )
            )  # fmt: skip
        else:
            lines.append(b"!" + b"x" * draw(st.integers(MAX_LINE_BYTES - 2, MAX_LINE_BYTES + 2)))
    return lines


def join(lines: list[bytes], crlf: bool) -> bytes:
    return b"".join(line + (b"\r\n" if crlf else b"\n") for line in lines)


def frame_in_chunks(data: bytes, cuts: list[int], **kwargs: int) -> FramedBatch:
    framer = Framer(**kwargs)
    bounds = [0, *sorted(c % (len(data) + 1) for c in cuts), len(data)]
    batches = [framer.feed(data[a:b]) for a, b in pairwise(bounds)]
    return concat_batches([*batches, framer.finish()])


def same(a: FramedBatch, b: FramedBatch) -> None:
    assert a.payload == b.payload
    assert a.payload_offsets.tolist() == b.payload_offsets.tolist()
    assert a.fill_bits.tolist() == b.fill_bits.tolist()
    assert a.line_no.tolist() == b.line_no.tolist()
    assert a.received_at.tobytes() == b.received_at.tobytes()  # NaN == NaN here
    for col in ("receiver", "raw", "talker", "channel"):
        assert getattr(a, col).equals(getattr(b, col)), col
    assert a.own_ship.tolist() == b.own_ship.tolist()
    assert a.rejected == b.rejected
    assert a.skipped == b.skipped
    assert a.lines == b.lines


@settings(max_examples=200, deadline=None)
@given(documents(), st.lists(st.integers(0, 10**6), max_size=12), st.booleans())
def test_chunk_boundaries_do_not_change_the_result(
    lines: list[bytes], cuts: list[int], crlf: bool
) -> None:
    data = join(lines, crlf)
    same(frame_in_chunks(data, []), frame_in_chunks(data, cuts))


@settings(max_examples=200, deadline=None)
@given(documents(), st.lists(st.integers(0, 10**6), max_size=6), st.booleans())
def test_every_line_is_accounted_for(lines: list[bytes], cuts: list[int], crlf: bool) -> None:
    data = join(lines, crlf)
    b = frame_in_chunks(data, cuts, max_pending_sentences=3)
    assert b.lines == len(lines)
    accounted = sum(str(r).count("\n") + 1 for r in b.raw.to_pylist())
    accounted += len(b.rejected) + sum(b.skipped.values())
    # a line holding several sentences counts once per outcome (docs/ais-framing.md)
    if all(line.count(b"!") <= 1 and b"\\" not in line for line in lines):
        assert accounted == len(lines)
    else:
        assert accounted >= len(lines)
    assert all(1 <= r.line_no <= len(lines) for r in b.rejected)
    assert all(1 <= n <= len(lines) for n in b.line_no.tolist())


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=3000), st.lists(st.integers(0, 10**6), max_size=8))
def test_hostile_bytes_never_raise(data: bytes, cuts: list[int]) -> None:
    b = frame_in_chunks(data, cuts)
    lines = data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)
    assert b.lines == lines
    assert len(b.payload_offsets) == len(b) + 1
    for r in b.rejected:
        assert isinstance(r.raw, str)
        assert r.detail


@settings(max_examples=200, deadline=None)
@given(st.lists(sentences(), min_size=1, max_size=20))
def test_well_formed_sentences_come_back_unchanged(
    drawn: list[tuple[str, dict[str, object]]],
) -> None:
    b = frame_in_chunks(join([line.encode() for line, _ in drawn], crlf=False), [])
    assert b.rejected == []
    assert len(b) == len(drawn)
    for i, (line, want) in enumerate(drawn):
        assert b.payload_at(i).decode() == want["payload"]
        assert b.fill_bits[i] == want["fill"]
        assert b.talker[i].as_py() == want["talker"]
        assert b.channel[i].as_py() == want["channel"]
        assert bool(b.own_ship[i]) is want["own_ship"]
        assert b.receiver[i].as_py() == want["receiver"]
        at = want["at"]
        assert isinstance(at, float)
        assert (math.isnan(at) and math.isnan(b.received_at[i])) or b.received_at[i] == at
        assert b.raw[i].as_py() == line
        assert b.line_no[i] == i + 1


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(payloads, min_size=2, max_size=4), min_size=1, max_size=10), st.randoms())
def test_interleaved_multipart_assembles(messages: list[list[str]], rnd: random.Random) -> None:
    # one sequence id per message, fragments interleaved at random but each in order
    queues = [fragments(parts, seq) for seq, parts in enumerate(messages)]
    order: list[str] = []
    while any(queues):
        order.append(rnd.choice([q for q in queues if q]).pop(0))
    b = frame_in_chunks(join([o.encode() for o in order], crlf=False), [])
    assert b.rejected == []
    want = sorted("".join(parts) for parts in messages)
    assert sorted(b.payload_at(i).decode() for i in range(len(b))) == want
