"""The exchange's tables answer the same on DuckDB and on PostgreSQL, call for call.

The same reports, alerts, outbox operations and inbound batches go into a DuckDB store and
a PostgreSQL store; every read of the two (``ExchangeTables`` and
``PostgresExchangeTables``) must then be equal, Arrow tables column for column and type for
type. A property does the same for random sequences of outbox operations (scans, amendments,
batches with drops and deferrals, given-up batches, acknowledgements), comparing every
partner's state after each step. And PostgreSQL writers in several threads (the exchange
takes an advisory lock, not the node's Python lock) give each item one order number.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import StoreError
from mista.labels import Level
from mista.model import AlertStatus
from mista.share.inbound import ingest_batch
from mista.store.embedded import DuckDBStore
from mista.store.embedded_exchange import InboundBatch, OutboxItem
from mista.store.exchange_tables import SharingTables, exchange_tables
from mista.store.postgres import PostgresStore
from mista.store.postgres_exchange import PostgresExchangeTables, sole_sharer
from mista.wire.records import WireRecord
from tests.share.conftest import AnyStore, NodeStores
from tests.share.test_alert_sharing import an_alert
from tests.share.test_exchange import NOW, agreement, clause, label, open_node, report_batches
from tests.store.pg_server import PgServer

PARTNERS = ("USA", "JPN", "FRA")
RECORDS = tuple(f"{n:032x}" for n in range(1, 7))


@pytest.fixture(scope="module")
def twins(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AnyStore, AnyStore]]:
    """A DuckDB store and a PostgreSQL store, fed the same calls by the module's tests."""
    root = tmp_path_factory.mktemp("twins")
    duck, pg = NodeStores("duckdb", None), NodeStores("postgresql", pg_server)
    first, second = duck.open(root, "IND"), pg.open(root, "IND")
    yield first, second
    first.close()
    second.close()
    pg.close()


def _same(answers: list[Any]) -> Any:
    """The one answer both backends gave (arrow tables compared with their schemas)."""
    first, second = answers
    if hasattr(first, "schema"):
        assert first.schema == second.schema
        assert first.to_pylist() == second.to_pylist()
    else:
        assert first == second
    return first


def _both(tables: tuple[SharingTables, SharingTables], call: str, *args: Any, **kw: Any) -> Any:
    return _same([getattr(one, call)(*args, **kw) for one in tables])


def _records(sender: str) -> list[WireRecord]:
    return [
        WireRecord(
            record_id,
            "reports",
            label(sender, to=["IND"]),
            {
                "originator": sender,
                "source_kind": "ais-terrestrial",
                "observed_at": NOW - timedelta(minutes=n),
                "mmsi": 431000000 + n,
                "lat": 10.0 + n / 10,
                "lon": 70.0,
            },
        )
        for n, record_id in enumerate(RECORDS[:3])
    ]


