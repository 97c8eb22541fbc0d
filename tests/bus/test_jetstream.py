"""JetStreamBus against a real nats-server: what a store writer commits from the bus is
exactly what direct ingest stores, and nothing twice."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from mista.bus.jetstream import BusError, JetStreamBus, store_writer
from mista.errors import ConfigError, StoreError
from mista.ingest.batch import IngestBatch
from mista.node import ingest_paths, open_store
from tests.bus.feeds import store_content, write_feed, write_radar
from tests.bus.nats_server import NatsServer

_streams = iter(range(10_000))


@pytest.fixture
def stream() -> str:
    """A stream name of its own for each test (one server serves them all)."""
    return f"T{next(_streams)}"


@pytest.fixture(scope="module")
def feeds(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("feeds")
    return [
        write_feed(folder / "feed.nmea", lines=3_000),
        write_radar(folder / "contacts.jsonl", contacts=600),
    ]


@pytest.fixture(scope="module")
def direct_store(tmp_path_factory: pytest.TempPathFactory, feeds: list[Path]) -> Path:
    """The feeds ingested straight into a store: what every bus run must equal."""
    path = tmp_path_factory.mktemp("direct") / "direct.duckdb"
    ingest_paths(feeds, store=path, nation="IND", chunk_bytes=64 * 1024)
    return path


def drain(bus: JetStreamBus, store_path: Path, *, expected_rows: int, timeout_s: float = 30) -> int:
    """Run a store writer on every partition until it has handled ``expected_rows``."""
    stop = threading.Event()
    handled = 0
    with open_store(store_path) as store:

        class Counting:
            def write(self, batch: IngestBatch) -> object:
                nonlocal handled
                result = store.write(batch)
                handled += batch.message_count
                if handled >= expected_rows:
                    stop.set()
                return result

        timer = threading.Timer(timeout_s, stop.set)
        timer.start()
        try:
            store_writer(bus, Counting(), range(bus.partitions), stop, group="w")
        finally:
            timer.cancel()
    return handled


def test_publish_consume_store_equals_direct_ingest(
    nats_server: NatsServer, stream: str, feeds: list[Path], direct_store: Path, tmp_path: Path
) -> None:
    url = f"{nats_server.url}?stream={stream}&partitions=4"
    summary = ingest_paths(feeds, bus=url, nation="IND", chunk_bytes=64 * 1024)
    assert summary.messages > 3_000
    store_path = tmp_path / "bus.duckdb"
    with JetStreamBus.from_url(url) as bus:
        assert drain(bus, store_path, expected_rows=summary.messages) == summary.messages
    assert store_content(store_path) == store_content(direct_store)


def test_publishing_the_same_files_twice_stores_nothing_twice(
    nats_server: NatsServer, stream: str, feeds: list[Path], direct_store: Path, tmp_path: Path
) -> None:
    url = f"{nats_server.url}?stream={stream}&partitions=3"
    first = ingest_paths(feeds, bus=url, nation="IND", chunk_bytes=64 * 1024)
    with JetStreamBus.from_url(url) as bus:
        held = bus.stream_messages()
        again = ingest_paths(feeds, bus=url, nation="IND", chunk_bytes=64 * 1024)
        # The duplicate window dropped every message of the second run.
        assert again.messages == first.messages
        assert again.reports == 0
        assert bus.stream_messages() == held
        assert drain(bus, tmp_path / "s.duckdb", expected_rows=first.messages) == first.messages
    assert store_content(tmp_path / "s.duckdb") == store_content(direct_store)


def test_after_the_duplicate_window_the_store_drops_the_repeat(
    nats_server: NatsServer, stream: str, feeds: list[Path], direct_store: Path, tmp_path: Path
) -> None:
    with JetStreamBus(nats_server.url, stream=stream, partitions=2, duplicate_window_s=1) as bus:
        first = ingest_paths(feeds, bus=f"{bus.url}?stream={stream}&partitions=2", nation="IND")
        held = bus.stream_messages()
        time.sleep(1.5)
        ingest_paths(feeds, bus=f"{bus.url}?stream={stream}&partitions=2", nation="IND")
        assert bus.stream_messages() == 2 * held  # past the window: stored again on the bus
        handled = drain(bus, tmp_path / "s.duckdb", expected_rows=2 * first.messages)
        assert handled == 2 * first.messages
    assert store_content(tmp_path / "s.duckdb") == store_content(direct_store)


def test_a_handler_that_raises_gets_its_batch_again(
    nats_server: NatsServer, stream: str, feeds: list[Path], direct_store: Path, tmp_path: Path
) -> None:
    url = f"{nats_server.url}?stream={stream}&partitions=2"
    summary = ingest_paths(feeds, bus=url, nation="IND", chunk_bytes=64 * 1024)
    failures = [0]
    stop = threading.Event()
    written = [0]
    with JetStreamBus.from_url(url) as bus, open_store(tmp_path / "s.duckdb") as store:

        def flaky(batch: IngestBatch) -> None:
            if failures[0] < 2:
                failures[0] += 1
                raise StoreError("store away for a moment")
            store.write(batch)
            written[0] += batch.message_count
            if written[0] >= summary.messages:
                stop.set()

        timer = threading.Timer(30, stop.set)
        timer.start()
        try:
            stats = bus.consume(range(2), flaky, stop=stop, group="flaky")
        finally:
            timer.cancel()
        assert stats.failures == 2
        assert bus.pending("flaky") == {0: 0, 1: 0}
    assert store_content(tmp_path / "s.duckdb") == store_content(direct_store)


def test_batches_of_two_sources_interleaved_are_written_one_transaction_per_source(
    nats_server: NatsServer, stream: str, tmp_path: Path
) -> None:
    from mista.ingest.sources import SourceConfig
    from mista.ingest.streams import FileSource
    from mista.node import read_batches

    # Two ingest processes publishing at once: their batches reach a writer interleaved.
    config = SourceConfig.default("IND")
    sources = [
        list(
            read_batches(
                FileSource(write_feed(tmp_path / f"{name}.nmea", lines=600, seed=seed), 8_192),
                config,
                name=name,
            )
        )
        for name, seed in (("north", 41), ("south", 42))
    ]
    assert min(len(batches) for batches in sources) >= 5
    written: list[str] = []
    with JetStreamBus(nats_server.url, stream=stream, partitions=1) as bus:
        for pair in zip(*sources, strict=False):
            for batch in pair:
                bus.publish_batch(batch)
        stop = threading.Event()
        total = sum(b.message_count for batches in sources for b in batches)
        rows = [0]

        def handler(batch: IngestBatch) -> None:
            written.append(batch.source)
            rows[0] += batch.message_count
            if rows[0] >= total:
                stop.set()

        timer = threading.Timer(20, stop.set)
        timer.start()
        try:
            bus.consume(
                [0],
                handler,
                stop=stop,
                group="g",
                fetch_messages=64,
                linger_s=2.0,
                max_merge_rows=10**9,
            )
        finally:
            timer.cancel()
    assert rows[0] == total
    assert sorted(set(written)) == ["north", "south"]
    assert len(written) == 2  # one transaction each, not one per run of neighbours


def test_a_message_that_is_not_a_batch_is_dropped_and_logged(
    nats_server: NatsServer, stream: str, caplog: pytest.LogCaptureFixture
) -> None:
    with JetStreamBus(nats_server.url, stream=stream, partitions=1) as bus:
        bus._loop.run(bus._js.publish(bus.subject(0), b"MST1\x00\x00\x00\x05{bad"))
        stop = threading.Event()
        timer = threading.Timer(2, stop.set)
        timer.start()
        stats = bus.consume([0], lambda batch: None, stop=stop, group="g")
        assert (stats.unreadable, stats.batches) == (1, 0)
        assert bus.pending("g") == {0: 0}  # terminated: never delivered again
    assert "header is not JSON" in caplog.text


def test_every_process_must_agree_on_the_partitions(nats_server: NatsServer, stream: str) -> None:
    with (
        JetStreamBus(nats_server.url, stream=stream, partitions=4),
        pytest.raises(ConfigError, match="has 4 partitions, this process was given 2"),
    ):
        JetStreamBus(nats_server.url, stream=stream, partitions=2)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4222",
        "",
        "nats://127.0.0.1:4222?colour=red",
        "nats://h:1?partitions=x",
        "nats://h:1?max_lag=-1",
        "nats://h:1?replicas=0",
        "nats://h:1?compression=gzip",
        "nats://h:1?max_age_h=1.5",
        "nats://h:1?lag_group=a.b",
    ],
)
def test_a_bad_url_is_a_config_error(url: str) -> None:
    with pytest.raises(ConfigError):
        JetStreamBus.from_url(url)


def test_no_server_is_a_bus_error_naming_the_url() -> None:
    with pytest.raises(BusError, match="cannot connect within 1 s"):
        JetStreamBus("nats://127.0.0.1:9", connect_timeout_s=1)


def test_the_bus_protocol_subscribe_then_publish(
    nats_server: NatsServer, stream: str, feeds: list[Path]
) -> None:
    from mista.bus import INGEST_TOPIC
    from mista.ingest.sources import SourceConfig
    from mista.ingest.streams import FileSource
    from mista.node import read_batches

    got: list[int] = []
    done = threading.Event()
    batches = list(read_batches(FileSource(feeds[0]), SourceConfig.default("IND"), name="f"))
    total = sum(batch.message_count for batch in batches)

    def handler(batch: IngestBatch) -> None:
        got.append(batch.message_count)
        if sum(got) >= total:
            done.set()

    with JetStreamBus(nats_server.url, stream=stream, partitions=3) as bus:
        bus.subscribe(INGEST_TOPIC, handler)
        for batch in batches:
            bus.publish(INGEST_TOPIC, batch)
        assert done.wait(20)
        with pytest.raises(ValueError, match="carries"):
            bus.publish("other.topic", batches[0])
    assert sum(got) == total
    with pytest.raises(BusError, match="closed"):
        bus.publish_batch(batches[0])


def test_the_url_query_sets_the_options(nats_server: NatsServer, stream: str) -> None:
    query = "partitions=2&max_lag=5&lag_group=w&compression=zstd&max_age_h=2&replicas=1"
    with JetStreamBus.from_url(f"{nats_server.url}?stream={stream}&{query}") as bus:
        assert (bus.stream, bus.partitions, bus.max_lag, bus.lag_group) == (stream, 2, 5, "w")
        assert bus.compression == "zstd"
        assert bus.lag("w") is None  # no consumer yet: publishing is not held back
    with JetStreamBus.from_url(f"{nats_server.url}?stream={stream}&partitions=2&max_lag=0") as bus:
        assert bus.max_lag is None


def test_a_slow_writer_gets_nothing_twice_when_fetches_end_early(
    nats_server: NatsServer, stream: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fetches that end before the server has sent everything leave late messages in
    the subscription; a writer slower than ack_wait must still keep them alive."""
    from mista.bus import jetstream

    url = f"{nats_server.url}?stream={stream}&partitions=1"
    feed = write_feed(tmp_path / "f.nmea", lines=24_000, vessels=400, seed=5)
    published = ingest_paths([feed], bus=url, nation="IND")
    # Messages of 2,000 rows (~0.7 MB) cannot all arrive in 2 ms: every fetch ends early.
    monkeypatch.setattr(jetstream, "FETCH_WAIT_S", 0.002)
    stop = threading.Event()
    with JetStreamBus.from_url(url) as bus:
        total = bus.stream_messages()
        rows = [0]

        def slow(batch: IngestBatch) -> None:
            time.sleep(1.3)  # each transaction longer than ack_wait
            rows[0] += batch.message_count
            if rows[0] >= published.messages:
                stop.set()

        timer = threading.Timer(40, stop.set)
        timer.start()
        try:
            stats = bus.consume(
                [0], slow, stop=stop, group="slow", ack_wait_s=1.0, fetch_messages=3, linger_s=0
            )
        finally:
            timer.cancel()
        assert stats.messages == total > 8
        assert bus.deliveries("slow") == total


