"""The fused picture in the store: migration 4, the report feed, and one-transaction writes.

``write_fusion`` must be all or nothing (a failing step leaves points, tracks, alerts,
alert changes and the cursor as they were), alerts must be versioned only when they
change, and the feed must hand fusion every report once, in seq order, across gaps. The
tests taking ``store`` run on every backend (DuckDB file, PostgreSQL + PostGIS).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import StoreError
from mista.ingest.batch import hex_ids
from mista.labels import Label, Level
from mista.model import Alert, AlertStatus, Track, User, report_id
from mista.store.embedded import DuckDBStore
from mista.store.embedded_exchange import ExchangeTables
from mista.store.embedded_fusion import FEED_SCHEMA
from mista.store.embedded_schema import MIGRATIONS
from mista.store.postgres import PostgresStore
from mista.store.postgres_schema import MIGRATIONS as POSTGRES_MIGRATIONS
from tests.store.conftest import AnyStore, Backend, drop_database, new_database
from tests.store.pg_server import PgServer
from tests.store.test_visibility import Row, batch_of
from tests.strategies import labels

T0 = datetime(2026, 1, 1, tzinfo=UTC)
SHARED = Label(Level.RESTRICTED, "IND", frozenset({"USA"}))
OWN = Label(Level.SECRET, "IND")
OPERATOR = User("operator", "IND", Level.SECRET)


def a_track(ident: str = "ais:419000001", **changes: Any) -> Track:
    track = Track(
        id=ident,
        kind="ais",
        first_at=T0,
        last_at=T0 + timedelta(hours=1),
        lat=12.5,
        lon=88.0,
        points=2,
        label=SHARED,
        mmsi=419000001,
        name="SEA ONE",
    )
    return dataclasses.replace(track, **changes)


def an_alert(ident: str = "enc-1", **changes: Any) -> Alert:
    alert = Alert(
        id=ident,
        kind="encounter",
        status=AlertStatus.OPEN,
        start=T0,
        end=T0 + timedelta(hours=2),
        lat=12.5,
        lon=88.0,
        label=SHARED,
        mmsis=(419000001, 563000002),
        tracks=("ais:419000001", "ais:563000002"),
        evidence='{"distance_m": 320}',
    )
    return dataclasses.replace(alert, **changes)


def points(seqs: list[int], track: str = "ais:419000001", flags: int = 0) -> pa.Table:
    return pa.table(
        {
            "seq": pa.array(seqs, pa.int64()),
            "track_id": [track] * len(seqs),
            "flags": pa.array([flags] * len(seqs), pa.uint16()),
        }
    )


@pytest.fixture
def store(any_store: AnyStore) -> AnyStore:
    """A fresh empty store of each backend in turn."""
    return any_store


def table_rows(db: AnyStore, table: str) -> list[tuple[object, ...]]:
    """Every row of ``table`` as stored, in order of all its columns."""
    if isinstance(db, DuckDBStore):
        rows = db.connection.sql(f"SELECT * FROM {table} ORDER BY ALL").to_arrow_table()
        return [tuple(row.values()) for row in rows.to_pylist()]
    with psycopg.connect(db.url) as con:
        width = len(con.execute(f"SELECT * FROM {table} LIMIT 0").description or ())
        order = ", ".join(str(n) for n in range(1, width + 1))
        return con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchall()


def everything(db: AnyStore) -> dict[str, object]:
    return {
        "cursor": db.fusion_cursor(),
        **{
            table: table_rows(db, table)
            for table in ("tracks", "track_points", "alerts", "alert_changes", "labels")
        },
    }


# -- migration ---------------------------------------------------------------------------


def make_v3_store(path: Path, source: DuckDBStore) -> None:
    """A store as migrations 1-3 left it, holding the reports and labels of ``source``."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL)"
    )
    for version, name, statements in MIGRATIONS[:3]:
        for statement in statements:
            con.execute(statement)
        con.execute("INSERT INTO schema_migrations VALUES (?, ?, now())", [version, name])
    for table in ("labels", "sources", "reports", "receptions"):
        rows = source.connection.sql(f"SELECT * FROM {table}").to_arrow_table()
        con.register("_rows", rows)
        con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
        con.unregister("_rows")
    con.close()


