"""Watch lists, webhook deliveries and the API's extra reads, on every backend.

Each user's lists are theirs alone (another's list counts as none), a webhook revision is
delivered at most once and its attempts are counted, and the live feeds start where the
store ends. The same calls on DuckDB and on PostgreSQL give the same tables.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest

from mista.errors import StoreError
from mista.store import BBox
from mista.store.embedded import DuckDBStore
from mista.store.postgres import PostgresStore
from tests.store.conftest import AnyStore, Backend
from tests.store.pg_server import PgServer
from tests.store.test_fusion_tables import OPERATOR, OWN, SHARED, an_alert, points
from tests.store.test_visibility import Row, batch_of

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
WORLD = BBox(-180.0, -90.0, 180.0, 90.0)


def test_watch_lists_belong_to_their_owner(any_store: AnyStore) -> None:
    store = any_store
    store.add_watchlist("w2", owner="bob", name="b", mmsis=[3], webhook=None, now=NOW)
    store.add_watchlist(
        "w1", owner="ann", name="tankers", mmsis=[419000001, 2], webhook="http://h/x", now=NOW
    )
    store.add_watchlist(
        "w0", owner="ann", name="later", mmsis=[], webhook=None, now=NOW + timedelta(1)
    )
    with pytest.raises(StoreError, match="w1 is taken"):
        store.add_watchlist("w1", owner="bob", name="x", mmsis=[], webhook=None, now=NOW)
    lists = store.watchlists()
    assert lists.column("id").to_pylist() == ["w1", "w0", "w2"]  # owner, created, id
    assert lists.column_names == [
        "id",
        "owner",
        "name",
        "mmsis",
        "webhook",
        "created_at",
        "updated_at",
    ]
    assert lists.schema.field("mmsis").type == pa.list_(pa.int32())
    assert lists.slice(0, 1).to_pylist()[0] == {
        "id": "w1",
        "owner": "ann",
        "name": "tankers",
        "mmsis": [419000001, 2],
        "webhook": "http://h/x",
        "created_at": NOW,
        "updated_at": NOW,
    }
    assert store.watchlists(owner="bob").column("id").to_pylist() == ["w2"]
    assert store.watchlists(watchlist_id="w0").column("owner").to_pylist() == ["ann"]
    assert store.watchlists(owner="bob", watchlist_id="w1").num_rows == 0
    # Another user's list counts as none: neither changed nor removed.
    later = NOW + timedelta(hours=1)
    assert not store.update_watchlist(
        "w1", owner="bob", name="mine", mmsis=[], webhook=None, now=later
    )
    assert not store.remove_watchlist("w1", owner="bob")
    assert store.update_watchlist("w1", owner="ann", name="t2", mmsis=[5], webhook=None, now=later)
    (row,) = store.watchlists(watchlist_id="w1").to_pylist()
    assert (row["name"], row["mmsis"], row["webhook"]) == ("t2", [5], None)
    assert (row["created_at"], row["updated_at"]) == (NOW, later)
    assert not store.update_watchlist(
        "nope", owner="ann", name="x", mmsis=[], webhook=None, now=later
    )


def test_a_webhook_revision_is_delivered_once_and_its_attempts_counted(
    any_store: AnyStore,
) -> None:
    store = any_store
    store.add_watchlist("w1", owner="ann", name="n", mmsis=[1], webhook="http://h", now=NOW)
    assert not store.webhook_delivered("w1", "enc-1", 1)
    assert store.record_webhook_attempt("w1", "enc-1", 1, delivered_at=None, error="503") == 1
    assert not store.webhook_delivered("w1", "enc-1", 1)
    assert store.record_webhook_attempt("w1", "enc-1", 1, delivered_at=NOW, error=None) == 2
    assert store.webhook_delivered("w1", "enc-1", 1)
    # A delivered revision stays delivered; a later error is still recorded.
    assert store.record_webhook_attempt("w1", "enc-1", 1, delivered_at=None, error="late") == 3
    assert store.webhook_delivered("w1", "enc-1", 1)
    assert not store.webhook_delivered("w1", "enc-1", 2)
    store.record_webhook_attempt("w1", "enc-0", 2, delivered_at=None, error="timeout")
    deliveries = store.webhook_deliveries("w1").to_pylist()
    assert deliveries == [
        {
            "watchlist_id": "w1",
            "alert_id": "enc-0",
            "revision": 2,
            "delivered_at": None,
            "attempts": 1,
            "last_error": "timeout",
        },
        {
            "watchlist_id": "w1",
            "alert_id": "enc-1",
            "revision": 1,
            "delivered_at": NOW,
            "attempts": 3,
            "last_error": "late",
        },
    ]
    assert store.webhook_deliveries().num_rows == 2
    assert store.webhook_deliveries("other").num_rows == 0
    # Removing a list removes its delivery records.
    assert store.remove_watchlist("w1", owner="ann")
    assert store.webhook_deliveries().num_rows == 0
    assert store.watchlists().num_rows == 0
    assert not store.remove_watchlist("w1", owner="ann")


def test_a_read_only_store_refuses_watch_list_changes(backend: Backend) -> None:
    location = backend.location()
    backend.open(location).close()
    store = backend.open(location, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        store.add_watchlist("w", owner="a", name="n", mmsis=[], webhook=None, now=NOW)
    with pytest.raises(StoreError, match="read-only"):
        store.record_webhook_attempt("w", "a", 1, delivered_at=None, error=None)
    assert store.watchlists().num_rows == 0


def test_the_feeds_end_where_the_store_does(any_store: AnyStore) -> None:
    store = any_store
    assert store.feed_ends() == (0, 0)
    assert store.feed_ends(7, 3) == (7, 3)  # a reader's known ends are kept
    first = [Row(SHARED, 419000001, 60 * i, 88.0 + i / 100, "") for i in range(4)]
    store.write(batch_of(first, "a.csv"))
    # Repeats take seqs and are not stored: the end is the last stored report.
    store.write(batch_of(first, "b.csv"))
    assert store.feed_ends() == (4, 0)
    later = [Row(OWN, 419000002, 600 + 60 * i, 89.0, "") for i in range(2)]
    store.write(batch_of(first + later, "c.csv"))
    last_seq = store.report_feed(0, 100).column("seq").to_pylist()[-1]
    assert last_seq > 6
    assert store.feed_ends() == store.feed_ends(4, 0) == (last_seq, 0)
    store.write_alerts([an_alert(), an_alert("b")])
    store.write_alerts([an_alert(lat=1.0)])
    assert store.feed_ends() == (last_seq, 3)
    assert store.feed_ends(last_seq, 2) == (last_seq, 3)
    assert store.alert_revisions([1, 2, 3, 99]) == {1: 1, 2: 1, 3: 2}
    assert store.alert_revisions([]) == {}


def test_a_page_of_positions_is_the_first_rows_of_positions(any_store: AnyStore) -> None:
    store = any_store
    rows = [Row(SHARED, 419000001 + i % 3, 60 * i, 88.0 + i / 100, "") for i in range(9)]
    store.write(batch_of(rows, "a.csv"))
    whole = store.positions(WORLD, viewer=OPERATOR)
    assert whole.num_rows == 9
    for limit in (0, 1, 4, 9, 50):
        page = store.positions_page(WORLD, viewer=OPERATOR, limit=limit)
        assert page.equals(whole.slice(0, limit))
    since = whole.column("observed_at")[3].as_py()
    assert store.positions_page(WORLD, since, viewer=OPERATOR, limit=2).equals(
        store.positions(WORLD, since, viewer=OPERATOR).slice(0, 2)
    )


def _calls(store: AnyStore) -> dict[str, object]:
    """Every answer of one sequence of watch-list, delivery and feed calls."""
    store.add_watchlist("b", owner="zed", name="é", mmsis=[9], webhook=None, now=NOW)
    store.add_watchlist("B", owner="Ann", name="x", mmsis=[1, 2], webhook="h", now=NOW)
    store.add_watchlist("a-1", owner="ann", name="y", mmsis=[], webhook=None, now=NOW)
    store.update_watchlist("a-1", owner="ann", name="z", mmsis=[3], webhook="w", now=NOW)
    for alert, revision in (("Z", 1), ("a", 2), ("a", 1)):
        store.record_webhook_attempt("B", alert, revision, delivered_at=NOW, error=None)
    store.write_fusion(cursor=0, tracks=[], points=points([]), alerts=[an_alert("q")])
    return {
        "watchlists": store.watchlists(),
        "deliveries": store.webhook_deliveries(),
        "ends": store.feed_ends(),
        "revisions": store.alert_revisions([1]),
    }


def test_both_backends_answer_the_same(pg_server: PgServer, tmp_path: Path) -> None:
    from tests.store.conftest import drop_database, new_database

    url = new_database(pg_server, icu_locale="en-US")  # sorts text unlike DuckDB
    try:
        with DuckDBStore(tmp_path / "a.duckdb") as duck, PostgresStore(url) as pg:
            expected, found = _calls(duck), _calls(pg)
    finally:
        drop_database(pg_server, url)
    for name, answer in expected.items():
        if isinstance(answer, pa.Table):
            other = found[name]
            assert isinstance(other, pa.Table)
            assert other.schema.equals(answer.schema), name
            assert other.to_pylist() == answer.to_pylist(), name  # byte-wise order of ids
        else:
            assert found[name] == answer, name