async def _take(url: str, subject: str, durable: str, count: int, ack: int) -> list[int]:
    """Fetch ``count`` messages through durable consumer ``durable`` as a worker would,
    acknowledge the first ``ack`` and leave the rest held, as a worker killed mid-batch
    does; the stream numbers fetched."""
    import nats
    from nats.js.api import AckPolicy, ConsumerConfig

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT, ack_wait=30)
        sub = await js.pull_subscribe(subject, durable=durable, config=config)
        msgs = await sub.fetch(count, timeout=5)
        for msg in msgs[:ack]:
            await msg.ack_sync()
        return [msg.metadata.sequence.stream for msg in msgs]
    finally:
        await client.close()


@pytest.mark.parametrize("rewound", [True, False])
def test_what_a_dead_worker_held_comes_again_first_and_in_order_once_rewound(
    nats_server: NatsServer, stream: str, feeds: list[Path], rewound: bool
) -> None:
    import asyncio

    url = f"{nats_server.url}?stream={stream}&partitions=1"
    ingest_paths(feeds[:1], bus=url, nation="IND", chunk_bytes=16 * 1024)
    with JetStreamBus.from_url(url) as bus:
        subject = bus.subject(0)
        taken = asyncio.run(_take(nats_server.url, subject, "rw-0", count=5, ack=2))
        assert len(taken) == 5
        if rewound:
            assert bus.rewind_unacknowledged([0], group="rw") == 3
            assert bus.rewind_unacknowledged([0], group="rw") == 0  # nothing held now
        # The next worker: what it is handed first.
        after = asyncio.run(_take(nats_server.url, subject, "rw-0", count=4, ack=4))
    if rewound:
        assert after == taken[2:] + after[3:]  # the held three first, in stream order
        assert after == sorted(after)
    else:  # without: the server hands out newer ones while the held wait for ack_wait
        assert set(after).isdisjoint(taken[2:])


