"""OGC API - Features (Part 1: Core) over the node's layers, under ``/api/v1/features``.

Collections: ``vessels`` (each vessel's latest position the caller may see, feature id the
MMSI), ``alerts`` (alerts the caller may see, id the alert id), ``zones`` (the node's zone
layer, each zone shown only to those its label allows) and ``land`` (the basemap's Natural
Earth land polygons, public domain: not a record, so unlabelled). Items answer GeoJSON with
``numberMatched``, ``numberReturned`` and ``next`` links; ``bbox``, ``datetime`` (an
instant or an interval ``start/end``, ``..`` open), ``limit`` and ``offset`` filter and
page them. Unknown collections and items, and items the caller may not see, answer 404.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response

from mista.api.context import ApiContext
from mista.api.errors import ERROR_RESPONSES, bad_parameter, not_found
from mista.api.formats import (
    GEOMETRY_COLUMN,
    chunked_response,
    feature_collection_chunks,
    feature_texts,
)
from mista.api.routes_data import (
    WORLD,
    BBoxText,
    Caller,
    Ctx,
    in_bbox,
    parse_bbox,
    parse_time,
)
from mista.geo import LandMask
from mista.model import User
from mista.store import BBox

__all__ = ["COLLECTIONS", "CONFORMANCE", "features_router"]

CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
)
_CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_GEOJSON = "application/geo+json"
_MAX_ITEMS = 100_000
_MAX_OFFSET = 1_000_000_000
_MAX_ID_CHARS = 200


@dataclass(frozen=True)
class Collection:
    """One layer: its id, title and what it holds."""

    id: str
    title: str
    description: str


COLLECTIONS: dict[str, Collection] = {
    item.id: item
    for item in (
        Collection(
            "vessels", "Vessels", "Each vessel's latest position you may see (id: the MMSI)."
        ),
        Collection("alerts", "Alerts", "Detected behaviours you may see (id: the alert id)."),
        Collection("zones", "Zones", "The node's zones you may see (id: the zone id)."),
        Collection(
            "land",
            "Land",
            "Natural Earth 1:50m land polygons (public domain; made with Natural Earth).",
        ),
    )
}


# -- parameters --------------------------------------------------------------------------


def parse_datetime(text: str | None) -> tuple[datetime | None, datetime | None]:
    """OGC ``datetime``: an instant (both ends that time) or ``start/end`` with ``..`` or an
    empty side for an open end."""
    if text is None or not text.strip():
        return None, None
    if "/" not in text:
        moment = parse_time(text, "datetime")
        return moment, moment
    start_text, _, end_text = text.partition("/")
    start = None if start_text in ("", "..") else parse_time(start_text, "datetime start")
    end = None if end_text in ("", "..") else parse_time(end_text, "datetime end")
    if start is not None and end is not None and start > end:
        raise bad_parameter(f"datetime {text!r:.80}: the start is after the end")
    return start, end


DatetimeText = Annotated[
    str | None,
    Query(
        alias="datetime",
        max_length=200,
        description="An instant or an interval start/end (.. for open), ISO 8601 with Z.",
    ),
]


# -- the layers as tables ----------------------------------------------------------------


def _within_times(
    table: pa.Table, first: str, last: str, start: datetime | None, end: datetime | None
) -> pa.Table:
    """Rows whose [first, last] time span meets [start, end] (closed, as OGC says)."""
    keep = pa.array(np.ones(table.num_rows, dtype=bool))
    if start is not None:
        keep = pc.and_(keep, pc.greater_equal(table.column(last), pa.scalar(start)))
    if end is not None:
        keep = pc.and_(keep, pc.less_equal(table.column(first), pa.scalar(end)))
    return table.filter(pc.fill_null(keep, False))


def _vessels(ctx: ApiContext, user: User) -> pa.Table:
    with ctx.reading():
        return ctx.vessels.vessels(ctx.store, user).table


def _alerts(ctx: ApiContext, user: User) -> pa.Table:
    with ctx.reading():
        return ctx.store.alerts(viewer=user)


def _polygons_table(
    ids: Sequence[str], geometries: Sequence[Any], extra: dict[str, pa.Array]
) -> pa.Table:
    texts = shapely.to_geojson(np.asarray(geometries, dtype=object)) if len(geometries) else []
    columns: dict[str, Any] = {"id": pa.array(list(ids), pa.string())}
    columns.update(extra)
    columns[GEOMETRY_COLUMN] = pa.array(list(texts), pa.string())
    return pa.table(columns)


def _zones(ctx: ApiContext, user: User) -> tuple[pa.Table, list[Any]]:
    """The zones ``user`` may see (``may_see`` on each zone's label), and their shapes."""
    zones = [zone for zone in (ctx.zones.zones if ctx.zones else ()) if user.may_see(zone.label)]
    geometries = [zone.geometry for zone in zones]
    table = _polygons_table(
        [zone.id for zone in zones],
        geometries,
        {
            "name": pa.array([zone.name for zone in zones], pa.string()),
            "label": pa.array([zone.label.to_marking() for zone in zones], pa.string()),
        },
    )
    return table, geometries


@functools.cache
def _land() -> tuple[pa.Table, tuple[Any, ...]]:
    """The shipped land polygons (loaded once)."""
    polygons = tuple(LandMask.default().polygons)
    table = _polygons_table([str(index) for index in range(len(polygons))], polygons, {})
    return table, polygons


def _shapes_in_bbox(table: pa.Table, shapes: Sequence[Any], bbox: BBox) -> pa.Table:
    """The rows whose shape meets ``bbox`` (split in two across the antimeridian)."""
    if bbox == WORLD or not shapes:
        return table
    if bbox.west_deg <= bbox.east_deg:
        boxes = [shapely.box(bbox.west_deg, bbox.south_deg, bbox.east_deg, bbox.north_deg)]
    else:
        boxes = [
            shapely.box(bbox.west_deg, bbox.south_deg, 180.0, bbox.north_deg),
            shapely.box(-180.0, bbox.south_deg, bbox.east_deg, bbox.north_deg),
        ]
    array = np.asarray(shapes, dtype=object)
    hit = np.zeros(len(array), dtype=bool)
    for box in boxes:
        hit |= shapely.intersects(array, box)
    return table.filter(pa.array(hit))


def _layer(
    collection: str,
    ctx: ApiContext,
    user: User,
    bbox: BBox,
    start: datetime | None,
    end: datetime | None,
) -> tuple[pa.Table, str, Sequence[str]]:
    """The collection's rows for ``user`` after the filters, its id column and its JSON
    text columns."""
    if collection == "vessels":
        vessels = in_bbox(_vessels(ctx, user), bbox)
        return _within_times(vessels, "observed_at", "observed_at", start, end), "mmsi", ()
    if collection == "alerts":
        alerts = in_bbox(_alerts(ctx, user), bbox)
        return _within_times(alerts, "start", "end", start, end), "id", ("evidence",)
    if collection == "zones":
        zones, shapes = _zones(ctx, user)
        return _shapes_in_bbox(zones, shapes, bbox), "id", ()
    land, polygons = _land()
    return _shapes_in_bbox(land, polygons, bbox), "id", ()


# -- documents ---------------------------------------------------------------------------


def _link(href: str, rel: str, media: str, title: str | None = None) -> dict[str, str]:
    link = {"href": href, "rel": rel, "type": media}
    if title:
        link["title"] = title
    return link


def _collection_document(base: str, collection: Collection) -> dict[str, Any]:
    href = f"{base}/collections/{collection.id}"
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "itemType": "feature",
        "crs": [_CRS84],
        "extent": {"spatial": {"bbox": [[-180.0, -90.0, 180.0, 90.0]], "crs": _CRS84}},
        "links": [
            _link(href, "self", "application/json"),
            _link(f"{href}/items", "items", _GEOJSON, f"{collection.title} (GeoJSON)"),
        ],
    }


