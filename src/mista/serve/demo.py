"""``mista demo``: four partner nodes (IND, USA, JPN, AUS) on loopback, fed by one scenario.

The demo is a composition of what an operator would do by hand (docs/demo.md):

1. simulate one scenario that ends a little after now (``mista.sim``): most of it is history
   the nodes ingest at start, the last ``live_minutes`` are replayed as they happen;
2. make one config directory per nation: keys, the other three pinned as partners,
   the agreements between them (``AGREEMENTS``), the nation's own sensors as spool sources
   with their labels (``source_label``), its zones, and an ``[api]`` listener;
3. add the users (a watch officer per node, a USA liaison officer at IND) and their tokens,
   before the node opens its store (a store has one writer);
4. start the four ``mista serve`` processes, wait for each API's ``/health`` and
   ``/openapi.json``, print the map URLs, feed the live part of the scenario into the
   spools, and stop every node by its pid on SIGINT or SIGTERM.

Node ``i`` of ``NATIONS`` listens for partners on ``base_port + 2*i`` (mutual TLS) and for
users on ``base_port + 2*i + 1`` (plain HTTP, loopback only).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from mista.errors import ConfigError, InputError, MistaError

__all__ = [
    "AGREEMENTS",
    "NATIONS",
    "USERS",
    "DemoNode",
    "DemoSettings",
    "DemoUser",
    "node_ports",
    "prepare",
    "run_demo",
    "source_label",
]

#: The four nodes, in port order.
NATIONS: tuple[str, ...] = ("IND", "USA", "JPN", "AUS")
HOST = "127.0.0.1"
#: Seconds the four nodes get to answer /health and /openapi.json.
READY_TIMEOUT_S = 90.0
#: Seconds a node gets to stop after SIGTERM before it is killed.
STOP_TIMEOUT_S = 20.0
#: Live data goes into the spools in slices of this many seconds of observation time (the
#: sensors forward one position per vessel a minute: shorter slices only make more files).
LIVE_SLICE_S = 30.0
#: Lines of a dead node's log shown.
LOG_TAIL_LINES = 15

Echo = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class DemoUser:
    """A user the demo makes at one node (``at``), with a token in the printed URL."""

    name: str
    at: str
    nation: str
    clearance: str
    roles: tuple[str, ...]
    title: str


#: A watch officer at every node (its own nation, SECRET, analyst and admin), and a USA
#: liaison officer at IND who may see only what is releasable to the USA at RESTRICTED.
USERS: tuple[DemoUser, ...] = (
    *(
        DemoUser(
            f"watch.{nation.lower()}",
            nation,
            nation,
            "SECRET",
            ("analyst", "admin"),
            f"{nation} watch officer",
        )
        for nation in NATIONS
    ),
    DemoUser("liaison.usa", "IND", "USA", "RESTRICTED", ("liaison",), "USA liaison officer"),
)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    """What ``mista demo`` is asked for. ``directory`` None: a new temporary directory,
    removed at exit."""

    base_port: int = 8400
    directory: Path | None = None
    vessels: int = 400
    hours: float = 6.0
    seed: int = 7
    live_minutes: float = 30.0


@dataclass
class DemoNode:
    """One node of the demo: its config directory, ports, users' tokens and process."""

    nation: str
    directory: Path
    exchange_port: int
    api_port: int
    tokens: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def api_url(self) -> str:
        return f"http://{HOST}:{self.api_port}"

    @property
    def endpoint(self) -> str:
        return f"https://{HOST}:{self.exchange_port}"

    @property
    def log(self) -> Path:
        return self.directory / "serve.log"

    def map_url(self, user: str) -> str:
        """The web map, logged in as ``user`` (the page reads the token from the fragment)."""
        return f"{self.api_url}/#token={self.tokens[user]}"

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> list[str]:
        try:
            text = self.log.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return []
        return text.splitlines()[-lines:]


def node_ports(base_port: int, index: int) -> tuple[int, int]:
    """Node ``index``'s (exchange, API) ports."""
    return base_port + 2 * index, base_port + 2 * index + 1


# ------------------------------------------------------------------------------ policy


#: The groups every node knows, usable in REL TO markings.
GROUPS = {"QUAD": NATIONS}
#: India's Andaman and Nicobar shore stations stay national (IND only).
IND_ONLY_STATIONS = frozenset({"IND-ais-portblair", "IND-ais-campbellbay"})
#: Who may see each nation's radar besides itself (the agreements say who is sent it).
RADAR_PARTNERS: dict[str, tuple[str, ...]] = {"IND": ("AUS",), "AUS": ("IND",), "JPN": ("IND",)}


