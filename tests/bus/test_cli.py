"""The commands, as a user runs them: `mista ingest --bus` publishes, `mista bus write`
commits, and the store then holds what a direct ingest stores."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mista.node import ingest_paths
from tests.bus.feeds import store_content, write_feed
from tests.bus.nats_server import NatsServer


def _mista(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mista", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "MISTA_NATION": "IND"},
    )


def test_ingest_publishes_and_bus_write_commits(nats_server: NatsServer, tmp_path: Path) -> None:
    feed = write_feed(tmp_path / "feed.nmea", lines=1_000)
    direct = tmp_path / "direct.duckdb"
    ingest_paths([feed], store=direct, nation="IND")
    url = f"{nats_server.url}?stream=CLI"
    published = _mista("ingest", str(feed), "--bus", url)
    assert published.returncode == 0, published.stderr
    store = tmp_path / "bus.duckdb"
    written = _mista("bus", "write", "--bus", url, "--store", str(store), "--until-idle-s", "3")
    assert written.returncode == 0, written.stderr
    assert store_content(store) == store_content(direct)