def _base(request: Request) -> str:
    return str(request.url_for("features_landing")).rstrip("/")


def _collection(collection_id: str) -> Collection:
    found = COLLECTIONS.get(collection_id)
    if found is None:
        raise not_found(f"no collection {collection_id} (collections: {', '.join(COLLECTIONS)})")
    return found


def _page_link(request: Request, offset: int, rel: str) -> dict[str, str]:
    return _link(str(request.url.include_query_params(offset=offset)), rel, _GEOJSON)


def _geojson_responses(what: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": f"A GeoJSON {what}", "content": {_GEOJSON: {}}}, **ERROR_RESPONSES}


CollectionId = Annotated[str, Path(max_length=_MAX_ID_CHARS, description="A collection id.")]


def features_router() -> APIRouter:
    """The OGC API - Features routes (mounted under /api/v1 by ``create_api_app``)."""
    router = APIRouter(prefix="/features", tags=["features"])

    @router.get("", name="features_landing", summary="Landing page.", responses=ERROR_RESPONSES)
    def landing(request: Request, user: Caller) -> JSONResponse:
        base = _base(request)
        return JSONResponse(
            {
                "title": "mista node layers",
                "description": "The node's layers as OGC API - Features, for the caller.",
                "links": [
                    _link(base, "self", "application/json"),
                    _link(f"{base}/conformance", "conformance", "application/json"),
                    _link(f"{base}/collections", "data", "application/json"),
                    _link(
                        f"{str(request.base_url).rstrip('/')}/openapi.json",
                        "service-desc",
                        "application/vnd.oai.openapi+json;version=3.0",
                    ),
                ],
            }
        )

    @router.get("/conformance", summary="Conformance classes.", responses=ERROR_RESPONSES)
    def conformance(user: Caller) -> JSONResponse:
        return JSONResponse({"conformsTo": list(CONFORMANCE)})

    @router.get("/collections", summary="The layers.", responses=ERROR_RESPONSES)
    def collections(request: Request, user: Caller) -> JSONResponse:
        base = _base(request)
        return JSONResponse(
            {
                "links": [_link(f"{base}/collections", "self", "application/json")],
                "collections": [_collection_document(base, c) for c in COLLECTIONS.values()],
            }
        )

    @router.get("/collections/{collection_id}", summary="One layer.", responses=ERROR_RESPONSES)
    def collection(request: Request, user: Caller, collection_id: CollectionId) -> JSONResponse:
        return JSONResponse(_collection_document(_base(request), _collection(collection_id)))

    @router.get(
        "/collections/{collection_id}/items",
        summary="A layer's features the caller may see, filtered and paged (GeoJSON).",
        responses=_geojson_responses("FeatureCollection"),
        response_class=Response,
    )
    def items(
        request: Request,
        ctx: Ctx,
        user: Caller,
        collection_id: CollectionId,
        bbox: BBoxText = None,
        when: DatetimeText = None,
        limit: Annotated[int, Query(ge=1, le=_MAX_ITEMS, description="Most features.")] = 1000,
        offset: Annotated[int, Query(ge=0, le=_MAX_OFFSET, description="Features skipped.")] = 0,
    ) -> Response:
        _collection(collection_id)
        box = parse_bbox(bbox)
        start, end = parse_datetime(when)
        table, ids, raw_json = _layer(collection_id, ctx, user, box, start, end)
        page = table.slice(offset, limit) if offset < table.num_rows else table.slice(0, 0)
        links = [_link(str(request.url), "self", _GEOJSON)]
        if offset + limit < table.num_rows:
            links.append(_page_link(request, offset + limit, "next"))
        if offset > 0:
            links.append(_page_link(request, max(0, offset - limit), "prev"))
        members = {
            "numberMatched": table.num_rows,
            "numberReturned": page.num_rows,
            "timeStamp": ctx.clock().isoformat().replace("+00:00", "Z"),
            "links": links,
        }
        chunks = feature_collection_chunks(page, raw_json=raw_json, members=members, ids=ids)
        return chunked_response(chunks, page, {}, _GEOJSON)

    @router.get(
        "/collections/{collection_id}/items/{feature_id}",
        summary="One feature (404 if there is none the caller may see).",
        responses=_geojson_responses("Feature"),
        response_class=Response,
    )
    def item(
        ctx: Ctx,
        user: Caller,
        collection_id: CollectionId,
        feature_id: Annotated[str, Path(max_length=_MAX_ID_CHARS)],
    ) -> Response:
        _collection(collection_id)
        table, ids, raw_json = _layer(collection_id, ctx, user, WORLD, None, None)
        key = table.column(ids).cast(pa.string())
        row = table.filter(pc.fill_null(pc.equal(key, feature_id), False))
        if row.num_rows == 0:
            raise not_found(f"no feature {feature_id} in collection {collection_id}")
        text = feature_texts(row.slice(0, 1), raw_json, ids).to_pylist()[0]
        return Response(text, media_type=_GEOJSON)

    return router
