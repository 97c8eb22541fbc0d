"""Who may see what, in the store: every query's SQL filter is held to ``labels.may_see``.

DESIGN.md rule 1 is stated once in Python (``mista.labels.may_see``) and once in SQL (the
store's filter). These property tests compare the two on well over 100,000 random
(label, user) pairs, and check that no query (``vessels``, ``track``, ``positions``,
``rejected``) returns a row its viewer may not see, nor hides the newest row they may.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import InputError, StoreError
from mista.ingest.batch import IngestBatch, label_id
from mista.ingest.positions import position_batches
from mista.ingest.rows import SourceContext
from mista.labels import Label, Level
from mista.model import Role, SourceKind, User
from mista.store import BBox
from mista.store.embedded import DuckDBStore
from mista.store.embedded_schema import MIGRATIONS
from mista.store.postgres import PostgresStore
from tests.strategies import NATIONS, labels, numbered_labels, users

WORLD = BBox(-180.0, -90.0, 180.0, 90.0)
T0 = datetime(2024, 3, 1, tzinfo=UTC)
#: Users also come from a nation no label names, who must see nothing releasable to others.
viewers = users(nation=st.sampled_from((*NATIONS, "BRA")))
#: The same, cheaply drawn (the 100,000-pair test needs a few hundred of them).
readers_by_number = st.builds(
    User,
    name=st.just("reader"),
    nation=st.sampled_from((*NATIONS, "BRA")),
    clearance=st.sampled_from(list(Level)),
    roles=st.just(frozenset()),
)


@dataclass(frozen=True)
class Row:
    """One report to write: its label, vessel, time (seconds after T0) and a unique lon."""

    label: Label
    mmsi: int
    t: int
    lon: float
    name: str


def csv_line(row: Row) -> str:
    return (
        f"{row.mmsi},{datetime.fromtimestamp(T0.timestamp() + row.t, UTC):%Y-%m-%dT%H:%M:%SZ},"
        f"10.0,{row.lon:.4f},{row.name}"
    )


def batch_of(rows: Sequence[Row], source: str, bad_line: str | None = None) -> IngestBatch:
    """One batch of CSV position rows, each under its own row's label; the optional bad line
    is rejected under the first row's label (the batch's source label).

    The rows are read once under the first label, then each row is relabelled (its
    ``label_id`` and ``originator``): reading each row separately costs a parser per row.
    """
    first = rows[0].label
    ctx = SourceContext(
        source=source, originator=first.originator, label=first, kind=SourceKind.POSITION_FILE
    )
    lines = ["mmsi,timestamp,lat,lon,name", *map(csv_line, rows)]
    if bad_line is not None:
        lines.append(bad_line)
    (batch,) = position_batches([("\n".join(lines) + "\n").encode()], ctx)
    messages = batch.messages
    for column, values in (
        ("label_id", [label_id(row.label) for row in rows]),
        ("originator", [row.label.originator for row in rows]),
    ):
        at = messages.schema.get_field_index(column)
        messages = messages.set_column(at, messages.schema.field(at), pa.array(values, pa.string()))
    return IngestBatch(
        source=source,
        messages=messages,
        rejected=batch.rejected,
        labels=tuple(dict.fromkeys(row.label for row in rows)),
        lines=len(lines) - 1,
    )


@pytest.fixture
def paths(tmp_path: Path) -> Iterator[Path]:
    return (tmp_path / f"s{i}.duckdb" for i in itertools.count())


def lons(table: pa.Table) -> set[float]:
    return {round(lon, 4) for lon in table.column("lon").to_pylist()}


def agreeing_pairs(
    db: DuckDBStore | PostgresStore,
    *,
    examples: int,
    label_counts: tuple[int, int],
    reader_counts: tuple[int, int],
) -> int:
    """Write ``examples`` batches of random labels into ``db`` (any store backend), each in
    its own band of longitude, and check every random reader sees exactly what ``may_see``
    allows; the number of (report, reader) pairs checked."""
    pairs = written = 0

    @settings(max_examples=examples, deadline=None, database=None)
    @given(
        st.lists(numbered_labels, min_size=label_counts[0], max_size=label_counts[1]),
        st.lists(readers_by_number, min_size=reader_counts[0], max_size=reader_counts[1]),
    )
    def agree(drawn: list[Label], readers: list[User]) -> None:
        # One store for all examples (opening one per example costs more than the check);
        # each example writes its reports in its own band of longitude and reads it back.
        nonlocal pairs, written
        west = -179.0 + written
        written += 1
        rows = [Row(label, 1 + i, 0, west + i / 2000, "") for i, label in enumerate(drawn)]
        db.write(batch_of(rows, f"partners-{written}.csv"))
        band = BBox(west - 0.0001, -90.0, west + 0.5, 90.0)
        for reader in readers:
            seen = lons(db.positions(band, viewer=reader))
            expected = {round(r.lon, 4) for r in rows if reader.may_see(r.label)}
            assert seen == expected, reader
            pairs += len(rows)

    agree()
    assert written <= 300  # longitude bands left
    return pairs


def test_the_sql_filter_agrees_with_may_see_on_100000_pairs(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "pairs.duckdb") as db:
        pairs = agreeing_pairs(db, examples=22, label_counts=(400, 440), reader_counts=(13, 15))
    assert pairs >= 100_000


#: Each example of the scene test writes into the same store, in its own vessels and band.
_scene_numbers = itertools.count()


@st.composite
def scenes(draw: st.DrawFn) -> tuple[list[list[Row]], list[User]]:
    """Reports of two vessels under a few labels, written as up to two rounds of one batch
    per label (each in time order, as feeds arrive), with ties in time across labels; and
    the users who read them. Vessels and longitudes are the example's own."""
    number = next(_scene_numbers)
    pool = draw(st.lists(labels(), min_size=1, max_size=3, unique=True))
    count = draw(st.integers(min_value=1, max_value=12))
    picks = draw(
        st.lists(
            st.tuples(
                st.sampled_from(pool),
                st.sampled_from((1, 2)),
                st.integers(min_value=0, max_value=4),
                st.integers(min_value=0, max_value=1),
            ),
            min_size=count,
            max_size=count,
        )
    )
    rows = [
        (rnd, Row(label, 1000 * number + vessel, 60 * t, -179 + number + i / 100, f"N{i}"))
        for i, (label, vessel, t, rnd) in enumerate(picks)
    ]
    batches = [
        sorted((row for r, row in rows if r == rnd and row.label == label), key=lambda x: x.t)
        for rnd in range(2)
        for label in pool
    ]
    readers = draw(st.lists(viewers, min_size=1, max_size=3))
    return [batch for batch in batches if batch], readers


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DuckDBStore]:
    with DuckDBStore(tmp_path_factory.mktemp("scenes") / "scenes.duckdb") as db:
        yield db


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenes())
def test_no_query_shows_a_row_its_viewer_may_not_see_nor_hides_the_newest_they_may(
    shared: DuckDBStore, scene: tuple[list[list[Row]], list[User]]
) -> None:
    check_scene(shared, scene)


