"""Real ``mista serve`` processes for the tests: config directories in a tmp dir, free
loopback ports, start and wait for ``/health``, stop by pid, read the stores afterwards.

``Cluster`` owns the processes it starts and stops every one of them at teardown (SIGTERM,
then SIGKILL after a grace period), whatever the test did.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import httpx
from pyais import encode_dict

from mista.config import add_partner, init_node_dir
from mista.share.keys import Identity, client_ssl_context, load_identity, public_key_text

#: Short intervals so the tests run in seconds (real nodes use the defaults).
TEST_INTERVALS = {
    "scan_s": 0.2,
    "spool_poll_s": 0.1,
    "backoff_initial_s": 0.1,
    "backoff_max_s": 0.5,
    "request_timeout_s": 5.0,
    "status_s": 0.5,
}
START_TIMEOUT_S = 30.0


def free_port() -> int:
    """A port free on 127.0.0.1 right now (bound to 0 and read back)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str, *nodes: Node) -> None:
    """Poll ``predicate``; on time-out fail with ``what`` and the logs of ``nodes``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    logs = "\n".join(node.logs() for node in nodes)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}\n{logs}")


@dataclass
class Node:
    """One node's config directory, and its process while it runs."""

    path: Path
    nation: str
    port: int
    process: subprocess.Popen[bytes] | None = None
    runs: int = 0

    @property
    def endpoint(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def identity(self) -> Identity:
        return load_identity(self.path / "keys", self.nation)

    @property
    def certificate(self) -> Path:
        return self.path / "keys" / "tls.crt"

    @property
    def public_key(self) -> str:
        return public_key_text(self.identity.public_key)

    @property
    def store(self) -> Path:
        return self.path / "store.duckdb"

    @property
    def audit(self) -> Path:
        return self.path / "audit.jsonl"

    @property
    def log(self) -> Path:
        return self.path / f"serve-{self.runs}.log"

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')}"
            for path in sorted(self.path.glob("serve-*.log"))
        )

    def client(self) -> httpx.Client:
        """An HTTPS client presenting this node's own certificate to itself."""
        context = client_ssl_context(self.identity, self.certificate)
        return httpx.Client(verify=context, timeout=5.0, trust_env=False)

    def health(self) -> dict[str, Any]:
        with self.client() as client:
            answer = client.get(f"{self.endpoint}/health")
            answer.raise_for_status()
            result: dict[str, Any] = answer.json()
            return result

    def received_from(self, nation: str) -> int:
        return int(self.health().get("received", {}).get(nation, 0))

    def audit_entries(self) -> list[dict[str, Any]]:
        if not self.audit.exists():
            return []
        return [json.loads(line) for line in self.audit.read_text().splitlines() if line]


def nmea_position(
    mmsi: int,
    lat: float,
    lon: float,
    observed_at: datetime,
    *,
    speed_kn: float = 10.5,
    course_deg: float = 90.0,
    heading_deg: int = 91,
    receiver: str = "rIND01",
) -> str:
    """One AIS type 1 sentence with an NMEA 4.0 tag block giving receiver and time."""
    (sentence,) = encode_dict(
        {
            "type": 1,
            "mmsi": mmsi,
            "lat": lat,
            "lon": lon,
            "speed": speed_kn,
            "course": course_deg,
            "heading": heading_deg,
        },
        talker_id="AI",
        sentence_type="VDM",
    )
    body = f"s:{receiver},c:{int(observed_at.timestamp())}"
    checksum = 0
    for char in body:
        checksum ^= ord(char)
    return f"\\{body}*{checksum:02X}\\{sentence}"


def write_spool(directory: Path, name: str, lines: Iterable[str]) -> Path:
    """Write a spool file the way a feeder must: to a .tmp name, then rename."""
    directory.mkdir(parents=True, exist_ok=True)
    temporary = directory / f"{name}.tmp"
    temporary.write_text("".join(f"{line}\n" for line in lines))
    target = directory / name
    os.replace(temporary, target)
    return target


def agreement_toml(
    agreement_id: str,
    *,
    sender: str,
    receiver: str,
    bbox: Sequence[float],
    max_level: str = "RESTRICTED",
    delay: str = "0s",
    precision: int | None = None,
    remove: Sequence[str] = (),
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
) -> str:
    now = datetime.now(UTC)
    start = valid_from or now - timedelta(days=1)
    end = valid_until or now + timedelta(days=365)
    lines = [
        f'id = "{agreement_id}"',
        "version = 1",
        f'parties = ["{sender}", "{receiver}"]',
        'direction = "one-way"',
        f'from = "{sender}"',
        f'valid_from = "{start:%Y-%m-%dT%H:%M:%SZ}"',
        f'valid_until = "{end:%Y-%m-%dT%H:%M:%SZ}"',
        "",
        "[[clause]]",
        'id = "white-shipping"',
        'flows = ["reports"]',
        'categories = ["white-shipping"]',
        f'max_level = "{max_level}"',
        f'delay = "{delay}"',
        f"area = {{ bbox = {json.dumps(list(bbox))} }}",
    ]
    if precision is not None:
        lines.append(f"precision = {precision}")
    if remove:
        lines.append(f"remove = {json.dumps(list(remove))}")
    return "\n".join(lines) + "\n"


