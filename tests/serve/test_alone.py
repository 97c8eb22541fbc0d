"""A node with no partners runs alone: it ingests a file source at every start (storing
nothing twice), answers /health and stops cleanly on SIGINT."""

from __future__ import annotations

import signal
from datetime import UTC, datetime, timedelta

from tests.serve.nodes import Cluster, nmea_position, read_rows, wait_until


def test_a_node_alone_reads_its_file_once_across_restarts(cluster: Cluster) -> None:
    ind = cluster.node("IND")
    observed = datetime.now(UTC) - timedelta(minutes=5)
    feed = ind.path / "feed.nmea"
    feed.write_text(
        "".join(f"{nmea_position(419_300_000 + i, 15.0, 75.0, observed)}\n" for i in range(30))
    )
    (ind.path / "sources" / "shore.toml").write_text('url = "../feed.nmea"\n')

    def file_read() -> bool:
        return int(ind.health()["sources"]["shore"]["reports"]) == 30

    cluster.start(ind)
    wait_until(file_read, 20, "the file to be read", ind)
    assert ind.health()["partners"] == {}
    wait_until(
        lambda: "status: sources: shore 30 stored; partners: none" in ind.log.read_text(),
        5,
        "a status line",
        ind,
    )
    assert cluster.stop(ind, signal.SIGINT) == 0, ind.logs()
    assert read_rows(ind, "SELECT count(*) AS n FROM reports") == [{"n": 30}]

    # A restart reads the file again and stores nothing twice.
    cluster.start(ind)
    wait_until(lambda: "feed.nmea read" in ind.log.read_text(), 20, "the second reading", ind)
    assert int(ind.health()["sources"]["shore"]["reports"]) == 0
    assert cluster.stop(ind) == 0, ind.logs()
    assert read_rows(ind, "SELECT count(*) AS n FROM reports") == [{"n": 30}]
    assert "running alone" in ind.logs()
