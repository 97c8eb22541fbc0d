"""The vessel list kept per reader class (``mista.api.latest``): the same answer as the
store, for each class apart, renewed by every write, compressed or not alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from mista.api.latest import VesselCache
from mista.labels import Level
from mista.model import Role, User
from tests.api.conftest import LABELS, USERS, ApiWorld, Position, add_reports, build_world


def vessel_list(world: ApiWorld, user: str) -> Any:
    response = world.get(user, "/vessels")
    assert response.status_code == 200
    return response.json()


def test_each_class_gets_its_own_list_from_one_cache(tmp_path: Path) -> None:
    # Readers of different classes, one after another on one app: a cached answer of one
    # class never reaches another (the same nation at another clearance included).
    world = build_world(tmp_path)
    junior = User("ind.junior", "IND", Level.UNCLASSIFIED, frozenset({Role.ANALYST}))
    world.add_user(junior)
    users = {**USERS, junior.name: junior}
    with world.client:
        for _ in range(2):
            for user in ("ind.analyst", "ind.junior", "usa.liaison", "jpn.analyst", "bra.analyst"):
                cached = vessel_list(world, user)
                from_store = world.store.vessels(viewer=users[user])
                placed = {row["mmsi"] for row in from_store.to_pylist() if row["label"]}
                assert {vessel["mmsi"] for vessel in cached["vessels"]} == placed
        assert (
            vessel_list(world, "ind.junior")["count"] < vessel_list(world, "ind.analyst")["count"]
        )
    world.store.close()


def test_a_write_renews_the_list(fresh_world: ApiWorld) -> None:
    add_reports(fresh_world.store, [Position(367000098, 0, 11.0, 70.0, LABELS["quad"])])
    before = vessel_list(fresh_world, "usa.liaison")
    add_reports(fresh_world.store, [Position(367000099, 0, 12.0, 70.0, LABELS["quad"])])
    after = vessel_list(fresh_world, "usa.liaison")
    assert after["count"] == before["count"] + 1
    assert 367000099 in {vessel["mmsi"] for vessel in after["vessels"]}
    # A write the class may not see changes nothing it gets.
    add_reports(fresh_world.store, [Position(419000098, 0, 12.0, 70.0, LABELS["ind-only"])])
    assert vessel_list(fresh_world, "usa.liaison") == after


def test_compressed_and_plain_answers_agree(fresh_world: ApiWorld) -> None:
    plain = fresh_world.client.get(
        "/api/v1/vessels",
        headers={**fresh_world.headers("ind.analyst"), "Accept-Encoding": "identity"},
    )
    zipped = fresh_world.client.get(
        "/api/v1/vessels",
        headers={**fresh_world.headers("ind.analyst"), "Accept-Encoding": "gzip"},
    )
    assert "content-encoding" not in plain.headers
    assert zipped.headers["content-encoding"] == "gzip"
    assert plain.headers["vary"] == zipped.headers["vary"] == "Accept-Encoding"
    assert plain.json() == zipped.json()  # the client decompresses


def test_the_cache_asks_the_store_again_only_after_a_write(fresh_world: ApiWorld) -> None:
    cache = VesselCache()
    user = USERS["ind.analyst"]
    first = cache.vessels(fresh_world.store, user)
    assert cache.vessels(fresh_world.store, user) is first
    add_reports(fresh_world.store, [Position(367000097, 0, 12.0, 70.0, LABELS["quad"])])
    renewed = cache.vessels(fresh_world.store, user)
    assert renewed is not first
    assert renewed.seq > first.seq
    assert 367000097 in renewed.table.column("mmsi").to_pylist()


def test_the_list_revalidates_by_etag(fresh_world: ApiWorld) -> None:
    add_reports(fresh_world.store, [Position(367000096, 0, 11.0, 70.0, LABELS["quad"])])
    first = fresh_world.get("usa.liaison", "/vessels")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "private, no-cache"
    again = fresh_world.client.get(
        "/api/v1/vessels", headers={**fresh_world.headers("usa.liaison"), "If-None-Match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    # Another class never shares the tag; a write the class may see changes it.
    assert fresh_world.get("ind.analyst", "/vessels").headers["etag"] != etag
    add_reports(fresh_world.store, [Position(367000095, 0, 11.0, 70.5, LABELS["quad"])])
    changed = fresh_world.client.get(
        "/api/v1/vessels", headers={**fresh_world.headers("usa.liaison"), "If-None-Match": etag}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert 367000095 in {vessel["mmsi"] for vessel in changed.json()["vessels"]}


@pytest.mark.parametrize(
    "path", ["/me", "/vessels?bbox=60,0,80,20", "/vessels/367000002", "/alerts", "/nowhere"]
)
def test_other_answers_are_not_stored_by_any_cache(world: ApiWorld, path: str) -> None:
    response = world.client.get(f"/api/v1{path}", headers=world.headers("ind.analyst"))
    assert response.headers["cache-control"] == "no-store"