@dataclass
class Cluster:
    """Nodes in one tmp dir; every process started here is stopped at ``close``."""

    root: Path
    nodes: dict[str, Node] = field(default_factory=dict)

    def node(self, nation: str, **intervals: float) -> Node:
        port = free_port()
        path = self.root / nation.lower()
        init_node_dir(path, nation, port=port)
        settings = {**TEST_INTERVALS, **intervals}
        toml = (path / "node.toml").read_text()
        extra = "".join(f"{key} = {value}\n" for key, value in settings.items())
        (path / "node.toml").write_text(toml.replace("[intervals]\n", "[intervals]\n" + extra))
        node = Node(path, nation, port)
        self.nodes[nation] = node
        return node

    def pin(self, a: Node, b: Node) -> None:
        """Make a and b partners of each other."""
        for one, other in ((a, b), (b, a)):
            add_partner(
                one.path,
                other.nation,
                endpoint=other.endpoint,
                certificate=other.certificate,
                public_key=other.public_key,
            )

    def agree(self, text: str, name: str, *nodes: Node) -> None:
        """Give every party the same agreement file."""
        for node in nodes:
            (node.path / "agreements" / f"{name}.toml").write_text(text)

    def spool_source(self, node: Node, name: str, label: dict[str, Any] | str) -> Path:
        """A ``spool:`` source on ``node`` with the given [label] table or marking; returns
        its directory."""
        spool = node.path / "spool" / name
        lines = [f'name = "{name}"', f'url = "spool:../spool/{name}"']
        if isinstance(label, str):
            lines.append(f"label = {json.dumps(label)}")
        else:
            lines += ["[label]"] + [f"{key} = {json.dumps(value)}" for key, value in label.items()]
        (node.path / "sources" / f"{name}.toml").write_text("\n".join(lines) + "\n")
        spool.mkdir(parents=True, exist_ok=True)
        return spool

    def start(self, node: Node, *, wait: bool = True) -> None:
        assert node.process is None or node.process.poll() is not None, "already running"
        node.runs += 1
        env = {k: v for k, v in os.environ.items() if not k.startswith("MISTA_")}
        with node.log.open("wb") as log:
            node.process = subprocess.Popen(
                [sys.executable, "-m", "mista", "serve", str(node.path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        if wait:
            self.wait_healthy(node)

    def start_all(self, *nodes: Node) -> None:
        """Start several nodes at once, then wait for each to answer."""
        for node in nodes:
            self.start(node, wait=False)
        for node in nodes:
            self.wait_healthy(node)

    def wait_healthy(self, node: Node) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert node.process is not None
            if node.process.poll() is not None:
                raise AssertionError(f"{node.nation} exited at start:\n{node.logs()}")
            try:
                node.health()
                return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError(f"{node.nation} never answered /health:\n{node.logs()}")

    def stop(self, node: Node, sig: signal.Signals = signal.SIGTERM) -> int:
        """Stop the node's process by its pid; returns its exit code."""
        process = node.process
        if process is None or process.poll() is not None:
            return process.returncode if process is not None else 0
        os.kill(process.pid, sig)
        try:
            return process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            return process.wait(timeout=10)

    def close(self) -> None:
        for node in self.nodes.values():
            self.stop(node)


def read_rows(node: Node, sql: str) -> list[dict[str, Any]]:
    """Rows of a query on a stopped node's store (opened read-only)."""
    assert node.process is None or node.process.poll() is not None, "stop the node first"
    with duckdb.connect(str(node.store), read_only=True) as con:
        cursor = con.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


REPORTS_SQL = """
    SELECT r.id_hi, r.id_lo, r.originator, epoch_us(r.observed_at) AS observed_us,
           r.msg_type, r.mmsi, r.lat, r.lon, r.speed_kn, r.course_deg, r.heading_deg,
           r.nav_status, l.marking,
           (SELECT min(receiver) FROM receptions x
             WHERE x.id_hi = r.id_hi AND x.id_lo = r.id_lo) AS receiver
    FROM reports r JOIN labels l USING (label_no)
    ORDER BY r.mmsi, observed_us
"""


def reports(node: Node) -> list[dict[str, Any]]:
    """Every report a stopped node holds, with its label's marking and receiver (times in
    epoch microseconds: reading TIMESTAMPTZ values into Python would need pytz)."""
    return read_rows(node, REPORTS_SQL)
