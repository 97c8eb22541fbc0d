"""The store's core behaviour on EVERY backend (DuckDB file, PostgreSQL + PostGIS), through
one parametrised fixture: idempotent writes, dedupe, latest state, queries by time and box
(across the antimeridian too), quarantine, users and tokens, the report feed; the property
tests holding each backend's SQL visibility filter to ``mista.labels.may_see``; and, on the
same input, the same answers with the same Arrow schemas from both backends.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings

from mista.errors import InputError, StoreError
from mista.ingest.batch import IngestBatch
from mista.ingest.contacts import contact_batches
from mista.ingest.nmea import nmea_batches
from mista.ingest.rows import SourceContext
from mista.labels import Label, Level
from mista.model import AlertStatus, Role, SourceKind, User
from mista.store import BBox
from mista.store.embedded import DuckDBStore
from mista.store.exchange_tables import exchange_tables
from mista.store.postgres import PostgresStore
from mista.store.postgres_schema import MIGRATIONS
from tests.ingest.nmea_lines import position, sentences, tagged
from tests.ingest.test_contacts import contact_line, context
from tests.store.conftest import AnyStore, Backend
from tests.store.pg_server import PgServer
from tests.store.test_embedded import OPERATOR, T0, ais, csv
from tests.store.test_fusion_tables import a_track, an_alert, points
from tests.store.test_visibility import Row, agreeing_pairs, check_scene, scenes

WORLD = BBox(-180.0, -90.0, 180.0, 90.0)


# -- writing -------------------------------------------------------------------------------


def test_writing_the_same_batch_twice_stores_nothing_new(any_store: AnyStore) -> None:
    lines = [tagged(position(366053209 + i, 37.8, -122.4), epoch_s=T0 + i) for i in range(5)]
    lines.append("!AIVDM,1,1,,A,garbage,0*00")
    batch = ais(lines)
    first = any_store.write(batch)
    assert (first.reports, first.receptions, first.rejected) == (5, 5, 1)
    counts = any_store.counts()
    again = any_store.write(batch)
    assert (again.reports, again.receptions, again.rejected) == (0, 0, 0)
    assert any_store.counts() == counts


def test_one_transmission_heard_by_several_receivers_is_one_report(any_store: AnyStore) -> None:
    sentence = position(366053209, 37.8, -122.4)
    heard = [
        tagged(sentence, epoch_s=T0 + 1, receiver="rx-north"),
        tagged(sentence, epoch_s=T0 + 4, receiver="rx-south"),
    ]
    result = any_store.write(ais(heard[:1]))
    assert (result.reports, result.receptions) == (1, 1)
    result = any_store.write(ais(heard))
    assert (result.reports, result.receptions) == (0, 1)
    assert any_store.counts()["reports"] == 1
    assert any_store.counts()["receptions"] == 2
    later = tagged(sentence, epoch_s=T0 + 600, receiver="rx-north")
    assert any_store.write(ais([later])).reports == 1


def test_a_batch_holding_its_input_twice_stores_it_once(any_store: AnyStore) -> None:
    # A store writer merges the messages it gathers of one source: a batch published
    # again after the bus's duplicate window lands in one transaction with the first.
    import dataclasses

    lines = [tagged(position(366053209, 37.8, -122.4), epoch_s=T0), "!AIVDM,1,1,,A,junk,0*00"]
    once = ais(lines)
    twice = dataclasses.replace(
        once,
        messages=pa.concat_tables([once.messages, once.messages]),
        rejected=pa.concat_tables([once.rejected, once.rejected]),
    )
    result = any_store.write(twice)
    assert (result.reports, result.receptions, result.rejected) == (1, 1, 1)
    counts = any_store.counts()
    assert (counts["reports"], counts["receptions"], counts["quarantine"]) == (1, 1, 1)


@pytest.mark.parametrize("together", [True, False])
def test_a_transmission_heard_across_a_bucket_boundary_is_one_report(
    any_store: AnyStore, together: bool
) -> None:
    boundary = (T0 // 60 + 1) * 60
    sentence = position(366053209, 37.8, -122.4)
    heard = [
        tagged(sentence, epoch_s=boundary - 2, receiver="rx-north"),
        tagged(sentence, epoch_s=boundary + 2, receiver="rx-south"),
    ]
    batches = [heard] if together else [heard[:1], heard[1:]]
    for lines in [*batches, *batches]:  # and again: still nothing new
        any_store.write(ais(lines))
    assert any_store.counts()["reports"] == 1
    assert any_store.counts()["receptions"] == 2
    (row,) = any_store.track(366053209, viewer=OPERATOR).to_pylist()
    assert row["observed_at"] == datetime.fromtimestamp(boundary - 2, UTC)
    first = exchange_tables(any_store).reports_after(0, 10)
    assert first.column("receiver").to_pylist() == ["rx-north"]
    any_store.write(ais([tagged(sentence, epoch_s=boundary + 70, receiver="rx-north")]))
    assert any_store.counts()["reports"] == 2


def test_a_transmission_heard_across_a_bucket_boundary_is_one_report_in_either_order(
    any_store: AnyStore,
) -> None:
    # The later time stored first (a late satellite copy heard slightly earlier, say): the
    # earlier one joins it as a reception, not a second report.
    boundary = (T0 // 60 + 1) * 60
    sentence = position(366053209, 37.8, -122.4)
    later = tagged(sentence, epoch_s=boundary + 2, receiver="rx-south")
    earlier = tagged(sentence, epoch_s=boundary - 2, receiver="rx-north")
    for lines in ([later], [earlier], [later], [earlier, later]):  # and again
        any_store.write(ais(lines))
    assert any_store.counts()["reports"] == 1
    assert any_store.counts()["receptions"] == 2
    (row,) = any_store.track(366053209, viewer=OPERATOR).to_pylist()
    assert row["observed_at"] == datetime.fromtimestamp(boundary + 2, UTC)  # the first stored
    # Over the window apart, before or after: another transmission.
    any_store.write(ais([tagged(sentence, epoch_s=boundary - 59, receiver="rx-north")]))
    assert any_store.counts()["reports"] == 2


def test_of_two_receivers_at_one_time_shared_reports_name_the_first_by_name(
    any_store: AnyStore,
) -> None:
    # A tie in reception time: the receiver a report goes out with must not depend on the
    # plan or on the order the receptions came in (a rescan sends the same).
    one, two = position(366053209, 37.8, -122.4), position(366053210, 37.9, -122.5)
    any_store.write(ais([tagged(one, epoch_s=T0, receiver=name) for name in ("rx-b", "rx-a")]))
    any_store.write(ais([tagged(two, epoch_s=T0, receiver=name) for name in ("rx-a", "rx-b")]))
    any_store.write(ais([tagged(two, epoch_s=T0 - 1, receiver="rx-z")]))  # earlier: first
    shared = exchange_tables(any_store).reports_after(0, 10)
    assert shared.column("receiver").to_pylist() == ["rx-a", "rx-z"]


def test_the_fusion_feed_names_the_radar_of_a_contact_and_no_other_receiver(
    any_store: AnyStore,
) -> None:
    # Fusion uses only a contact's radar; finding every report's first receiver cost most
    # of the feed's read on PostgreSQL.
    any_store.write(ais([tagged(position(366053209, 37.8, -122.4), epoch_s=T0, receiver="rx-a")]))
    data = "\n".join(
        contact_line(time=f"2026-01-01T00:00:{10 + i:02d}Z", plot=i, radar=radar)
        for i, radar in enumerate(("IND-radar-b", "IND-radar-a"))
    )
    for batch in contact_batches([(data + "\n").encode()], context()):
        any_store.write(batch)
    feed = any_store.report_feed(0, 10)
    assert feed.column("source_kind").to_pylist() == ["ais-terrestrial", "radar", "radar"]
    assert feed.column("receiver").to_pylist() == [None, "IND-radar-b", "IND-radar-a"]
    shared = exchange_tables(any_store).reports_after(0, 10)
    assert shared.column("receiver").to_pylist() == ["rx-a", "IND-radar-b", "IND-radar-a"]


def test_latest_state_keeps_the_newest_position_whatever_the_arrival_order(
    any_store: AnyStore,
) -> None:
    any_store.write(ais([tagged(position(366053209, 10.0, 20.0), epoch_s=T0 + 100)]))
    any_store.write(ais([tagged(position(366053209, 11.0, 21.0), epoch_s=T0 + 50)]))
    any_store.write(ais([position(366053209, 12.0, 22.0)]))  # untimed: never beats a timed one
    (row,) = any_store.vessels(viewer=OPERATOR).to_pylist()
    assert (row["mmsi"], row["lat"], row["lon"]) == (366053209, 10.0, 20.0)
    assert row["observed_at"] == datetime.fromtimestamp(T0 + 100, UTC)
    any_store.write(ais([tagged(position(366053209, 13.0, 23.0), epoch_s=T0 + 200)]))
    assert any_store.vessels(viewer=OPERATOR).column("lat").to_pylist() == [13.0]
    # The untimed report is stored (first in time order), and found again by the feed.
    assert any_store.track(366053209, viewer=OPERATOR).column("lat").to_pylist()[0] == 12.0
    assert any_store.report_feed(0, 10).num_rows == 4


def test_identity_merges_class_b_parts_and_voyage_data(any_store: AnyStore) -> None:
    part_a = sentences({"type": 24, "partno": 0, "mmsi": 338000001, "shipname": "CLASS B"})
    part_b = sentences(
        {"type": 24, "partno": 1, "mmsi": 338000001, "callsign": "KB1", "ship_type": 37}
    )
    any_store.write(ais([tagged(part_a[0], epoch_s=T0)]))
    any_store.write(ais([tagged(part_b[0], epoch_s=T0 + 1)]))
    (row,) = any_store.vessels(viewer=OPERATOR).to_pylist()
    assert (row["name"], row["callsign"], row["ship_type"]) == ("CLASS B", "KB1", 37)
    assert row["lat"] is None  # identity known, no position
    assert row["report_id"] is None


def test_track_and_positions_filter_by_time_and_box(any_store: AnyStore) -> None:
    any_store.write(
        csv(
            [
                "366000001,2020-06-30T00:00:00Z,40.5,-74.0",
                "366000001,2020-06-30T00:30:00Z,40.6,-74.1",
                "366000001,2020-06-30T02:00:00Z,40.7,-74.2",
                "366000001,2020-07-01T02:00:00Z,40.8,-74.3",  # the next day's partition
                "366000002,2020-06-30T00:10:00Z,10.0,179.5",
                "366000002,2020-06-30T00:20:00Z,10.0,-179.5",
                "366000002,2020-06-30T00:25:00Z,10.0,0.0",
                "366000003,2020-06-30T00:25:00Z,11.0,180.0",  # on the box's edge: inside
            ]
        )
    )
    since = datetime(2020, 6, 30, tzinfo=UTC)
    track = any_store.track(366000001, since, since + timedelta(hours=1), viewer=OPERATOR)
    assert track.column("lat").to_pylist() == [40.5, 40.6]
    assert any_store.track(366000001, viewer=OPERATOR).num_rows == 4
    box = any_store.positions(
        BBox(-74.15, 40.0, -73.9, 41.0), since, since + timedelta(hours=3), viewer=OPERATOR
    )
    assert box.column("lat").to_pylist() == [40.5, 40.6]
    across = any_store.positions(BBox(179.0, 9.0, -179.0, 11.0), viewer=OPERATOR)
    assert across.column("lon").to_pylist() == [179.5, -179.5, 180.0]
    assert set(track.column("label").to_pylist()) == {"UNCLASSIFIED//REL TO IND"}
    assert len(track.column("report_id")[0].as_py()) == 32
    with pytest.raises(StoreError, match="timezone"):
        any_store.track(366000001, datetime(2020, 6, 30), viewer=OPERATOR)


def test_quarantine_keeps_every_bad_line_once_under_its_source_label(
    any_store: AnyStore,
) -> None:
    restricted = Label(Level.RESTRICTED, "IND", frozenset({"USA"}))
    bad = ais(["!AIVDM,1,1,,A,15M67F@P1aG?d`0E`Ah3Q2n1P000,0*00", "$GPGGA,bad"], restricted)
    any_store.write(bad)
    any_store.write(bad)
    table = any_store.rejected(viewer=OPERATOR)
    assert table.num_rows == bad.rejected.num_rows >= 1
    assert table.column("reason").to_pylist()[0] == "checksum"
    assert set(table.column("label").to_pylist()) == {"RESTRICTED//REL TO IND,USA"}
    gbr = User("gbr", "GBR", Level.SECRET, frozenset())
    assert any_store.rejected(viewer=gbr).num_rows == 0
    assert any_store.rejected(1, viewer=OPERATOR).num_rows == 1


def test_the_report_feed_pages_in_seq_order_through_every_label(any_store: AnyStore) -> None:
    secret = Label(Level.SECRET, "IND")
    any_store.write(
        ais([tagged(position(366000001 + i, 1.0, 2.0), epoch_s=T0 + i) for i in range(5)])
    )
    any_store.write(
        ais([tagged(position(366000101 + i, 3.0, 4.0), epoch_s=T0 + i) for i in range(4)], secret)
    )
    whole = any_store.report_feed(0, 100)
    assert whole.num_rows == 9
    seqs = whole.column("seq").to_pylist()
    assert seqs == sorted(seqs)
    pages = [any_store.report_feed(after, 4) for after in (0, seqs[3], seqs[7])]
    assert pa.concat_tables(pages).equals(whole)
    assert any_store.report_feed(seqs[-1], 10).num_rows == 0
    assert any_store.report_feed(0, 0).num_rows == 0
    numbers = any_store.labels()
    assert {numbers[n] for n in whole.column("label_no").to_pylist()} == {
        Label.default_for("IND"),
        secret,
    }


# -- users and tokens -----------------------------------------------------------------------


def test_users_are_kept_and_removed(backend: Backend) -> None:
    where = backend.location()
    ana = User("ana", "USA", Level.RESTRICTED, frozenset({Role.LIAISON, Role.ANALYST}))
    with backend.open(where) as db:
        assert db.users() == []
        db.add_user(ana)
        with pytest.raises(InputError, match="already exists"):
            db.add_user(User("ana", "GBR", Level.SECRET, frozenset()))
        db.add_user(User("bob", "GBR", Level.SECRET, frozenset()))
    with backend.open(where, read_only=True) as db:
        assert db.user("ana") == ana
        assert db.user("carl") is None
        assert [u.name for u in db.users()] == ["ana", "bob"]
        with pytest.raises(StoreError, match="read-only"):
            db.remove_user("ana")
        with pytest.raises(StoreError, match="read-only"):
            db.write(csv(["366000001,2020-06-30T00:00:00Z,40.5,-74.0"]))
    with backend.open(where) as db:
        assert db.remove_user("ana") is True
        assert db.remove_user("ana") is False
        assert [u.name for u in db.users()] == ["bob"]


def test_tokens_find_their_user_until_expired_or_revoked(any_store: AnyStore) -> None:
    now = datetime(2024, 3, 1, tzinfo=UTC)
    bob = User("bob", "GBR", Level.SECRET, frozenset({Role.ANALYST}))
    any_store.add_user(bob)
    token = hashlib.sha256(b"token-1").hexdigest()
    short = hashlib.sha256(b"token-2").hexdigest()
    any_store.add_token("bob", token, created_at=now, expires_at=None)
    any_store.add_token("bob", short, created_at=now, expires_at=now + timedelta(hours=1))
    with pytest.raises(InputError, match="no user"):
        any_store.add_token("carl", "00" * 32, created_at=now, expires_at=None)
    assert any_store.user_for_token(token, now=now) == bob
    assert any_store.user_for_token(short, now=now) == bob
    assert any_store.user_for_token(short, now=now + timedelta(hours=2)) is None
    assert any_store.user_for_token("ff" * 32, now=now) is None
    assert any_store.revoke_tokens("bob") == 2
    assert any_store.user_for_token(token, now=now) is None
    any_store.add_token("bob", token, created_at=now, expires_at=None)
    assert any_store.remove_user("bob") is True  # and its tokens with it
    assert any_store.user_for_token(token, now=now) is None


def test_a_query_without_a_user_is_refused(any_store: AnyStore) -> None:
    with pytest.raises(StoreError, match="need a viewer"):
        any_store.vessels(viewer="operator")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        any_store.positions(WORLD)  # type: ignore[call-arg]


# -- the visibility rule, held to may_see ---------------------------------------------------


#: The two property tests below run here on PostgreSQL; their DuckDB case is the same test
#: body in test_visibility.py (whose helpers this module uses), not run twice.
_POSTGRES_ONLY = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@_POSTGRES_ONLY
def test_the_sql_filter_agrees_with_may_see_on_100000_pairs(backend: Backend) -> None:
    pairs = agreeing_pairs(
        backend.open(), examples=12, label_counts=(700, 760), reader_counts=(12, 14)
    )
    assert pairs >= 100_000


@_POSTGRES_ONLY
@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(scenes())
def test_no_query_shows_a_row_its_viewer_may_not_see_nor_hides_the_newest_they_may(
    scene_store: AnyStore, scene: tuple[list[list[Row]], list[User]]
) -> None:
    check_scene(scene_store, scene)


@pytest.fixture
def scene_store(backend: Backend) -> AnyStore:
    """One store for every example of the scene test."""
    return backend.open()


# -- the same answers from both backends ----------------------------------------------------

#: Viewers of the parity test: everything, a partner, and nobody's nation.
_VIEWERS = (
    OPERATOR,
    User("liaison.usa", "USA", Level.RESTRICTED, frozenset({Role.LIAISON})),
    User("ana", "BRA", Level.SECRET, frozenset()),
)
_REAL_LOGS = (
    ("ais/raw/amsa_risky_exact_earth_augmented_2.txt", Label.default_for("IND")),
    ("ais/raw/dma_aislib_stream_example.txt", Label(Level.RESTRICTED, "IND", frozenset({"USA"}))),
    ("ais/raw/gfw_ais_tools_mixed_types.nmea", Label(Level.SECRET, "IND")),
)


def _log_batches(path: Path, label: Label) -> list[IngestBatch]:
    ctx = SourceContext(
        source=path.name, originator="IND", label=label, kind=SourceKind.AIS_TERRESTRIAL
    )
    data = path.read_bytes()
    chunks = [data[i : i + 65_536] for i in range(0, len(data), 65_536)]
    return list(nmea_batches(chunks, ctx))


def _answers(db: AnyStore) -> dict[str, pa.Table]:
    answers: dict[str, pa.Table] = {"feed": db.report_feed(0, 1_000_000)}
    mmsis = [m for m in db.vessels(viewer=OPERATOR).column("mmsi").to_pylist()[:25] if m]
    for viewer in _VIEWERS:
        key = viewer.name
        answers[f"vessels/{key}"] = db.vessels(viewer=viewer)
        answers[f"world/{key}"] = db.positions(WORLD, viewer=viewer)
        answers[f"pacific/{key}"] = db.positions(BBox(100.0, -60.0, -100.0, 60.0), viewer=viewer)
        answers[f"rejected/{key}"] = db.rejected(viewer=viewer).drop_columns(["quarantined_at"])
        for mmsi in mmsis:
            answers[f"track/{key}/{mmsi}"] = db.track(mmsi, viewer=viewer)
    return answers


def test_both_backends_give_the_same_answers_on_real_logs(
    shared_data: Path, pg_server: PgServer, tmp_path: Path
) -> None:
    from mista.store.embedded import DuckDBStore
    from tests.store.conftest import drop_database, new_database

    # A database that sorts text by language rules, unlike DuckDB: answers are the same.
    url = new_database(pg_server, icu_locale="en-US")
    try:
        with DuckDBStore(tmp_path / "same.duckdb") as duck, PostgresStore(url) as pg:
            for name, label in _REAL_LOGS:
                for batch in _log_batches(shared_data / name, label):
                    assert duck.write(batch) == pg.write(batch)
            for name, label in _REAL_LOGS[:1]:  # again: nothing new on either
                for batch in _log_batches(shared_data / name, label):
                    assert duck.write(batch) == pg.write(batch)
            assert duck.counts() == pg.counts()
            assert duck.counts()["reports"] > 1000
            assert duck.labels() == pg.labels()
            expected, got = _answers(duck), _answers(pg)
            assert expected.keys() == got.keys()
            for key, table in expected.items():
                assert got[key].schema == table.schema, key
                assert got[key].equals(table), key
            assert sum(t.num_rows for t in expected.values()) > 10_000
    finally:
        drop_database(pg_server, url)


#: Static texts CSV must carry through (quotes, commas, backslashes, blanks), in AIS's
#: six-bit characters.
_AWKWARD_NAMES = ('"QUOTED"', "A,B", "O'NEIL", "\\BACK\\", " LEAD", 'X"",Y', "", "@@")


def test_both_backends_feed_awkward_static_texts_alike(pg_server: PgServer, tmp_path: Path) -> None:
    from mista.store.embedded import DuckDBStore
    from tests.store.conftest import drop_database, new_database

    lines = [
        tagged(line, epoch_s=T0 + number, receiver=f'rx"{number}')
        for number, name in enumerate(_AWKWARD_NAMES)
        for line in sentences(
            {
                "type": 5,
                "mmsi": 419_000_100 + number,
                "shipname": name,
                "callsign": name[:7],
                "destination": name,
                "imo": 9_074_729,
            }
        )
    ]
    url = new_database(pg_server)
    try:
        with DuckDBStore(tmp_path / "awkward.duckdb") as duck, PostgresStore(url) as pg:
            assert duck.write(ais(lines)) == pg.write(ais(lines))
            expected, got = duck.report_feed(0, 100), pg.report_feed(0, 100)
    finally:
        drop_database(pg_server, url)
    assert got.schema == expected.schema
    assert got.equals(expected)
    names = expected.column("name").to_pylist()
    assert '"QUOTED"' in names
    assert "A,B" in names
    with DuckDBStore(tmp_path / "awkward.duckdb") as duck:
        receivers = exchange_tables(duck).reports_after(0, 100).column("receiver")
    assert receivers.to_pylist()[0] == 'rx"0'


# -- PostgreSQL only: migrations, connections -----------------------------------------------


def test_postgres_schema_is_versioned_and_reopens(pg_server: PgServer) -> None:
    from tests.store.conftest import drop_database, new_database

    url = new_database(pg_server)
    try:
        with PostgresStore(url) as db:
            assert db.schema_version() == MIGRATIONS[-1][0]
            db.write(csv(["366000001,2020-06-30T00:00:00Z,40.5,-74.0"]))
        with PostgresStore(url, read_only=True) as db:
            assert db.counts()["reports"] == 1
    finally:
        drop_database(pg_server, url)


def test_postgres_without_a_server_or_schema_says_what_to_do(pg_server: PgServer) -> None:
    import psycopg

    dead = f"postgresql://mista:secret@127.0.0.1:{_closed_port()}/nothing"
    with pytest.raises(StoreError, match="cannot connect") as caught:
        PostgresStore(dead)
    assert "secret" not in str(caught.value)
    empty = f"empty_{next(_EMPTY)}"
    with psycopg.connect(pg_server.admin_url(), autocommit=True) as con:
        con.execute(f"CREATE DATABASE {empty}")
    with pytest.raises(StoreError, match="mista store migrate"):
        PostgresStore(pg_server.admin_url(empty), read_only=True)
    with pytest.raises(InputError, match="postgresql://"):
        PostgresStore("store.duckdb")


def test_the_exchange_reads_of_a_store_that_released_nothing_have_the_embedded_schemas(
    pg_server: PgServer, tmp_path: Path
) -> None:
    """Nothing released yet: the admin reads of the outbox answer empty, with the columns
    the API formats (tests/share/test_exchange_backends.py compares them with data)."""
    with PostgresStore(pg_server.url) as db, DuckDBStore(tmp_path / "ref.duckdb") as ref:
        for partner in (None, "USA"):
            releases = db.releases(partner, limit=10)
            assert releases.num_rows == 0
            assert releases.schema.equals(ref.releases(partner, limit=10).schema)
        vessels = db.released_vessels("USA")
        assert vessels.num_rows == 0
        assert vessels.schema.equals(ref.released_vessels("USA").schema)
        assert db.partners_released_to() == ref.partners_released_to() == []


_EMPTY = itertools.count()


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- mista store migrate / copy -------------------------------------------------------------


def test_store_migrate_brings_either_backend_to_the_latest_schema(
    backend: Backend, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from click.testing import CliRunner

    from mista.cli import main

    where = backend.location()
    if backend.kind == "postgresql":  # an empty database: nothing migrated yet
        import psycopg

        with psycopg.connect(where, autocommit=True) as con:
            # Every table the migrations made (PostGIS's own stays).
            tables = con.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'spatial_ref_sys'"
            ).fetchall()
            con.execute("DROP TABLE " + ", ".join(name for (name,) in tables) + " CASCADE")
    with caplog.at_level("INFO", logger="mista.store.postgres"):
        first = CliRunner().invoke(main, ["store", "migrate", "--store", where])
    assert first.exit_code == 0, first.output
    assert "schema version 0 ->" in first.output
    if backend.kind == "postgresql":  # one line per migration: some take minutes
        said = [r.getMessage() for r in caplog.records if "schema migration" in r.getMessage()]
        assert len(said) == len(MIGRATIONS)
        assert said[-1].endswith(f"schema migration {MIGRATIONS[-1][0]}: {MIGRATIONS[-1][1]}")
    again = CliRunner().invoke(main, ["store", "migrate", "--store", where])
    assert again.exit_code == 0, again.output
    assert "up to date" in again.output
    with backend.open(where, read_only=True) as db:
        assert db.counts()["reports"] == 0


def test_store_copy_moves_a_duckdb_store_to_postgres_and_verifies_it(
    shared_data: Path, pg_server: PgServer, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from mista.cli import main
    from mista.store.embedded import DuckDBStore
    from mista.store.embedded_exchange import ExchangeTables, InboundBatch, OutboxItem
    from mista.store.postgres_exchange import PostgresExchangeTables
    from tests.store.conftest import drop_database, new_database

    file = tmp_path / "node.duckdb"
    now = datetime(2024, 3, 1, tzinfo=UTC)
    liaison = User("liaison.usa", "USA", Level.RESTRICTED, frozenset({Role.LIAISON}))
    with DuckDBStore(file) as duck:
        for name, label in _REAL_LOGS:
            for batch in _log_batches(shared_data / name, label):
                duck.write(batch)
        duck.write(ais([position(366053209, 12.0, 22.0)]))  # an untimed report too
        duck.add_user(liaison)
        duck.add_token("liaison.usa", "ab" * 32, created_at=now, expires_at=None)
        # A fused picture (an alert revised) and a watch list with a delivery.
        duck.write_fusion(
            cursor=5,
            tracks=[a_track(), a_track("dark:IND-radar-1:7", kind="dark", mmsi=None)],
            points=points([1, 2, 3], flags=4),
            alerts=[an_alert(), an_alert("gap-1", kind="ais-gap")],
        )
        duck.write_alerts([an_alert(status=AlertStatus.CLOSED)])
        duck.add_watchlist("w1", owner="liaison.usa", name="n", mmsis=[1], webhook="h", now=now)
        duck.record_webhook_attempt("w1", "enc-1", 2, delivered_at=now, error=None)
        assert duck.counts()["tracks"] > 0
        # The partner exchange: items queued for USA, one batch sent, one pending, and a
        # batch received from JPN with an amendment.
        tables = ExchangeTables(duck)
        items = [
            OutboxItem(f"{i:032x}", "report", now, "ind-usa", "white", f'{{"n": {i}}}')
            for i in range(1, 5)
        ]
        tables.commit_scan("USA", 40, items)
        first = tables.due("USA", now, 2)
        sent = tables.assign_batch("USA", [row.order_no for row in first], [])
        assert sent is not None
        tables.mark_sent("USA", sent, now)
        rest = tables.due("USA", now, 10)
        assert tables.assign_batch("USA", [row.order_no for row in rest], []) is not None
        tables.record_inbound(
            InboundBatch("JPN", 1, "b" * 64, "c" * 64, "nonce-1", now, 1),
            duplicate=False,
            amendments=[(f"{2**127 + 5:032x}", "withdraw", "late data", None)],
        )
    url = new_database(pg_server)
    try:
        result = CliRunner().invoke(main, ["store", "copy", "--from", str(file), "--to", url])
        assert result.exit_code == 0, result.output
        assert "verified: every count and content id matches" in result.output
        _assert_brin_ready(url)
        for table in (
            "tracks",
            "track_points",
            "alert_changes",
            "fusion_cursor",
            "watchlists",
            "share_outbox",
            "share_amendments",
        ):
            assert f"content ids of {table}: ok" in result.output
        assert "not copied" not in result.output
        assert "DIFFER" not in result.output
        with DuckDBStore(file, read_only=True) as duck, PostgresStore(url) as pg:
            assert pg.counts() == duck.counts()
            assert pg.users() == [liaison]
            assert pg.user_for_token("ab" * 32, now=now) == liaison
            expected, got = _answers(duck), _answers(pg)
            for key, table in expected.items():
                assert got[key].equals(table), key
            for viewer in _VIEWERS:
                assert pg.tracks(viewer=viewer).equals(duck.tracks(viewer=viewer))
                both = [db.alerts(viewer=viewer, include_withdrawn=True) for db in (duck, pg)]
                assert both[1].equals(both[0])
            assert pg.alert_changes_after(0, 10**6) == duck.alert_changes_after(0, 10**6)
            assert pg.watchlists().equals(duck.watchlists())
            assert pg.webhook_deliveries().equals(duck.webhook_deliveries())
            assert pg.fusion_cursor() == duck.fusion_cursor() > 0
            # The exchange goes on where the file left off: the same cursors, the pending
            # batch, what was released, received and amended.
            from_file, copied = ExchangeTables(duck), PostgresExchangeTables(pg)
            assert copied.cursor("USA") == from_file.cursor("USA")
            assert copied.pending("USA") == from_file.pending("USA") is not None
            assert pg.releases(None, limit=10).equals(duck.releases(None, limit=10))
            assert pg.released_vessels("USA").equals(duck.released_vessels("USA"))
            assert copied.inbound("JPN", 1) == from_file.inbound("JPN", 1)
            assert copied.nonce_seen("JPN", "nonce-1")
            assert copied.amendments().equals(from_file.amendments())
            # Writing goes on where the file left off: the same batch stores nothing new,
            # a new one continues after the file's seqs (duplicates leave gaps, as in DuckDB).
            batch = _log_batches(shared_data / _REAL_LOGS[0][0], _REAL_LOGS[0][1])[0]
            assert pg.write(batch).reports == 0
            last = pg.report_feed(0, 10**7).column("seq").to_pylist()[-1]
            pg.write(ais([tagged(position(366000999, 1.0, 1.0), epoch_s=T0)]))
            (seq,) = pg.report_feed(last, 10).column("seq").to_pylist()
            assert seq > last
        again = CliRunner().invoke(main, ["store", "copy", "--from", str(file), "--to", url])
        assert again.exit_code == 1
        assert "already holds data" in again.output
    finally:
        drop_database(pg_server, url)


def _descents(values: Sequence[Any]) -> int:
    return sum(1 for before, after in itertools.pairwise(values) if after < before)


def _assert_brin_ready(url: str) -> None:
    """The copy left BRIN indexes a feed page can use: every one summarises itself as its
    ranges fill, the rows lie in the order they index, and the copy's VACUUM ran."""
    import psycopg

    with psycopg.connect(url) as con:
        options = con.execute(
            "SELECT c.relname, c.reloptions FROM pg_class c JOIN pg_am a ON a.oid = c.relam "
            "WHERE a.amname = 'brin' AND c.relkind = 'i'"
        ).fetchall()
        assert {name for name, _ in options} >= {"receptions_time"}
        assert len(options) > 3  # each reports partition's too
        assert all(found == ["autosummarize=on"] for _, found in options), options
        parts = [
            name
            for (name,) in con.execute(
                "SELECT relname FROM pg_class WHERE relname LIKE 'reports%%' AND relkind = 'r'"
            ).fetchall()
        ]
        for part in parts:
            seqs = [int(s) for (s,) in con.execute(f"SELECT seq FROM {part} ORDER BY ctid")]
            # COPY may place a row in an earlier page with room: a few, not a shuffle.
            assert _descents(seqs) * 100 <= len(seqs), part
        times = [t for (t,) in con.execute("SELECT received_at FROM receptions ORDER BY ctid")]
        timed = [moment for moment in times if moment is not None]
        assert _descents(timed) * 100 <= len(timed)
        vacuumed = {
            name
            for (name,) in con.execute(
                "SELECT relname FROM pg_stat_user_tables WHERE last_vacuum IS NOT NULL"
            ).fetchall()
        }
        assert vacuumed >= {"receptions", *parts}


def test_postgres_writers_in_parallel_store_each_report_once_in_seq_order(
    shared_data: Path, pg_server: PgServer
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from tests.store.conftest import drop_database, new_database

    name, label = _REAL_LOGS[0]
    batches = _log_batches(shared_data / name, label)
    url = new_database(pg_server)
    try:
        # Two stores (two pools, as two processes would have) write the same batches at
        # once, each in its own order: every report is stored once.
        with PostgresStore(url) as one, PostgresStore(url) as two:
            with ThreadPoolExecutor(2) as pool:
                done = [
                    pool.submit(lambda s, bs: [s.write(b) for b in bs], store, order)
                    for store, order in ((one, batches), (two, batches[::-1]))
                ]
                results = [future.result() for future in done]
            stored = sum(r.reports for rs in results for r in rs)
            assert stored == one.counts()["reports"] > 1000
            feed = one.report_feed(0, 10**7)
            assert feed.num_rows == stored
            seqs = feed.column("seq").to_pylist()
            assert seqs == sorted(set(seqs))
            ids = feed.column("id").to_pylist()
            assert len(set(ids)) == len(ids)
    finally:
        drop_database(pg_server, url)
