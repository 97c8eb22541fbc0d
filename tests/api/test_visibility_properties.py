"""Nothing leaks through the API: every route and format answers exactly what ``may_see``
allows (DESIGN.md rule 1).

Two checks. A story: the USA liaison officer of the fixture store (cleared to RESTRICTED)
reads every route in every format, and no answer holds anything of an IND-only or
CONFIDENTIAL record (its marking, MMSI, ids). A property: random labels on vessels,
positions, alerts, tracks and zones, and a random user; each route and format returns
exactly the records ``may_see`` allows, and a single record the user may not see answers
like one that does not exist.
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pyarrow.parquet as pq
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.geo import Zone, Zones
from mista.labels import Label, Level, may_see
from mista.model import User
from tests.api.conftest import (
    ApiWorld,
    Position,
    add_reports,
    add_tracks,
    make_alert,
    make_track,
    open_world,
)
from tests.strategies import NATIONS, numbered_labels

FORMATS = ("json", "geojson", "csv", "parquet", "kml", "cot")
#: Routes the USA officer reads, with the formats each takes.
LIST_ROUTES = [
    "/vessels",
    "/vessels/367000003/track",
    "/positions",
    "/alerts",
    "/tracks",
    "/partners/USA/view/vessels",
]
PLAIN_ROUTES = [
    "/me",
    "/agreements",
    "/features",
    "/features/collections",
    "/features/collections/vessels/items",
    "/features/collections/alerts/items",
    "/features/collections/zones/items",
    "/features/collections/vessels/items/367000003",
    "/features/collections/alerts/items/alert-quad",
    "/vessels/367000003",
    "/vessels/503000005",
    "/alerts/alert-quad",
    "/releases",
    "/audit",
    "/partners",
]
#: What an IND-only or CONFIDENTIAL record would show: a marking, MMSIs, ids.
LEAKS = re.compile(
    r"REL TO IND(?![,A-Z])|CONFIDENTIAL|419000001|431000004|alert-ind|alert-conf|track-ind"
    r"|zone-ind|ZONE-IND"
)


def body_text(content: bytes, fmt: str) -> str:
    if fmt == "parquet":
        return str(pq.read_table(io.BytesIO(content)).to_pylist())
    return content.decode()


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("route", LIST_ROUTES)
def test_the_usa_officer_never_gets_an_ind_only_record(
    world: ApiWorld, route: str, fmt: str
) -> None:
    response = world.get("usa.liaison", route, format=fmt)
    assert response.status_code in (200, 403), response.text
    text = body_text(response.content, fmt) if response.status_code == 200 else response.text
    assert not LEAKS.findall(text)


@pytest.mark.parametrize("route", PLAIN_ROUTES)
def test_the_usa_officer_never_gets_an_ind_only_record_elsewhere(
    world: ApiWorld, route: str
) -> None:
    response = world.get("usa.liaison", route)
    assert response.status_code in (200, 403), response.text
    assert not LEAKS.findall(response.text)


def test_the_leak_pattern_finds_what_the_ind_analyst_sees(world: ApiWorld) -> None:
    # The check above is only as good as its pattern: the same routes leak for a reader
    # who may see the IND-only records.
    found = set()
    for route in LIST_ROUTES[:5]:
        found |= set(LEAKS.findall(world.get("ind.analyst", route).text))
    assert {"REL TO IND", "419000001", "CONFIDENTIAL", "alert-ind", "track-ind"} <= found


# -- the property --------------------------------------------------------------------------

readers = st.builds(
    User,
    name=st.just("reader"),
    nation=st.sampled_from((*NATIONS, "BRA")),
    clearance=st.sampled_from(list(Level)),
    roles=st.just(frozenset()),
)
_examples = itertools.count()


@pytest.fixture(scope="module")
def empty_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiWorld]:
    built = open_world(Path(tmp_path_factory.mktemp("props")) / "store.duckdb", users={})
    with built.client:
        yield built
    built.store.close()


def mmsis_of_csv(text: str) -> set[int]:
    return {int(row["mmsi"]) for row in csv.DictReader(io.StringIO(text))}


@settings(
    max_examples=8,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(labels=st.lists(numbered_labels, min_size=1, max_size=6), reader=readers)
def test_every_route_answers_exactly_what_may_see_allows(
    empty_world: ApiWorld, labels: list[Label], reader: User
) -> None:
    n = next(_examples)
    world = empty_world
    user = User(f"reader{n}", reader.nation, reader.clearance)
    world.add_user(user)
    # Each example in its own band of longitude, with its own MMSIs and ids.
    west = -179.0 + n * 0.5
    bbox = f"{west},-1,{west + 0.4},1"
    mmsis = [200_000_000 + n * 100 + i for i in range(len(labels))]
    add_reports(
        world.store,
        [
            Position(mmsi, 0, 0.0, west + i * 0.01, label, f"V{mmsi}")
            for i, (mmsi, label) in enumerate(zip(mmsis, labels, strict=True))
        ],
    )
    prefix = f"ex{n}-"
    ids = [f"{prefix}{i}" for i in range(len(labels))]
    add_tracks(
        world.store,
        [make_track(ident, label) for ident, label in zip(ids, labels, strict=True)],
        [
            make_alert(ident, label, lat=0.0, lon=west + 0.2)
            for ident, label in zip(ids, labels, strict=True)
        ],
    )
    world.ctx.zones = Zones(
        Zone(ident, ident, label, shapely.box(west, -1, west + 0.1, 1))
        for ident, label in zip(ids, labels, strict=True)
    )
    visible = [may_see(label, user.nation, user.clearance) for label in labels]
    want_mmsis = {m for m, ok in zip(mmsis, visible, strict=True) if ok}
    want_ids = {i for i, ok in zip(ids, visible, strict=True) if ok}
    name = user.name

    def get(path: str, **params: object) -> httpx2.Response:
        response = world.get(name, path, **params)
        assert response.status_code == 200, (path, response.text)
        return response

    assert {v["mmsi"] for v in get("/vessels", bbox=bbox).json()["vessels"]} == want_mmsis
    csv_text = get("/vessels", bbox=bbox, format="csv").text
    assert mmsis_of_csv(csv_text) == want_mmsis
    parquet = pq.read_table(io.BytesIO(get("/positions", bbox=bbox, format="parquet").content))
    assert set(parquet.column("mmsi").to_pylist()) == want_mmsis
    geojson = get("/positions", bbox=bbox, format="geojson").json()
    assert {f["properties"]["mmsi"] for f in geojson["features"]} == want_mmsis
    alerts = get("/alerts", format="json").json()["alerts"]
    assert {a["id"] for a in alerts if a["id"].startswith(prefix)} == want_ids
    tracks = get("/tracks").json()["tracks"]
    assert {t["id"] for t in tracks if t["id"].startswith(prefix)} == want_ids
    features = "/features/collections/{}/items"
    vessels = get(features.format("vessels"), bbox=bbox).json()["features"]
    assert {f["id"] for f in vessels} == want_mmsis
    zones = get(features.format("zones")).json()["features"]
    assert {f["id"] for f in zones} == want_ids
    for mmsi, ok in zip(mmsis, visible, strict=True):
        one = world.get(name, f"/vessels/{mmsi}")
        assert one.status_code == (200 if ok else 404)
        track = world.get(name, f"/vessels/{mmsi}/track")
        assert track.status_code == (200 if ok else 404)
    for ident, ok in zip(ids, visible, strict=True):
        assert world.get(name, f"/alerts/{ident}").status_code == (200 if ok else 404)
        zone = world.get(name, f"{features.format('zones')}/{ident}")
        assert zone.status_code == (200 if ok else 404)
