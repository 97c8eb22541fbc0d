"""A replicated stream on a cluster of three real nats-servers: one server SIGKILLed under
a steady publish loses and doubles nothing (deploy.md's three-machine layout)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from mista.bus.jetstream import JetStreamBus
from mista.ingest.batch import IngestBatch
from mista.ingest.streams import ByteSource
from mista.node import IngestSummary, ingest_paths
from tests.bus.feeds import store_content, write_feed
from tests.bus.nats_cluster import start_cluster
from tests.bus.test_jetstream import drain


def test_one_server_of_three_killed_under_a_steady_publish_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    feed = write_feed(tmp_path / "feed.nmea", lines=3_000, seed=17)
    direct = tmp_path / "direct.duckdb"
    ingest_paths([feed], store=direct, nation="IND", chunk_bytes=4 * 1024)
    cluster = start_cluster(tmp_path / "nats")  # three servers, 127.0.0.1 only
    try:
        url = f"{cluster.url}?stream=R3&partitions=3&replicas=3"
        with JetStreamBus.from_url(url) as bus:  # the stream exists, on all three
            assert bus.stream_messages() == 0
        published: list[IngestSummary] = []
        failed: list[BaseException] = []
        batches_seen = threading.Event()
        batches: list[int] = []

        def progress(source: ByteSource, batch: IngestBatch, summary: IngestSummary) -> None:
            batches.append(batch.message_count)
            batches_seen.set()
            time.sleep(0.05)  # a steady feed, not a burst

        def publish() -> None:
            try:
                published.append(
                    ingest_paths(
                        [feed], bus=url, nation="IND", chunk_bytes=4 * 1024, progress=progress
                    )
                )
            except BaseException as exc:  # reported by the test thread
                failed.append(exc)

        publisher = threading.Thread(target=publish)
        publisher.start()
        assert batches_seen.wait(30)
        # The stream's leader goes: the other two elect a new one and the publisher's
        # acknowledgements wait for it.
        leader = cluster.stream_leader("R3")
        cluster.kill(leader)
        published_at_kill = len(batches)
        publisher.join(120)
        assert not failed, failed
        assert not publisher.is_alive()
        assert published[0].messages > 1_000
        assert len(batches) > published_at_kill + 5  # most batches came after the kill
        with JetStreamBus.from_url(url) as bus:
            # Every report once: nothing lost with the server, nothing published twice.
            assert bus.stream_messages() > 0
            store = tmp_path / "bus.duckdb"
            handled = drain(bus, store, expected_rows=published[0].messages)
            assert handled == published[0].messages
        assert store_content(store) == store_content(direct)
    finally:
        cluster.stop()