def test_a_version_3_store_migrates_to_an_empty_fused_picture(tmp_path: Path) -> None:
    rows = [Row(SHARED, 419000001, 60 * i, 88.0 + i / 100, "SEA ONE") for i in range(3)]
    with DuckDBStore(tmp_path / "new.duckdb") as fresh:
        fresh.write(batch_of(rows, "a.csv"))
        make_v3_store(tmp_path / "old.duckdb", fresh)
        feed = fresh.report_feed(0, 10)
    with duckdb.connect(str(tmp_path / "old.duckdb")) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchall() == [(3,)]
    with DuckDBStore(tmp_path / "old.duckdb") as migrated:
        assert migrated.schema_version() == MIGRATIONS[-1][0]  # 4 and every later one
        assert migrated.fusion_cursor() == 0
        assert migrated.alerts(viewer=OPERATOR).num_rows == 0
        assert migrated.tracks(viewer=OPERATOR).num_rows == 0
        assert migrated.report_feed(0, 10).equals(feed)
        migrated.write_fusion(
            cursor=3, tracks=[a_track()], points=points([1, 2, 3]), alerts=[an_alert()]
        )
    with DuckDBStore(tmp_path / "old.duckdb", read_only=True) as reopened:
        assert reopened.fusion_cursor() == 3
        assert reopened.alerts(viewer=OPERATOR).column("id").to_pylist() == ["enc-1"]


def test_a_version_3_postgres_store_migrates_to_an_empty_fused_picture(
    pg_server: PgServer, tmp_path: Path
) -> None:
    backend = Backend("postgresql", tmp_path, pg_server)
    try:
        _migrate_a_version_3_postgres_store(backend)
    finally:
        backend.close()


def _migrate_a_version_3_postgres_store(backend: Backend) -> None:
    location = backend.location()
    rows = [Row(SHARED, 419000001, 60 * i, 88.0 + i / 100, "SEA ONE") for i in range(3)]
    with backend.open(location) as fresh:
        fresh.write(batch_of(rows, "a.csv"))
        feed = fresh.report_feed(0, 10)
    # Back to what migrations 1-3 left: their tables, holding the reports (the later
    # migrations only add tables).
    later = [
        found.group(1)
        for _, _, statements in POSTGRES_MIGRATIONS[3:]
        for statement in statements
        if (found := re.search(r"CREATE TABLE (\w+)", statement))
    ]
    assert {"tracks", "alerts", "fusion_cursor", "watchlists"} <= set(later)
    with psycopg.connect(location, autocommit=True) as con:
        con.execute(f"DROP TABLE {', '.join(later)}")
        con.execute("DELETE FROM schema_migrations WHERE version > 3")
    with pytest.raises(StoreError, match="mista store migrate"):
        backend.open(location, read_only=True)
    with backend.open(location) as migrated:
        assert migrated.schema_version() == POSTGRES_MIGRATIONS[-1][0]
        assert migrated.fusion_cursor() == 0
        assert migrated.alerts(viewer=OPERATOR).num_rows == 0
        assert migrated.tracks(viewer=OPERATOR).num_rows == 0
        assert migrated.watchlists().num_rows == 0
        assert migrated.report_feed(0, 10).equals(feed)
        migrated.write_fusion(
            cursor=3, tracks=[a_track()], points=points([1, 2, 3]), alerts=[an_alert()]
        )
    with backend.open(location, read_only=True) as reopened:
        assert reopened.fusion_cursor() == 3
        assert reopened.alerts(viewer=OPERATOR).column("id").to_pylist() == ["enc-1"]


# -- the report feed ---------------------------------------------------------------------


def test_the_feed_has_the_contract_columns_ids_and_receivers(store: AnyStore) -> None:
    rows = [Row(SHARED, 419000001 + i % 2, 60 * i, 88.0 + i / 100, f"N{i}") for i in range(5)]
    batch = batch_of(rows, "a.csv")
    store.write(batch)
    feed = store.report_feed(0, 100)
    assert feed.schema == FEED_SCHEMA
    assert feed.column("seq").to_pylist() == [1, 2, 3, 4, 5]  # input order
    assert feed.column("id").to_pylist() == hex_ids(
        batch.messages.column("id_hi"), batch.messages.column("id_lo")
    )
    first = feed.slice(0, 1).to_pylist()[0]
    written = batch.messages.slice(0, 1).to_pylist()[0]
    assert first["id"] == report_id("IND", written["content_key"], written["observed_at"])
    assert (first["mmsi"], first["lat"], first["lon"]) == (419000001, 10.0, 88.0)
    assert first["observed_at"] == written["observed_at"]
    assert first["label_no"] in store.labels()
    assert store.labels()[first["label_no"]] == SHARED
    # Position files name no receiver; the share scan's reader agrees on every column.
    assert feed.column("receiver").null_count == 5
    if isinstance(store, DuckDBStore):
        assert feed.to_pylist() == ExchangeTables(store).reports_after(0, 100).to_pylist()