def check_scene(db: DuckDBStore | PostgresStore, scene: tuple[list[list[Row]], list[User]]) -> None:
    """Write a scene's batches into ``db`` (any store backend) and check each reader's
    positions, quarantine, vessels and tracks against ``may_see``."""
    batches, readers = scene
    written: list[Row] = []  # in write order, which is seq order
    bad: dict[str, Label] = {}
    for batch in batches:
        # One label per batch, as one source delivers: its rejected line carries that label.
        raw = f"garbage-{batch[0].mmsi // 1000}-{len(bad)}"
        db.write(batch_of(batch, f"src-{raw}.csv", bad_line=raw))
        written += batch
        bad[raw] = batch[0].label
    mine = {row.mmsi for row in written}
    west = min(row.lon for row in written)
    band = BBox(west - 0.0001, -90.0, west + 0.5, 90.0)
    for reader in readers:
        visible = [(r.t, seq, r) for seq, r in enumerate(written) if reader.may_see(r.label)]
        assert lons(db.positions(band, viewer=reader)) == {round(r.lon, 4) for *_, r in visible}
        shown = {r["raw"] for r in db.rejected(viewer=reader).to_pylist()} & set(bad)
        assert shown == {raw for raw, label in bad.items() if reader.may_see(label)}
        vessels = {v["mmsi"]: v for v in db.vessels(viewer=reader).to_pylist() if v["mmsi"] in mine}
        assert set(vessels) == {r.mmsi for *_, r in visible}
        for mmsi, vessel in vessels.items():
            own = [item for item in visible if item[2].mmsi == mmsi]
            track = db.track(mmsi, viewer=reader)
            assert lons(track) == {round(r.lon, 4) for *_, r in own}
            newest_t, _, newest = max(own, key=lambda item: item[:2])
            assert round(vessel["lon"], 4) == round(newest.lon, 4)
            assert vessel["report_id"] == track.column("report_id")[-1].as_py()
            assert vessel["label"] == newest.label.to_marking()
            tied = {r.name for t, _, r in own if t == newest_t}
            assert vessel["name"] in tied  # identity only from visible reports
            if len(tied) == 1:
                assert vessel["name"] == newest.name


