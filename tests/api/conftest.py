"""Shared fixtures for the API tests: a store with data under several labels, users of
several nations, clearances and roles, their tokens, and the real app over it.

What the store holds (``build_world``), by label (``LABELS``):

- ``ind-only``: RESTRICTED//REL TO IND. Vessel 419000001 (3 positions), alert
  ``alert-ind``, track ``track-ind``, a radar contact, and the newest position of the
  mixed vessel 367000003.
- ``quad``: UNCLASSIFIED//REL TO AUS,IND,JPN,USA. Vessel 367000002 (3 positions), the two
  older positions of 367000003, alert ``alert-quad`` and track ``track-quad``.
- ``ind-usa``: RESTRICTED//REL TO IND,USA. Vessel 503000005 (2 positions).
- ``ind-usa-conf``: CONFIDENTIAL//REL TO IND,USA. Vessel 431000004 (2 positions) and alert
  ``alert-conf`` (a USA officer cleared to RESTRICTED may not see them).

Zones (``ZONES``): ``zone-ind`` (ind-only) and ``zone-quad`` (quad).

Users (``USERS``): ``ind.analyst`` (IND, SECRET, analyst), ``ind.admin`` (IND, SECRET,
admin), ``usa.liaison`` (USA, RESTRICTED, liaison), ``jpn.analyst`` (JPN, UNCLASSIFIED,
analyst), ``bra.analyst`` (BRA, SECRET: no label names BRA, so sees nothing).

The audit log holds ``AUDIT_RELEASES`` release entries to USA and a closing checkpoint.
The share outbox holds two QUAD reports of 367000002 released to USA (coarsened to one
decimal, name removed) and sent, plus one queued, not sent.

Fixtures: ``world`` (session scope: one store and app for every test; never write to it)
gives an ``ApiWorld``; ``client`` a ``TestClient`` over its app; ``fresh_world`` a new one
in ``tmp_path`` for tests that write. ``ApiWorld.get(user, path, **params)`` calls the app
as that user. ``error_of(response, status, code)`` checks an error answer is in the one shape and
returns its message. Builders ``report_batch``, ``add_reports``, ``make_alert`` and ``make_track``
write more data of any label.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pyarrow as pa
import pytest
import shapely
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mista.api.app import create_api_app
from mista.api.context import ApiContext
from mista.geo import Zone, Zones
from mista.ingest.batch import IngestBatch, label_id
from mista.ingest.contacts import contact_batches
from mista.ingest.positions import position_batches
from mista.ingest.rows import SourceContext
from mista.labels import Label, Level
from mista.model import Alert, AlertStatus, Role, SourceKind, Track, User
from mista.node import TOKEN_PREFIX, token_hash
from mista.share.agreements import load_agreements
from mista.share.audit import AuditLog
from mista.share.outbox import record_item_text
from mista.store.embedded import DuckDBStore
from mista.store.embedded_exchange import ExchangeTables, OutboxItem
from mista.wire import label_to_wire

T0 = datetime(2024, 3, 1, tzinfo=UTC)
NATION = "IND"

LABELS: dict[str, Label] = {
    "ind-only": Label(Level.RESTRICTED, "IND", frozenset({"IND"})),
    "quad": Label(Level.UNCLASSIFIED, "IND", frozenset({"AUS", "IND", "JPN", "USA"})),
    "ind-usa": Label(Level.RESTRICTED, "IND", frozenset({"IND", "USA"})),
    "ind-usa-conf": Label(Level.CONFIDENTIAL, "IND", frozenset({"IND", "USA"})),
}
USERS: dict[str, User] = {
    user.name: user
    for user in (
        User("ind.analyst", "IND", Level.SECRET, frozenset({Role.ANALYST})),
        User("ind.admin", "IND", Level.SECRET, frozenset({Role.ADMIN})),
        User("usa.liaison", "USA", Level.RESTRICTED, frozenset({Role.LIAISON})),
        User("jpn.analyst", "JPN", Level.UNCLASSIFIED, frozenset({Role.ANALYST})),
        User("bra.analyst", "BRA", Level.SECRET, frozenset({Role.ANALYST})),
    )
}
#: MMSI -> the label of each of its positions, oldest first.
VESSEL_POSITIONS: dict[int, tuple[str, ...]] = {
    419000001: ("ind-only", "ind-only", "ind-only"),
    367000002: ("quad", "quad", "quad"),
    367000003: ("quad", "quad", "ind-only"),
    431000004: ("ind-usa-conf", "ind-usa-conf"),
    503000005: ("ind-usa", "ind-usa"),
}
#: Alert id -> (label name, the vessels and tracks it is about).
ALERTS: dict[str, tuple[str, tuple[int, ...], tuple[str, ...]]] = {
    "alert-ind": ("ind-only", (419000001,), ("track-ind",)),
    "alert-quad": ("quad", (367000002,), ("track-quad",)),
    "alert-conf": ("ind-usa-conf", (431000004,), ()),
}
TRACK_LABELS = {"track-ind": "ind-only", "track-quad": "quad"}
#: Zones of the node's zone layer: id -> (label name, W, S, E, N).
ZONES: dict[str, tuple[str, tuple[float, float, float, float]]] = {
    "zone-ind": ("ind-only", (64.0, 9.0, 66.0, 11.0)),
    "zone-quad": ("quad", (70.0, 14.0, 72.0, 16.0)),
}
#: Release entries written to the audit log (a checkpoint follows them on close).
AUDIT_RELEASES = 3
#: The whole area the fixture's data lies in.
AREA = (60.0, 5.0, 80.0, 25.0)

AGREEMENT = """\
id = "ind-usa-white"
version = 1
parties = ["IND", "USA"]
direction = "mutual"
valid_from = "2024-01-01T00:00:00Z"
valid_until = "2030-01-01T00:00:00Z"