def test_paging_the_feed_returns_every_report_once_in_order_across_gaps(
    store: AnyStore,
) -> None:
    first = [Row(SHARED, 419000001, 60 * i, 88.0 + i / 100, "") for i in range(4)]
    later = [Row(OWN, 419000002, 600 + 60 * i, 89.0 + i / 100, "") for i in range(3)]
    store.write(batch_of(first, "a.csv"))
    # The same rows again and three new ones: the repeats take seqs and leave a gap.
    store.write(batch_of(first + later, "b.csv"))
    whole = store.report_feed(0, 1000)
    seqs = whole.column("seq").to_pylist()
    assert len(seqs) == 7
    assert seqs == sorted(seqs)
    assert seqs[-1] > 7  # the repeats left a gap
    for limit in (1, 2, 3, 5):
        pages, after = [], 0
        while (page := store.report_feed(after, limit)).num_rows:
            assert page.num_rows <= limit
            pages.append(page)
            after = page.column("seq")[-1].as_py()
        assert pa.concat_tables(pages).equals(whole)
    assert store.report_feed(0, 2**63 - 1).equals(whole)
    assert store.report_feed(seqs[-1], 10).num_rows == 0
    assert store.report_feed(0, 0).schema == FEED_SCHEMA


# -- writing the fused picture -----------------------------------------------------------


def test_a_fusion_step_writes_points_tracks_alerts_and_the_cursor(store: AnyStore) -> None:
    store.write_fusion(
        cursor=2,
        tracks=[a_track(), a_track("dark:IND-radar-1:7", kind="dark", mmsi=None, label=OWN)],
        points=points([1, 2], flags=4),
        alerts=[an_alert()],
    )
    assert store.fusion_cursor() == 2
    assert table_rows(store, "track_points") == [(1, "ais:419000001", 4), (2, "ais:419000001", 4)]
    tracks = store.tracks(viewer=OPERATOR).to_pylist()
    assert [t["id"] for t in tracks] == ["ais:419000001", "dark:IND-radar-1:7"]
    assert tracks[0] == {
        "id": "ais:419000001",
        "kind": "ais",
        "mmsi": 419000001,
        "name": "SEA ONE",
        "first_at": T0,
        "last_at": T0 + timedelta(hours=1),
        "lat": 12.5,
        "lon": 88.0,
        "points": 2,
        "linked_from": None,
        "label": SHARED.to_marking(),
    }
    assert store.tracks(viewer=OPERATOR, kind="dark").column("id").to_pylist() == [
        "dark:IND-radar-1:7"
    ]
    # A later step moves a track on: upserted, not added.
    store.write_fusion(
        cursor=5, tracks=[a_track(points=5, lat=12.6)], points=points([4, 5]), alerts=[]
    )
    (moved,) = store.tracks(viewer=OPERATOR, kind="ais").to_pylist()
    assert (moved["points"], moved["lat"]) == (5, 12.6)
    assert store.counts()["track_points"] == 4


def test_a_replayed_report_is_placed_on_a_track_once(store: AnyStore) -> None:
    store.write_fusion(cursor=3, tracks=[], points=points([1, 2, 3]), alerts=[])
    # A restarted fuser replays 2 and 3 (and names one row twice); 3 goes on a second track.
    replayed = pa.concat_tables([points([2, 3, 4, 4]), points([3], track="dark:IND-radar-1:7")])
    store.write_fusion(cursor=4, tracks=[], points=replayed, alerts=[])
    assert table_rows(store, "track_points") == [
        (1, "ais:419000001", 0),
        (2, "ais:419000001", 0),
        (3, "ais:419000001", 0),
        (3, "dark:IND-radar-1:7", 0),
        (4, "ais:419000001", 0),
    ]


