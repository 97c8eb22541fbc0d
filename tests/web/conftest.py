"""A real ``mista api`` process over a small store for the web map's tests.

The store (``web_node``, one per session): the sample AIS log that ships with mista
ingested with ``mista ingest`` (its reports are UNCLASSIFIED//REL TO IND), users added with
``mista users add`` and tokens issued with ``mista users token``; two alerts on the most
isolated vessel (one RESTRICTED//REL TO IND,USA, one SECRET//REL TO IND) and one zone
around it (RESTRICTED//REL TO IND,USA); three vessels' newest reports released and sent to
USA (the partner view). ``mista api`` serves it on a free 127.0.0.1 port
and is stopped by its pid at the end.
"""

from __future__ import annotations

import json
import math
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import httpx
import pytest

from mista.labels import Level, parse_marking
from mista.model import Alert, AlertStatus, Role, User
from mista.node import open_store
from mista.share.outbox import record_item_text
from mista.store.embedded import DuckDBStore
from mista.store.embedded_exchange import ExchangeTables, OutboxItem
from mista.wire import label_to_wire

START_TIMEOUT_S = 30.0
ADMIN = "watch.ind"
LIAISON = "liaison.usa"
SHARED_ALERT_MARKING = "RESTRICTED//REL TO IND,USA"
SECRET_ALERT_MARKING = "SECRET//REL TO IND"
RELEASE_MARKING = "UNCLASSIFIED//REL TO IND,USA"
RELEASED_TO_USA = 3


@dataclass(frozen=True)
class WebNode:
    """A running ``mista api`` and what its store holds."""

    base_url: str
    admin_token: str
    liaison_token: str
    vessel: dict[str, Any]  # the isolated vessel the alerts and zone are about (API shape)
    vessels_drawn: int  # vessels the admin sees that have a position
    log: Path

    def get(self, path: str, token: str | None = None, **params: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin_token}"}
        return httpx.get(f"{self.base_url}{path}", params=params, headers=headers, timeout=10)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _mista(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "mista", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, f"mista {' '.join(args)} failed:\n{done.stderr}"
    return done.stdout


def _most_isolated(vessels: list[dict[str, Any]]) -> dict[str, Any]:
    """The vessel farthest from its nearest neighbour (so a click on it hits only it)."""
    placed = [v for v in vessels if v["lat"] is not None and v["lon"] is not None]

    def room(vessel: dict[str, Any]) -> float:
        return min(
            math.hypot(vessel["lat"] - other["lat"], vessel["lon"] - other["lon"])
            for other in placed
            if other is not vessel
        )

    return max(placed, key=room)


def _write_alerts(store_path: Path) -> dict[str, Any]:
    """Write the two alerts on the most isolated vessel; return that vessel (store row)."""
    store = open_store(store_path)
    try:
        operator = User("operator", "IND", Level.SECRET, frozenset({Role.ADMIN}))
        vessel = _most_isolated(store.vessels(viewer=operator).to_pylist())
        at = vessel["observed_at"]
        store.write_alerts(
            [
                Alert(
                    id=f"web-test-{name}",
                    kind=kind,
                    status=AlertStatus.OPEN,
                    start=at - timedelta(minutes=minutes),
                    end=at,
                    lat=vessel["lat"],
                    lon=vessel["lon"],
                    label=label,
                    mmsis=(vessel["mmsi"],),
                    evidence=json.dumps({"radius_m": 500, "duration_s": minutes * 60}),
                )
                for name, kind, minutes, label in (
                    ("shared", "loitering", 90, parse_marking(SHARED_ALERT_MARKING, "IND")),
                    ("secret", "dark-activity", 30, parse_marking(SECRET_ALERT_MARKING, "IND")),
                )
            ]
        )
        assert isinstance(store, DuckDBStore), "the outbox rows are written to a DuckDB file"
        _release_to_usa(store, operator)
    finally:
        store.close()
    return vessel


def _release_to_usa(store: DuckDBStore, operator: User) -> None:
    """The newest reports of the first RELEASED_TO_USA named vessels, sent to USA as a
    release would send them (positions coarsened to 0.1 deg, relabelled for USA)."""
    named = [v for v in store.vessels(viewer=operator).to_pylist() if v["name"] and v["lat"]]
    wire_label = label_to_wire(parse_marking(RELEASE_MARKING, "IND"))
    items = []
    for vessel in named[:RELEASED_TO_USA]:
        fields = {
            "mmsi": vessel["mmsi"],
            "observed_at": vessel["observed_at"],
            "lat": round(vessel["lat"], 1),
            "lon": round(vessel["lon"], 1),
            "speed_kn": vessel["speed_kn"],
            "source_kind": "ais-terrestrial",
        }
        items.append(
            OutboxItem(
                record_id=vessel["report_id"],
                kind="record",
                not_before=vessel["observed_at"],
                agreement="ind-usa-white",
                clause="white-shipping",
                item=record_item_text(vessel["report_id"], wire_label, fields),
            )
        )
    exchange = ExchangeTables(store)
    exchange.commit_scan("USA", 1, items)
    batch = exchange.assign_batch("USA", list(range(1, len(items) + 1)), [])
    assert batch is not None
    exchange.mark_sent("USA", batch, named[0]["observed_at"])


def _zone_file(path: Path, vessel: dict[str, Any]) -> Path:
    lon, lat = vessel["lon"], vessel["lat"]
    ring = [[lon - 0.05, lat - 0.05], [lon + 0.05, lat - 0.05], [lon + 0.05, lat + 0.05]]
    ring += [[lon - 0.05, lat + 0.05], [lon - 0.05, lat - 0.05]]
    zone = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {
            "id": "anchorage",
            "name": "Test anchorage",
            "marking": SHARED_ALERT_MARKING,
        },
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [zone]}))
    return path