[[clause]]
id = "white-shipping"
flows = ["reports"]
categories = ["white-shipping"]
max_level = "RESTRICTED"
precision = 1
remove = ["name"]
"""


@dataclass(frozen=True)
class Position:
    """One position to write: vessel, seconds after T0, place, name and label."""

    mmsi: int
    t_s: int
    lat: float
    lon: float
    label: Label
    name: str = ""
    speed_kn: float = 10.0


def report_batch(positions: Sequence[Position], source: str = "fixture") -> IngestBatch:
    """One batch of CSV position rows, each under its own label (read once under the first
    label, then each row relabelled)."""
    first = positions[0].label
    context = SourceContext(
        source=source, originator=first.originator, label=first, kind=SourceKind.POSITION_FILE
    )
    lines = ["mmsi,timestamp,lat,lon,sog,name"]
    for p in positions:
        at = T0 + timedelta(seconds=p.t_s)
        lines.append(
            f"{p.mmsi},{at:%Y-%m-%dT%H:%M:%SZ},{p.lat:.5f},{p.lon:.5f},{p.speed_kn},{p.name}"
        )
    (batch,) = position_batches([("\n".join(lines) + "\n").encode()], context)
    messages = batch.messages
    for column, values in (
        ("label_id", [label_id(p.label) for p in positions]),
        ("originator", [p.label.originator for p in positions]),
    ):
        at_index = messages.schema.get_field_index(column)
        messages = messages.set_column(
            at_index, messages.schema.field(at_index), pa.array(values, pa.string())
        )
    return IngestBatch(
        source=source,
        messages=messages,
        rejected=batch.rejected,
        labels=tuple(dict.fromkeys(p.label for p in positions)),
        lines=len(positions),
    )


def add_reports(store: DuckDBStore, positions: Sequence[Position]) -> None:
    if positions:
        store.write(report_batch(positions))


def add_radar_contact(store: DuckDBStore, label: Label, lat: float, lon: float) -> None:
    """One radar contact (a position with no MMSI) under ``label``."""
    context = SourceContext(
        source="radar-fixture", originator=label.originator, label=label, kind=SourceKind.RADAR
    )
    line = (
        '{"time": "2024-03-01T00:05:00.000Z", "radar": "IND-radar-1", "plot": 1, '
        f'"lat": {lat}, "lon": {lon}}}\n'
    )
    for batch in contact_batches([line.encode()], context):
        store.write(batch)


def make_alert(
    ident: str,
    label: Label,
    *,
    lat: float = 15.0,
    lon: float = 70.0,
    mmsis: tuple[int, ...] = (),
    tracks: tuple[str, ...] = (),
) -> Alert:
    return Alert(
        id=ident,
        kind="loitering",
        status=AlertStatus.OPEN,
        start=T0,
        end=T0 + timedelta(hours=1),
        lat=lat,
        lon=lon,
        label=label,
        mmsis=mmsis,
        tracks=tracks,
        evidence='{"radius_m": 500, "note": "a \\"quoted\\" word"}',
    )


def make_track(ident: str, label: Label, *, mmsi: int | None = None) -> Track:
    return Track(
        id=ident,
        kind="ais",
        first_at=T0,
        last_at=T0 + timedelta(hours=1),
        lat=15.0,
        lon=70.0,
        points=3,
        label=label,
        mmsi=mmsi,
        name=ident.upper(),
    )


def add_tracks(store: DuckDBStore, tracks: Sequence[Track], alerts: Sequence[Alert]) -> None:
    points = pa.table(
        {
            "seq": pa.array([], pa.int64()),
            "track_id": pa.array([], pa.string()),
            "flags": pa.array([], pa.uint16()),
        }
    )
    store.write_fusion(cursor=store.fusion_cursor(), tracks=tracks, points=points, alerts=alerts)


def _release_to_usa(store: DuckDBStore) -> None:
    """Two QUAD reports of 367000002 released to USA and sent (coarsened, no name), and a
    third queued but not sent."""
    exchange = ExchangeTables(store)
    reports = store.track(367000002, viewer=USERS["ind.analyst"])
    wire_label = label_to_wire(LABELS["quad"])
    items = []
    for row in reports.to_pylist():
        fields = {
            "mmsi": row["mmsi"],
            "observed_at": row["observed_at"],
            "lat": round(row["lat"], 1),
            "lon": round(row["lon"], 1),
            "speed_kn": row["speed_kn"],
            "source_kind": row["source_kind"],
        }
        items.append(
            OutboxItem(
                record_id=row["report_id"],
                kind="record",
                not_before=T0,
                agreement="ind-usa-white",
                clause="white-shipping",
                item=record_item_text(row["report_id"], wire_label, fields),
            )
        )
    exchange.commit_scan("USA", 1, items)
    batch = exchange.assign_batch("USA", [1, 2], [])
    assert batch is not None
    exchange.mark_sent("USA", batch, T0 + timedelta(minutes=5))


def fixture_positions() -> list[Position]:
    positions = []
    for index, (mmsi, labels) in enumerate(VESSEL_POSITIONS.items()):
        for step, name in enumerate(labels):
            positions.append(
                Position(
                    mmsi=mmsi,
                    t_s=600 * step,
                    lat=10.0 + index + step * 0.01,
                    lon=65.0 + index + step * 0.01,
                    label=LABELS[name],
                    name=f"SHIP {mmsi}",
                )
            )
    return positions


@dataclass
class ApiWorld:
    """A store, the app over it, users and their tokens."""

    path: Path
    store: DuckDBStore
    ctx: ApiContext
    app: FastAPI
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)

    def headers(self, user: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[user]}"}

    def get(self, user: str, path: str, **params: Any) -> httpx2.Response:
        """GET ``/api/v1`` + ``path`` as ``user`` (params left out when None)."""
        query = {key: value for key, value in params.items() if value is not None}
        return self.client.get(f"/api/v1{path}", params=query, headers=self.headers(user))

    def add_user(self, user: User) -> str:
        """Add a user and return a token for them."""
        self.store.add_user(user)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.store.add_token(user.name, token_hash(token), created_at=T0, expires_at=None)
        self.tokens[user.name] = token
        return token


def open_world(
    path: Path,
    *,
    users: Mapping[str, User] = USERS,
    agreements_dir: Path | None = None,
    audit_path: Path | None = None,
    partner_status: Mapping[str, Any] | None = None,
    zones: Zones | None = None,
) -> ApiWorld:
    """An empty store at ``path`` with ``users`` and their tokens, and the app over it."""
    store = DuckDBStore(path)
    agreements = load_agreements(agreements_dir, node=NATION) if agreements_dir else []
    links = dict(partner_status or {})
    ctx = ApiContext(
        nation=NATION,
        store=store,
        agreements=agreements,
        audit_path=audit_path,
        partner_status=lambda: links,
        zones=zones,
    )
    app = create_api_app(ctx, start_background=False)
    world = ApiWorld(path, store, ctx, app, TestClient(app, raise_server_exceptions=False))
    for user in users.values():
        world.add_user(user)
    return world


def build_world(directory: Path) -> ApiWorld:
    """The fixture's store (see the module docstring) and app, in ``directory``."""
    agreements = directory / "agreements"
    agreements.mkdir()
    (agreements / "ind-usa-white.toml").write_text(AGREEMENT)
    audit = directory / "audit.log"
    world = open_world(
        directory / "store.duckdb",
        agreements_dir=agreements,
        audit_path=audit,
        partner_status={"USA": {"state": "up", "sent_batches": 1}},
        zones=Zones(
            Zone(ident, ident.upper(), LABELS[name], shapely.box(*box))
            for ident, (name, box) in ZONES.items()
        ),
    )
    add_reports(world.store, fixture_positions())
    add_radar_contact(world.store, LABELS["ind-only"], 12.5, 66.5)
    add_tracks(
        world.store,
        [make_track(ident, LABELS[name]) for ident, name in TRACK_LABELS.items()],
        [
            make_alert(ident, LABELS[name], mmsis=mmsis, tracks=tracks)
            for ident, (name, mmsis, tracks) in ALERTS.items()
        ],
    )
    _release_to_usa(world.store)
    with AuditLog(audit, nation=NATION, signing_key=Ed25519PrivateKey.generate()) as log:
        for batch in range(1, AUDIT_RELEASES + 1):
            log.append(
                "release",
                partner="USA",
                detail={"batch": f"{batch:064x}", "seq": batch, "records": 2, "clauses": []},
                at=T0 + timedelta(minutes=batch),
            )
    return world


def error_of(response: httpx2.Response, status: int, code: str) -> str:
    """The message of an error answer, after checking it is in the one shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert set(body["error"]) == {"status", "code", "message"}
    message = body["error"]["message"]
    assert isinstance(message, str)
    assert message
    return message


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    """The fixture's store and app, shared by every API test (read only: never write to
    it; use ``fresh_world`` or ``open_world`` to write)."""
    built = build_world(tmp_path_factory.mktemp("api"))
    with built.client:
        yield built
    built.store.close()


@pytest.fixture
def client(world: ApiWorld) -> TestClient:
    return world.client


@pytest.fixture
def fresh_world(tmp_path: Path) -> Iterator[ApiWorld]:
    """An empty store with the fixture's users, for a test that writes."""
    built = open_world(tmp_path / "store.duckdb")
    with built.client:
        yield built
    built.store.close()
