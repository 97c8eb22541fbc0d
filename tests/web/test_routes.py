"""The web map's routes on a running node: the page, its files, the basemap; no token
needed for any of them, nothing served from outside the static folder."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import httpx
import pytest
import shapely
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mista.web import land_geojson, web_router
from mista.web.basemap import ATTRIBUTION
from tests.web.conftest import WebNode


def test_the_page_loads_its_script_style_and_maplibre_from_the_node(web_node: WebNode) -> None:
    page = httpx.get(f"{web_node.base_url}/", timeout=10)
    assert page.status_code == 200, "the web map is not built: run scripts/build_web"
    assert page.headers["content-type"].startswith("text/html")
    for path in (
        "/static/vendor/maplibre-gl.js",
        "/static/vendor/maplibre-gl.css",
        "/static/app.js",
    ):
        assert f'"{path}"' in page.text
        served = httpx.get(f"{web_node.base_url}{path}", timeout=10)
        assert served.status_code == 200, path
        assert served.headers["content-type"].split(";")[0] in ("text/javascript", "text/css")
    assert "https://" not in page.text, "the page must load nothing from outside the node"


def test_every_module_the_script_imports_is_served(web_node: WebNode) -> None:
    app = httpx.get(f"{web_node.base_url}/static/app.js", timeout=10).text
    modules = [line.split('"./')[1].split('"')[0] for line in app.splitlines() if '"./' in line]
    assert modules, "app.js imports its modules with relative paths"
    for module in modules:
        assert httpx.get(f"{web_node.base_url}/static/{module}", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "../routes.py",
        "..%2Froutes.py",
        "%2e%2e/basemap.py",
        "vendor/../../routes.py",
        "vendor/.lock-cksum",
        "vendor",
        "nothing.js",
        "index.html/",
        "app.py",
    ],
)
def test_static_serves_nothing_outside_its_folder(web_node: WebNode, path: str) -> None:
    answer = httpx.get(f"{web_node.base_url}/static/{path}", timeout=10)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not-found"


def test_the_basemap_is_natural_earth_land_gzipped_with_its_attribution(web_node: WebNode) -> None:
    answer = httpx.get(
        f"{web_node.base_url}/basemap/land.geojson", headers={"Accept-Encoding": "gzip"}, timeout=30
    )
    assert answer.status_code == 200
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["content-type"] == "application/geo+json"
    assert int(answer.headers["content-length"]) < 400_000
    document = json.loads(answer.content)  # httpx has undone the gzip
    assert document["attribution"] == ATTRIBUTION
    assert len(document["features"]) > 1000
    plain = httpx.get(
        f"{web_node.base_url}/basemap/land.geojson", headers={"Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers
    assert plain.content == land_geojson()


def test_the_basemap_draws_the_coast_where_it_is() -> None:
    land = shapely.GeometryCollection(
        [shapely.geometry.shape(f["geometry"]) for f in json.loads(land_geojson())["features"]]
    )
    assert land.contains(shapely.Point(78.0, 22.0))  # central India
    assert land.contains(shapely.Point(138.0, 36.0))  # Honshu
    assert not land.contains(shapely.Point(70.0, 10.0))  # the Arabian Sea
    assert not land.contains(shapely.Point(-140.0, 30.0))  # the Pacific
    assert gzip.decompress(gzip.compress(land_geojson())) == land_geojson()


def test_a_node_without_the_built_map_says_how_to_build_it(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("<!doctype html>")
    app = FastAPI()
    app.include_router(web_router(static_dir=tmp_path))
    with TestClient(app) as client:
        answer = client.get("/")
    assert answer.status_code == 503
    assert "scripts/build_web" in answer.text
    assert "maplibre-gl.js" in answer.text