def test_the_same_calls_give_the_same_answers(twins: tuple[AnyStore, AnyStore]) -> None:
    stores = twins
    assert isinstance(stores[0], DuckDBStore)
    assert isinstance(stores[1], PostgresStore)
    tables = (exchange_tables(stores[0]), exchange_tables(stores[1]))
    # Reports with receivers (AIS heard by a receiver), a position file without, two labels.
    shared, other = label(to=["USA"]), label(to=["JPN"], level=Level.RESTRICTED)
    batches = [
        *report_batches(shared, [(10.0, 70.0), (10.1, 70.1)], receiver="rx-1"),
        *report_batches(other, [(11.0, 71.0)] * 3),
        ingest_batch("JPN", _records("JPN")),
    ]
    alerts = [an_alert("a", shared), an_alert("b", other, status=AlertStatus.CLOSED)]
    for store in stores:
        for batch in batches:
            store.write(batch)
        store.write_alerts(alerts)
        store.write_alerts([an_alert("a", shared, lat=12.0)])
    marks = _both(tables, "report_labels_after", 0, 100)
    assert marks.num_rows == 8
    assert _both(tables, "report_labels_after", 2, 3).column("seq").to_pylist() == [3, 4, 5]
    feed = _both(tables, "reports_after", 0, 100)
    assert feed.column("receiver").to_pylist()[:2] == ["rx-1", "rx-1"]
    numbers = sorted(set(marks.column("label_no").to_pylist()))
    _both(tables, "reports_after", 1, 3, label_nos=numbers[1:])
    _both(tables, "reports_after", 1, 100, label_nos=numbers[:1], through=6)
    assert _both(tables, "reports_after", 8, 10).num_rows == 0
    changes = _both(tables, "alert_changes_after", 0, 10)
    assert [(c.seq, c.revision) for c in changes] == [(1, 1), (2, 1), (3, 2)]
    assert _both(tables, "alert_changes_after", 1, 1)[0].id == alerts[1].id
    held = _both(tables, "held_alerts", [alerts[0].id, alerts[1].id, "nope"])
    assert held[alerts[0].id].lat == 12.0
    assert _both(tables, "labels") == stores[0].labels()
    # The outbox: scans, an amendment, a batch with a drop and a deferral, an ack.
    items = [
        OutboxItem(RECORDS[0], "record", NOW, "a1", None, '{"n":1}'),
        OutboxItem(RECORDS[0], "correct", NOW + timedelta(minutes=5), "a2", "c2", '{"n":2}'),
        OutboxItem(RECORDS[1], "record", NOW - timedelta(minutes=5), None, "c1", '{"n":3}'),
        OutboxItem(RECORDS[2], "record", NOW, "a1", "c1", '{"n":4}'),
    ]
    for one in tables:
        one.commit_scan("USA", 8, items)
        one.commit_alert_scan("USA", 3, items[2:])
        one.commit_scan("JPN", 4, items[:1])
        one.enqueue("USA", [OutboxItem(RECORDS[0], "withdraw", NOW, "a1", "c1", '{"w":1}')])
    assert _both(tables, "cursor", "USA").scanned_seq == 8
    assert _both(tables, "alert_cursor", "USA") == 3
    assert set(_both(tables, "given", "USA", [*RECORDS, RECORDS[0]])) == set(RECORDS[:3])
    assert _both(tables, "partners_given", RECORDS[0]) == {
        "JPN": ("a1", None),
        "USA": ("a1", None),
    }
    _both(tables, "latest_not_before", "USA", RECORDS[0])
    assert _both(tables, "latest_not_before", "USA", "f" * 32) is None
    assert _both(tables, "latest_item", "USA", RECORDS[0]) == '{"n":2}'
    assert _both(tables, "latest_item", "FRA", RECORDS[0]) is None
    due = _both(tables, "due", "USA", NOW, 10)
    assert [row.order_no for row in due] == [1, 3, 4, 5, 6, 8]
    assert [
        _both(tables, "assign_batch", "USA", [1, 3], [(4, "ended")], deferred=[(5, NOW)]),
        _both(tables, "pending", "USA")[0],
    ] == [1, 1]
    _both(tables, "assign_batch", "USA", [3], [], release_pending=True)
    assert _both(tables, "mark_sent", "USA", 2, NOW) == 1
    assert _both(tables, "outbox_counts", "USA") == {
        "queued": 5,
        "in-flight": 0,
        "sent": 1,
        "dropped": 1,
    }
    assert _both(tables, "cursor", "USA").low_order == 1
    # What the admins' outbox routes read, as the embedded store answers it.
    duck, pg = stores
    pg_tables = PostgresExchangeTables(pg)
    for partner, limit in ((None, 100), ("USA", 3), ("KOR", 5)):
        _same([duck.releases(partner, limit=limit), pg_tables.releases(partner, limit)])
    assert _same([duck.partners_released_to(), pg_tables.partners_released_to()]) == [
        "JPN",
        "USA",
    ]
    # Inbound batches, nonces and amendments of records received from JPN.
    batch = InboundBatch("JPN", 1, "h1", "i1", "n1", NOW, 3)
    for one in tables:
        one.record_inbound(
            batch, duplicate=False, amendments=[(RECORDS[0], "withdraw", "wrong", None)]
        )
        one.record_inbound(
            InboundBatch("JPN", 2, "h2", "i2", "n2", NOW, 1),
            duplicate=False,
            amendments=[("f" * 32, "correct", "fix", '{"x":1}')],
        )
        one.record_inbound(
            InboundBatch("JPN", 1, "h1", "i1", "n3", NOW + timedelta(minutes=30), 3),
            duplicate=True,
            forget_nonces_before=NOW + timedelta(minutes=1),
        )
    assert _both(tables, "inbound", "JPN", 1) == batch
    assert _both(tables, "inbound", "JPN", 3) is None
    seen = [_both(tables, "nonce_seen", "JPN", n) for n in ("n1", "n2", "n3")]
    assert seen == [False, False, True]
    assert _both(tables, "received_from", "JPN", [*RECORDS, "f" * 32]) == set(RECORDS[:3])
    assert _both(tables, "received_from", "USA", list(RECORDS)) == set()
    amendments = _both(tables, "amendments")
    assert amendments.column("record_id").to_pylist() == [RECORDS[0], "f" * 32]


