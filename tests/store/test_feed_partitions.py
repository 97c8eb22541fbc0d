"""The report feed of some vessel partitions (``report_feed(..., partitions=...)``) on both
backends: the rows of the whole feed whose MMSI hashes into them, in pages that are full.

The store computes the hash in SQL; ``mista.partitions.mmsi_partition`` (numpy) is the
reference, over every 32-bit MMSI a hostile source could send, negatives included.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.ingest.batch import IngestBatch
from mista.ingest.contacts import contact_batches
from mista.partitions import VesselPartitions, mmsi_partition
from mista.store.postgres import PostgresStore
from tests.ingest.test_contacts import contact_line, context
from tests.store.conftest import AnyStore
from tests.store.test_embedded import T0, csv

#: Makes every written report new (its time and position), across a module's examples.
_serial = itertools.count()
_EDGES = (0, 1, 2**30 - 1, 2**30, 2**31 - 1, -1, -(2**31), 366_053_209)
_WHOLE = 10**7


def _reports(mmsis: Sequence[int]) -> IngestBatch:
    """A position-file batch of one report per MMSI, in order. The file's MMSIs are
    ordinary; each is then replaced by the one given, which may be any 32-bit value."""
    rows = []
    for _ in mmsis:
        n = next(_serial)
        at = datetime.fromtimestamp(T0 + n, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        rows.append(f"{200_000_000 + n},{at},{10 + (n % 1000) / 1000},{20 + n / 1e6}")
    batch = csv(rows)
    column = batch.messages.schema.get_field_index("mmsi")
    messages = batch.messages.set_column(column, "mmsi", pa.array(mmsis, pa.int32()))
    return dataclasses.replace(batch, messages=messages)


def _contacts(count: int) -> list[IngestBatch]:
    """Radar contacts (reports without an MMSI)."""
    lines = []
    for _ in range(count):
        n = next(_serial)
        at = datetime.fromtimestamp(T0 + n, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        lines.append(contact_line(time=at, plot=n, lat=11 + (n % 1000) / 1000, lon=21))
    return list(contact_batches([("\n".join(lines) + "\n").encode()], context()))


def _last_seq(store: AnyStore) -> int:
    seqs = store.report_feed(0, _WHOLE).column("seq")
    return int(seqs[-1].as_py()) if len(seqs) else 0


def _held(feed: pa.Table, partitions: VesselPartitions) -> pa.Table:
    """The rows of ``feed`` whose MMSI ``mmsi_partition`` puts in ``partitions``."""
    mmsi = feed.column("mmsi")
    keep = np.zeros(feed.num_rows, dtype=bool)
    valid = ~np.asarray(mmsi.is_null())
    keep[valid] = partitions.holds(mmsi.drop_null().to_numpy())
    return feed.filter(pa.array(keep))


def _pages(store: AnyStore, after: int, limit: int, partitions: VesselPartitions) -> list[pa.Table]:
    """The filtered feed after ``after`` read in pages of ``limit`` by cursor, up to and
    with the first empty page."""
    pages = []
    while True:
        page = store.report_feed(after, limit, partitions=partitions)
        pages.append(page)
        if not page.num_rows:
            return pages
        after = int(page.column("seq")[-1].as_py())


@st.composite
def _cases(draw: st.DrawFn) -> tuple[list[int], int, VesselPartitions]:
    mmsis = draw(
        st.lists(
            st.one_of(
                st.sampled_from(_EDGES),
                st.integers(-(2**31), 2**31 - 1),
                st.integers(200_000_000, 799_999_999),
            ),
            min_size=1,
            max_size=40,
        )
    )
    count = draw(st.integers(1, 64))
    members = draw(st.frozensets(st.integers(0, count - 1), min_size=1))
    return mmsis, draw(st.integers(0, 4)), VesselPartitions(count, members)


def test_the_filtered_feed_is_the_whole_feeds_rows_of_those_partitions(
    module_store: AnyStore,
) -> None:
    store = module_store
    examples = 15 if isinstance(store, PostgresStore) else 60

    @settings(max_examples=examples, deadline=None)
    @given(_cases())
    def check(case: tuple[list[int], int, VesselPartitions]) -> None:
        mmsis, radar, partitions = case
        after = _last_seq(store)
        store.write(_reports(mmsis))
        for batch in _contacts(radar):
            store.write(batch)
        whole = store.report_feed(after, _WHOLE)
        assert whole.num_rows == len(mmsis) + radar
        got = store.report_feed(after, _WHOLE, partitions=partitions)
        assert got.schema == whole.schema
        assert got.equals(_held(whole, partitions))
        # Every 32-bit value, not only AIS's 30-bit MMSIs, hashes as numpy does.
        expected = mmsi_partition(np.asarray(mmsis), partitions.count)
        assert got.num_rows == int(np.isin(expected, sorted(partitions.members)).sum())

    check()


def test_pages_of_a_sparse_partition_are_full_but_the_last(any_store: AnyStore) -> None:
    partitions = VesselPartitions(8, frozenset({3}))
    candidates = np.arange(366_000_000, 366_002_000)
    inside = candidates[partitions.holds(candidates)]
    outside = candidates[~partitions.holds(candidates)]
    # One report in 50 is of partition 3: a page's seq range must grow far past
    # ``limit`` times the share the partition count predicts.
    mmsis = [int(inside[i // 50]) if i % 50 == 0 else int(outside[i]) for i in range(1_500)]
    any_store.write(_reports(mmsis))
    for batch in _contacts(20):
        any_store.write(batch)
    whole = any_store.report_feed(0, _WHOLE)
    expected = _held(whole, partitions)
    assert expected.num_rows == 30
    for limit in (1, 4, 7, 100):
        pages = _pages(any_store, 0, limit, partitions)
        assert pa.concat_tables(pages).equals(expected)
        full, last = divmod(expected.num_rows, limit)
        sizes = [page.num_rows for page in pages]
        assert sizes == [limit] * full + ([last] if last else []) + [0]
    # From a cursor between matching rows, the next page starts at the next one.
    seqs = expected.column("seq").to_pylist()
    page = any_store.report_feed(seqs[4] + 1, 3, partitions=partitions)
    assert page.column("seq").to_pylist() == seqs[5:8]


def test_radar_contacts_are_in_no_partition(any_store: AnyStore) -> None:
    for batch in _contacts(5):
        any_store.write(batch)
    any_store.write(_reports([366_000_001, 0, -1, 2**31 - 1]))
    for batch in _contacts(5):
        any_store.write(batch)
    whole = any_store.report_feed(0, _WHOLE)
    assert whole.column("source_kind").to_pylist().count("radar") == 10
    every = VesselPartitions(1, frozenset({0}))
    feed = any_store.report_feed(0, _WHOLE, partitions=every)
    assert feed.column("mmsi").to_pylist() == [366_000_001, 0, -1, 2**31 - 1]
    assert feed.column("source_kind").to_pylist().count("radar") == 0
    assert any_store.report_feed(0, 3, partitions=every).num_rows == 3
