"""Every list route in every export format holds what its JSON holds: GeoJSON checked by
shape, CSV parsed back, Parquet read with pyarrow, KML parsed with xml.etree; counts and
label markings equal. Plus the writers on awkward values (quotes, control characters,
NaN, empty tables)."""

from __future__ import annotations

import csv
import io
import json
import math
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any, get_args

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.api.formats import (
    FORMATS,
    MEDIA_TYPES,
    csv_chunks,
    feature_collection_chunks,
    json_text,
    kml_chunks,
    parquet_bytes,
)
from mista.api.routes_data import FormatName
from tests.api.conftest import ApiWorld

KML = "{http://www.opengis.net/kml/2.2}"
#: (route, key of its JSON list, whether every row has a position)
ROUTES = [
    ("/vessels", "vessels", True),
    ("/vessels/367000003/track", "points", True),
    ("/positions", "positions", True),
    ("/alerts", "alerts", True),
    ("/tracks", "tracks", True),
]
USERS_TRIED = ("ind.analyst", "usa.liaison")


def json_rows(world: ApiWorld, user: str, route: str, key: str) -> list[dict[str, Any]]:
    response = world.get(user, route)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["count"] == len(body[key])
    rows: list[dict[str, Any]] = body[key]
    return rows


def check_geojson(document: Any) -> list[dict[str, Any]]:
    """The features of a FeatureCollection, each checked against RFC 7946's shape."""
    assert document["type"] == "FeatureCollection"
    assert isinstance(document["features"], list)
    for feature in document["features"]:
        assert feature["type"] == "Feature"
        assert isinstance(feature["properties"], dict)
        geometry = feature["geometry"]
        if geometry is not None:
            assert geometry["type"] == "Point"
            lon, lat = geometry["coordinates"]
            assert -180 <= lon <= 180
            assert -90 <= lat <= 90
        assert "lat" not in feature["properties"]
        assert "lon" not in feature["properties"]
    features: list[dict[str, Any]] = document["features"]
    return features


@pytest.mark.parametrize("user", USERS_TRIED)
@pytest.mark.parametrize(("route", "key", "placed"), ROUTES)
def test_geojson_holds_the_json_rows(
    world: ApiWorld, user: str, route: str, key: str, placed: bool
) -> None:
    rows = json_rows(world, user, route, key)
    response = world.get(user, route, format="geojson")
    assert response.headers["content-type"] == MEDIA_TYPES["geojson"]
    features = check_geojson(response.json())
    assert len(features) == len(rows)
    for row, feature in zip(rows, features, strict=True):
        assert feature["geometry"]["coordinates"] == [row["lon"], row["lat"]]
        assert feature["properties"]["label"] == row["label"]
        expected = {k: v for k, v in row.items() if k not in ("lat", "lon")}
        for name, value in expected.items():
            assert feature["properties"][name] == value


@pytest.mark.parametrize("user", USERS_TRIED)
@pytest.mark.parametrize(("route", "key", "placed"), ROUTES)
def test_csv_parses_back_to_the_json_rows(
    world: ApiWorld, user: str, route: str, key: str, placed: bool
) -> None:
    rows = json_rows(world, user, route, key)
    response = world.get(user, route, format="csv")
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    parsed = list(csv.DictReader(io.StringIO(response.text)))
    assert len(parsed) == len(rows)
    for row, line in zip(rows, parsed, strict=True):
        assert line["label"] == row["label"]
        for name in ("observed_at", "start", "first_at"):
            if name in row:
                assert line[name] == row[name]
        assert float(line["lat"]) == pytest.approx(row["lat"])


@pytest.mark.parametrize("user", USERS_TRIED)
@pytest.mark.parametrize(("route", "key", "placed"), ROUTES)
def test_parquet_reads_back_to_the_json_rows(
    world: ApiWorld, user: str, route: str, key: str, placed: bool
) -> None:
    rows = json_rows(world, user, route, key)
    response = world.get(user, route, format="parquet")
    assert response.headers["content-type"] == "application/vnd.apache.parquet"
    table = pq.read_table(io.BytesIO(response.content))
    assert table.num_rows == len(rows)
    assert table.column("label").to_pylist() == [row["label"] for row in rows]
    assert table.column("lat").to_pylist() == [row["lat"] for row in rows]
    for name in ("observed_at", "start"):
        if name in table.column_names:
            assert pa.types.is_timestamp(table.schema.field(name).type)