def test_what_a_partner_received_reads_the_same(pg_server: PgServer, tmp_path: Path) -> None:
    """ "View as partner" from the sent items: the newest state per vessel, withdrawn
    records left out, identity fields from the newest record that has each."""
    shared = label(to=["USA"])
    fields = [
        (431000001, 50, {"lat": 10.0, "lon": 70.0, "name": "ASHA", "speed_kn": 3.5}),
        (431000001, 20, {"lat": 10.5, "lon": 70.5, "callsign": "VT1"}),
        (431000001, 10, {"name": "ASHA II", "imo": 9000001}),  # identity only
        (431000002, 40, {"lat": 11.0, "lon": 71.0, "nav_status": 5}),
        (431000003, 30, {"lat": 12.0, "lon": 72.0}),  # withdrawn below
    ]
    records = [
        WireRecord(
            f"{n + 1:032x}",
            "reports",
            shared,
            {
                "originator": "IND",
                "source_kind": "ais-terrestrial",
                "observed_at": NOW - timedelta(minutes=age),
                "mmsi": mmsi,
                **extra,
            },
        )
        for n, (mmsi, age, extra) in enumerate(fields)
    ]
    agreements = [agreement(clauses=[clause(precision=3, remove=["speed_kn"])])]
    answers = []
    for kind, server in (("duckdb", None), ("postgresql", pg_server)):
        opener = NodeStores(kind, server)
        ind = open_node(tmp_path / kind, "IND", ["USA"], agreements, stores=opener)
        try:
            ind.store.write(ingest_batch("IND", records))
            assert ind.exchange.scan("USA", now=NOW).released == 5
            first = ind.exchange.next_batch("USA", now=NOW)
            assert first is not None
            ind.exchange.acknowledge("USA", first, now=NOW)
            assert ind.exchange.amend(records[4].id, "withdraw", reason="x", now=NOW) == ["USA"]
            fix = {"lat": 10.6, "lon": 70.6}
            ind.exchange.amend(records[1].id, "correct", reason="fix", fields=fix, now=NOW)
            second = ind.exchange.next_batch("USA", now=NOW)
            assert second is not None
            ind.exchange.acknowledge("USA", second, now=NOW)
            tables = exchange_tables(ind.store)
            assert isinstance(tables, PostgresExchangeTables) == (kind == "postgresql")
            answer = (
                tables.released_vessels("USA")
                if isinstance(tables, PostgresExchangeTables)
                else ind.store.released_vessels("USA")
            )
            answers.append(answer)
        finally:
            ind.close()
            opener.close()
    seen = _same(answers).to_pylist()
    assert [row["mmsi"] for row in seen] == [431000001, 431000002]
    assert (seen[0]["lat"], seen[0]["name"], seen[0]["callsign"]) == (10.6, "ASHA II", "VT1")
    assert seen[0]["report_id"] == records[1].id
    assert seen[1]["nav_status"] == 5
    assert seen[0]["label"] == shared.to_marking()


# -- the property: random outbox operations ------------------------------------------------


@st.composite
def outbox_items(draw: st.DrawFn) -> OutboxItem:
    return OutboxItem(
        record_id=draw(st.sampled_from(RECORDS)),
        kind=draw(st.sampled_from(["record", "record", "correct", "withdraw"])),
        not_before=NOW + timedelta(minutes=draw(st.sampled_from([-10, 0, 0, 20]))),
        agreement=draw(st.sampled_from([None, "a1", "a2"])),
        clause=draw(st.sampled_from([None, "c1"])),
        item=draw(st.sampled_from(['{"n":1}', '{"n":2}', '{"n":3}'])),
    )


_OPS = st.one_of(
    st.tuples(
        st.just("scan"),
        st.sampled_from(PARTNERS),
        st.integers(0, 3),
        st.lists(outbox_items(), max_size=4),
    ),
    st.tuples(
        st.just("alert-scan"),
        st.sampled_from(PARTNERS),
        st.integers(0, 3),
        st.lists(outbox_items(), max_size=3),
    ),
    st.tuples(st.just("enqueue"), st.sampled_from(PARTNERS), st.lists(outbox_items(), max_size=2)),
    st.tuples(
        st.just("batch"),
        st.sampled_from(PARTNERS),
        st.lists(st.sampled_from(["send", "drop", "defer", "keep"]), max_size=5),
        st.booleans(),
    ),
    st.tuples(st.just("ack"), st.sampled_from(PARTNERS)),
)


