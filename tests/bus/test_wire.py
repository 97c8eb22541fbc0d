"""The bus's message format (no server): round trips, stable partitions, content message
ids, and garbage that never crashes the reader."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.bus._wire import MAGIC, decode_slice, partition_of_rows, slices
from mista.errors import InputError
from mista.ingest.batch import IngestBatch
from mista.ingest.sources import SourceConfig
from mista.ingest.streams import FileSource
from mista.node import read_batches
from tests.bus.feeds import write_feed, write_radar


def _batch(path: Path) -> IngestBatch:
    batches = read_batches(FileSource(path), SourceConfig.default("IND"), name="f")
    return next(batch for batch in batches if batch.message_count)


@pytest.fixture(scope="module")
def ais(tmp_path_factory: pytest.TempPathFactory) -> IngestBatch:
    return _batch(write_feed(tmp_path_factory.mktemp("w") / "a.nmea", lines=800))


@pytest.fixture(scope="module")
def radar(tmp_path_factory: pytest.TempPathFactory) -> IngestBatch:
    return _batch(write_radar(tmp_path_factory.mktemp("w") / "r.jsonl", contacts=90))


@pytest.mark.parametrize("compression", [None, "zstd", "lz4"])
def test_slices_carry_every_row_and_rejected_line_once(
    ais: IngestBatch, compression: str | None
) -> None:
    parts = slices(ais, 4, max_rows=100, max_bytes=1 << 20, compression=compression)
    back = [decode_slice(part.payload) for part in parts]
    assert all(part.rows <= 100 for part in parts)
    assert sum(b.message_count for b in back) == ais.message_count
    assert sum(b.rejected.num_rows for b in back) == ais.rejected.num_rows > 0
    assert sum(b.lines for b in back) == ais.lines
    assert {b.source for b in back} == {ais.source}
    assert all(b.labels == ais.labels for b in back)
    joined = pa.concat_tables([b.messages for b in back])
    assert sorted(joined.column("raw").to_pylist()) == sorted(
        ais.messages.column("raw").to_pylist()
    )


def test_one_vessel_one_partition_and_one_radar_one_partition(
    ais: IngestBatch, radar: IngestBatch
) -> None:
    for batch, key in ((ais, "mmsi"), (radar, "receiver")):
        parts = partition_of_rows(batch.messages, 5)
        owner: dict[object, int] = {}
        for value, part in zip(batch.messages.column(key).to_pylist(), parts, strict=True):
            assert owner.setdefault(value, int(part)) == part
        assert len(set(parts.tolist())) > 1  # spread, not all on one


def test_partitions_are_stable_numbers() -> None:
    table = pa.table(
        {
            "mmsi": pa.array([1, 123456789, None], pa.int32()),
            "receiver": ["a", "b", "radar-1"],
            "originator": ["IND"] * 3,
        }
    )
    assert partition_of_rows(table, 8).tolist() == partition_of_rows(table, 8).tolist()
    assert partition_of_rows(table, 1).tolist() == [0, 0, 0]


def test_message_ids_follow_content_not_arrival(ais: IngestBatch) -> None:
    first = slices(ais, 3, max_rows=200, max_bytes=1 << 20)
    later = pc.add(ais.messages.column("received_at").cast(pa.int64()), 10**6).cast(
        ais.messages.schema.field("received_at").type
    )
    shifted = IngestBatch(
        source=ais.source,
        messages=ais.messages.set_column(
            ais.messages.schema.get_field_index("received_at"), "received_at", later
        ),
        rejected=ais.rejected,
        labels=ais.labels,
        lines=ais.lines,
    )
    again = slices(shifted, 3, max_rows=200, max_bytes=1 << 20)
    assert [p.msg_id for p in again] == [p.msg_id for p in first]
    assert [p.payload for p in again] != [p.payload for p in first]
    assert len({p.msg_id for p in first}) == len(first)
    other_source = IngestBatch(
        source="g",
        messages=ais.messages,
        rejected=ais.rejected.slice(0, 0),
        labels=ais.labels,
        lines=0,
    )
    assert not {p.msg_id for p in slices(other_source, 3, max_rows=200, max_bytes=1 << 20)} & {
        p.msg_id for p in first
    }


def test_a_slice_over_the_byte_limit_is_halved(ais: IngestBatch) -> None:
    parts = slices(ais, 1, max_rows=10_000, max_bytes=60_000)
    assert len(parts) > 1
    assert all(len(p.payload) <= 60_000 for p in parts)
    assert sum(p.rows for p in parts) == ais.message_count


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_is_an_input_error(data: bytes) -> None:
    for payload in (data, MAGIC + data, MAGIC + len(data).to_bytes(4, "big") + data):
        with contextlib.suppress(InputError):
            decode_slice(payload)


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_a_damaged_slice_is_an_input_error_or_a_valid_batch(
    ais: IngestBatch, data: st.DataObject
) -> None:
    payload = bytearray(slices(ais, 1, max_rows=50, max_bytes=1 << 20)[0].payload)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(payload) - 1))
        payload[index] = data.draw(st.integers(0, 255))
    try:
        batch = decode_slice(bytes(payload))
    except InputError:
        return
    assert batch.messages.schema == ais.messages.schema