def _start_api(store: Path, zones: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "mista", "api", "--store", str(store)]
    command += ["--listen", f"127.0.0.1:{port}", "--nation", "IND", "--zones", str(zones)]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"mista api exited with {process.returncode}:\n{log.read_text()}")
        try:
            if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                return process, base_url
        except httpx.TransportError:
            time.sleep(0.1)
    _stop(process)
    raise AssertionError(f"mista api did not answer in {START_TIMEOUT_S:.0f} s:\n{log.read_text()}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


@pytest.fixture(scope="session")
def web_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebNode]:
    folder = tmp_path_factory.mktemp("web-node")
    store = folder / "node.duckdb"
    sample = resources.files("mista").joinpath("data", "sample.nmea")
    _mista("ingest", "--store", str(store), str(sample))
    _mista(
        "users",
        "add",
        ADMIN,
        "--nation",
        "IND",
        "--clearance",
        "SECRET",
        "--role",
        "admin",
        "--role",
        "analyst",
        "--store",
        str(store),
    )
    _mista(
        "users",
        "add",
        LIAISON,
        "--nation",
        "USA",
        "--clearance",
        "RESTRICTED",
        "--role",
        "liaison",
        "--store",
        str(store),
    )
    admin_token = _mista("users", "token", ADMIN, "--store", str(store)).strip()
    liaison_token = _mista("users", "token", LIAISON, "--store", str(store)).strip()

    vessel = _write_alerts(store)
    zones = _zone_file(folder / "zones.geojson", vessel)
    log = folder / "api.log"
    process, base_url = _start_api(store, zones, log)
    try:
        node = WebNode(base_url, admin_token, liaison_token, {}, 0, log)
        vessels = node.get("/api/v1/vessels").json()["vessels"]
        shown = next(v for v in vessels if v["mmsi"] == vessel["mmsi"])
        drawn = sum(1 for v in vessels if v["lat"] is not None and v["lon"] is not None)
        yield WebNode(base_url, admin_token, liaison_token, shown, drawn, log)
    finally:
        _stop(process)
