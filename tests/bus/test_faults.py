"""Faults with real processes: a store writer killed with SIGKILL mid-run, and nats-server
restarted under a steady publish. The final store equals a run with no fault."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from mista.bus.jetstream import JetStreamBus
from mista.ingest.batch import IngestBatch
from mista.ingest.streams import ByteSource
from mista.node import IngestSummary, ingest_paths
from tests.bus.feeds import store_content, write_feed
from tests.bus.nats_server import NatsServer, start_nats
from tests.bus.test_jetstream import drain

ROOT = Path(__file__).resolve().parents[2]


def writer_process(url: str, store: Path | str, log: Path, *more: str) -> subprocess.Popen[bytes]:
    """``mista bus write`` as its own process, its messages into ``log``."""
    env = dict(os.environ, MISTA_NATION="IND")
    with log.open("ab") as err:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "mista",
                "bus",
                "write",
                "--bus",
                url,
                "--store",
                str(store),
                *more,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )


def test_a_writer_killed_mid_run_loses_nothing(nats_server: NatsServer, tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.nmea", lines=1_000, seed=11)
    direct = tmp_path / "direct.duckdb"
    ingest_paths([feed], store=direct, nation="IND", chunk_bytes=16 * 1024)
    url = f"{nats_server.url}?stream=KILL&partitions=2"
    summary = ingest_paths([feed], bus=url, nation="IND", chunk_bytes=16 * 1024)
    store = tmp_path / "bus.duckdb"
    # One message per transaction, so the writer is killed between commits of a run.
    slow = ("--group", "w", "--ack-wait-s", "1", "--fetch-messages", "1", "--merge-rows", "1")
    with JetStreamBus.from_url(url) as bus:
        log = tmp_path / "writers.log"
        writer = writer_process(url, store, log, *slow)
        try:
            deadline = time.monotonic() + 30
            while True:
                pending = bus.pending("w")
                left = sum(v for v in pending.values() if v is not None)
                if None not in pending.values() and 0 < left < bus.stream_messages() - 2:
                    break
                assert time.monotonic() < deadline, "the writer never started committing"
                time.sleep(0.01)
            writer.send_signal(signal.SIGKILL)
            writer.wait(10)
            assert sum(v or 0 for v in bus.pending("w").values()) > 0, "killed after the end"
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
        second = writer_process(url, store, log, *slow[:4], "--until-idle-s", "2")
        assert second.wait(60) == 0, log.read_text()
        assert bus.pending("w") == {0: 0, 1: 0}
    assert summary.messages > 1_000
    assert store_content(store) == store_content(direct)


def test_nats_restarted_under_a_steady_publish_loses_and_doubles_nothing(
    tmp_path: Path,
) -> None:
    server = start_nats(tmp_path / "nats")
    try:
        _restart_under_publish(server, tmp_path)
    finally:
        server.stop()


def _restart_under_publish(server: NatsServer, tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.nmea", lines=1_200, seed=13)
    direct = tmp_path / "direct.duckdb"
    ingest_paths([feed], store=direct, nation="IND", chunk_bytes=4 * 1024)
    reference_url = f"{server.url}?stream=REF&partitions=3"
    ingest_paths([feed], bus=reference_url, nation="IND", chunk_bytes=4 * 1024)
    url = f"{server.url}?stream=RESTART&partitions=3"
    JetStreamBus.from_url(url).close()  # the stream exists before the restart
    published: list[IngestSummary] = []
    failed: list[BaseException] = []
    batches_seen = threading.Event()

    def progress(source: ByteSource, batch: IngestBatch, summary: IngestSummary) -> None:
        batches_seen.set()
        time.sleep(0.02)  # a steady feed, not a burst

    def publish() -> None:
        try:
            published.append(
                ingest_paths([feed], bus=url, nation="IND", chunk_bytes=4 * 1024, progress=progress)
            )
        except BaseException as exc:  # reported by the test thread
            failed.append(exc)

    publisher = threading.Thread(target=publish)
    publisher.start()
    assert batches_seen.wait(30)
    server.stop()
    time.sleep(1.0)
    server.start()
    publisher.join(120)
    assert not failed, failed
    assert not publisher.is_alive()
    with JetStreamBus.from_url(url) as bus, JetStreamBus.from_url(reference_url) as reference:
        # Every message once: the stream holds what a publish without a fault put there.
        assert bus.stream_messages() == reference.stream_messages()
        store = tmp_path / "bus.duckdb"
        assert drain(bus, store, expected_rows=published[0].messages) == published[0].messages
    assert store_content(store) == store_content(direct)


if not hasattr(signal, "SIGKILL"):  # pragma: no cover
    pytestmark = pytest.mark.skip(reason="needs POSIX signals")
