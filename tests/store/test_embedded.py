"""The embedded DuckDB store on a real file: idempotence, dedupe, latest state, queries."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import StoreError
from mista.ingest.batch import IngestBatch
from mista.ingest.nmea import nmea_batches
from mista.ingest.positions import position_batches
from mista.ingest.rows import SourceContext
from mista.labels import Label, Level
from mista.model import Role, SourceKind, User
from mista.store import BBox
from mista.store.embedded import DuckDBStore
from mista.store.embedded_schema import MIGRATIONS
from tests.ingest.nmea_lines import position, sentences, tagged

T0 = 1_700_000_000  # 2023-11-14T22:13:20Z
#: The node's operator: every label written here is releasable to IND.
OPERATOR = User("operator", "IND", Level.SECRET, frozenset({Role.ADMIN}))


def ais(lines: list[str], label: Label | None = None, source: str = "feed.nmea") -> IngestBatch:
    ctx = SourceContext(
        source=source,
        originator="IND",
        label=label or Label.default_for("IND"),
        kind=SourceKind.AIS_TERRESTRIAL,
    )
    data = ("\n".join(lines) + "\n").encode()
    batches = list(nmea_batches([data], ctx))
    return IngestBatch(
        source=source,
        messages=pa.concat_tables([b.messages for b in batches]),
        rejected=pa.concat_tables([b.rejected for b in batches]),
        labels=batches[0].labels,
        lines=sum(b.lines for b in batches),
    )


def csv(rows: list[str]) -> IngestBatch:
    ctx = SourceContext(
        source="tracks.csv",
        originator="IND",
        label=Label.default_for("IND"),
        kind=SourceKind.POSITION_FILE,
    )
    data = ("\n".join(["mmsi,timestamp,lat,lon", *rows]) + "\n").encode()
    (batch,) = position_batches([data], ctx)
    return batch


@pytest.fixture
def store(tmp_path: Path) -> Iterator[DuckDBStore]:
    with DuckDBStore(tmp_path / "test.duckdb") as db:
        yield db


def test_writing_the_same_batch_twice_stores_nothing_new(store: DuckDBStore) -> None:
    lines = [tagged(position(366053209 + i, 37.8, -122.4), epoch_s=T0 + i) for i in range(5)]
    lines.append("!AIVDM,1,1,,A,garbage,0*00")
    batch = ais(lines)
    first = store.write(batch)
    assert (first.reports, first.receptions, first.rejected) == (5, 5, 1)
    counts = store.counts()
    again = store.write(batch)
    assert (again.reports, again.receptions, again.rejected) == (0, 0, 0)
    assert store.counts() == counts


def test_one_transmission_heard_by_several_receivers_is_one_report(store: DuckDBStore) -> None:
    sentence = position(366053209, 37.8, -122.4)
    heard = [
        tagged(sentence, epoch_s=T0 + 1, receiver="rx-north"),
        tagged(sentence, epoch_s=T0 + 4, receiver="rx-south"),
    ]
    result = store.write(ais(heard[:1]))
    assert (result.reports, result.receptions) == (1, 1)
    result = store.write(ais(heard))  # the second receiver's copy arrives with a repeat
    assert (result.reports, result.receptions) == (0, 1)
    assert store.counts()["reports"] == 1
    assert store.counts()["receptions"] == 2
    # Heard again well outside the window it is a new observation.
    later = tagged(sentence, epoch_s=T0 + 600, receiver="rx-north")
    assert store.write(ais([later])).reports == 1


@pytest.mark.parametrize("together", [True, False])
def test_a_transmission_heard_across_a_bucket_boundary_is_one_report(
    store: DuckDBStore, together: bool
) -> None:
    boundary = (T0 // 60 + 1) * 60  # a multiple of DEDUPE_WINDOW_S
    sentence = position(366053209, 37.8, -122.4)
    heard = [
        tagged(sentence, epoch_s=boundary - 2, receiver="rx-north"),
        tagged(sentence, epoch_s=boundary + 2, receiver="rx-south"),
    ]
    batches = [heard] if together else [heard[:1], heard[1:]]
    for lines in batches:
        store.write(ais(lines))
    for lines in batches:  # and again: still nothing new
        store.write(ais(lines))
    assert store.counts()["reports"] == 1
    assert store.counts()["receptions"] == 2
    (row,) = store.track(366053209, viewer=OPERATOR).to_pylist()
    assert row["observed_at"] == datetime.fromtimestamp(boundary - 2, UTC)
    receptions = store._con.execute(
        "SELECT count(DISTINCT (id_hi, id_lo)) FROM receptions"
    ).fetchall()
    assert receptions == [(1,)]
    # A minute or more later the same payload is a new transmission.
    store.write(ais([tagged(sentence, epoch_s=boundary + 70, receiver="rx-north")]))
    assert store.counts()["reports"] == 2


def test_different_rows_close_in_time_stay_different_reports(store: DuckDBStore) -> None:
    # These two rows collide under DuckDB's hash(); they must not be merged.
    store.write(
        csv(
            [
                "654417011,2020-06-30T07:08:20.000000Z,5.6954,51.32989",
                "654417011,2020-06-30T07:08:50.000000Z,5.6956,51.32959",
            ]
        )
    )
    assert store.counts()["reports"] == 2


def test_latest_state_keeps_the_newest_position_whatever_the_arrival_order(
    store: DuckDBStore,
) -> None:
    store.write(ais([tagged(position(366053209, 10.0, 20.0), epoch_s=T0 + 100)]))
    store.write(ais([tagged(position(366053209, 11.0, 21.0), epoch_s=T0 + 50)]))
    store.write(ais([position(366053209, 12.0, 22.0)]))  # untimed: never beats a timed one
    (row,) = store.vessels(viewer=OPERATOR).to_pylist()
    assert (row["mmsi"], row["lat"], row["lon"]) == (366053209, 10.0, 20.0)
    assert row["observed_at"] == datetime.fromtimestamp(T0 + 100, UTC)
    store.write(ais([tagged(position(366053209, 13.0, 23.0), epoch_s=T0 + 200)]))
    assert store.vessels(viewer=OPERATOR).column("lat").to_pylist() == [13.0]


def test_identity_merges_class_b_parts_and_voyage_data(store: DuckDBStore) -> None:
    part_a = sentences({"type": 24, "partno": 0, "mmsi": 338000001, "shipname": "CLASS B"})
    part_b = sentences(
        {"type": 24, "partno": 1, "mmsi": 338000001, "callsign": "KB1", "ship_type": 37}
    )
    store.write(ais([tagged(part_a[0], epoch_s=T0)]))
    store.write(ais([tagged(part_b[0], epoch_s=T0 + 1)]))
    (row,) = store.vessels(viewer=OPERATOR).to_pylist()
    assert (row["name"], row["callsign"], row["ship_type"]) == ("CLASS B", "KB1", 37)
    assert row["lat"] is None  # identity known, no position yet


def test_track_and_positions_filter_by_time_and_box(store: DuckDBStore) -> None:
    rows = [
        "366000001,2020-06-30T00:00:00Z,40.5,-74.0",
        "366000001,2020-06-30T00:30:00Z,40.6,-74.1",
        "366000001,2020-06-30T02:00:00Z,40.7,-74.2",
        "366000002,2020-06-30T00:10:00Z,10.0,179.5",
        "366000002,2020-06-30T00:20:00Z,10.0,-179.5",
    ]
    store.write(csv(rows))
    since = datetime(2020, 6, 30, tzinfo=UTC)
    track = store.track(366000001, since, since + timedelta(hours=1), viewer=OPERATOR)
    assert track.column("lat").to_pylist() == [40.5, 40.6]
    box = store.positions(
        BBox(-74.15, 40.0, -73.9, 41.0), since, since + timedelta(hours=3), viewer=OPERATOR
    )
    assert box.column("lat").to_pylist() == [40.5, 40.6]
    across = store.positions(BBox(179.0, 9.0, -179.0, 11.0), viewer=OPERATOR)
    assert across.column("lon").to_pylist() == [179.5, -179.5]
    assert set(track.column("label").to_pylist()) == {"UNCLASSIFIED//REL TO IND"}
    assert len(track.column("report_id")[0].as_py()) == 32


def test_labels_are_kept_per_report(store: DuckDBStore) -> None:
    secret = Label(Level.RESTRICTED, "IND", frozenset({"USA"}), frozenset({"white-shipping"}))
    store.write(ais([tagged(position(366053209, 1.0, 2.0), epoch_s=T0)], label=secret))
    (row,) = store.track(366053209, viewer=OPERATOR).to_pylist()
    assert row["label"] == "RESTRICTED//REL TO IND,USA//white-shipping"


def test_quarantine_keeps_every_bad_line_once(store: DuckDBStore) -> None:
    bad = ais(["!AIVDM,1,1,,A,15M67F@P1aG?d`0E`Ah3Q2n1P000,0*00", "$GPGGA,bad"])
    store.write(bad)
    store.write(bad)
    table = store.rejected(viewer=OPERATOR)
    assert table.num_rows == bad.rejected.num_rows >= 1
    assert table.column("line_no").to_pylist()[0] == 1
    assert table.column("reason").to_pylist()[0] == "checksum"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    points=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=999_999_999),
            st.integers(min_value=0, max_value=2_000_000_000),
            st.integers(min_value=-9_000_000, max_value=9_000_000),
            st.integers(min_value=-18_000_000, max_value=18_000_000),
        ),
        min_size=1,
        max_size=40,
    )
)
def test_round_trip_positions_come_back_as_written(
    tmp_path: Path, points: list[tuple[int, int, int, int]]
) -> None:
    path = tmp_path / f"rt-{abs(hash(tuple(points)))}.duckdb"
    rows = [
        f"{mmsi},{datetime.fromtimestamp(t, UTC):%Y-%m-%dT%H:%M:%SZ},{la / 1e5:.5f},{lo / 1e5:.5f}"
        for mmsi, t, la, lo in points
    ]
    with DuckDBStore(path) as db:
        db.write(csv(rows))
        db.write(csv(rows))
        for mmsi in {p[0] for p in points}:
            stored = {
                (r["observed_at"].timestamp(), r["lat"], r["lon"])
                for r in db.track(mmsi, viewer=OPERATOR).to_pylist()
            }
            expected = {(float(t), lat / 1e5, lon / 1e5) for m, t, lat, lon in points if m == mmsi}
            assert stored == {(t, float(f"{la:.5f}"), float(f"{lo:.5f}")) for t, la, lo in expected}
        assert db.counts()["reports"] == len(set(rows))


def test_schema_is_versioned_and_reopens(tmp_path: Path) -> None:
    path = tmp_path / "v.duckdb"
    with DuckDBStore(path) as db:
        assert db.schema_version() == MIGRATIONS[-1][0] >= 2
        db.write(ais([tagged(position(366053209, 1.0, 2.0), epoch_s=T0)]))
    with DuckDBStore(path, read_only=True) as db:
        assert db.counts()["reports"] == 1
    con = duckdb.connect(str(path))
    con.execute("INSERT INTO schema_migrations VALUES (99, 'future', now())").fetchall()
    con.close()
    with pytest.raises(StoreError, match="newer than this mista"):
        DuckDBStore(path)


def test_missing_or_read_only_stores_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="mista ingest"):
        DuckDBStore(tmp_path / "absent.duckdb", read_only=True)
    DuckDBStore(tmp_path / "ro.duckdb").close()
    with (
        DuckDBStore(tmp_path / "ro.duckdb", read_only=True) as db,
        pytest.raises(StoreError, match="read-only"),
    ):
        db.write(ais([position(366053209, 1.0, 2.0)]))
    (tmp_path / "junk.duckdb").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StoreError):
        DuckDBStore(tmp_path / "junk.duckdb")


def test_latest_state_survives_the_periodic_rebuild(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("mista.store.embedded.REBUILD_EVERY_BATCHES", 2)
    path = tmp_path / "rebuild.duckdb"
    with DuckDBStore(path) as db:
        for i in range(5):
            db.write(ais([tagged(position(366053209, 10.0 + i, 20.0), epoch_s=T0 + 60 * i)]))
            parts = sentences({"type": 24, "partno": 0, "mmsi": 366053209, "shipname": f"N{i}"})
            db.write(ais([tagged(parts[0], epoch_s=T0 + 60 * i + 1)]))
        (row,) = db.vessels(viewer=OPERATOR).to_pylist()
        assert (row["lat"], row["name"]) == (14.0, "N4")
    with DuckDBStore(path) as db:
        db.write(ais([tagged(position(366053209, 30.0, 20.0), epoch_s=T0 + 999)]))
        (row,) = db.vessels(viewer=OPERATOR).to_pylist()
        assert (row["lat"], row["name"]) == (30.0, "N4")


def test_a_store_held_by_another_process_says_so(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "held.duckdb"
    holder = (
        "import sys, time\n"
        "from mista.store.embedded import DuckDBStore\n"
        f"db = DuckDBStore({str(path)!r})\n"
        "print('open', flush=True)\n"
        "sys.stdin.read()\n"
    )
    with subprocess.Popen(
        [sys.executable, "-c", holder], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stdin is not None
        assert process.stdout.readline().strip() == "open"
        with pytest.raises(StoreError, match="in use by another process"):
            DuckDBStore(path)
        process.stdin.close()
        assert process.wait(30) == 0