def _apply(tables: tuple[SharingTables, SharingTables], op: tuple[Any, ...]) -> None:
    name, partner = op[0], op[1]
    if name == "scan":
        seq = _both(tables, "cursor", partner).scanned_seq + op[2]
        for one in tables:
            one.commit_scan(partner, seq, op[3])
    elif name == "alert-scan":
        seq = _both(tables, "alert_cursor", partner) + op[2]
        for one in tables:
            one.commit_alert_scan(partner, seq, op[3])
    elif name == "enqueue":
        for one in tables:
            one.enqueue(partner, op[2])
    elif name == "batch":
        due = _both(tables, "due", partner, NOW, 5)
        fates = dict(zip((row.order_no for row in due), op[2], strict=False))
        send = [order for order, fate in fates.items() if fate == "send"]
        drop = [(order, "ended") for order, fate in fates.items() if fate == "drop"]
        later = [(o, NOW + timedelta(minutes=9)) for o, fate in fates.items() if fate == "defer"]
        _both(tables, "assign_batch", partner, send, drop, deferred=later, release_pending=op[3])
    else:
        pending = _both(tables, "pending", partner)
        if pending is not None:
            _both(tables, "mark_sent", partner, pending[0], NOW)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=st.lists(_OPS, min_size=1, max_size=8))
def test_random_outbox_operations_leave_both_backends_in_the_same_state(
    twins: tuple[AnyStore, AnyStore], ops: list[tuple[Any, ...]]
) -> None:
    # Both stores get every example's operations, so they stay equal across examples too.
    tables = (exchange_tables(twins[0]), exchange_tables(twins[1]))
    for op in ops:
        _apply(tables, op)
        _both(tables, "cursor", op[1])
        _both(tables, "outbox_counts", op[1])
    for partner in PARTNERS:
        _both(tables, "alert_cursor", partner)
        _both(tables, "pending", partner)
        _both(tables, "due", partner, NOW + timedelta(minutes=30), 50)
        _both(tables, "given", partner, RECORDS)
        for record_id in RECORDS[:2]:
            _both(tables, "latest_not_before", partner, record_id)
            _both(tables, "latest_item", partner, record_id)
    for record_id in RECORDS:
        _both(tables, "partners_given", record_id)


# -- several writers -----------------------------------------------------------------------


def test_writers_in_several_threads_give_each_item_one_order_number(
    pg_server: PgServer, tmp_path: Path
) -> None:
    """Two store objects on one database (as two processes would be), each written from
    two threads at once with no Python lock: the advisory lock keeps order numbers unique
    and dense, and each partner's items in the order its writer queued them."""
    opener = NodeStores("postgresql", pg_server)
    first = opener.open(tmp_path, "IND")
    assert isinstance(first, PostgresStore)
    second = PostgresStore(first.url)
    failures: list[BaseException] = []

    def write(store: PostgresStore, partner: str) -> None:
        tables = exchange_tables(store)
        try:
            for n in range(15):
                item = OutboxItem(f"{n:032x}", "record", NOW, "a", "c", f'{{"n":{n}}}')
                if n % 3:
                    tables.enqueue(partner, [item])
                else:
                    tables.commit_scan(partner, n, [item, item])
        except BaseException as exc:  # reported below: a thread cannot fail the test
            failures.append(exc)

    threads = [
        threading.Thread(target=write, args=(store, partner))
        for store, partner in ((first, "USA"), (first, "JPN"), (second, "FRA"), (second, "KOR"))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert not failures, failures
        tables = exchange_tables(first)
        orders = []
        for partner in ("USA", "JPN", "FRA", "KOR"):
            rows = tables.due(partner, NOW, 100)
            assert [row.item for row in rows] == [
                f'{{"n":{n}}}' for n in range(15) for _ in range(1 if n % 3 else 2)
            ]
            assert tables.cursor(partner).scanned_seq == 12
            orders += [row.order_no for row in rows]
        assert sorted(orders) == list(range(1, 4 * 20 + 1))
    finally:
        second.close()
        first.close()
        opener.close()


def test_one_process_shares_from_a_database(pg_server: PgServer, tmp_path: Path) -> None:
    opener = NodeStores("postgresql", pg_server)
    store = opener.open(tmp_path, "IND")
    assert isinstance(store, PostgresStore)
    try:
        with sole_sharer(store):
            with pytest.raises(StoreError, match="another process shares"), sole_sharer(store):
                pass
            exchange_tables(store).enqueue("USA", [])  # the exchange itself is not blocked
        with sole_sharer(store):  # released with its holder
            pass
    finally:
        store.close()
        opener.close()
