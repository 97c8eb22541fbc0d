"""The API's data routes: who am I, vessels, a vessel's track, positions, alerts, tracks.

Every route answers for the caller only (the store filters by their label rights) and a
record they may not see answers exactly as one that does not exist (404 ``not-found``,
"no vessel 123456789"). List routes take ``format=`` (``mista.api.formats``: json,
geojson, csv, parquet, kml, cot). The store is asked under the node's lock, which is let go
before the answer is formatted. The parameter readers here (bbox, times, limits) are
shared by the other routers: each turns bad text into the 400 ``bad-parameter`` answer.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from mista.api.auth import context, current_user
from mista.api.caching import REVALIDATE, etag_matches
from mista.api.context import ApiContext
from mista.api.errors import ERROR_RESPONSES, bad_parameter, not_found
from mista.api.formats import MEDIA_TYPES, json_objects, json_text, table_response
from mista.errors import InputError
from mista.model import User
from mista.store import BBox

__all__ = [
    "MAX_LIMIT",
    "MMSI_MAX",
    "WORLD",
    "BBoxText",
    "Caller",
    "Ctx",
    "FormatName",
    "FormatParam",
    "TimeText",
    "answer_table",
    "data_router",
    "in_bbox",
    "list_responses",
    "parse_bbox",
    "parse_time",
    "parse_window",
]

#: Most rows one answer holds (``limit`` above this is refused, not cut).
MAX_LIMIT = 1_000_000
#: MMSIs are nine digits.
MMSI_MAX = 999_999_999
WORLD = BBox(-180.0, -90.0, 180.0, 90.0)
#: Longest parameter text read (a bbox or a time is a few dozen characters).
_MAX_TEXT = 200

FormatName = Literal["json", "geojson", "csv", "parquet", "kml", "cot"]
BBoxText = Annotated[
    str | None,
    Query(
        description="W,S,E,N in degrees (west > east crosses the antimeridian), e.g. "
        "68,5,90,25; absent: the whole world.",
        max_length=_MAX_TEXT,
    ),
]
TimeText = Annotated[
    str | None,
    Query(
        description="ISO 8601 time with a zone, e.g. 2024-03-01T00:00:00Z.",
        max_length=_MAX_TEXT,
    ),
]


def parse_bbox(text: str | None) -> BBox:
    """The box ``W,S,E,N`` (the whole world when absent)."""
    if text is None or not text.strip():
        return WORLD
    try:
        return BBox.parse(text)
    except InputError as exc:
        raise bad_parameter(str(exc)) from None


def parse_time(text: str | None, name: str) -> datetime | None:
    """An aware UTC time from ISO 8601 text (``Z`` or an offset), or None when absent."""
    if text is None or not text.strip():
        return None
    example = "e.g. 2024-03-01T00:00:00Z"
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise bad_parameter(f"{name} {text!r:.60} is not an ISO 8601 time ({example})") from None
    if moment.tzinfo is None:
        raise bad_parameter(f"{name} {text!r:.60} has no time zone: add Z for UTC ({example})")
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise bad_parameter(f"{name} {text!r:.60} is out of range ({example})") from None


def parse_window(since: str | None, until: str | None) -> tuple[datetime | None, datetime | None]:
    """``since`` and ``until`` as times, ``since`` not after ``until``."""
    start, end = parse_time(since, "since"), parse_time(until, "until")
    if start is not None and end is not None and start > end:
        raise bad_parameter(f"since {since} is after until {until}: give since <= until")
    return start, end


def in_bbox(table: pa.Table, bbox: BBox) -> pa.Table:
    """The rows of ``table`` whose lat/lon lie inside ``bbox`` (edges included)."""
    if bbox == WORLD:
        return table
    lat, lon = table.column("lat"), table.column("lon")
    inside_lat = pc.and_(pc.greater_equal(lat, bbox.south_deg), pc.less_equal(lat, bbox.north_deg))
    east_of_west = pc.greater_equal(lon, bbox.west_deg)
    west_of_east = pc.less_equal(lon, bbox.east_deg)
    if bbox.west_deg <= bbox.east_deg:
        inside_lon = pc.and_(east_of_west, west_of_east)
    else:  # crosses the antimeridian
        inside_lon = pc.or_(east_of_west, west_of_east)
    return table.filter(pc.fill_null(pc.and_(inside_lat, inside_lon), False))


def answer_table(
    table: pa.Table,
    fmt: str,
    *,
    key: str,
    name: str,
    head: dict[str, Any] | None = None,
    raw_json: tuple[str, ...] = (),
) -> Response:
    """A list route's answer in ``fmt`` (``mista.api.formats.table_response``)."""
    return table_response(table, fmt, key=key, name=name, head=head, raw_json=raw_json)