@pytest.mark.parametrize(
    ("bad_tracks", "bad_alerts"),
    [
        # Violates tracks' CHECK (last_at >= first_at), after the points are inserted.
        ([a_track("ais:2", last_at=T0 - timedelta(hours=1))], []),
        # Violates alerts' CHECK on latitude, after points and tracks are written.
        ([a_track("ais:2")], [an_alert("enc-2", lat=95.0)]),
    ],
)
def test_a_failing_fusion_step_leaves_everything_as_it_was(
    store: AnyStore, bad_tracks: list[Track], bad_alerts: list[Alert]
) -> None:
    store.write_fusion(cursor=2, tracks=[a_track()], points=points([1, 2]), alerts=[an_alert()])
    before = everything(store)
    new_label = Label(Level.CONFIDENTIAL, "IND", frozenset({"JPN"}))
    with pytest.raises(StoreError, match="writing a fusion step failed"):
        store.write_fusion(
            cursor=9,
            tracks=[
                a_track(points=9),
                *(dataclasses.replace(t, label=new_label) for t in bad_tracks),
            ],
            points=points([3, 4, 5]),
            alerts=[an_alert(end=T0 + timedelta(hours=3)), *bad_alerts],
        )
    assert everything(store) == before
    # The store is still usable, and the step can be retried once fixed.
    store.write_fusion(cursor=9, tracks=[a_track(points=9)], points=points([3, 4, 5]), alerts=[])
    assert store.fusion_cursor() == 9
    assert store.counts()["track_points"] == 5


def test_the_cursor_never_moves_back_and_points_must_have_the_contract_columns(
    store: AnyStore,
) -> None:
    store.write_fusion(cursor=10, tracks=[], points=points([]), alerts=[])
    with pytest.raises(StoreError, match="move back from 10 to 4"):
        store.write_fusion(cursor=4, tracks=[], points=points([]), alerts=[])
    with pytest.raises(StoreError, match="lack columns flags"):
        store.write_fusion(
            cursor=11, tracks=[], points=points([1]).drop_columns(["flags"]), alerts=[]
        )
    with pytest.raises(StoreError, match="wrong type"):
        store.write_fusion(
            cursor=11,
            tracks=[],
            points=points([1]).set_column(2, "flags", pa.array(["x"])),
            alerts=[],
        )
    assert store.fusion_cursor() == 10
    store.write_fusion(cursor=10, tracks=[], points=points([]), alerts=[])  # standing still


def test_a_read_only_store_refuses_fusion_writes(backend: Backend) -> None:
    location = backend.location()
    backend.open(location).close()
    db = backend.open(location, read_only=True)
    with pytest.raises(StoreError, match="read-only"):
        db.write_alerts([an_alert()])
    with pytest.raises(StoreError, match="read-only"):
        db.write_fusion(cursor=1, tracks=[], points=points([]), alerts=[])


# -- alerts: upsert, revisions, withdrawal -----------------------------------------------


def test_an_unchanged_alert_is_not_a_new_revision(store: AnyStore) -> None:
    assert store.write_alerts([an_alert()]) == 1
    assert store.write_alerts([an_alert()]) == 0
    store.write_fusion(cursor=1, tracks=[], points=points([]), alerts=[an_alert()])
    (row,) = store.alerts(viewer=OPERATOR).to_pylist()
    assert row["revision"] == 1
    assert [seq for seq, _ in store.alert_changes_after(0, 10)] == [1]


@pytest.mark.parametrize(
    "change",
    [
        {"status": AlertStatus.CLOSED},
        {"start": T0 - timedelta(minutes=1)},
        {"end": T0 + timedelta(hours=3)},
        {"lat": 12.6},
        {"lon": 88.1},
        {"evidence": '{"distance_m": 300}'},
        {"label": OWN},
        {"mmsis": (563000002, 419000001)},
        {"tracks": ("ais:419000001",)},
        {"kind": "loitering"},
    ],
)
def test_any_change_is_a_new_revision_with_the_next_alert_seq(
    store: AnyStore, change: dict[str, Any]
) -> None:
    store.write_alerts([an_alert("other"), an_alert()])
    assert store.write_alerts([an_alert(**change)]) == 1
    changes = store.alert_changes_after(0, 10)
    assert [(seq, alert.id) for seq, alert in changes] == [(1, "other"), (2, "enc-1"), (3, "enc-1")]
    assert changes[-1][1] == an_alert(**change)
    row = store.alerts(viewer=OPERATOR, kinds=[an_alert(**change).kind]).to_pylist()
    assert [r["revision"] for r in row if r["id"] == "enc-1"] == [2]


