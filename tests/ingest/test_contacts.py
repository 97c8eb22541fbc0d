"""Radar contacts (JSON lines): good lines become radar reports, everything else is quarantined.

The canonical form is read by Arrow a block at a time and any other spelling line by line;
the two must agree on every value and on the content key (so one contact is one report
however it was written), and no input may crash the reader or lose a line.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.errors import DecodeError
from mista.ingest.batch import hex_ids
from mista.ingest.contacts import (
    MAX_LINE_CHARS,
    _canonical,
    contact_batches,
    is_contact_lines,
)
from mista.ingest.rows import SourceContext
from mista.ingest.sources import source_config_from
from mista.labels import Label
from mista.model import SourceKind, report_id
from mista.node import ingest_paths, operator_user
from mista.store import BBox
from mista.store.embedded import DuckDBStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
GOOD = (
    '{"time": "2026-01-01T00:00:10.000Z", "radar": "IND-radar-mumbai", "plot": 123, '
    '"lat": 18.912345, "lon": 72.812345}'
)
REASONS = {
    "radar-too-long",
    "radar-encoding",
    "radar-json",
    "radar-duplicate-key",
    "radar-field",
    "radar-time",
    "radar-lat",
    "radar-lon",
}


def context(strict: bool = False) -> SourceContext:
    return SourceContext(
        source="radar.jsonl",
        originator="IND",
        label=Label.default_for("IND"),
        kind=SourceKind.RADAR,
        strict=strict,
    )


def parse(data: bytes, chunk: int = 1 << 20) -> tuple[pa.Table, pa.Table, int, int]:
    """(messages, rejected, lines, blank lines) of ``data`` read in chunks of ``chunk``."""
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    batches = list(contact_batches(chunks, context()))
    messages = pa.concat_tables([b.messages for b in batches]) if batches else None
    rejected = pa.concat_tables([b.rejected for b in batches]) if batches else None
    blanks = sum(b.skipped.get("blank-line", 0) for b in batches)
    return (
        messages if messages is not None else pa.table({}),
        rejected if rejected is not None else pa.table({}),
        sum(b.lines for b in batches),
        blanks,
    )


def contact_line(
    *,
    time: object = "2026-01-01T00:00:10.000Z",
    radar: object = "IND-radar-mumbai",
    plot: object = 123,
    lat: object = 18.912345,
    lon: object = 72.812345,
    **extra: object,
) -> str:
    return json.dumps({"time": time, "radar": radar, "plot": plot, "lat": lat, "lon": lon, **extra})


# -- good lines --------------------------------------------------------------------------


def test_a_contact_is_a_radar_report_without_mmsi_heard_by_its_radar() -> None:
    messages, rejected, lines, _ = parse((GOOD + "\n").encode())
    assert rejected.num_rows == 0
    assert lines == 1
    (row,) = messages.to_pylist()
    assert row["source_kind"] == "radar"
    assert row["mmsi"] is None
    assert row["msg_type"] is None
    assert row["receiver"] == "IND-radar-mumbai"
    assert row["observed_at"] == row["received_at"] == T0 + timedelta(seconds=10)
    assert (row["lat"], row["lon"], row["line_no"], row["raw"]) == (18.912345, 72.812345, 1, GOOD)
    assert row["content_key"] == "IND-radar-mumbai|123|1767225610000000|189123450|728123450|||"
    (rid,) = hex_ids(messages["id_hi"], messages["id_lo"])
    assert rid == report_id("IND", row["content_key"], row["observed_at"])


def test_optional_fields_are_in_the_content_key_and_null_is_absent() -> None:
    lines = [
        contact_line(range_m=5120.5, bearing_deg=41.25, sigma_m=50),
        contact_line(range_m=None, bearing_deg=None),
        contact_line(plot=124, extra_field="kept in raw only"),
    ]
    messages, rejected, _, _ = parse(("\n".join(lines) + "\n").encode())
    assert rejected.num_rows == 0
    keys = messages.column("content_key").to_pylist()
    assert keys[0].endswith("|5120500|41250|50000")
    assert keys[1] == keys[0].rsplit("|", 3)[0] + "|||"
    assert keys[2].startswith("IND-radar-mumbai|124|")


@pytest.mark.parametrize(
    "spelling",
    [
        '{"lon": 72.812345, "lat": 18.912345, "plot": 123, "radar": "IND-radar-mumbai", '
        '"time": "2026-01-01T00:00:10Z"}',
        '{"time":"2026-01-01T00:00:10.000000+00:00","radar":"IND-radar-mumbai","plot":123,'
        '"lat":18.9123450,"lon":7.2812345e1}',
        '  {"time": "2026-01-01T00:00:10.0Z", "radar": "IND-radar-mumbai", "plot": 123, '
        '"lat": 18.912345, "lon": 72.812345}  \r',
    ],
)
def test_one_contact_spelled_otherwise_is_the_same_report(spelling: str) -> None:
    messages, rejected, _, _ = parse(f"{GOOD}\n{spelling}\n".encode())
    assert rejected.num_rows == 0
    keys = messages.column("content_key").to_pylist()
    ids = hex_ids(messages["id_hi"], messages["id_lo"])
    assert keys[0] == keys[1]
    assert ids[0] == ids[1]


# -- bad lines ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("not json", "radar-json"),
        ("[1, 2]", "radar-json"),
        ('"a string"', "radar-json"),
        ("{}", "radar-field"),
        ('{"time": "2026-01-01T00:00:10Z", "radar": "r", "plot": 1, "lat": 1', "radar-json"),
        (contact_line()[:-1] + ', "lat": 3}', "radar-duplicate-key"),
        (contact_line(time="2026-01-01T00:00:10"), "radar-time"),  # no zone
        (contact_line(time="2026-01-01T00:00:10+05:30"), "radar-time"),
        (contact_line(time="2026-02-30T00:00:10Z"), "radar-time"),
        (contact_line(time="2026-01-01T24:00:00Z"), "radar-time"),
        (contact_line(time="yesterday"), "radar-time"),
        (contact_line(time=1767225610), "radar-time"),
        (json.dumps({"radar": "r", "plot": 1, "lat": 1, "lon": 2}), "radar-field"),
        (contact_line(radar=""), "radar-field"),
        (contact_line(radar="a b"), "radar-field"),
        (contact_line(radar="r" * 65), "radar-field"),
        (contact_line(radar=7), "radar-field"),
        (contact_line(plot=True), "radar-field"),
        (contact_line(plot=-1), "radar-field"),
        (contact_line(plot=1.5), "radar-field"),
        (contact_line(plot=10**18), "radar-field"),
        (contact_line(lat="18.9"), "radar-field"),
        (contact_line(lat=None), "radar-field"),
        (contact_line(lat=90.000001), "radar-lat"),
        (contact_line(lat=-91), "radar-lat"),
        (contact_line(lon=180.5), "radar-lon"),
        (contact_line(lat=10**400), "radar-field"),
        (contact_line()[:-1] + ', "lat": 1e999}', "radar-duplicate-key"),
        (contact_line().replace("18.912345", "1e999"), "radar-field"),
        (contact_line().replace("18.912345", "NaN"), "radar-field"),
        (contact_line(range_m=-1), "radar-field"),
        (contact_line(range_m=2e7), "radar-field"),
        (contact_line(bearing_deg=360.5), "radar-field"),
        (contact_line(sigma_m=0), "radar-field"),
        (contact_line(sigma_m="50"), "radar-field"),
        ("{" * 5000, "radar-too-long"),
        ("[" * 3000 + "]" * 3000, "radar-too-long"),
        ("[" * 2000 + "]" * 2000, "radar-json"),
    ],
)
def test_a_bad_line_is_quarantined_with_its_line_number_and_reason(line: str, reason: str) -> None:
    messages, rejected, lines, _ = parse(f"{GOOD}\n{line}\n{GOOD.replace('123', '7')}\n".encode())
    assert lines == 3
    assert messages.column("line_no").to_pylist() == [1, 3]
    (bad,) = rejected.to_pylist()
    assert (bad["line_no"], bad["reason"], bad["source"]) == (2, reason, "radar.jsonl")
    assert bad["detail"]
    assert bad["raw"] == (line if len(line) <= MAX_LINE_CHARS else line[:MAX_LINE_CHARS] + "...")


def test_bytes_that_are_not_utf8_are_quarantined() -> None:
    data = GOOD.encode() + b"\n" + GOOD.replace("mumbai", "m\xffi").encode("latin-1") + b"\n"
    _, rejected, _, _ = parse(data)
    assert rejected.column("reason").to_pylist() == ["radar-encoding"]


def test_a_truncated_last_line_is_quarantined_and_blank_lines_are_counted() -> None:
    data = f"\n{GOOD}\n   \n{GOOD[:60]}".encode()
    messages, rejected, lines, blanks = parse(data)
    assert (lines, blanks) == (4, 2)
    assert messages.column("line_no").to_pylist() == [2]
    assert rejected.select(["line_no", "reason"]).to_pylist() == [
        {"line_no": 4, "reason": "radar-json"}
    ]


def test_a_hostile_line_without_newlines_is_refused_in_bounded_memory() -> None:
    huge = b"x" * (5 * (1 << 20))  # five chunks of one line
    data = GOOD.encode() + b"\n" + huge + b"\n" + GOOD.replace("123", "8").encode() + b"\n" + huge
    messages, rejected, lines, _ = parse(data, chunk=1 << 20)
    assert lines == 4
    assert messages.column("line_no").to_pylist() == [1, 3]
    bad = rejected.to_pylist()
    assert [(b["line_no"], b["reason"]) for b in bad] == [
        (2, "radar-too-long"),
        (4, "radar-too-long"),
    ]
    assert all(len(b["raw"]) <= MAX_LINE_CHARS + 3 for b in bad)
    assert str(len(huge)) in bad[0]["detail"]


def test_strict_mode_stops_at_the_first_bad_line() -> None:
    data = f"{GOOD}\nnot json\n".encode()
    with pytest.raises(DecodeError, match=r"line 2 of radar\.jsonl: radar-json"):
        list(contact_batches([data], context(strict=True)))


# -- properties --------------------------------------------------------------------------

radars = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,20}", fullmatch=True)
contacts = st.fixed_dictionaries(
    {
        "time": st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(9999, 12, 31)).map(
            lambda t: t.replace(tzinfo=UTC)
        ),
        "radar": radars,
        "plot": st.integers(min_value=0, max_value=10**18 - 1),
        "lat": st.floats(min_value=-90, max_value=90),
        "lon": st.floats(min_value=-180, max_value=180),
    },
    optional={
        "range_m": st.floats(min_value=0, max_value=1e7) | st.none(),
        "bearing_deg": st.floats(min_value=0, max_value=360),
        "sigma_m": st.floats(min_value=1e-3, max_value=1e7),
    },
)


def canonical(contact: dict[str, object]) -> str:
    """As a radar writes it: keys in contract order, time with Z and microseconds."""
    moment = contact["time"]
    assert isinstance(moment, datetime)
    ordered: dict[str, object] = {
        "time": moment.isoformat(timespec="microseconds").replace("+00:00", "Z"),
        **{k: contact[k] for k in ("radar", "plot", "lat", "lon")},
        **{k: contact[k] for k in ("range_m", "bearing_deg", "sigma_m") if k in contact},
    }
    return json.dumps(ordered)


def shuffled(contact: dict[str, object], seed: int) -> str:
    """The same contact in another key order, with +00:00 and compact separators."""
    moment = contact["time"]
    assert isinstance(moment, datetime)
    items = [*contact.items()]
    random.Random(seed).shuffle(items)
    fields = {k: (moment.isoformat() if k == "time" else v) for k, v in items}
    return json.dumps(fields, separators=(",", ":"))


@settings(max_examples=40, deadline=None)
@given(st.lists(contacts, min_size=1, max_size=20), st.integers())
def test_every_spelling_of_a_contact_gives_the_same_values_and_id(
    drawn: list[dict[str, object]], seed: int
) -> None:
    # The radar's own form is read a block at a time; any other spelling line by line.
    _, left = _canonical(pa.array([canonical(c) for c in drawn]))
    assert len(left) == 0
    fast = "\n".join(canonical(c) for c in drawn) + "\n"
    slow = "\n".join(shuffled(c, seed + i) for i, c in enumerate(drawn)) + "\n"
    one, rejected_one, _, _ = parse(fast.encode())
    other, rejected_other, _, _ = parse(slow.encode())
    assert rejected_one.num_rows == rejected_other.num_rows == 0
    columns = ["id_hi", "id_lo", "observed_at", "lat", "lon", "receiver", "content_key"]
    assert one.select(columns).equals(other.select(columns))
    assert one.column("observed_at").to_pylist() == [c["time"] for c in drawn]
    assert one.column("lat").to_pylist() == [c["lat"] for c in drawn]


lines_of_junk = st.lists(
    st.one_of(
        st.text(max_size=80),
        contacts.map(canonical),
        contacts.map(lambda c: canonical(c)[: len(canonical(c)) // 2]),
        st.recursive(
            st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=8),
            lambda inner: (
                st.lists(inner, max_size=3)
                | st.dictionaries(st.text(max_size=6), inner, max_size=4)
            ),
            max_leaves=12,
        ).map(json.dumps),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(lines_of_junk, st.integers(min_value=1, max_value=400))
def test_no_input_crashes_the_reader_or_loses_a_line(lines: list[str], chunk: int) -> None:
    text = "\n".join(line.replace("\n", " ").replace("\r", " ") for line in lines)
    data = text.encode("utf-8", errors="surrogatepass")
    messages, rejected, read, blanks = parse(data, chunk=chunk)
    # A file's lines: a last line without its newline counts, the end after one does not.
    expected = text.split("\n") if text else []
    if text.endswith("\n"):
        expected.pop()
    assert read == len(expected)
    stored = messages.column("line_no").to_pylist() if messages.num_rows else []
    refused = rejected.column("line_no").to_pylist() if rejected.num_rows else []
    assert len(stored) + len(refused) + blanks == read
    assert sorted(stored + refused) == [i for i, line in enumerate(expected, 1) if line.strip()]
    assert set(rejected.column("reason").to_pylist() if rejected.num_rows else []) <= REASONS
    # Chunking never changes the outcome.
    whole, whole_rejected, _, _ = parse(data)
    assert whole.to_pylist() == (messages.to_pylist() if messages.num_rows else [])
    assert whole_rejected.to_pylist() == (rejected.to_pylist() if rejected.num_rows else [])


# -- detection and the store -------------------------------------------------------------


def test_contacts_are_recognised_by_their_first_character() -> None:
    assert is_contact_lines(b"\n  " + GOOD.encode())
    assert is_contact_lines(b"\xef\xbb\xbf" + GOOD.encode())
    assert not is_contact_lines(b"!AIVDM,1,1,,A,15M67F@P1aG?d`0E`Ah3Q2n1P000,0*4B")
    assert not is_contact_lines(b"mmsi,timestamp,lat,lon")
    assert not is_contact_lines(b"")


def test_a_source_may_be_a_radar() -> None:
    config = source_config_from({"kind": "radar"}, Path("radar.toml"), "IND")
    assert config.kind == SourceKind.RADAR


def radar_file(tmp_path: Path) -> Path:
    lines = [
        contact_line(time=f"2026-01-01T00:00:{10 + i:02d}Z", plot=i, lat=18.9 + i / 1000)
        for i in range(20)
    ]
    path = tmp_path / "20260101T0000.jsonl"
    path.write_text("\n".join([*lines, "garbage"]) + "\n")
    return path


def test_ingesting_a_radar_file_twice_stores_it_once(tmp_path: Path) -> None:
    path, store = radar_file(tmp_path), tmp_path / "radar.duckdb"
    first = ingest_paths([path], store=store, nation="IND")
    assert (first.reports, first.receptions, first.rejected_total) == (20, 20, 1)
    again = ingest_paths([path], store=store, nation="IND")
    assert (again.reports, again.duplicates, again.receptions) == (0, 20, 0)
    viewer = operator_user("IND")
    with DuckDBStore(store, read_only=True) as db:
        assert db.counts()["reports"] == 20
        assert db.counts()["quarantine"] == 1
        # Radar rows are positions (mmsi null), never vessels.
        seen = db.positions(BBox(72.0, 18.0, 73.0, 19.0), viewer=viewer)
        assert seen.num_rows == 20
        assert set(seen.column("source_kind").to_pylist()) == {"radar"}
        assert seen.column("mmsi").null_count == 20
        assert db.vessels(viewer=viewer).num_rows == 0
        feed = db.report_feed(0, 100)
        assert set(feed.column("receiver").to_pylist()) == {"IND-radar-mumbai"}
        assert feed.column("observed_at").to_pylist() == [
            T0 + timedelta(seconds=10 + i) for i in range(20)
        ]
