"""NMEA framing on the 30 real receiver logs of the shared data folder.

Message counts are checked against a small independent reference written here with
regular expressions (no shared code with the C core); line counts come from
data/PROVENANCE.md; each expected rejection count is explained, and the countable ones
are recounted from the raw bytes with a pattern of their own.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import reduce
from pathlib import Path

import numpy as np
import pytest

from mista.ais.framing import FramedBatch, Framer, concat_batches

pytestmark = pytest.mark.shared_data

_SENTENCE = re.compile(rb"((?:\\[^\\]*\\)*)([!$][A-Z0-9]{2}VD[MO]),([^*\\!]*)\*([0-9A-Fa-f]{2})")
_ARMOUR = re.compile(rb"[0-W`-w]+")
_HEX2 = re.compile(rb"[0-9A-Fa-f]{2}")


def _xor(data: bytes) -> int:
    return reduce(lambda a, c: a ^ c, data, 0)


def reference_messages(data: bytes) -> int:
    """Complete AIS messages in a log, found independently of the framer.

    Sentences are found anywhere on a line; multi-sentence messages count when their
    fragments arrive in order under the same tag-block group or (sequence, channel).
    """
    messages = 0
    open_groups: dict[object, tuple[int, int]] = {}
    for line in data.split(b"\n"):
        line = line.rstrip(b"\r")
        if any(c < 0x20 or c > 0x7E for c in line):
            continue
        for m in _SENTENCE.finditer(line):
            tags, address, body, check = m.groups()
            group: bytes | None = None
            tags_ok = True
            for block in filter(None, tags.split(b"\\")):
                fields, _, block_check = block.rpartition(b"*")
                if not _HEX2.fullmatch(block_check) or _xor(fields) != int(block_check, 16):
                    tags_ok = False
                for kv in fields.split(b","):
                    if kv.startswith(b"g:"):
                        group = kv.rsplit(b"-", 1)[-1]
            if not tags_ok or _xor(address[1:] + b"," + body) != int(check, 16):
                continue
            f = body.split(b",")
            if len(f) not in (6, 7) or not (f[0].isdigit() and f[1].isdigit()):
                continue
            if not _ARMOUR.fullmatch(f[4]) or f[-1] not in (b"0", b"1", b"2", b"3", b"4", b"5"):
                continue
            total, num = int(f[0]), int(f[1])
            key: object = group if group is not None else (f[2], f[3])
            if total == 1:
                messages += 1
            elif num == 1:
                open_groups[key] = (2, total)
            elif open_groups.get(key) == (num, total):
                if num == total:
                    messages += 1
                    del open_groups[key]
                else:
                    open_groups[key] = (num + 1, total)
            else:
                open_groups.pop(key, None)
    return messages


# name: (lines per PROVENANCE.md, expected rejections by reason)
FILES: dict[str, tuple[int, dict[str, int]]] = {
    "aisdb_test_data_20211101.nm4": (1_000, {}),
    # 1,496 sentences with talker "=I" (1,492 single + 4 fragments); 13 truncated lines
    # with no checksum; 3 lines where two sentences were spliced together
    "amsa_risky_ais.nmea": (44_687, {"malformed": 1_509, "checksum": 3}),
    "amsa_risky_exact_earth_augmented.txt": (7_160, {}),
    "amsa_risky_exact_earth_augmented_2.txt": (2_138, {}),
    # four second fragments whose first fragment is not in the log
    "amsa_risky_exact_earth_augmented_3.txt": (7_672, {"orphan-fragment": 4}),
    "amsa_risky_exact_earth_tag_block.txt": (221, {}),
    # every tag block is written with the checksum *00
    "amsa_risky_nmea_timestamped.txt": (100, {"tag-block": 100}),
    # one empty payload, two lines spliced with other sentences, one unfinished type 5
    "bcl_aisparser_SAR.log": (
        13_410,
        {"malformed": 1, "checksum": 2, "incomplete-multipart": 1},
    ),
    "bcl_aisparser_seattle.log": (636, {}),
    "bcl_aisparser_tidemsg8.log": (356, {}),
    "bcl_aisparser_unknown.log": (6_922, {}),
    "dma_aisabnormal_212123000_drift_1.ais": (10_018, {}),
    "dma_aisabnormal_538004030_drift_1.ais": (16_104, {}),
    "dma_aisabnormal_ais_sample.txt": (80_246, {}),
    # 18 sentences with talker "--"
    "dma_aislib_stream_example.txt": (8_551, {"malformed": 18}),
    "gfw_ais_tools_bad_type5.nmea": (7, {}),
    "gfw_ais_tools_mixed_types.nmea": (109, {}),
    "gfw_ais_tools_multi_part.nmea": (93, {}),
    "gfw_ais_tools_type1_bad_bitcount.nmea": (13, {}),
    "libais_tagblock.nmea": (5, {}),
    "libais_test.aivdm": (345, {}),
    "libais_typeexamples.nmea": (26, {}),
    "noaadata_test.ais": (1_001, {}),
    # the second $PGHP line was edited (2009) without updating its checksum
    "pyais_gatehouse.nmea": (11, {"checksum": 1}),
    # 100 "!AIVDM,1,1,,B,,0*25"-style empty sentences; 20 type 5 first fragments alone
    "pyais_nmea_data_sample.txt": (898, {"malformed": 100, "incomplete-multipart": 20}),
    "signalk_gofree_merrimac.log": (6_324, {}),
    "signalk_nais300_merrimac.log": (579, {}),
    "signalk_nais400_merrimac.log": (765, {}),
    # 72 first fragments (mostly from the "AB" receiver) whose second never came
    "simpleais_sample.ais": (10_000, {"incomplete-multipart": 72}),
}


def frame_file(path: Path, chunk: int = 1 << 20) -> FramedBatch:
    data = path.read_bytes()
    framer = Framer()
    batches = [framer.feed(data[i : i + chunk]) for i in range(0, len(data), chunk)]
    return concat_batches([*batches, framer.finish()])


def accounted_lines(b: FramedBatch) -> int:
    message_lines = sum(str(r).count("\n") + 1 for r in b.raw.to_pylist())
    return int(message_lines) + len(b.rejected) + sum(b.skipped.values())


def test_the_table_lists_every_raw_file(shared_data: Path) -> None:
    assert sorted(p.name for p in (shared_data / "ais" / "raw").iterdir()) == sorted(FILES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_raw_log(shared_data: Path, name: str) -> None:
    path = shared_data / "ais" / "raw" / name
    lines, rejects = FILES[name]
    b = frame_file(path)
    assert b.lines == lines
    assert accounted_lines(b) == lines
    assert len(b) == reference_messages(path.read_bytes())
    assert Counter(r.reason for r in b.rejected) == Counter(rejects)
    assert all(r.detail and r.line_no >= 1 for r in b.rejected)
    assert np.all(np.diff(b.payload_offsets) > 0)


def test_rejection_counts_recounted_from_the_bytes(shared_data: Path) -> None:
    raw = shared_data / "ais" / "raw"
    amsa = (raw / "amsa_risky_ais.nmea").read_bytes()
    dma = (raw / "dma_aislib_stream_example.txt").read_bytes()
    pyais = (raw / "pyais_nmea_data_sample.txt").read_bytes()
    stamped = (raw / "amsa_risky_nmea_timestamped.txt").read_bytes()

    def details(name: str, word: str) -> int:
        return sum(word in r.detail for r in frame_file(raw / name).rejected)

    def signed(lines: list[bytes]) -> int:
        """How many of the lines end in a checksum that matches."""
        found = (re.fullmatch(rb"!([^*]*)\*([0-9A-F]{2})\r?", line) for line in lines)
        return sum(1 for m in found if m and _xor(m[1]) == int(m[2], 16))

    assert details("amsa_risky_ais.nmea", "talker") == signed(re.findall(rb"(?m)^!=IVD.*$", amsa))
    assert details("dma_aislib_stream_example.txt", "talker") == signed(
        re.findall(rb"(?m)^!--VD.*$", dma)
    )
    assert details("pyais_nmea_data_sample.txt", "empty payload") == len(
        re.findall(rb"(?m)^!AIVDM,1,1,,[AB],,0\*", pyais)
    )
    assert details("amsa_risky_nmea_timestamped.txt", "tag block checksum 00") == len(
        re.findall(rb"(?m)^\\c:\d+\*00\\", stamped)
    )


def test_times_and_receivers_of_each_format(shared_data: Path) -> None:
    raw = shared_data / "ais" / "raw"
    first = {name: frame_file(raw / name) for name in FILES}
    # tag block c: and s:
    assert first["aisdb_test_data_20211101.nm4"].received_at[0] == 1635731889.0
    assert first["aisdb_test_data_20211101.nm4"].receiver[0].as_py() == "42809"
    # epoch prefix
    assert first["simpleais_sample.ais"].received_at[0] == 1452468552.938
    # exactEarth millisecond suffix; the $PGHP before it gives the station
    ee = first["amsa_risky_exact_earth_augmented.txt"]
    assert ee.received_at[0] == 1327992119.173
    assert ee.receiver[0].as_py() == "316000002"
    # noaadata / libais suffixes
    assert first["noaadata_test.ais"].receiver[0].as_py() == "r003669987"
    assert first["noaadata_test.ais"].received_at[0] == 1152921693.0
    assert first["libais_typeexamples.nmea"].received_at[0] == 1325394060.0
    assert first["libais_test.aivdm"].receiver[0].as_py() == "b003669794"
    # Gatehouse $PGHP: 2014-10-02 16:30:03.887 UTC, station 992190917
    dma = first["dma_aisabnormal_212123000_drift_1.ais"]
    assert dma.received_at[0] == pytest.approx(1412267403.887)
    assert dma.receiver[0].as_py() == "992190917"
    # several sentences on one line
    gfw = first["gfw_ais_tools_bad_type5.nmea"]
    assert gfw.raw[0].as_py().count("\\!") == 2
    # the log's next lines hold the joined payloads, as bare text
    expected = (raw / "gfw_ais_tools_bad_type5.nmea").read_bytes().split(b"\n")[4]
    assert gfw.payload_at(0) == expected
    # signalk: VDO (own ship) and the extra field
    nais300 = (raw / "signalk_nais300_merrimac.log").read_bytes()
    vdo = len(re.findall(rb"(?m)^!AIVDO", nais300))
    assert first["signalk_nais300_merrimac.log"].own_ship.sum() == vdo > 0
    assert first["signalk_gofree_merrimac.log"].fill_bits.max() == 4


@pytest.mark.parametrize("chunk", [1, 7, 4096, 65_537])
def test_chunk_size_does_not_change_the_result(shared_data: Path, chunk: int) -> None:
    path = shared_data / "ais" / "raw" / "gfw_ais_tools_bad_type5.nmea"
    if chunk > 1:
        path = shared_data / "ais" / "raw" / "noaadata_test.ais"
    whole, pieces = frame_file(path), frame_file(path, chunk)
    assert pieces.payload == whole.payload
    assert pieces.line_no.tolist() == whole.line_no.tolist()
    assert pieces.raw.equals(whole.raw)
    assert pieces.receiver.equals(whole.receiver)
    assert pieces.rejected == whole.rejected
    assert pieces.skipped == whole.skipped


def test_benchmark_corpus_frames_completely(shared_data: Path) -> None:
    # PROVENANCE.md: 117,826 sentences, 114,738 complete messages, nothing else
    b = frame_file(shared_data / "ais" / "bench" / "real_mixed.nmea")
    assert b.lines == 117_826
    assert len(b) == 114_738
    assert b.rejected == []
    assert b.skipped == {}