def source_label(source: str, kind: str, nation: str) -> str:
    """The label (a marking) a nation gives its sensor ``source`` in the demo.

    Shore and satellite AIS are white shipping for the four (RESTRICTED and UNCLASSIFIED),
    but IND keeps its Andaman and Nicobar stations national. Radar is CONFIDENTIAL: IND's
    releasable to AUS, AUS's to IND, JPN's to IND as ORCON (IND may not pass it on).
    """
    if kind == "radar":
        rel = ",".join(sorted({nation, *RADAR_PARTNERS.get(nation, ())}))
        orcon = "//ORCON" if nation == "JPN" else ""
        return f"CONFIDENTIAL//REL TO {rel}//sensor:radar{orcon}"
    if source in IND_ONLY_STATIONS:
        return "RESTRICTED//REL TO IND//white-shipping"
    level = "UNCLASSIFIED" if kind == "ais-satellite" else "RESTRICTED"
    return f"{level}//REL TO QUAD//white-shipping"


@dataclass(frozen=True, slots=True)
class DemoAgreement:
    """An agreement file: its name, parties and TOML body (without the validity)."""

    name: str
    parties: tuple[str, ...]
    body: str


#: The agreements between the four. Every party holds a copy; each is checked at setup.
AGREEMENTS: tuple[DemoAgreement, ...] = (
    DemoAgreement(
        "quad-white-shipping",
        NATIONS,
        """title = "Quad white shipping picture"
direction = "mutual"

[[clause]]
id = "ais-picture"
flows = ["reports", "tracks", "alerts"]
categories = ["white-shipping"]
max_level = "RESTRICTED"
delay = "10m"
precision = 3
remove = ["receiver", "raw"]
""",
    ),
    DemoAgreement(
        "usa-jpn-reciprocal",
        ("USA", "JPN"),
        """title = "USA-Japan reciprocal white shipping, in real time"
direction = "mutual"

[[clause]]
id = "ais-now"
flows = ["reports", "tracks", "alerts"]
categories = ["white-shipping"]
max_level = "RESTRICTED"
""",
    ),
    DemoAgreement(
        "ind-aus-radar",
        ("IND", "AUS"),
        """title = "Indian coastal radar to Australia, Bay of Bengal and Andaman Sea"
direction = "one-way"
from = "IND"

[[clause]]
id = "bay-of-bengal-radar"
flows = ["reports", "tracks"]
categories = ["sensor:radar"]
max_level = "CONFIDENTIAL"
area = { bbox = [78.0, 5.0, 100.0, 23.0] }
precision = 3
remove = ["receiver"]
""",
    ),
    DemoAgreement(
        "aus-ind-radar",
        ("AUS", "IND"),
        """title = "Australian coastal radar to India"
direction = "one-way"
from = "AUS"

[[clause]]
id = "northwest-shelf-radar"
flows = ["reports", "tracks"]
categories = ["sensor:radar"]
max_level = "CONFIDENTIAL"
delay = "5m"
""",
    ),
    DemoAgreement(
        "jpn-ind-radar",
        ("JPN", "IND"),
        """title = "Japanese radar off the Ryukyus to India (ORCON: India does not pass it on)"
direction = "one-way"
from = "JPN"

[[clause]]
id = "ryukyu-radar"
flows = ["reports", "tracks"]
categories = ["sensor:radar"]
max_level = "CONFIDENTIAL"
""",
    ),
)


def agreement_text(agreement: DemoAgreement, now: datetime) -> str:
    """The agreement file: valid from a day ago for a year."""
    start = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    end = (now + timedelta(days=365)).strftime("%Y-%m-%dT%H:%M:%SZ")
    parties = ", ".join(f'"{nation}"' for nation in agreement.parties)
    head = (
        f'id = "{agreement.name}"\nversion = 1\nparties = [{parties}]\n'
        f'valid_from = "{start}"\nvalid_until = "{end}"\n'
    )
    return head + agreement.body


# ------------------------------------------------------------------------------ setup


