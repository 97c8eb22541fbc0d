"""A node with no partners runs alone: it ingests a file source at every start (storing
nothing twice), listens on udp://, reconnects to a tcp:// feed, answers /health, writes
status lines and stops cleanly on SIGINT."""

from __future__ import annotations

import signal
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tests.serve.nodes import Cluster, free_port, nmea_position, read_rows, wait_until

OBSERVED = datetime.now(UTC) - timedelta(minutes=5)


def _lines(first_mmsi: int, count: int) -> bytes:
    return "".join(
        f"{nmea_position(first_mmsi + i, 15.0, 75.0, OBSERVED)}\n" for i in range(count)
    ).encode()


@pytest.fixture
def tcp_feed() -> Iterator[int]:
    """A feed that serves the same 10 sentences to each connection, then hangs up."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except TimeoutError:
                continue
            with connection:
                connection.sendall(_lines(419_310_000, 10))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join()
    server.close()


def test_a_node_alone_ingests_its_sources_and_restarts_cleanly(
    cluster: Cluster, tcp_feed: int
) -> None:
    ind = cluster.node("IND")
    udp_port = free_port()
    (ind.path / "feed.nmea").write_bytes(_lines(419_300_000, 30))
    sources = ind.path / "sources"
    (sources / "shore.toml").write_text('url = "../feed.nmea"\n')
    (sources / "radio.toml").write_text(f'url = "udp://127.0.0.1:{udp_port}"\n')
    (sources / "relay.toml").write_text(f'url = "tcp://127.0.0.1:{tcp_feed}"\n')
    (sources / "drop.toml").write_text('url = "spool:../drop"\n')
    drop = ind.path / "drop"
    drop.mkdir()
    (drop / "a-broken.nmea.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 64)
    (drop / "b-good.nmea").write_bytes(_lines(419_330_000, 3))

    def stored(name: str) -> int:
        return int(ind.health()["sources"][name]["reports"])

    cluster.start(ind)
    datagrams = _lines(419_320_000, 5).splitlines(keepends=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:

        def heard() -> bool:
            # Sent until heard: a datagram before the listener binds is lost, and one
            # heard twice is stored once.
            for datagram in datagrams:
                sender.sendto(datagram, ("127.0.0.1", udp_port))
            return stored("radio") == 5

        wait_until(heard, 20, "the UDP datagrams", ind)
    wait_until(lambda: stored("shore") == 30, 20, "the file", ind)
    wait_until(lambda: stored("relay") == 10, 20, "the TCP feed", ind)
    wait_until(lambda: stored("drop") == 3, 20, "the good spool file", ind)
    # The broken file is set aside with its reason; the one after it is ingested.
    assert sorted(p.name for p in (drop / "failed").iterdir()) == [
        "a-broken.nmea.gz",
        "a-broken.nmea.gz.reason",
    ]
    assert "gzip" in (drop / "failed" / "a-broken.nmea.gz.reason").read_text()
    assert [p.name for p in (drop / "done").iterdir()] == ["b-good.nmea"]
    wait_until(lambda: "status: sources: " in ind.log.read_text(), 5, "a status line", ind)
    assert ind.health()["partners"] == {}
    assert cluster.stop(ind, signal.SIGINT) == 0, ind.logs()
    assert read_rows(ind, "SELECT count(*) AS n FROM reports") == [{"n": 48}]

    # A restart reads the file again and stores nothing twice.
    cluster.start(ind)
    wait_until(lambda: "feed.nmea read" in ind.log.read_text(), 20, "the second reading", ind)
    assert stored("shore") == 0
    assert cluster.stop(ind) == 0, ind.logs()
    assert read_rows(ind, "SELECT count(*) AS n FROM reports") == [{"n": 48}]
    assert "running alone" in ind.logs()
