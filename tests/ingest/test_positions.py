"""CSV position files: real MarineCadastre files parse; garbage rows are quarantined."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.ingest.batch import hex_ids
from mista.ingest.positions import is_position_header, position_batches
from mista.ingest.rows import SourceContext
from mista.labels import Label
from mista.model import SourceKind, report_id

TRACKS_HEADER = "mmsi,timestamp,lat,lon,track_id"
# Rows 2-3 of ../shared/data/positions/marinecadastre_nyharbor_2020-12-01_07_tracks.csv.gz
TRACK_ROWS = [
    "367466930,2020-12-01T04:49:45Z,40.41692,-74.03150,36",
    "367466930,2020-12-01T04:52:46Z,40.41694,-74.03151,36",
]
REASONS = {"csv-columns", "csv-mmsi", "csv-time", "csv-lat", "csv-lon", "csv-header"}


def context() -> SourceContext:
    return SourceContext(
        source="tracks.csv",
        originator="IND",
        label=Label.default_for("IND"),
        kind=SourceKind.POSITION_FILE,
    )


def parse(data: bytes, chunk: int = 1 << 20) -> tuple[pa.Table, pa.Table, int, int]:
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    batches = list(position_batches(chunks, context()))
    if not batches:
        return pa.table({}), pa.table({}), 0, 0
    messages = pa.concat_tables([b.messages for b in batches])
    rejected = pa.concat_tables([b.rejected for b in batches])
    blanks = sum(b.skipped.get("blank-line", 0) for b in batches)
    return messages, rejected, sum(b.lines for b in batches), blanks


def test_track_rows_become_timed_positions_with_model_ids() -> None:
    messages, rejected, lines, _ = parse(("\n".join([TRACKS_HEADER, *TRACK_ROWS]) + "\n").encode())
    assert rejected.num_rows == 0
    assert lines == 3
    first = messages.to_pylist()[0]
    assert first["mmsi"] == 367466930
    assert first["observed_at"] == datetime(2020, 12, 1, 4, 49, 45, tzinfo=UTC)
    assert (first["lat"], first["lon"], first["line_no"]) == (40.41692, -74.0315, 2)
    assert first["source_kind"] == "position-file"
    (rid, _) = hex_ids(messages["id_hi"], messages["id_lo"])
    assert rid == report_id("IND", TRACK_ROWS[0], first["observed_at"])


def test_hostile_rows_are_quarantined_with_their_line_and_reason() -> None:
    rows = [
        TRACKS_HEADER,
        TRACK_ROWS[0],
        '"367466930,2020-12-01T04:52:46Z,40.4,-74.0,36',  # stray quote: only this line
        "367466930,2020-12-01T04:52:46Z,95.0,-74.0,36",  # latitude out of range
        "367466930,yesterday,40.4,-74.0,36",
        "36746693x,2020-12-01T04:52:46Z,40.4,-74.0,36",
        "367466930,2020-13-01T04:52:46Z,40.4,-74.0,36",  # month 13
        "367466930,2020-12-01T04:52:46Z,40.4",  # truncated
        "",
        TRACK_ROWS[1],
    ]
    data = "\n".join(rows).encode() + b"\n\xff\xfe,\x00\n"
    messages, rejected, lines, blanks = parse(data)
    assert messages.column("line_no").to_pylist() == [2, 10]
    reasons = dict(
        zip(rejected["line_no"].to_pylist(), rejected["reason"].to_pylist(), strict=True)
    )
    assert reasons == {
        3: "csv-mmsi",
        4: "csv-lat",
        5: "csv-time",
        6: "csv-mmsi",
        7: "csv-time",
        8: "csv-columns",
        11: "csv-columns",
    }
    assert blanks == 1
    assert lines == 11
    assert "95.0" in rejected.filter(pa.compute.equal(rejected["line_no"], 4))["detail"][0].as_py()


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.one_of(
            st.text(max_size=60),
            st.lists(st.text(alphabet="0123456789.-:TZ ,\"'", max_size=14), max_size=7).map(
                ",".join
            ),
            st.sampled_from(TRACK_ROWS),
        ),
        max_size=30,
    ),
    chunk=st.integers(min_value=1, max_value=200),
    cut=st.integers(min_value=0, max_value=40),
)
def test_garbage_never_raises_and_every_line_is_accounted_for(
    rows: list[str], chunk: int, cut: int
) -> None:
    text = "\n".join([TRACKS_HEADER, *(row.replace("\n", " ").replace("\r", " ") for row in rows)])
    data = text.encode("utf-8", errors="surrogatepass")[
        : max(len(TRACKS_HEADER) + 1, len(text) - cut)
    ]
    messages, rejected, lines, blanks = parse(data, chunk)
    if lines:
        assert messages.num_rows + rejected.num_rows + blanks == lines - 1
    if rejected.num_rows:
        assert set(rejected["reason"].to_pylist()) <= REASONS
        assert all(n >= 2 for n in rejected["line_no"].to_pylist())


def test_a_header_without_positions_quarantines_every_row() -> None:
    messages, rejected, _, _ = parse(b"name,when\nx,1\ny,2\n")
    assert messages.num_rows == 0
    assert rejected["reason"].to_pylist() == ["csv-header", "csv-header"]


def test_position_headers_are_told_from_nmea() -> None:
    assert is_position_header(b"mmsi,timestamp,lat,lon,track_id")
    assert is_position_header(b"BaseDateTime,LON,LAT,MMSI,SOG")
    assert not is_position_header(b"!AIVDM,1,1,,B,19NWuLhuRb5QHfCpPcwj`26B0<02,0*5F")


@pytest.mark.shared_data
def test_the_real_marinecadastre_full_file(shared_data: Path) -> None:
    path = shared_data / "positions" / "marinecadastre_nyharbor_2020-06-30_0000-0100_full.csv.gz"
    messages, rejected, lines, _ = parse(gzip.decompress(path.read_bytes()))
    assert (messages.num_rows, rejected.num_rows, lines) == (8689, 0, 8690)
    first = messages.slice(0, 1).to_pylist()[0]
    assert (first["name"], first["callsign"], first["imo"]) == (
        "SAMUEL I NEWHOUSE",
        "WYR3371",
        7702774,
    )
    assert first["course_deg"] == pytest.approx(299.4)  # MarineCadastre's -60.6