async def _stream_rows(url: str, stream: str, count: int) -> list[tuple[object, ...]]:
    """Every row the stream holds, message by message in the stream's order."""
    import nats

    from mista.bus._wire import decode_slice

    client = await nats.connect(url)
    try:
        js = client.jetstream()
        rows: list[tuple[object, ...]] = []
        for seq in range(1, count + 1):
            batch = decode_slice((await js.get_msg(stream, seq)).data or b"")
            rows += _rows(batch)
        return rows
    finally:
        await client.close()


def _rows(batch: IngestBatch) -> list[tuple[object, ...]]:
    table = batch.messages
    return list(zip(*(table.column(name).to_pylist() for name in table.column_names), strict=True))


def test_in_order_several_partitions_come_in_the_stream_order_even_after_a_failure(
    nats_server: NatsServer, stream: str, tmp_path: Path
) -> None:
    """A fusion worker consuming several partitions must write them in one order in every
    run: the stream's. Fetches of four partitions race, the handler is slow at random
    and fails once; what it is handed, across the failure and the rewind, is every row in
    the stream's order."""
    import asyncio
    import random

    url = f"{nats_server.url}?stream={stream}&partitions=4"
    feed = write_feed(tmp_path / "f.nmea", lines=6_000, vessels=200, seed=11)
    published = ingest_paths([feed], bus=url, nation="IND", chunk_bytes=8 * 1024)
    handed: list[tuple[object, ...]] = []
    rng = random.Random(3)
    failed = [False]
    stop = threading.Event()
    with JetStreamBus.from_url(url) as bus:
        total = bus.stream_messages()
        expected = asyncio.run(_stream_rows(nats_server.url, stream, total))
        assert len(expected) == published.messages

        def handler(batch: IngestBatch) -> None:
            time.sleep(rng.choice([0, 0, 0.05]))
            if not failed[0] and len(handed) > len(expected) // 3:
                failed[0] = True
                raise StoreError("store away for a moment")
            handed.extend(_rows(batch))
            if len(handed) >= len(expected):
                stop.set()

        timer = threading.Timer(60, stop.set)
        timer.start()
        try:
            with pytest.raises(StoreError):
                bus.consume(range(4), handler, stop=stop, group="ord", in_order=True, linger_s=0)
            assert bus.rewind_unacknowledged(range(4), group="ord") > 0
            stats = bus.consume(range(4), handler, stop=stop, group="ord", in_order=True)
        finally:
            timer.cancel()
        assert stats.messages > 0
        assert bus.pending("ord") == dict.fromkeys(range(4), 0)
    assert failed[0]
    assert handed == expected