def check_ports(base_port: int) -> None:
    """Every port the demo needs is free on 127.0.0.1, or a ConfigError naming --base-port."""
    last = node_ports(base_port, len(NATIONS) - 1)[1]
    if base_port < 1 or last > 65535:
        raise ConfigError(
            f"--base-port {base_port}: the demo needs ports {base_port}-{last}; give a base "
            f"port between 1 and {65535 - 2 * len(NATIONS) + 1}"
        )
    for port in range(base_port, last + 1):
        with socket.socket() as sock:
            try:
                sock.bind((HOST, port))
            except OSError as exc:
                raise ConfigError(
                    f"port {port} on {HOST} is in use ({exc.strerror or exc}); the demo needs "
                    f"ports {base_port}-{last}: choose others with --base-port "
                    f"(e.g. --base-port {base_port + 100})"
                ) from None


def _node_toml(nation: str, exchange_port: int, api_port: int, zones: bool) -> str:
    quad = ", ".join(f'"{n}"' for n in GROUPS["QUAD"])
    lines = [
        f'nation = "{nation}"',
        f'listen = "{HOST}:{exchange_port}"',
        'store = "store.duckdb"',
        'audit = "audit.jsonl"',
        "",
        "[groups]",
        f"QUAD = [{quad}]",
        "",
        "[intervals]",
        "backoff_max_s = 5  # partners start together: find each other quickly",
        "request_timeout_s = 30  # four nodes share this machine's cores",
        "status_s = 30",
        # Live data comes in 30 s slices: looking more often only spends the shared cores.
        "spool_poll_s = 2",
        "scan_s = 2",
        "fuse_s = 5",
        "",
        "[api]",
        f'listen = "{HOST}:{api_port}"',
    ]
    if zones:
        lines += ["", "[detect]", 'zones = "zones.geojson"']
    return "\n".join(lines) + "\n"


def _own_zones(scenario: Path, nation: str) -> dict[str, Any] | None:
    """The scenario's zones a nation holds (their ids start with its code), or None."""
    layer = json.loads((scenario / "zones.geojson").read_text(encoding="utf-8"))
    prefix = f"{nation.lower()}-"
    features = [
        feature
        for feature in layer.get("features", [])
        if str(feature.get("properties", {}).get("id", "")).startswith(prefix)
    ]
    return {"type": "FeatureCollection", "features": features} if features else None


def _write_sources(directory: Path, nation: str, manifest: dict[str, Any]) -> list[str]:
    """A spool source per sensor of ``nation``; their names."""
    names = []
    for name, source in sorted(manifest["sources"].items()):
        if source["nation"] != nation:
            continue
        marking = source_label(name, source["kind"], nation)
        text = (
            f'name = "{name}"\nurl = "spool:../spool/{name}"\nkind = "{source["kind"]}"\n'
            f'originator = "{nation}"\nlabel = "{marking}"\n'
        )
        (directory / "sources" / f"{name}.toml").write_text(text, encoding="utf-8")
        (directory / "spool" / name).mkdir(parents=True, exist_ok=True)
        names.append(name)
    return names


def _pin_all(nodes: Sequence[DemoNode]) -> None:
    from mista.config import add_partner
    from mista.share.keys import load_identity, public_key_text

    keys = {
        node.nation: public_key_text(load_identity(node.directory / "keys", node.nation).public_key)
        for node in nodes
    }
    for node in nodes:
        for other in nodes:
            if other is not node:
                add_partner(
                    node.directory,
                    other.nation,
                    endpoint=other.endpoint,
                    certificate=other.directory / "keys" / "tls.crt",
                    public_key=keys[other.nation],
                )


def _write_agreements(nodes: Sequence[DemoNode], now: datetime) -> None:
    from mista.share.agreements import check_agreements

    for node in nodes:
        for agreement in AGREEMENTS:
            if node.nation in agreement.parties:
                path = node.directory / "agreements" / f"{agreement.name}.toml"
                path.write_text(agreement_text(agreement, now), encoding="utf-8")
        problems = check_agreements(node.directory / "agreements", node=node.nation)
        if problems:  # the demo's own files: a bug, said plainly
            raise ConfigError(f"demo agreements of {node.nation}: " + "; ".join(map(str, problems)))


def _add_users(node: DemoNode) -> None:
    from mista.labels import Level
    from mista.model import Role, User
    from mista.node import add_user, issue_token

    store = node.directory / "store.duckdb"
    for user in USERS:
        if user.at == node.nation:
            add_user(
                store,
                User(
                    user.name,
                    user.nation,
                    Level[user.clearance],
                    frozenset(Role(role) for role in user.roles),
                ),
            )
            node.tokens[user.name] = issue_token(store, user.name)