def test_withdrawn_alerts_are_kept_and_shown_only_when_asked(store: AnyStore) -> None:
    store.write_alerts(
        [an_alert(), an_alert("gap-1", kind="ais-gap", start=T0 + timedelta(minutes=1))]
    )
    store.write_alerts([an_alert(status=AlertStatus.WITHDRAWN)])
    assert store.alerts(viewer=OPERATOR).column("id").to_pylist() == ["gap-1"]
    shown = store.alerts(viewer=OPERATOR, include_withdrawn=True).to_pylist()
    assert [(a["id"], a["status"], a["revision"]) for a in shown] == [
        ("enc-1", "withdrawn", 2),
        ("gap-1", "open", 1),
    ]
    seq, withdrawn = store.alert_changes_after(2, 10)[0]
    assert (seq, withdrawn.status) == (3, AlertStatus.WITHDRAWN)
    assert store.alert_changes_after(3, 10) == []


def test_the_last_state_given_for_an_id_wins_within_one_write(store: AnyStore) -> None:
    assert store.write_alerts([an_alert(lat=1.0), an_alert(lat=2.0)]) == 1
    (row,) = store.alerts(viewer=OPERATOR).to_pylist()
    assert (row["lat"], row["revision"]) == (2.0, 1)


def test_alerts_are_filtered_by_window_kind_and_limit_in_start_order(store: AnyStore) -> None:
    hour = timedelta(hours=1)
    store.write_alerts(
        [
            an_alert("b", start=T0, end=T0 + 2 * hour),
            an_alert("a", start=T0, end=T0 + hour),
            an_alert("c", kind="loitering", start=T0 + 3 * hour, end=T0 + 5 * hour),
        ]
    )
    assert store.alerts(viewer=OPERATOR).column("id").to_pylist() == ["a", "b", "c"]
    assert store.alerts(viewer=OPERATOR, limit=2).column("id").to_pylist() == ["a", "b"]
    # Overlap: ends at or after since, starts before until.
    since = store.alerts(viewer=OPERATOR, since=T0 + 2 * hour)
    assert since.column("id").to_pylist() == ["b", "c"]
    until = store.alerts(viewer=OPERATOR, until=T0 + 3 * hour)
    assert until.column("id").to_pylist() == ["a", "b"]
    kinds = store.alerts(viewer=OPERATOR, kinds=["loitering", "spoofing"])
    assert kinds.column("id").to_pylist() == ["c"]
    assert kinds.column_names == [
        "id",
        "kind",
        "status",
        "start",
        "end",
        "lat",
        "lon",
        "mmsis",
        "tracks",
        "evidence",
        "revision",
        "label",
    ]
    assert kinds.schema.field("mmsis").type == pa.list_(pa.int32())
    assert kinds.schema.field("tracks").type == pa.list_(pa.string())
    with pytest.raises(StoreError, match="no timezone"):
        store.alerts(viewer=OPERATOR, since=datetime(2026, 1, 1))


@pytest.fixture
def shared(module_store: AnyStore) -> AnyStore:
    """One store of each backend for every example of the property below."""
    return module_store


#: Each example of the revision test names its alerts apart in the one shared store.
_examples = itertools.count()


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["x", "y", "z"]),
            st.sampled_from(list(AlertStatus)),
            st.integers(min_value=0, max_value=3),
            st.sampled_from(["{}", '{"n": 1}']),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_revisions_count_the_changes_of_each_alert(
    shared: AnyStore, writes: list[tuple[str, AlertStatus, int, str]]
) -> None:
    db = shared
    prefix = f"ex{next(_examples)}-"
    last = db.alert_changes_after(0, 10**9)
    after = last[-1][0] if last else 0
    state: dict[str, Alert] = {}
    revisions: dict[str, int] = {}
    for name, status, hours, evidence in writes:
        ident = prefix + name
        alert = an_alert(ident, status=status, end=T0 + timedelta(hours=hours), evidence=evidence)
        changed = db.write_alerts([alert])
        assert changed == (state.get(ident) != alert)
        if changed:
            revisions[ident] = revisions.get(ident, 0) + 1
        state[ident] = alert
    rows = db.alerts(viewer=OPERATOR, include_withdrawn=True).to_pylist()
    assert {r["id"]: r["revision"] for r in rows if r["id"].startswith(prefix)} == revisions
    changes = db.alert_changes_after(after, 10**9)
    assert [seq for seq, _ in changes] == list(
        range(after + 1, after + 1 + sum(revisions.values()))
    )
    assert {alert.id: alert for _, alert in changes} == state


