"""The node config directory: one folder holds everything ``mista serve`` needs.

::

    node.toml                 nation, listen address, store and audit files, groups, intervals;
                              store may be a postgresql:// URL and bus a nats:// URL, for
                              a node run as one process per role (``mista serve --role``)
    keys/                     this node's Ed25519 and TLS keys (``mista keys init``)
    agreements/               agreements this node is party to (every party holds a copy)
    partners/<NATION>.toml    endpoint, pinned TLS certificate and Ed25519 public key
    sources/<NAME>.toml       what to ingest (``url``) and how to label it

Relative paths in any file are relative to the file's own directory. Every error is a
``ConfigError`` that names the file, the field and the fix; ``load_node_config`` reads
everything once, so a node that starts has a whole, valid configuration.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mista.detect.config import DetectConfig
from mista.detect.parts import Parts, one_part, parse_partitions, parse_parts, partition_parts
from mista.errors import ConfigError, LabelError
from mista.ingest.sources import SourceConfig, source_config_from
from mista.labels import NATION_CODE, check_groups
from mista.partitions import VesselPartitions

__all__ = [
    "INTERVALS",
    "NODE_FILE",
    "ApiConfig",
    "Intervals",
    "NodeConfig",
    "PartnerConfig",
    "Setting",
    "SourceEntry",
    "add_partner",
    "init_node_dir",
    "load_node_config",
    "node_toml",
    "parse_listen",
    "partner_toml",
]

NODE_FILE = "node.toml"
KEYS_DIR = "keys"
AGREEMENTS_DIR = "agreements"
PARTNERS_DIR = "partners"
SOURCES_DIR = "sources"
_NODE_KEYS = {
    "nation",
    "listen",
    "store",
    "store_replica",
    "bus",
    "audit",
    "groups",
    "intervals",
    "detect",
    "api",
}
_API_KEYS = {"listen", "cot", "cot_user"}
_COT_SCHEMES = ("udp://", "tcp://")
_PARTNER_KEYS = {"nation", "endpoint", "certificate", "public_key"}
_SOURCE_SCHEMES = ("spool:", "tcp://", "udp://")


@dataclass(frozen=True, slots=True)
class Setting:
    """One tunable of ``[intervals]`` in node.toml: name (with its unit), default and help."""

    name: str
    default: float
    help: str
    is_count: bool = False


#: The ``[intervals]`` table of node.toml. Tests use short values; the defaults suit a
#: real deployment.
INTERVALS: tuple[Setting, ...] = (
    Setting("scan_s", 1.0, "Seconds between release scans when no new data wakes the pusher."),
    Setting("spool_poll_s", 0.5, "Seconds between looks into a spool directory."),
    Setting("backoff_initial_s", 0.5, "First wait after a failed push, doubled each failure."),
    Setting("backoff_max_s", 30.0, "Longest wait between pushes to a partner that is down."),
    Setting("request_timeout_s", 10.0, "Timeout of one push (connect, send, answer)."),
    Setting("clock_window_s", 300.0, "How far a batch's created_at may be from this clock."),
    Setting("batch_max_items", 2000, "Most records in one pushed batch.", is_count=True),
    Setting("scan_limit", 20000, "Most reports one release scan decides.", is_count=True),
    Setting("reconnect_max_s", 30.0, "Longest wait before reconnecting a tcp:// source."),
    Setting("status_s", 60.0, "Seconds between status lines on stderr (when counts moved)."),
    Setting("fuse_s", 2.0, "Seconds between fusion and detection passes over new reports."),
    Setting(
        "fuse_batch", 20000, "Most reports one fusion and detection step reads.", is_count=True
    ),
    Setting(
        "checkpoint_s", 60.0, "Seconds between saves of fusion's memory in the store (0: never)."
    ),
)


@dataclass(frozen=True, slots=True)
class Intervals:
    """The values of ``[intervals]`` (see ``INTERVALS`` for meaning and defaults)."""

    scan_s: float = 1.0
    spool_poll_s: float = 0.5
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 30.0
    request_timeout_s: float = 10.0
    clock_window_s: float = 300.0
    batch_max_items: int = 2000
    scan_limit: int = 20000
    reconnect_max_s: float = 30.0
    status_s: float = 60.0
    fuse_s: float = 2.0
    fuse_batch: int = 20000
    checkpoint_s: float = 60.0


@dataclass(frozen=True, slots=True)
class PartnerConfig:
    """A partner node: where to push, and the certificate and key it is pinned to."""

    nation: str
    endpoint: str
    certificate: Path
    public_key: str
    path: Path


@dataclass(frozen=True, slots=True)
class SourceEntry:
    """One ingest source: its ``url`` (a path, ``spool:DIR``, ``tcp://`` or ``udp://``) and
    the source config (name, kind, originator, default label) its reports get."""

    name: str
    url: str
    config: SourceConfig
    path: Path

    @property
    def spool_dir(self) -> Path | None:
        """The spool directory of a ``spool:DIR`` source, else None."""
        if not self.url.startswith("spool:"):
            return None
        return _resolve(self.path.parent, self.url[len("spool:") :])


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """``[api]``: where users reach the node (plain HTTP; loopback unless a reverse proxy
    with TLS fronts it), and where Cursor-on-Target goes, seen as which user."""

    host: str | None = None
    port: int | None = None
    cot: str | None = None
    cot_user: str | None = None


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """Everything in one node config directory, checked."""

    directory: Path
    nation: str
    host: str
    port: int
    #: A DuckDB file, or a ``postgresql://`` URL (kept as written).
    store: Path | str
    audit: Path
    groups: dict[str, frozenset[str]] = field(default_factory=dict)
    intervals: Intervals = field(default_factory=Intervals)
    partners: tuple[PartnerConfig, ...] = ()
    sources: tuple[SourceEntry, ...] = ()
    detect: DetectConfig = field(default_factory=DetectConfig)
    zones: Path | None = None
    #: The detector kinds of each fusion part (``[detect] parts``; one part by default).
    fusion_parts: Parts = field(default_factory=one_part)
    #: Fusion by partition (``[detect] partitions``): the bus partitions of parts 1 to K;
    #: empty when fusion is not split by vessel.
    fusion_partitions: tuple[VesselPartitions, ...] = ()
    api: ApiConfig = field(default_factory=ApiConfig)
    #: A ``nats://`` URL of the JetStream bus ingest publishes to, or None (in-process).
    bus: str | None = None
    #: A streaming replica of a PostgreSQL store, read by ``--role api`` processes.
    store_replica: str | None = None

    @property
    def keys_dir(self) -> Path:
        return self.directory / KEYS_DIR

    @property
    def agreements_dir(self) -> Path:
        return self.directory / AGREEMENTS_DIR

    @property
    def partners_dir(self) -> Path:
        return self.directory / PARTNERS_DIR

    @property
    def sources_dir(self) -> Path:
        return self.directory / SOURCES_DIR


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file ({what})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc} (fix the syntax)") from None


def _unknown(path: Path, data: Mapping[str, Any], known: set[str]) -> None:
    unknown = set(data) - known
    if unknown:
        raise ConfigError(f"{path}: unknown fields {sorted(unknown)} (known: {sorted(known)})")


def _string(path: Path, data: Mapping[str, Any], key: str, example: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(
            f'{path}: field {key} must be a non-empty string, e.g. {key} = "{example}"'
        )
    return value.strip()


_HOST = re.compile(r"[A-Za-z0-9.-]{1,253}")


def parse_listen(text: str, where: str = "listen") -> tuple[str, int]:
    """``HOST:PORT`` (``127.0.0.1:8443``, ``[::1]:8443``) as (host, port)."""
    host, _, port_text = text.strip().rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            host = ""
    elif not _HOST.fullmatch(host):
        host = ""
    if not host or not port_text.isascii() or not port_text.isdigit() or int(port_text) > 65535:
        raise ConfigError(
            f'{where} = "{text}" is not HOST:PORT (e.g. listen = "127.0.0.1:8443"; '
            "a port of 0 picks a free one)"
        )
    return host, int(port_text)


def _intervals(path: Path, table: Any) -> Intervals:
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [intervals] must be a table of numbers")
    known = {setting.name: setting for setting in INTERVALS}
    _unknown(
        path, {f"intervals.{k}": v for k, v in table.items()}, {f"intervals.{k}" for k in known}
    )
    values: dict[str, Any] = {}
    for key, value in table.items():
        setting = known[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(
                f"{path}: intervals.{key} = {value!r} must be a positive number "
                f"(default {setting.default:g}: {setting.help})"
            )
        if setting.is_count and not isinstance(value, int):
            raise ConfigError(f"{path}: intervals.{key} = {value!r} must be a whole number")
        values[key] = int(value) if setting.is_count else float(value)
    return Intervals(**values)


def _detect(
    root: Path, path: Path, table: Any
) -> tuple[DetectConfig, Path | None, Parts, tuple[VesselPartitions, ...]]:
    """``[detect]``: an optional ``zones`` layer file, optional fusion ``parts`` or
    ``partitions`` (``mista.detect.parts``), and one ``[detect.<kind>]`` table of
    thresholds per behaviour (``mista.detect.config``)."""
    if not isinstance(table, dict):
        raise ConfigError(f'{path}: [detect] must be a table (e.g. zones = "zones.geojson")')
    settings = dict(table)
    parts_value = settings.pop("parts", None)
    partitions_value = settings.pop("partitions", None)
    if parts_value is not None and partitions_value is not None:
        raise ConfigError(
            f"{path}: [detect] has parts and partitions: give one (partitions makes its own "
            "parts, docs/deploy.md)"
        )
    partitions: tuple[VesselPartitions, ...] = ()
    try:
        if partitions_value is not None:
            partitions = parse_partitions(partitions_value)
            parts = partition_parts(len(partitions))
        else:
            parts = one_part() if parts_value is None else parse_parts(parts_value)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    zones_value = settings.pop("zones", None)
    zones: Path | None = None
    if zones_value is not None:
        if not isinstance(zones_value, str) or not zones_value:
            raise ConfigError(f'{path}: detect.zones must be a file name (e.g. "zones.geojson")')
        zones = _resolve(root, zones_value)
        if not zones.is_file():
            raise ConfigError(f"{path}: detect.zones: {zones} is not a file")
    try:
        config = DetectConfig.from_mapping(settings)
    except ConfigError as exc:
        raise ConfigError(f"{path}: [detect]: {exc}") from None
    return config, zones, parts, partitions


def _api(path: Path, table: Any) -> ApiConfig:
    """``[api]``: ``listen`` (HOST:PORT of the user API), ``cot`` (udp:// or tcp:// where
    Cursor-on-Target events go) and ``cot_user`` (whose view decides what they carry)."""
    if not isinstance(table, dict):
        raise ConfigError(f'{path}: [api] must be a table (e.g. listen = "127.0.0.1:8080")')
    _unknown(path, {f"api.{k}": v for k, v in table.items()}, {f"api.{k}" for k in _API_KEYS})
    host = port = None
    if "listen" in table:
        host, port = parse_listen(_string(path, table, "listen", "127.0.0.1:8080"), "api.listen")
    cot = cot_user = None
    if "cot" in table:
        cot = _string(path, table, "cot", "udp://127.0.0.1:6969")
        try:
            parts = urlsplit(cot)
            valid = cot.startswith(_COT_SCHEMES) and bool(parts.hostname) and bool(parts.port)
        except ValueError:
            valid = False
        if not valid:
            raise ConfigError(
                f'{path}: api.cot = "{cot}" must be udp://HOST:PORT or tcp://HOST:PORT '
                '(a TAK server or client, e.g. cot = "udp://127.0.0.1:6969")'
            )
        cot_user = _string(path, table, "cot_user", "watch.ind")
    elif "cot_user" in table:
        raise ConfigError(f"{path}: api.cot_user is set but api.cot (where to send) is not")
    return ApiConfig(host, port, cot, cot_user)


def _nation(path: Path, value: Any, key: str = "nation") -> str:
    if not isinstance(value, str) or not NATION_CODE.fullmatch(value):
        raise ConfigError(
            f"{path}: field {key} = {value!r} is not an ISO 3166-1 alpha-3 code "
            f'(e.g. {key} = "IND")'
        )
    return value


def _partner(path: Path, own_nation: str) -> PartnerConfig:
    data = _read_toml(path, "a partner file")
    _unknown(path, data, _PARTNER_KEYS)
    nation = _nation(path, data.get("nation", path.stem))
    if nation != path.stem:
        raise ConfigError(
            f"{path}: field nation = {nation!r} does not match the file name "
            f"(name the file {nation}.toml)"
        )
    if nation == own_nation:
        raise ConfigError(f"{path}: {nation} is this node's own nation, not a partner (remove it)")
    endpoint = _string(path, data, "endpoint", "https://127.0.0.1:9443")
    try:
        parts = urlsplit(endpoint)
        valid = parts.scheme == "https" and bool(parts.hostname) and (parts.port or 443) > 0
    except ValueError:
        valid = False
    if not valid:
        raise ConfigError(
            f'{path}: endpoint = "{endpoint}" must be an https:// URL (partners talk mutual TLS '
            'only), e.g. endpoint = "https://127.0.0.1:9443"'
        )
    certificate = _resolve(path.parent, _string(path, data, "certificate", f"{nation}.crt"))
    if not certificate.is_file():
        raise ConfigError(
            f"{path}: field certificate: no such file {certificate} (copy the partner's "
            "keys/tls.crt there)"
        )
    public_key = _string(path, data, "public_key", "ed25519:...")
    try:
        from mista.share.keys import parse_public_key

        parse_public_key(public_key)
    except ImportError:  # pragma: no cover - keys land with the share layer
        pass
    except Exception as exc:
        raise ConfigError(
            f"{path}: field public_key: {exc} (copy the partner's signing.pub text, "
            'e.g. public_key = "ed25519:...")'
        ) from None
    return PartnerConfig(nation, endpoint.rstrip("/"), certificate, public_key, path)


def _source_config(
    path: Path, data: dict[str, Any], nation: str, groups: Mapping[str, frozenset[str]]
) -> SourceConfig:
    """The source config of a sources/ file (its ``url`` already taken out)."""
    return source_config_from(data, path, nation, groups)


def _source(path: Path, nation: str, groups: Mapping[str, frozenset[str]]) -> SourceEntry:
    data = _read_toml(path, "a source file")
    url = data.pop("url", None)
    if not isinstance(url, str) or not url.strip():
        raise ConfigError(
            f"{path}: field url is missing: a file path, spool:DIR, tcp://HOST:PORT or "
            'udp://HOST:PORT (e.g. url = "spool:incoming")'
        )
    url = url.strip()
    if "://" in url and not url.startswith(_SOURCE_SCHEMES):
        raise ConfigError(
            f'{path}: url = "{url}" has an unknown scheme (use a file path, spool:DIR, '
            "tcp://HOST:PORT or udp://HOST:PORT)"
        )
    if url == "spool:":
        raise ConfigError(
            f'{path}: url = "spool:" names no directory (e.g. url = "spool:incoming")'
        )
    if not url.startswith(_SOURCE_SCHEMES):
        url = str(_resolve(path.parent, url))
    data.setdefault("name", path.stem)
    config = _source_config(path, data, nation, groups)
    return SourceEntry(config.name or path.stem, url, config, path)


def load_node_config(directory: str | os.PathLike[str]) -> NodeConfig:
    """Read and check a node config directory (see the module docstring for its layout)."""
    root = Path(directory)
    if not root.is_dir():
        raise ConfigError(
            f"{root}: no such config directory (make one: mista node init {root} --nation IND)"
        )
    path = root / NODE_FILE
    data = _read_toml(path, f"make one: mista node init {root} --nation IND")
    _unknown(path, data, _NODE_KEYS)
    nation = _nation(path, data.get("nation"))
    host, port = parse_listen(_string(path, data, "listen", "127.0.0.1:8443"), f"{path}: listen")
    store = _store(root, _string(path, {"store": "store.duckdb", **data}, "store", "store.duckdb"))
    bus = _bus(path, data.get("bus"))
    store_replica = _replica(path, store, data.get("store_replica"))
    audit = _resolve(root, _string(path, {"audit": "audit.jsonl", **data}, "audit", "audit.jsonl"))
    try:
        groups = check_groups(data.get("groups", {}))
    except LabelError as exc:
        raise ConfigError(f"{path}: [groups]: {exc}") from None
    intervals = _intervals(path, data.get("intervals", {}))
    detect, zones, parts, partitions = _detect(root, path, data.get("detect", {}))
    api = _api(path, data.get("api", {}))
    partners_dir = root / PARTNERS_DIR
    partners = (
        tuple(_partner(file, nation) for file in sorted(partners_dir.glob("*.toml")))
        if partners_dir.is_dir()
        else ()
    )
    sources_dir = root / SOURCES_DIR
    sources = (
        tuple(_source(file, nation, groups) for file in sorted(sources_dir.glob("*.toml")))
        if sources_dir.is_dir()
        else ()
    )
    names = [source.name for source in sources]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ConfigError(
            f"{sources_dir}: source names {repeated} are used twice (give each its own)"
        )
    return NodeConfig(
        directory=root,
        nation=nation,
        host=host,
        port=port,
        store=store,
        audit=audit,
        groups=groups,
        intervals=intervals,
        partners=partners,
        sources=sources,
        detect=detect,
        zones=zones,
        fusion_parts=parts,
        fusion_partitions=partitions,
        api=api,
        bus=bus,
        store_replica=store_replica,
    )


def _store(root: Path, value: str) -> Path | str:
    """A ``postgresql://`` URL as written; anything else a file relative to ``root``."""
    if value.startswith(("postgresql://", "postgres://")):
        return value
    return _resolve(root, value)


def _replica(path: Path, store: Path | str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("postgresql://", "postgres://")):
        raise ConfigError(
            f"{path}: field store_replica must be a postgresql:// URL of a streaming replica "
            "of the store"
        )
    if not isinstance(store, str):
        raise ConfigError(f"{path}: store_replica needs store to be a postgresql:// URL")
    return value


def _bus(path: Path, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith(("nats://", "tls://")):
        raise ConfigError(
            f'{path}: field bus must be a NATS URL, e.g. bus = "nats://127.0.0.1:4222" '
            "(leave it out for the in-process bus)"
        )
    return value


def partner_toml(endpoint: str, certificate: str, public_key: str) -> str:
    """The text of a partners/<NATION>.toml file."""
    return (
        f"endpoint = {json.dumps(endpoint)}\n"
        f"certificate = {json.dumps(certificate)}\n"
        f"public_key = {json.dumps(public_key)}\n"
    )


def node_toml(nation: str, host: str, port: int, api_port: int | None = None) -> str:
    """The text of a new node.toml (every interval at its default, commented; the user API
    on ``host:api_port`` when given, else shown commented)."""
    lines = [
        f"nation = {json.dumps(nation)}",
        f"listen = {json.dumps(f'{host}:{port}')}",
        'store = "store.duckdb"',
        'audit = "audit.jsonl"',
        "",
        "[groups]",
        '# QUAD = ["IND", "USA", "JPN", "AUS"]',
        "",
        "[api]",
        "# Users' API and web map (plain HTTP: keep it on loopback, or put TLS in front).",
        (
            f"listen = {json.dumps(f'{host}:{api_port}')}"
            if api_port is not None
            else f'# listen = "{host}:8080"'
        ),
        '# cot = "udp://127.0.0.1:6969"   # Cursor-on-Target to a TAK server or client',
        '# cot_user = "watch"            # whose view decides what CoT carries',
        "",
        "[intervals]",
    ]
    for setting in INTERVALS:
        lines.append(f"# {setting.name} = {setting.default:g}  # {setting.help}")
    lines += [
        "",
        "# [detect]",
        '# zones = "zones.geojson"   # zone layer (GeoJSON) for zone entries',
        "# Fusion parts, one mista serve --role fuse --part K each (docs/deploy.md):",
        '# parts = [["ais-gap", "close-approach"], ["dark-vessel", "encounter",',
        '#          "identity-change", "loitering", "port-visit", "shared-mmsi", "spoofing",',
        '#          "zone-entry"]]',
        "# or fusion by partition: part 0 spans vessels, parts 1.. take bus partitions:",
        "# partitions = [[0, 1, 2, 3], [4, 5, 6, 7]]",
    ]
    return "\n".join(lines) + "\n"


def init_node_dir(
    directory: str | os.PathLike[str],
    nation: str,
    *,
    port: int = 8443,
    host: str = "127.0.0.1",
    api_port: int | None = None,
    force: bool = False,
) -> NodeConfig:
    """Make a node config directory: node.toml, keys (``init_keys``), and the empty
    agreements/, partners/ and sources/ folders. Refuses to overwrite node.toml."""
    from mista.share.keys import init_keys

    root = Path(directory)
    _nation(root / NODE_FILE, nation, "--nation")
    if not 0 <= port <= 65535:
        raise ConfigError(f"--port {port} is not a TCP port (0-65535)")
    if api_port is not None and not 0 <= api_port <= 65535:
        raise ConfigError(f"--api-port {api_port} is not a TCP port (0-65535)")
    path = root / NODE_FILE
    if path.exists() and not force:
        raise ConfigError(f"{path} already exists (edit it, or pass --force to write a new one)")
    root.mkdir(parents=True, exist_ok=True)
    init_keys(root / KEYS_DIR, nation, force=force)
    for sub in (AGREEMENTS_DIR, PARTNERS_DIR, SOURCES_DIR):
        (root / sub).mkdir(exist_ok=True)
    path.write_text(node_toml(nation, host, port, api_port), encoding="utf-8")
    return load_node_config(root)


def add_partner(
    directory: str | os.PathLike[str],
    nation: str,
    *,
    endpoint: str,
    certificate: str | os.PathLike[str],
    public_key: str,
    force: bool = False,
) -> PartnerConfig:
    """Pin a partner: copy its certificate to partners/<NATION>.crt and write
    partners/<NATION>.toml with its endpoint and public key. Checks the result."""
    root = Path(directory)
    config = load_node_config(root)
    target = config.partners_dir / f"{nation}.toml"
    _nation(target, nation, "--nation")
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists (pass --force to replace the partner)")
    source = Path(certificate)
    try:
        cert = source.read_bytes()
    except OSError as exc:
        raise ConfigError(
            f"--certificate {source}: {exc.strerror} (give the partner's keys/tls.crt)"
        ) from None
    from mista.share.keys import cert_fingerprint, cert_nation, parse_public_key

    try:
        cert_fingerprint(cert)
        named = cert_nation(cert)
        parse_public_key(public_key)
    except ConfigError as exc:
        raise ConfigError(f"partner {nation}: {exc}") from None
    if named != nation:
        raise ConfigError(
            f"--certificate {source} is the certificate of {named}, not of {nation} "
            "(check you have the right partner's tls.crt)"
        )
    config.partners_dir.mkdir(exist_ok=True)
    (config.partners_dir / f"{nation}.crt").write_bytes(cert)
    previous = target.read_text(encoding="utf-8") if target.exists() else None
    target.write_text(partner_toml(endpoint, f"{nation}.crt", public_key), encoding="utf-8")
    try:
        return _partner(target, config.nation)
    except ConfigError:
        if previous is None:
            target.unlink()
        else:
            target.write_text(previous, encoding="utf-8")
        raise