def make_nodes(root: Path, scenario: Path, base_port: int, now: datetime) -> list[DemoNode]:
    """The four config directories under ``root``, each with its users and tokens."""
    from mista.config import init_node_dir, load_node_config

    manifest = json.loads((scenario / "scenario.json").read_text(encoding="utf-8"))
    nodes = []
    for index, nation in enumerate(NATIONS):
        exchange_port, api_port = node_ports(base_port, index)
        directory = root / nation
        init_node_dir(directory, nation, port=exchange_port)
        zones = _own_zones(scenario, nation)
        if zones is not None:
            (directory / "zones.geojson").write_text(json.dumps(zones, indent=1))
        (directory / "node.toml").write_text(
            _node_toml(nation, exchange_port, api_port, zones is not None), encoding="utf-8"
        )
        _write_sources(directory, nation, manifest)
        nodes.append(DemoNode(nation, directory, exchange_port, api_port))
    _pin_all(nodes)
    _write_agreements(nodes, now)
    for node in nodes:
        load_node_config(node.directory)  # the whole directory is valid before anything runs
        _add_users(node)
    return nodes


# ------------------------------------------------------------------------------ feeding


@dataclass(frozen=True, slots=True)
class Delivery:
    """Lines of one source to put in its spool at ``due`` (unix seconds)."""

    due: float
    spool: Path
    name: str
    lines: tuple[str, ...]


_NMEA_TIME = re.compile(r"^\\[^\\]*\bc:(\d+)")


def _messages(path: Path, kind: str) -> Iterator[tuple[float | None, list[str]]]:
    """The file's messages with their observation times (unix s): one line each, except an
    NMEA message of several sentences, whose later lines carry no time."""
    current: list[str] = []
    when: float | None = None
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line:
            continue
        if kind == "radar":
            yield datetime.fromisoformat(json.loads(line)["time"]).timestamp(), [line]
            continue
        match = _NMEA_TIME.match(line)
        if match is None and current:
            current.append(line)
            continue
        if current:
            yield when, current
        current, when = [line], float(match.group(1)) if match else None
    if current:
        yield when, current


