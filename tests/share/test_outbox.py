"""The outbox and cursor in the store: atomic scans, due order, batches, acknowledgements.

Every test that touches a store runs on both backends (``node_stores``, conftest.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.errors import InputError, StoreError
from mista.labels import Label
from mista.share.agreements import Flow
from mista.share.release import Candidate, Releaser, decide
from mista.store.embedded import DuckDBStore
from mista.store.embedded_exchange import OutboxItem
from mista.store.exchange_tables import SharingTables, exchange_tables
from mista.store.postgres import PostgresStore
from tests import strategies
from tests.share.conftest import NodeStores
from tests.share.test_exchange import NOW, agreement, clause, label, observe, open_node


@pytest.fixture
def tables(tmp_path: Path, node_stores: NodeStores) -> Iterator[SharingTables]:
    with node_stores.open(tmp_path, "IND") as store:
        yield exchange_tables(store)


def item(number: int, *, due_in: timedelta = timedelta(0)) -> OutboxItem:
    return OutboxItem(
        record_id=f"{number:032x}",
        kind="record",
        not_before=NOW + due_in,
        agreement="a",
        clause="c",
        item=f'{{"n":{number}}}',
    )


def test_a_new_store_has_the_exchange_tables(tmp_path: Path, node_stores: NodeStores) -> None:
    with node_stores.open(tmp_path, "IND") as store:
        assert store.schema_version() >= (3 if isinstance(store, DuckDBStore) else 6)
        where = store.url if isinstance(store, PostgresStore) else store.path
    reopened = (
        PostgresStore(where, read_only=True)
        if isinstance(where, str)
        else DuckDBStore(where, read_only=True)
    )
    with reopened:
        tables = exchange_tables(reopened)
        assert tables.cursor("USA").scanned_seq == 0
        assert tables.outbox_counts("USA") == {"queued": 0, "in-flight": 0, "sent": 0, "dropped": 0}


def test_the_cursor_moves_with_its_rows_or_not_at_all(tables: SharingTables) -> None:
    tables.commit_scan("USA", 10, [item(1), item(2)])
    assert tables.cursor("USA").scanned_seq == 10
    broken = OutboxItem("f" * 32, "record", NOW, None, None, None)  # type: ignore[arg-type]
    with pytest.raises(StoreError):
        tables.commit_scan("USA", 20, [item(3), broken])
    assert tables.cursor("USA").scanned_seq == 10
    assert tables.outbox_counts("USA")["queued"] == 2
    with pytest.raises(StoreError, match="move back"):
        tables.commit_scan("USA", 5, [item(4)])
    assert [row.record_id for row in tables.due("USA", NOW, 10)] == [f"{1:032x}", f"{2:032x}"]


def test_due_items_come_in_order_and_holds_wait(tables: SharingTables) -> None:
    tables.commit_scan("USA", 3, [item(1), item(2, due_in=timedelta(minutes=30)), item(3)])
    assert [row.order_no for row in tables.due("USA", NOW, 10)] == [1, 3]
    assert [row.order_no for row in tables.due("USA", NOW, 1)] == [1]
    later = NOW + timedelta(minutes=30)
    assert [row.order_no for row in tables.due("USA", later, 10)] == [1, 2, 3]
    assert tables.due("JPN", later, 10) == []


def test_a_batch_stays_pending_until_it_is_acknowledged(tables: SharingTables) -> None:
    tables.commit_scan("USA", 3, [item(1), item(2), item(3)])
    seq = tables.assign_batch("USA", [1, 2], [(3, "agreement ended")])
    assert seq == 1
    pending = tables.pending("USA")
    assert pending is not None
    assert (pending[0], [row.order_no for row in pending[1]]) == (1, [1, 2])
    assert tables.due("USA", NOW, 10) == []
    assert tables.mark_sent("USA", 1, NOW) == 2
    assert tables.pending("USA") is None
    assert tables.mark_sent("USA", 1, NOW) == 0  # acknowledging twice changes nothing
    assert tables.outbox_counts("USA") == {"queued": 0, "in-flight": 0, "sent": 2, "dropped": 1}
    assert tables.assign_batch("USA", [], []) is None
    tables.enqueue("USA", [item(4)])
    assert tables.assign_batch("USA", [4], []) == 2


def test_given_up_batches_return_their_items_to_the_queue(tables: SharingTables) -> None:
    tables.commit_scan("USA", 2, [item(1), item(2)])
    tables.assign_batch("USA", [1, 2], [])
    tables.assign_batch("USA", [], [(1, "denied now")], release_pending=True)
    assert tables.pending("USA") is None
    assert [row.order_no for row in tables.due("USA", NOW, 10)] == [2]


def test_partners_given_a_record_are_those_it_was_queued_for(tables: SharingTables) -> None:
    tables.commit_scan("USA", 1, [item(1)])
    tables.commit_scan("JPN", 1, [item(1), item(2)])
    tables.commit_scan("FRA", 1, [item(1)])
    (fra_item,) = tables.due("FRA", NOW, 10)
    assert fra_item.order_no == 4  # one order sequence for all partners
    tables.assign_batch("FRA", [], [(fra_item.order_no, "agreement ended")])
    assert list(tables.partners_given(f"{1:032x}")) == ["JPN", "USA"]
    assert list(tables.partners_given(f"{2:032x}")) == ["JPN"]


def test_scans_resume_after_the_cursor_and_respect_the_limit(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    agreements = [agreement(clauses=[clause()])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    observe(ind, label(), [(10.0, 70.0 + i / 100) for i in range(7)])
    observe(ind, label(to=[]), [(10.0, 71.0)] * 1)
    first = ind.exchange.scan("USA", now=NOW, limit=5)
    assert (first.scanned, first.released) == (5, 5)
    ind.close()
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    second = ind.exchange.scan("USA", now=NOW, limit=5)
    assert (second.scanned, second.released, dict(second.denied)) == (3, 2, {"rule 2": 1})
    assert ind.exchange.scan("USA", now=NOW).scanned == 0
    assert ind.exchange.outbox_counts("USA")["queued"] == 7
    ind.close()


def test_an_unknown_partner_is_an_error(tmp_path: Path, node_stores: NodeStores) -> None:
    ind = open_node(tmp_path / "ind", "IND", ["USA"], [agreement()], stores=node_stores)
    with pytest.raises(InputError, match="not a partner of IND"):
        ind.exchange.scan("JPN", now=NOW)
    ind.close()


def test_reads_start_after_what_is_done(tables: SharingTables) -> None:
    tables.commit_scan("USA", 4, [item(1), item(2), item(3, due_in=timedelta(hours=1)), item(4)])
    tables.commit_scan("JPN", 1, [item(5)])
    assert tables.cursor("USA").low_order == 0
    tables.mark_sent("USA", tables.assign_batch("USA", [1, 2], []) or 0, NOW)
    assert tables.cursor("USA").low_order == 3  # the held item is the first open one
    tables.mark_sent("USA", tables.assign_batch("USA", [4], []) or 0, NOW)
    assert tables.cursor("USA").low_order == 3
    assert [row.order_no for row in tables.due("USA", NOW + timedelta(hours=1), 10)] == [3]
    tables.assign_batch("USA", [], [(3, "agreement ended")])
    assert tables.cursor("USA").low_order == 6  # nothing open: past the last order number
    tables.enqueue("USA", [item(6)])
    assert [row.order_no for row in tables.due("USA", NOW, 10)] == [6]
    assert [row.order_no for row in tables.due("JPN", NOW, 10)] == [5]


@settings(max_examples=200, deadline=None)
@given(
    strategies.labels(),
    st.sampled_from(["IND", "JPN", "USA"]),
    st.floats(-90, 90),
    st.floats(-180, 180),
    st.integers(-3, 3),
)
def test_a_fixed_decision_is_the_decision_of_every_record_under_the_label(
    lab: Label, node: str, lat: float, lon: float, days: int
) -> None:
    # The scan skips reading records whose label has a fixed denial: that must be what
    # deciding each of them gives.
    agreements = [
        agreement(clauses=[clause(area=(60.0, 0.0, 80.0, 25.0))]),
        agreement("jpn", ["IND", "JPN"], valid_until=NOW - timedelta(days=1)),
    ]
    releaser = Releaser(node, "USA" if node != "USA" else "IND", agreements)
    now = NOW + timedelta(days=days)
    fixed = releaser.fixed_decision(lab, Flow.REPORTS, now)
    candidate = Candidate(Flow.REPORTS, lab, NOW - timedelta(hours=1), lat, lon)
    decided = releaser.decide(candidate, now)
    if fixed is not None:
        assert decided == fixed
    reference = decide(
        candidate, node=releaser.node, partner=releaser.partner, agreements=agreements, now=now
    )
    assert decided == reference


def test_a_scan_counts_records_of_wholly_denied_labels_without_reading_them(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    agreements = [agreement(clauses=[clause(area=(60.0, 0.0, 80.0, 25.0))])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    observe(ind, label(), [(10.0, 70.0), (10.0, 10.0)])  # released, outside the area
    observe(ind, label(to=[]), [(10.0, 71.0)] * 3)  # rule 2, whatever the record
    observe(ind, label(categories=["sensor:radar"]), [(10.0, 71.0)])  # no clause
    result = ind.exchange.scan("USA", now=NOW)
    assert (result.scanned, result.released) == (6, 1)
    assert dict(result.denied) == {"rule 2": 3, "rule 5": 2}
    assert ind.exchange.scan("USA", now=NOW).scanned == 0
    ind.close()