def test_tracks_and_alerts_survive_the_rebuild_of_the_small_tables(tmp_path: Path) -> None:
    path = tmp_path / "rebuilt.duckdb"
    with DuckDBStore(path) as db:
        db.write_fusion(cursor=2, tracks=[a_track()], points=points([1, 2]), alerts=[an_alert()])
        db.write_alerts([an_alert(end=T0 + timedelta(hours=3))])
        before = everything(db)
    # Closing after fusion writes rebuilds the upserted tables (dropping deleted versions).
    with DuckDBStore(path) as db:
        assert everything(db) == before
        assert db.write_alerts([an_alert(end=T0 + timedelta(hours=3))]) == 0
        db.write_alerts([an_alert(status=AlertStatus.CLOSED, end=T0 + timedelta(hours=3))])
        (row,) = db.alerts(viewer=OPERATOR).to_pylist()
        assert (row["status"], row["revision"]) == ("closed", 3)


# -- both backends, the same history ------------------------------------------------------


@pytest.fixture(scope="module")
def both(
    pg_server: PgServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[DuckDBStore, PostgresStore]]:
    """A DuckDB store and a PostgreSQL store, given the same writes by every example. The
    database sorts text by a language's rules (ICU ``en-US``: ``a`` < ``B`` < ``b``), not
    byte-wise as DuckDB does: reads must order ids byte-wise all the same."""
    url = new_database(pg_server, icu_locale="en-US")
    try:
        with (
            DuckDBStore(tmp_path_factory.mktemp("both") / "both.duckdb") as duck,
            PostgresStore(url) as pg,
        ):
            yield duck, pg
    finally:
        drop_database(pg_server, url)


_step_examples = itertools.count()
_ALERT_CHANGES = st.fixed_dictionaries(
    {
        "status": st.sampled_from(list(AlertStatus)),
        "end": st.integers(min_value=0, max_value=3).map(lambda h: T0 + timedelta(hours=h)),
        "label": labels(),
        "mmsis": st.lists(st.integers(1, 999_999_999), max_size=3).map(tuple),
        "evidence": st.sampled_from(["{}", '{"n": 1}', '{"note": "a, \\"b\\"\\n"}']),
    }
)


@settings(
    max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["a", "B", "a-1", "b"]),
            _ALERT_CHANGES,
            st.sampled_from(["ais:1", "Dark:2", "ais:10"]),
            labels(),
            st.booleans(),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_both_backends_keep_the_same_picture_and_history(
    both: tuple[DuckDBStore, PostgresStore],
    steps: list[tuple[str, dict[str, Any], str, Label, bool]],
) -> None:
    """The same fusion steps and alert writes, on each backend: the same tracks, alerts,
    revisions and changes, for every reader, in the same order."""
    prefix = f"s{next(_step_examples)}-"
    for name, change, track, label, as_step in steps:
        alert = an_alert(prefix + name, **change)
        moved = a_track(prefix + track, label=label, name=name, points=len(name))
        for store in both:
            if as_step:
                cursor = store.fusion_cursor() + 1
                store.write_fusion(cursor=cursor, tracks=[moved], points=points([]), alerts=[alert])
            else:
                store.write_alerts([alert])
    duck, pg = both
    assert pg.fusion_cursor() == duck.fusion_cursor()
    assert pg.alert_changes_after(0, 10**6) == duck.alert_changes_after(0, 10**6)
    for reader in (
        OPERATOR,
        User("usa", "USA", Level.SECRET),
        User("jpn", "JPN", Level.RESTRICTED),
    ):
        expected = duck.alerts(viewer=reader, include_withdrawn=True)
        found = pg.alerts(viewer=reader, include_withdrawn=True)
        assert found.schema.equals(expected.schema)
        assert found.to_pylist() == expected.to_pylist()
        assert pg.tracks(viewer=reader).to_pylist() == duck.tracks(viewer=reader).to_pylist()