def plan_deliveries(
    scenario: Path, nodes: Sequence[DemoNode], now: float
) -> tuple[list[Delivery], list[Delivery]]:
    """Each node's own sensor files as (backlog, live): everything delivered by ``now`` as
    one backlog file per source, in delivery order; the rest in ``LIVE_SLICE_S`` slices,
    each due when its last observation is made (a satellite downlink: when it lands)."""
    manifest = json.loads((scenario / "scenario.json").read_text(encoding="utf-8"))
    spools = {node.nation: node.directory / "spool" for node in nodes}
    backlog: dict[str, list[str]] = {}
    live: dict[tuple[float, str], list[str]] = {}
    suffix: dict[str, str] = {}
    for entry in manifest["files"]:
        source = entry["source"]
        info = manifest["sources"][source]
        if info["nation"] not in spools:
            continue
        path = scenario / entry["path"]
        suffix[source] = path.suffix
        delivered = datetime.fromisoformat(entry["delivered_at"]).timestamp()
        for observed, lines in _messages(path, entry["kind"]):
            due = delivered if entry["kind"] == "ais-satellite" or observed is None else observed
            if due <= now:
                backlog.setdefault(source, []).extend(lines)
            else:
                end = now + LIVE_SLICE_S * -(-(due - now) // LIVE_SLICE_S)
                live.setdefault((end, source), []).extend(lines)

    def spool(source: str) -> Path:
        return spools[manifest["sources"][source]["nation"]] / source

    first = [
        Delivery(now, spool(source), f"backlog{suffix[source]}", tuple(lines))
        for source, lines in sorted(backlog.items())
    ]
    rest = [
        Delivery(
            due,
            spool(source),
            f"live-{datetime.fromtimestamp(due, UTC):%Y%m%dT%H%M%S}{suffix[source]}",
            tuple(lines),
        )
        for (due, source), lines in sorted(live.items())
    ]
    return first, rest


def deliver(delivery: Delivery) -> None:
    """Write one spool file the way a feeder must: to a .tmp name, then rename."""
    temporary = delivery.spool / f"{delivery.name}.tmp"
    temporary.write_text("".join(f"{line}\n" for line in delivery.lines), encoding="utf-8")
    os.replace(temporary, delivery.spool / delivery.name)


def feed(deliveries: Sequence[Delivery], stop: threading.Event) -> None:
    """Deliver each file at its time (files already due go at once) until ``stop``."""
    for delivery in deliveries:
        wait_s = delivery.due - time.time()
        if wait_s > 0 and stop.wait(wait_s):
            return
        if stop.is_set():
            return
        deliver(delivery)


# ------------------------------------------------------------------------------ processes


def start_node(node: DemoNode) -> None:
    """Start ``mista serve`` on the node's directory; its output goes to its serve.log."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("MISTA_")}
    with node.log.open("wb") as log:
        node.process = subprocess.Popen(
            [sys.executable, "-m", "mista", "serve", str(node.directory)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _answers(client: httpx.Client, url: str) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _own_certificate_client(node: DemoNode) -> httpx.Client:
    """A client for the node's partner listener, presenting the node's own certificate (which
    the node trusts for /health only)."""
    from mista.share.keys import client_ssl_context, load_identity

    identity = load_identity(node.directory / "keys", node.nation)
    context = client_ssl_context(identity, node.directory / "keys" / "tls.crt")
    return httpx.Client(verify=context, timeout=2.0, trust_env=False)


class NodeDiedError(Exception):
    """A node's process ended while the demo needed it."""

    def __init__(self, node: DemoNode) -> None:
        code = node.process.returncode if node.process is not None else None
        super().__init__(f"node {node.nation} exited (code {code})")
        self.node = node


def wait_ready(
    nodes: Sequence[DemoNode], stop: threading.Event, echo: Echo, timeout_s: float
) -> bool:
    """Wait until every node answers ``/health`` on its partner listener (mutual TLS) and
    ``/health`` and ``/openapi.json`` on its API, one line per node as it does; False when
    ``stop`` was set first. Raises ``NodeDiedError`` or ``MistaError`` (timed out)."""
    started = time.monotonic()
    waiting = list(nodes)
    with contextlib.ExitStack() as stack:
        client = stack.enter_context(httpx.Client(timeout=2.0, trust_env=False))
        partner = {
            node.nation: stack.enter_context(_own_certificate_client(node)) for node in nodes
        }
        while waiting:
            for node in list(waiting):
                if node.process is not None and node.process.poll() is not None:
                    raise NodeDiedError(node)
                if (
                    _answers(partner[node.nation], f"{node.endpoint}/health")
                    and _answers(client, f"{node.api_url}/health")
                    and _answers(client, f"{node.api_url}/openapi.json")
                ):
                    waiting.remove(node)
                    pid = node.process.pid if node.process is not None else None
                    echo(
                        f"  {node.nation} up after {time.monotonic() - started:.1f} s "
                        f"(pid {pid}): API {node.api_url}, partners {node.endpoint}"
                    )
            if not waiting:
                return True
            if time.monotonic() - started > timeout_s:
                names = ", ".join(node.nation for node in waiting)
                raise MistaError(
                    f"{names} did not answer on /health within {timeout_s:.0f} s "
                    f"(see serve.log in {waiting[0].directory})"
                )
            if stop.wait(0.2):
                return False
    return True


def stop_nodes(nodes: Sequence[DemoNode], echo: Echo, timeout_s: float = STOP_TIMEOUT_S) -> None:
    """SIGTERM every running node by its pid, wait, SIGKILL any still running after
    ``timeout_s``; one line per node."""
    running = [n for n in nodes if n.process is not None and n.process.poll() is None]
    for node in running:
        assert node.process is not None
        node.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for node in running:
        assert node.process is not None
        try:
            code = node.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            echo(f"  {node.nation} stopped (pid {node.process.pid}, exit {code})")
        except subprocess.TimeoutExpired:
            node.process.kill()
            node.process.wait(timeout=10)
            echo(f"  {node.nation} killed after {timeout_s:.0f} s (pid {node.process.pid})")


# ------------------------------------------------------------------------------ the demo


def _simulate(root: Path, settings: DemoSettings, now: datetime) -> Path:
    from mista.sim import simulate

    live_s = min(settings.live_minutes * 60.0, settings.hours * 1800.0)
    start = now - timedelta(hours=settings.hours) + timedelta(seconds=live_s)
    scenario = root / "scenario"
    simulate(
        scenario, hours=settings.hours, vessels=settings.vessels, seed=settings.seed, start=start
    )
    return scenario


def prepare(
    root: Path, settings: DemoSettings, echo: Echo, now: datetime | None = None
) -> tuple[list[DemoNode], list[Delivery]]:
    """Simulate and configure the four nodes in ``root``; returns the nodes and what to put
    in their spools once they run: the history first (due at once), then the live files."""
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    began = time.monotonic()
    scenario = _simulate(root, settings, now)
    echo(
        f"simulated {settings.vessels} vessels over {settings.hours:g} h "
        f"in {time.monotonic() - began:.1f} s"
    )
    nodes = make_nodes(root, scenario, settings.base_port, now)
    backlog, live = plan_deliveries(scenario, nodes, now.timestamp())
    until = f"{datetime.fromtimestamp(live[-1].due, UTC):%H:%M} UTC" if live else "now"
    echo(
        f"configured {', '.join(NATIONS)} in {root}: keys, partners, {len(AGREEMENTS)} "
        f"agreements, users; to ingest: {sum(len(d.lines) for d in backlog):,} lines of "
        f"history, then the scenario live until {until}"
    )
    return nodes, backlog + live


def _print_logins(nodes: Sequence[DemoNode], echo: Echo) -> None:
    by_nation = {node.nation: node for node in nodes}
    echo("")
    for user in USERS:
        node = by_nation[user.at]
        echo(f"{user.title} at {user.at} ({user.name}, {user.clearance}):")
        echo(f"  {node.map_url(user.name)}")
    echo("")
    echo("Ctrl-C stops all four nodes.")


def _watch(nodes: Sequence[DemoNode], stop: threading.Event) -> DemoNode | None:
    """Wait until ``stop`` is set (None) or a node exits (that node)."""
    while not stop.wait(0.5):
        for node in nodes:
            if node.process is not None and node.process.poll() is not None:
                # A Ctrl-C in the terminal reaches the nodes too: not a death.
                return None if stop.wait(0.5) else node
    return None


def _report_death(node: DemoNode, echo: Echo) -> None:
    code = node.process.returncode if node.process is not None else None
    echo(f"node {node.nation} exited (code {code}); last lines of {node.log}:")
    for line in node.log_tail():
        echo(f"  | {line}")


def run_demo(settings: DemoSettings, echo: Echo, progress: Echo) -> int:
    """Run the demo until SIGINT or SIGTERM; the exit code (0: stopped as asked, 1: a node
    died). URLs go to ``echo``, progress to ``progress``."""
    if settings.vessels < 1 or settings.hours <= 0:
        raise InputError("--vessels and --hours must be positive")
    check_ports(settings.base_port)
    if settings.directory is not None:
        root = settings.directory
        if root.exists() and (not root.is_dir() or any(root.iterdir())):
            raise ConfigError(f"--dir {root} is not an empty directory (give a new one)")
        root.mkdir(parents=True, exist_ok=True)
    else:
        root = Path(tempfile.mkdtemp(prefix="mista-demo-"))
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    nodes: list[DemoNode] = []
    feeder: threading.Thread | None = None
    began = time.monotonic()
    try:
        # The history goes in once the nodes answer, so it does not slow their start.
        nodes, deliveries = prepare(root, settings, progress)
        if stop.is_set():
            return 0
        progress(f"starting {len(nodes)} nodes (logs: serve.log in each node's directory)")
        for node in nodes:
            start_node(node)
        try:
            if not wait_ready(nodes, stop, progress, READY_TIMEOUT_S):
                return 0
        except NodeDiedError as exc:
            _report_death(exc.node, progress)
            return 1
        feeder = threading.Thread(target=feed, args=(deliveries, stop), name="feed", daemon=True)
        feeder.start()
        progress(f"all {len(nodes)} nodes up in {time.monotonic() - began:.1f} s")
        _print_logins(nodes, echo)
        dead = _watch(nodes, stop)
        if dead is not None:
            _report_death(dead, progress)
            return 1
        return 0
    finally:
        stop.set()
        if feeder is not None:
            feeder.join(timeout=5)
        if nodes:
            progress("stopping the nodes")
            stop_nodes(nodes, progress)
            progress("all nodes stopped")
        if settings.directory is None:
            shutil.rmtree(root, ignore_errors=True)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
