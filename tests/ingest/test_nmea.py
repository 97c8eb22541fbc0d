"""AIS lines become message rows: ids, positions, n/a values, static data, rejects."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mista.errors import DecodeError
from mista.ingest.batch import IngestBatch, hex_ids
from mista.ingest.nmea import nmea_batches
from mista.ingest.rows import SourceContext, epoch_us, report_ids
from mista.labels import Label
from mista.model import SourceKind, report_id

from .nmea_lines import REAL_TYPE1, payload_of, position, sentences, tagged


def context(strict: bool = False, source: str = "feed.nmea") -> SourceContext:
    return SourceContext(
        source=source,
        originator="IND",
        label=Label.default_for("IND"),
        kind=SourceKind.AIS_TERRESTRIAL,
        strict=strict,
    )


def ingest(lines: list[str], **kwargs: object) -> IngestBatch:
    data = ("\n".join(lines) + "\n").encode()
    batches = list(nmea_batches([data], context(**kwargs)))  # type: ignore[arg-type]
    messages = pa.concat_tables([b.messages for b in batches])
    rejected = pa.concat_tables([b.rejected for b in batches])
    return IngestBatch(
        source="feed.nmea",
        messages=messages,
        rejected=rejected,
        labels=batches[0].labels,
        lines=sum(b.lines for b in batches),
    )


@given(
    keys=st.lists(st.text(min_size=1, max_size=80), min_size=1, max_size=20),
    seconds=st.lists(
        st.one_of(st.none(), st.integers(min_value=-(10**9), max_value=4 * 10**9)),
        min_size=20,
        max_size=20,
    ),
)
def test_report_ids_match_the_model(keys: list[str], seconds: list[int | None]) -> None:
    times = [None if s is None else float(s) for s in seconds[: len(keys)]]
    import numpy as np

    micros = epoch_us(np.array([np.nan if t is None else t for t in times], dtype=np.float64))
    hi, lo, _ = report_ids("IND", pa.array(keys, pa.string()), micros)
    expected = [
        report_id("IND", key, None if t is None else datetime.fromtimestamp(t, UTC))
        for key, t in zip(keys, times, strict=True)
    ]
    assert hex_ids(hi, lo) == expected


def test_a_real_position_report_becomes_a_row_with_its_reception() -> None:
    line = tagged(REAL_TYPE1, epoch_s=1334337317, receiver="rEV02")
    batch = ingest([line])
    assert batch.rejected.num_rows == 0
    (row,) = batch.messages.to_pylist()
    assert row["msg_type"] == 1
    assert row["receiver"] == "rEV02"
    assert row["raw"] == line
    assert row["line_no"] == 1
    assert row["observed_at"] == datetime.fromtimestamp(1334337317, UTC)
    assert -90 <= row["lat"] <= 90
    assert -180 <= row["lon"] <= 180
    payload, fill = payload_of(REAL_TYPE1)
    assert row["content_key"] == f"{payload},{fill}"
    (rid,) = hex_ids(batch.messages["id_hi"], batch.messages["id_lo"])
    assert rid == report_id("IND", f"{payload},{fill}", row["observed_at"])


def test_not_available_position_is_a_report_without_a_position() -> None:
    line = position(366053209, 91.0, 181.0, speed=102.3, course=360.0, heading=511)
    (row,) = ingest([line]).messages.to_pylist()
    assert row["mmsi"] == 366053209
    assert row["lat"] is None
    assert row["lon"] is None
    assert row["speed_kn"] is None
    assert row["course_deg"] is None
    assert row["heading_deg"] is None


def test_static_and_voyage_data_fill_identity_fields() -> None:
    lines = sentences(
        {
            "type": 5,
            "mmsi": 366053209,
            "shipname": "EXAMPLE ONE",
            "callsign": "WDA1234",
            "imo": 9123456,
            "ship_type": 70,
            "destination": "OAKLAND",
            "draught": 7.5,
            "to_bow": 100,
            "to_stern": 20,
            "to_port": 10,
            "to_starboard": 12,
        }
    )
    (row,) = ingest(lines).messages.to_pylist()
    assert (row["name"], row["callsign"], row["imo"]) == ("EXAMPLE ONE", "WDA1234", 9123456)
    assert (row["ship_type"], row["destination"], row["draught_m"]) == (70, "OAKLAND", 7.5)
    assert (row["to_bow_m"], row["to_stern_m"]) == (100, 20)
    assert row["lat"] is None


def test_bad_lines_are_rejected_with_reason_and_line_and_never_raise() -> None:
    good = position(366053209, 37.8, -122.4)
    bad_checksum = good[:-2] + ("00" if not good.endswith("00") else "11")
    lines = [good, bad_checksum, "complete garbage \x00\xff", good.replace("1", "Z", 1), good]
    batch = ingest(lines)
    rejected = batch.rejected.to_pylist()
    assert [r["line_no"] for r in rejected] == [2, 3, 4]
    assert all(r["reason"] and r["detail"] and r["raw"] for r in rejected)
    assert batch.rejected_by_reason()["checksum"] == 2
    assert batch.messages.column("line_no").to_pylist() == [1, 5]


def test_strict_stops_at_the_first_bad_line_naming_it() -> None:
    good = position(366053209, 37.8, -122.4)
    bad = good[:-2] + ("00" if not good.endswith("00") else "11")
    with pytest.raises(DecodeError) as error:
        ingest([good, bad, good], strict=True)
    message = str(error.value)
    assert "line 2 of feed.nmea" in message
    assert "checksum" in message
    assert "--strict" in message


@pytest.mark.shared_data
def test_every_real_log_decodes_without_raising(shared_data: Path) -> None:
    for path in sorted((shared_data / "ais" / "raw").iterdir()):
        ctx = context(source=path.name)
        for batch in nmea_batches([path.read_bytes()], ctx):
            assert batch.messages.schema.names[0] == "id_hi"
