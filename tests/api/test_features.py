"""OGC API - Features: landing page, conformance, collections, items (bbox, datetime,
paging with next links), single features, and the label rule on every layer."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import LABELS, ApiWorld, error_of

BASE = "/features"


def items(world: ApiWorld, user: str, collection: str, **params: Any) -> dict[str, Any]:
    response = world.get(user, f"{BASE}/collections/{collection}/items", **params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geo+json"
    body: dict[str, Any] = response.json()
    assert body["type"] == "FeatureCollection"
    assert body["numberReturned"] == len(body["features"])
    assert body["numberMatched"] >= body["numberReturned"]
    return body


def test_landing_page_links_the_rest(world: ApiWorld) -> None:
    body = world.get("usa.liaison", BASE).json()
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert {"self", "conformance", "data", "service-desc"} <= set(rels)
    assert rels["conformance"].endswith("/api/v1/features/conformance")
    assert rels["service-desc"].endswith("/openapi.json")


def test_conformance_claims_core_and_geojson(world: ApiWorld) -> None:
    classes = world.get("usa.liaison", f"{BASE}/conformance").json()["conformsTo"]
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core" in classes
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in classes


def test_collections_list_the_four_layers(world: ApiWorld) -> None:
    body = world.get("usa.liaison", f"{BASE}/collections").json()
    assert [c["id"] for c in body["collections"]] == ["vessels", "alerts", "zones", "land"]
    for collection in body["collections"]:
        rels = {link["rel"] for link in collection["links"]}
        assert {"self", "items"} <= rels
        one = world.get("usa.liaison", f"{BASE}/collections/{collection['id']}").json()
        assert one == collection


@pytest.mark.parametrize(
    ("user", "collection", "expected"),
    [
        ("ind.analyst", "vessels", {419000001, 367000002, 367000003, 431000004, 503000005}),
        ("usa.liaison", "vessels", {367000002, 367000003, 503000005}),
        ("bra.analyst", "vessels", set()),
        ("ind.analyst", "alerts", {"alert-ind", "alert-quad", "alert-conf"}),
        ("usa.liaison", "alerts", {"alert-quad"}),
        ("ind.analyst", "zones", {"zone-ind", "zone-quad"}),
        ("usa.liaison", "zones", {"zone-quad"}),
        ("bra.analyst", "zones", set()),
    ],
)
def test_each_layer_holds_what_the_caller_may_see(
    world: ApiWorld, user: str, collection: str, expected: set[Any]
) -> None:
    body = items(world, user, collection)
    assert {feature["id"] for feature in body["features"]} == expected
    markings = {label.to_marking() for label in LABELS.values()}
    for feature in body["features"]:
        assert feature["properties"]["label"] in markings
        assert feature["geometry"]["type"] in ("Point", "Polygon")


def test_a_hidden_feature_answers_like_a_missing_one(world: ApiWorld) -> None:
    path = f"{BASE}/collections/vessels/items/"
    assert world.get("ind.analyst", path + "419000001").json()["id"] == 419000001
    hidden = world.get("usa.liaison", path + "419000001")
    missing = world.get("usa.liaison", path + "419000009")
    error_of(hidden, 404, "not-found")
    assert hidden.text.replace("419000001", "X") == missing.text.replace("419000009", "X")
    zone = f"{BASE}/collections/zones/items/"
    hidden = world.get("usa.liaison", zone + "zone-ind")
    missing = world.get("usa.liaison", zone + "zone-xyz")
    assert hidden.text.replace("zone-ind", "X") == missing.text.replace("zone-xyz", "X")
    alert = world.get("usa.liaison", f"{BASE}/collections/alerts/items/alert-quad").json()
    assert alert["properties"]["evidence"]["radius_m"] == 500


def test_paging_with_next_links_visits_every_feature_once(world: ApiWorld) -> None:
    everything = items(world, "ind.analyst", "vessels")
    seen: list[Any] = []
    body = items(world, "ind.analyst", "vessels", limit=2)
    while True:
        seen += [feature["id"] for feature in body["features"]]
        assert body["numberMatched"] == everything["numberMatched"]
        following = [link["href"] for link in body["links"] if link["rel"] == "next"]
        if not following:
            break
        response = world.client.get(following[0], headers=world.headers("ind.analyst"))
        body = response.json()
    assert seen == [feature["id"] for feature in everything["features"]]
    past = items(world, "ind.analyst", "vessels", offset=100)
    assert past["numberReturned"] == 0
    assert past["numberMatched"] == everything["numberMatched"]


def test_bbox_and_datetime_filter_items(world: ApiWorld) -> None:
    boxed = items(world, "ind.analyst", "vessels", bbox="65.5,10.5,67.5,12.5")
    assert {f["id"] for f in boxed["features"]} == {367000002, 367000003}
    zones = items(world, "ind.analyst", "zones", bbox="63,8,65,10")
    assert [f["id"] for f in zones["features"]] == ["zone-ind"]
    late = items(world, "ind.analyst", "vessels", datetime="2024-03-01T00:15:00Z/..")
    assert {f["id"] for f in late["features"]} == {419000001, 367000002, 367000003}
    instant = items(world, "ind.analyst", "vessels", datetime="2024-03-01T00:10:00Z")
    assert {f["id"] for f in instant["features"]} == {431000004, 503000005}
    alerts = items(world, "ind.analyst", "alerts", datetime="../2024-02-01T00:00:00Z")
    assert alerts["numberMatched"] == 0


def test_land_is_the_basemap_within_a_bbox(world: ApiWorld) -> None:
    body = items(world, "usa.liaison", "land", bbox="72,18,74,20", limit=5)
    assert body["numberMatched"] >= 1
    for feature in body["features"]:
        assert feature["geometry"]["type"] == "Polygon"
    ocean = items(world, "usa.liaison", "land", bbox="-140,-40,-139,-39")
    assert ocean["numberMatched"] == 0


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/collections/vessels/items", {"bbox": "1,2,3"}),
        ("/collections/vessels/items", {"datetime": "noon"}),
        ("/collections/vessels/items", {"datetime": "2024-03-02T00:00:00Z/2024-03-01T00:00:00Z"}),
        ("/collections/vessels/items", {"limit": "0"}),
        ("/collections/vessels/items", {"limit": "1000000000"}),
        ("/collections/vessels/items", {"offset": "-1"}),
        ("/collections/land/items", {"bbox": "0,100,1,101"}),
    ],
)
def test_bad_item_parameters_get_400(world: ApiWorld, path: str, params: dict[str, Any]) -> None:
    error_of(world.get("ind.analyst", BASE + path, **params), 400, "bad-parameter")


def test_an_unknown_collection_is_404(world: ApiWorld) -> None:
    for path in ("/collections/ships", "/collections/ships/items", "/collections/ships/items/1"):
        error_of(world.get("ind.analyst", BASE + path), 404, "not-found")


def test_features_need_a_token(world: ApiWorld) -> None:
    for path in ("", "/conformance", "/collections", "/collections/zones/items"):
        error_of(world.client.get(f"/api/v1{BASE}{path}"), 401, "unauthenticated")