def make_v1_store(path: Path, source: DuckDBStore) -> None:
    """A store as migration 1 left it, holding the reports and labels of ``source``."""
    con = duckdb.connect(str(path))
    con.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name VARCHAR NOT NULL, "
        "applied_at TIMESTAMPTZ NOT NULL)"
    )
    for statement in MIGRATIONS[0][2]:
        con.execute(statement)
    con.execute("INSERT INTO schema_migrations VALUES (1, 'initial schema', now())")
    for table in ("labels", "sources", "reports", "receptions"):
        rows = source.connection.sql(f"SELECT * FROM {table}").to_arrow_table()
        con.register("_rows", rows)
        con.execute(f"INSERT INTO {table} SELECT * FROM _rows")
        con.unregister("_rows")
    # Version 1 kept one latest row per MMSI, whatever its label.
    con.execute(
        "INSERT INTO vessel_latest SELECT mmsi, id_hi, id_lo, seq, observed_at, msg_type, lat, "
        "lon, speed_kn, course_deg, heading_deg, nav_status, label_no FROM reports "
        "QUALIFY row_number() OVER (PARTITION BY mmsi ORDER BY observed_at DESC, seq DESC) = 1"
    )
    con.execute("INSERT INTO quarantine VALUES ('old.csv', 3, 'csv-lat', 'lat', 'junk', now())")
    con.close()


def test_migration_2_keeps_latest_state_per_label_and_hides_old_quarantine(
    tmp_path: Path,
) -> None:
    restricted = Label(Level.RESTRICTED, "IND", frozenset({"USA"}))
    secret = Label(Level.SECRET, "IND")
    rows = [Row(restricted, 111, 0, 1.0, "OPEN"), Row(secret, 111, 60, 2.0, "CLOSED")]
    usa = User("liaison.usa", "USA", Level.RESTRICTED, frozenset({Role.LIAISON}))
    ind = User("operator", "IND", Level.SECRET, frozenset({Role.ADMIN}))
    with DuckDBStore(tmp_path / "new.duckdb") as fresh:
        fresh.write(batch_of(rows[:1], "a.csv"))
        fresh.write(batch_of(rows[1:], "b.csv"))
        make_v1_store(tmp_path / "old.duckdb", fresh)
        expected = {who.name: fresh.vessels(viewer=who).to_pylist() for who in (usa, ind)}
    with DuckDBStore(tmp_path / "old.duckdb") as migrated:
        assert migrated.schema_version() >= 2
        for who in (usa, ind):
            assert migrated.vessels(viewer=who).to_pylist() == expected[who.name]
        # Under version 1 the SECRET row hid the RESTRICTED one from the liaison.
        (row,) = expected["liaison.usa"]
        assert (row["lon"], row["name"]) == (1.0, "OPEN")
        # Old quarantine rows: SECRET, releasable to the first label's originator only.
        assert migrated.rejected(viewer=usa).num_rows == 0
        (old,) = migrated.rejected(viewer=ind).to_pylist()
        assert (old["raw"], old["label"]) == ("junk", "SECRET//REL TO IND//ORCON")
        confidential = User("ana", "IND", Level.CONFIDENTIAL, frozenset())
        assert migrated.rejected(viewer=confidential).num_rows == 0


def test_users_are_kept_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "users.duckdb"
    ana = User("ana", "USA", Level.RESTRICTED, frozenset({Role.LIAISON, Role.ANALYST}))
    with DuckDBStore(path) as db:
        assert db.users() == []
        db.add_user(ana)
        with pytest.raises(InputError, match="already exists"):
            db.add_user(User("ana", "GBR", Level.SECRET, frozenset()))
        db.add_user(User("bob", "GBR", Level.SECRET, frozenset()))
    with DuckDBStore(path, read_only=True) as db:
        assert db.user("ana") == ana
        assert db.user("carl") is None
        assert [u.name for u in db.users()] == ["ana", "bob"]
        with pytest.raises(StoreError, match="read-only"):
            db.remove_user("ana")
    with DuckDBStore(path) as db:
        assert db.remove_user("ana") is True
        assert db.remove_user("ana") is False
        assert [u.name for u in db.users()] == ["bob"]


def test_a_query_without_a_user_is_refused(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "q.duckdb") as db:
        with pytest.raises(StoreError, match="need a viewer"):
            db.vessels(viewer="operator")  # type: ignore[arg-type]
        with pytest.raises(TypeError):
            db.positions(WORLD)  # type: ignore[call-arg]