@pytest.mark.parametrize("user", USERS_TRIED)
@pytest.mark.parametrize(("route", "key", "placed"), ROUTES)
def test_kml_parses_back_to_the_json_rows(
    world: ApiWorld, user: str, route: str, key: str, placed: bool
) -> None:
    rows = json_rows(world, user, route, key)
    response = world.get(user, route, format="kml")
    root = ET.fromstring(response.content)
    marks = root.findall(f"{KML}Document/{KML}Placemark")
    assert len(marks) == len(rows)
    for row, mark in zip(rows, marks, strict=True):
        data = {
            item.get("name"): item.findtext(f"{KML}value")
            for item in mark.findall(f"{KML}ExtendedData/{KML}Data")
        }
        assert data["label"] == row["label"]
        lon, lat = (float(x) for x in mark.findtext(f"{KML}Point/{KML}coordinates", "").split(","))
        assert lon == pytest.approx(row["lon"])
        assert lat == pytest.approx(row["lat"])


def test_a_vessel_without_a_position_is_in_geojson_with_a_null_geometry() -> None:
    table = pa.table(
        {"mmsi": [1, 2], "lat": [10.0, None], "lon": [70.0, None], "label": ["A", "B"]}
    )
    document = json.loads(b"".join(feature_collection_chunks(table)))
    assert [f["geometry"] for f in document["features"]][1] is None
    root = ET.fromstring(b"".join(kml_chunks(table, "t")))
    assert len(root.findall(f"{KML}Document/{KML}Placemark")) == 1


AWKWARD = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=30)


@settings(max_examples=40, deadline=None)
@given(
    names=st.lists(st.one_of(st.none(), AWKWARD), min_size=1, max_size=8),
    speeds=st.lists(
        st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True)),
        min_size=1,
        max_size=8,
    ),
)
def test_writers_survive_awkward_values(
    names: list[str | None], speeds: list[float | None]
) -> None:
    size = min(len(names), len(speeds))
    table = pa.table(
        {
            "name": pa.array(names[:size], pa.string()),
            "speed_kn": pa.array(speeds[:size], pa.float64()),
            "observed_at": pa.array(
                [datetime(2024, 3, 1, 0, 0, i, i * 7, tzinfo=UTC) for i in range(size)],
                pa.timestamp("us", tz="UTC"),
            ),
            "lat": pa.array([1.5] * size),
            "lon": pa.array([2.5] * size),
            "mmsis": pa.array([[1, 2]] * size, pa.list_(pa.int32())),
        }
    )
    body = json.loads(b"".join(json_text({"count": size}, "rows", table)))
    assert [row["name"] for row in body["rows"]] == names[:size]
    for row, speed in zip(body["rows"], speeds[:size], strict=True):
        expected = None if speed is None or not math.isfinite(speed) else speed
        assert row["speed_kn"] == expected
        assert row["observed_at"].endswith("Z")
    document = json.loads(b"".join(feature_collection_chunks(table)))
    assert [f["properties"]["name"] for f in document["features"]] == names[:size]
    ET.fromstring(b"".join(kml_chunks(table, "a <title> & more")))
    parsed = list(csv.reader(io.StringIO(b"".join(csv_chunks(table)).decode(), newline="")))
    assert len(parsed) >= size + 1
    assert pq.read_table(io.BytesIO(parquet_bytes(table))).num_rows == size


def test_an_empty_answer_in_every_format(world: ApiWorld) -> None:
    for fmt in ("json", "geojson", "csv", "parquet", "kml"):
        response = world.get("bra.analyst", "/vessels", format=fmt)
        assert response.status_code == 200, fmt
    assert world.get("bra.analyst", "/vessels", format="geojson").json()["features"] == []
    header = world.get("bra.analyst", "/vessels", format="csv").text.splitlines()
    assert len(header) == 1
    assert "label" in header[0]


@pytest.mark.parametrize("user", USERS_TRIED)
@pytest.mark.parametrize(("route", "key", "placed"), ROUTES)
def test_cot_has_one_event_per_row_with_its_label(
    world: ApiWorld, user: str, route: str, key: str, placed: bool
) -> None:
    rows = json_rows(world, user, route, key)
    response = world.get(user, route, format="cot")
    assert response.status_code == 200
    events = [ET.fromstring(line) for line in response.content.splitlines() if line.strip()]
    assert len(events) == len(rows)
    for row, event in zip(rows, events, strict=True):
        assert event.tag == "event"
        point = event.find("point")
        assert point is not None
        assert float(point.get("lat", "nan")) == pytest.approx(row["lat"], abs=1e-6)
        assert (event.findtext("detail/remarks") or "").startswith(row["label"])


def test_the_routes_offer_exactly_the_formats_written() -> None:
    assert get_args(FormatName) == FORMATS
    assert set(MEDIA_TYPES) == set(FORMATS)


def test_evidence_that_is_not_json_stays_text() -> None:
    table = pa.table({"id": ["a", "b", "c"], "evidence": ['{"k": [1, 2]}', "not json {", None]})
    body = json.loads(b"".join(json_text({}, "alerts", table, raw_json=["evidence"])))
    assert [row["evidence"] for row in body["alerts"]] == [{"k": [1, 2]}, "not json {", None]
