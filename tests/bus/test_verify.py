"""``mista store verify``: the bus's reports against the store's, with a real nats-server
and real stores (DuckDB, PostgreSQL + PostGIS)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pyarrow as pa
import pytest

from mista.bus.jetstream import JetStreamBus, store_writer
from mista.bus.verify import _keys_from_halves, _keys_from_hex, _merged, reconcile
from mista.errors import ConfigError
from mista.ingest.batch import IngestBatch
from mista.ingest.sources import SourceConfig
from mista.ingest.streams import FileSource
from mista.node import ingest_paths, open_store, read_batches
from tests.bus.feeds import write_feed
from tests.bus.nats_server import NatsServer
from tests.bus.pg import new_database
from tests.ingest.nmea_lines import position, tagged
from tests.store.pg_server import PgServer

_T0 = 1_735_689_600  # 2025-01-01T00:00:00Z, a dedupe-bucket boundary


def _mista(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mista", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "MISTA_NATION": "IND"},
    )


def _write_all(bus: JetStreamBus, store: str | Path, rows: int) -> None:
    """Commit everything on the bus into the store (group ``store``)."""
    stop = threading.Event()
    with open_store(store) as db:
        written = [0]

        class Counting:
            def write(self, batch: IngestBatch) -> object:
                result = db.write(batch)
                written[0] += batch.message_count
                if written[0] >= rows:
                    stop.set()
                return result

        timer = threading.Timer(30, stop.set)
        timer.start()
        try:
            store_writer(bus, Counting(), range(bus.partitions), stop)
        finally:
            timer.cancel()


def _ids(path: Path) -> set[str]:
    batches = read_batches(FileSource(path), SourceConfig.default("IND"), name="f")
    out: set[str] = set()
    for batch in batches:
        hi = batch.messages.column("id_hi").to_pylist()
        lo = batch.messages.column("id_lo").to_pylist()
        out |= {f"{a:016x}{b:016x}" for a, b in zip(hi, lo, strict=True)}
    return out


def _across_a_bucket(path: Path) -> Path:
    """One transmission heard 2 s apart across a dedupe-bucket boundary: two report ids
    on the bus, one report in the store."""
    sentence = position(244_000_001, 52.1, 4.2)
    lines = [
        tagged(sentence, epoch_s=_T0 + 3_599, receiver="rx-a"),
        tagged(sentence, epoch_s=_T0 + 3_601, receiver="rx-b"),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_hex_ids_and_halves_make_the_same_keys() -> None:
    hi = pa.array([0, 2**64 - 1, 0x0123456789ABCDEF], pa.uint64())
    lo = pa.array([1, 0, 0xFEDCBA9876543210], pa.uint64())
    text = pa.array(
        [f"{a:016x}{b:016x}" for a, b in zip(hi.to_pylist(), lo.to_pylist(), strict=True)]
    )
    assert _keys_from_hex(text).equals(_keys_from_halves(hi, lo))
    assert _keys_from_hex(text.slice(1)).equals(_keys_from_halves(hi, lo).slice(1))
    with pytest.raises(ValueError, match="32 hex"):
        _keys_from_hex(pa.array(["xyz"]))
    with pytest.raises(ValueError, match="32 hex"):
        _keys_from_hex(pa.array(["g" * 32]))


@pytest.mark.parametrize("stored_first", ["earlier", "later"])
def test_a_copy_kept_under_the_other_copy_s_id_is_merged_not_lost(stored_first: str) -> None:
    # The store keeps whichever copy of a transmission committed first (up to a minute
    # before or after the other): the other is merged, not missing.
    keys = pa.array([b"a" * 16, b"b" * 16, b"c" * 16], pa.binary(16))
    rows = pa.table(
        {
            "key": keys,
            "content_hash": pa.array([7, 7, 7], pa.uint64()),
            "observed_at": pa.array(
                [1_000_000_000, 1_002_000_000, 1_070_000_000], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    first, second = (keys[0], keys[1]) if stored_first == "earlier" else (keys[1], keys[0])
    missing = pa.array([second.as_py(), keys[2].as_py()], pa.binary(16))
    merged = _merged(missing, rows, pa.array([first.as_py()], pa.binary(16)))
    assert merged.to_pylist() == [second.as_py()]  # the third is 68-70 s away: missing


def test_verify_finds_what_the_store_lacks_and_what_only_it_holds(
    nats_server: NatsServer, tmp_path: Path
) -> None:
    url = f"{nats_server.url}?stream=VERIFY&partitions=3"
    feed = write_feed(tmp_path / "feed.nmea", lines=800, seed=31)
    bucket = _across_a_bucket(tmp_path / "bucket.nmea")
    published = ingest_paths([feed, bucket], bus=url, nation="IND")
    store = tmp_path / "node.duckdb"
    with JetStreamBus.from_url(url) as bus:
        _write_all(bus, store, published.messages)
        with open_store(store, read_only=True) as db:
            found = reconcile(bus, db)
    assert found.complete
    assert (found.missing, found.store_only, found.unreadable) == (0, 0, 0)
    assert found.merged == 1  # the transmission heard across the bucket boundary
    assert found.bus_ids == len(_ids(feed) | _ids(bucket)) == found.store_ids + 1
    ok = _mista("store", "verify", "--bus", url, "--store", str(store))
    assert ok.returncode == 0, ok.stderr
    assert "on the bus, not in the store: 0" in ok.stdout
    assert "verified" in ok.stdout

    # Reports ingested directly are in the store only: normal, and said so.
    direct = write_feed(tmp_path / "direct.nmea", lines=200, seed=32, t0=_T0 + 86_400)
    ingest_paths([direct], store=store, nation="IND")
    # Reports published and not written yet are on the bus only: missing.
    late = write_feed(tmp_path / "late.nmea", lines=300, seed=33, t0=_T0 + 2 * 86_400)
    ingest_paths([late], bus=url, nation="IND")
    differs = _mista("store", "verify", "--bus", url, "--store", str(store), "--show", "500")
    assert differs.returncode == 1, differs.stderr
    assert f"on the bus, not in the store: {len(_ids(late)):,}" in differs.stdout
    assert f"in the store, not on the bus: {len(_ids(direct)):,}" in differs.stdout
    assert "ingested directly" in differs.stdout
    listed = {line.strip() for line in differs.stdout.splitlines() if line.startswith("    ")}
    assert listed == _ids(late) | _ids(direct)
    assert "not in the store" in differs.stderr


def test_verify_against_postgresql(
    nats_server: NatsServer, postgres: PgServer, tmp_path: Path
) -> None:
    url = f"{nats_server.url}?stream=VERIFYPG&partitions=2"
    feed = write_feed(tmp_path / "feed.nmea", lines=600, seed=41)
    published = ingest_paths([feed], bus=url, nation="IND")
    store = new_database(postgres, "verify")
    with JetStreamBus.from_url(url) as bus:
        with open_store(store) as db:  # writable: migrates the new database
            before = reconcile(bus, db, show=3)
        _write_all(bus, store, published.messages)
        with open_store(store, read_only=True) as db:
            after = reconcile(bus, db)
    assert before.missing == before.bus_ids == len(_ids(feed))
    assert len(before.missing_ids) == 3
    assert set(before.missing_ids) <= _ids(feed)
    assert not before.complete
    assert after.complete
    assert after.store_ids == after.bus_ids


def test_verify_names_a_stream_that_does_not_exist(nats_server: NatsServer, tmp_path: Path) -> None:
    store = tmp_path / "empty.duckdb"
    ingest_paths([write_feed(tmp_path / "f.nmea", lines=50)], store=store, nation="IND")
    # verify never creates the stream it is asked about.
    url = f"{nats_server.url}?stream=NOSUCH"
    missing = _mista("store", "verify", "--bus", url, "--store", str(store))
    assert missing.returncode == 2
    assert "there is no stream NOSUCH" in missing.stderr
    with pytest.raises(ConfigError, match="no stream NOSUCH"):
        JetStreamBus.from_url(url, existing_only=True)
    with JetStreamBus.from_url(f"{nats_server.url}?stream=NOSUCH") as created:
        assert created.partitions == 8
    with JetStreamBus.from_url(
        f"{nats_server.url}?stream=NOSUCH&partitions=2", existing_only=True
    ) as bus:
        assert bus.partitions == 8  # the stream's own, not the URL's