def _vessel_list_json(table: pa.Table) -> bytes:
    return b"".join(json_text({"count": table.num_rows}, "vessels", table))


def list_responses(what: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI for a list route: the formats it answers in, and the error shape."""
    content: dict[str, Any] = {media.split(";")[0]: {} for media in MEDIA_TYPES.values()}
    content["application/json"] = {"schema": {"type": "object"}}
    return {200: {"description": what, "content": content}, **ERROR_RESPONSES}


#: Route parameters: the app's context and the caller (401 without a good token).
Ctx = Annotated[ApiContext, Depends(context)]
Caller = Annotated[User, Depends(current_user)]
FormatParam = Annotated[
    FormatName, Query(description="json (default), geojson, csv, parquet, kml or cot.")
]
#: Columns of a track point (the contract's shape; other formats add the MMSI).
TRACK_POINT_COLUMNS = (
    "observed_at",
    "lat",
    "lon",
    "speed_kn",
    "course_deg",
    "source_kind",
    "label",
)
#: Alert columns whose value is JSON text embedded as an object.
_ALERT_JSON = ("evidence",)
_MAX_ID_CHARS = 200


def data_router() -> APIRouter:
    """The data routes (mounted under /api/v1 by ``create_api_app``)."""
    router = APIRouter(tags=["data"])

    @router.get("/me", summary="Who the token belongs to.", responses=ERROR_RESPONSES)
    def me(user: Caller) -> dict[str, Any]:
        return {
            "name": user.name,
            "nation": user.nation,
            "clearance": user.clearance.name,
            "roles": sorted(role.value for role in user.roles),
        }

    @router.get(
        "/vessels",
        summary="Each vessel's latest position and identity the caller may see.",
        responses=list_responses('{"count", "vessels": [VESSEL...]}'),
        response_class=Response,
    )
    def vessels(
        request: Request,
        ctx: Ctx,
        user: Caller,
        bbox: BBoxText = None,
        format: FormatParam = "json",
    ) -> Response:
        box = parse_bbox(bbox)
        with ctx.reading():
            latest = ctx.vessels.vessels(ctx.store, user)
        if box == WORLD and format == "json":
            # The map's question, asked by every reader of a class: answered once per change.
            etag = f'W/"{latest.seq}-{user.nation}-{int(user.clearance)}"'
            headers = {"ETag": etag, "Cache-Control": REVALIDATE, "Vary": "Accept-Encoding"}
            if etag_matches(request.headers.get("if-none-match"), etag):
                return Response(None, 304, headers)
            gzipped = "gzip" in request.headers.get("accept-encoding", "")
            body = latest.answer("json", _vessel_list_json, gzipped=gzipped)
            if gzipped:
                headers["Content-Encoding"] = "gzip"
            return Response(body, 200, headers, MEDIA_TYPES["json"])
        table = in_bbox(latest.table, box)
        return answer_table(table, format, key="vessels", name="vessels")

    @router.get(
        "/vessels/{mmsi}",
        summary="One vessel's latest position and identity (404 if none the caller may see).",
        responses={200: {"description": "VESSEL"}, **ERROR_RESPONSES},
        response_class=Response,
    )
    def vessel(ctx: Ctx, user: Caller, mmsi: Annotated[int, Path(ge=0, le=MMSI_MAX)]) -> Response:
        with ctx.reading():
            table = ctx.vessels.vessels(ctx.store, user).table
        row = table.filter(pc.equal(table.column("mmsi"), mmsi))
        if row.num_rows == 0:
            raise not_found(f"no vessel {mmsi}")
        body = json_objects(row.slice(0, 1)).to_pylist()[0]
        return Response(body, media_type="application/json")

    @router.get(
        "/vessels/{mmsi}/track",
        summary="One vessel's positions the caller may see, in time order.",
        responses=list_responses('{"mmsi", "count", "points": [POINT...]}'),
        response_class=Response,
    )
    def track(
        ctx: Ctx,
        user: Caller,
        mmsi: Annotated[int, Path(ge=0, le=MMSI_MAX)],
        since: TimeText = None,
        until: TimeText = None,
        format: FormatParam = "json",
    ) -> Response:
        start, end = parse_window(since, until)
        with ctx.reading():
            table = ctx.store.track(mmsi, start, end, viewer=user)
        if table.num_rows == 0:
            window = "" if start is None and end is None else " in that time window"
            raise not_found(f"no vessel {mmsi}{window}")
        columns = TRACK_POINT_COLUMNS if format == "json" else ("mmsi", *TRACK_POINT_COLUMNS)
        return answer_table(
            table.select(list(columns)),
            format,
            key="points",
            name=f"track-{mmsi}",
            head={"mmsi": mmsi},
        )

    @router.get(
        "/positions",
        summary="Positions inside a box and time window the caller may see (radar contacts "
        "included, mmsi null), in time order.",
        responses=list_responses('{"count", "positions": [POSITION...]}'),
        response_class=Response,
    )
    def positions(
        ctx: Ctx,
        user: Caller,
        bbox: BBoxText = None,
        since: TimeText = None,
        until: TimeText = None,
        limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description="Most rows.")] = 10_000,
        format: FormatParam = "json",
    ) -> Response:
        box = parse_bbox(bbox)
        start, end = parse_window(since, until)
        with ctx.reading():
            table = ctx.store.positions_page(box, start, end, viewer=user, limit=limit)
        return answer_table(table, format, key="positions", name="positions")

    @router.get(
        "/alerts",
        summary="Alerts the caller may see overlapping a time window, by start then id.",
        responses=list_responses('{"count", "alerts": [ALERT...]}'),
        response_class=Response,
    )
    def alerts(
        ctx: Ctx,
        user: Caller,
        since: TimeText = None,
        until: TimeText = None,
        kind: Annotated[
            str | None,
            Query(max_length=_MAX_ID_CHARS, description="Alert kinds, comma-separated."),
        ] = None,
        withdrawn: Annotated[bool, Query(description="Include withdrawn alerts.")] = False,
        limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description="Most rows.")] = 10_000,
        format: FormatParam = "json",
    ) -> Response:
        start, end = parse_window(since, until)
        kinds = None if not kind else [part.strip() for part in kind.split(",") if part.strip()]
        with ctx.reading():
            table = ctx.store.alerts(
                viewer=user,
                since=start,
                until=end,
                kinds=kinds,
                include_withdrawn=withdrawn,
                limit=limit,
            )
        return answer_table(table, format, key="alerts", name="alerts", raw_json=_ALERT_JSON)

    @router.get(
        "/alerts/{alert_id}",
        summary="One alert, withdrawn ones included (404 if the caller may not see it).",
        responses={200: {"description": "ALERT"}, **ERROR_RESPONSES},
        response_class=Response,
    )
    def alert(
        ctx: Ctx,
        user: Caller,
        alert_id: Annotated[str, Path(max_length=_MAX_ID_CHARS)],
    ) -> Response:
        with ctx.reading():
            table = ctx.store.alerts(viewer=user, include_withdrawn=True)
        row = table.filter(pc.equal(table.column("id"), alert_id))
        if row.num_rows == 0:
            raise not_found(f"no alert {alert_id}")
        body = json_objects(row.slice(0, 1), raw_json=_ALERT_JSON).to_pylist()[0]
        return Response(body, media_type="application/json")

    @router.get(
        "/tracks",
        summary="Fused tracks the caller may see (kind ais or dark), by first time then id.",
        responses=list_responses('{"count", "tracks": [TRACK...]}'),
        response_class=Response,
    )
    def tracks(
        ctx: Ctx,
        user: Caller,
        kind: Annotated[Literal["ais", "dark"] | None, Query(description="ais or dark.")] = None,
        format: FormatParam = "json",
    ) -> Response:
        with ctx.reading():
            table = ctx.store.tracks(viewer=user, kind=kind)
        return answer_table(table, format, key="tracks", name="tracks")

    return router
