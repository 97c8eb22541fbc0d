"""The API's sharing and admin routes: agreements, partner links, releases, audit, and
"view as partner".

``/agreements`` answers every user with the agreements their nation is party to (an admin:
all of this node's). The rest need the ``admin`` role (403 ``forbidden`` otherwise):
``/partners`` (link status per partner), ``/releases`` (the share outbox: what was queued,
sent or dropped for each partner, under which agreement and clause), ``/audit`` (the last
entries of the node's audit log) and ``/partners/{nation}/view/vessels`` (per vessel, the
latest state that partner received, from the sanitised records as they were sent).
"""

from __future__ import annotations

from collections import deque
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse, Response

from mista.api.auth import admin_user
from mista.api.context import ApiContext
from mista.api.errors import ERROR_RESPONSES, bad_parameter, not_found
from mista.api.formats import table_response
from mista.api.latest import placed_vessels
from mista.api.routes_data import (
    MAX_LIMIT,
    BBoxText,
    Caller,
    Ctx,
    FormatParam,
    answer_table,
    in_bbox,
    list_responses,
    parse_bbox,
)
from mista.labels import NATION_CODE
from mista.model import Role, User
from mista.share.agreements import Agreement, Clause, format_delay
from mista.share.audit import read_entries

__all__ = ["admin_router", "agreement_summary", "known_partners"]

Admin = Annotated[User, Depends(admin_user)]
#: The admin routes' error answers (403 for a caller without the admin role).
_ADMIN_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    403: {
        "description": "The caller is not an admin (code forbidden).",
        "content": ERROR_RESPONSES[404]["content"],
    },
}
_MAX_AUDIT = 10_000


def _time(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _clause_summary(clause: Clause) -> dict[str, Any]:
    area = None
    if clause.area is not None:
        area = {"description": clause.area.description, "bbox": list(clause.area.bbox)}
    return {
        "id": clause.id,
        "flows": sorted(flow.value for flow in clause.flows),
        "categories": sorted(clause.categories),
        "max_level": clause.max_level.name,
        "area": area,
        "delay": format_delay(clause.sanitise.delay),
        "precision": clause.sanitise.precision,
        "remove": sorted(clause.sanitise.remove),
    }


def agreement_summary(agreement: Agreement, now: datetime) -> dict[str, Any]:
    """An agreement as the API shows it: parties, who sends to whom, validity, clauses."""
    return {
        "id": agreement.id,
        "version": agreement.version,
        "parties": sorted(agreement.parties),
        "senders": sorted(agreement.senders),
        "receivers": sorted(agreement.receivers),
        "valid_from": _time(agreement.valid_from),
        "valid_until": _time(agreement.valid_until),
        "valid_now": agreement.is_valid_at(now),
        "clauses": [_clause_summary(clause) for clause in agreement.clauses],
    }


def known_partners(ctx: ApiContext) -> set[str]:
    """Partners of this node: parties of its agreements, nations it has a link to, and
    nations its outbox holds items for (never the node itself)."""
    partners = {party for agreement in ctx.agreements for party in agreement.parties}
    partners |= set(ctx.partner_status())
    with ctx.reading():
        partners |= set(ctx.store.partners_released_to())
    partners.discard(ctx.nation)
    return partners


def _nation(text: str, what: str) -> str:
    if not NATION_CODE.fullmatch(text):
        raise bad_parameter(f"{what} {text!r:.40} is not a nation code (three capitals, e.g. USA)")
    return text


def admin_router() -> APIRouter:
    """The sharing and admin routes (mounted under /api/v1 by ``create_api_app``)."""
    router = APIRouter(tags=["sharing"])

    @router.get(
        "/agreements",
        summary="Agreements the caller's nation is party to (an admin: all of this node's).",
        responses=ERROR_RESPONSES,
    )
    def agreements(ctx: Ctx, user: Caller) -> JSONResponse:
        now = ctx.clock()
        shown = [
            agreement_summary(agreement, now)
            for agreement in ctx.agreements
            if Role.ADMIN in user.roles or user.nation in agreement.parties
        ]
        return JSONResponse({"count": len(shown), "agreements": shown})

    @router.get(
        "/partners", summary="Each partner's agreements and link status.", responses=_ADMIN_ERRORS
    )
    def partners(ctx: Ctx, user: Admin) -> JSONResponse:
        links = ctx.partner_status()
        shown = [
            {
                "nation": nation,
                "agreements": sorted(a.id for a in ctx.agreements if nation in a.parties),
                "link": links.get(nation),
            }
            for nation in sorted(known_partners(ctx))
        ]
        return JSONResponse({"count": len(shown), "partners": shown}, headers=None)

    @router.get(
        "/releases",
        summary="The share outbox, newest first: what was queued, sent or dropped for whom.",
        responses=_ADMIN_ERRORS,
        response_class=Response,
    )
    def releases(
        ctx: Ctx,
        user: Admin,
        partner: Annotated[
            str | None, Query(max_length=3, description="A partner's nation code.")
        ] = None,
        limit: Annotated[int, Query(ge=0, le=MAX_LIMIT, description="Most items.")] = 1000,
    ) -> Response:
        nation = None if partner is None else _nation(partner, "partner")
        with ctx.reading():
            table = ctx.store.releases(nation, limit=limit)
        return table_response(table, "json", key="releases", name="releases")

    @router.get(
        "/audit",
        summary="The last entries of the node's audit log, newest first.",
        responses=_ADMIN_ERRORS,
    )
    def audit(
        ctx: Ctx,
        user: Admin,
        limit: Annotated[int, Query(ge=0, le=_MAX_AUDIT, description="Most entries.")] = 100,
    ) -> JSONResponse:
        path = ctx.audit_path
        last: deque[dict[str, Any]] = deque(maxlen=limit)
        if path is not None and path.exists() and limit:
            last.extend(entry.to_wire() for entry in read_entries(path))
        entries = list(reversed(last))
        return JSONResponse({"count": len(entries), "entries": entries})

    @router.get(
        "/partners/{nation}/view/vessels",
        summary="View as partner: per vessel, the latest state that partner received, as "
        "it was sent (sanitised).",
        responses={**list_responses('{"count", "vessels": [VESSEL...]}'), **_ADMIN_ERRORS},
        response_class=Response,
    )
    def partner_view(
        ctx: Ctx,
        user: Admin,
        nation: Annotated[str, Path(max_length=3)],
        bbox: BBoxText = None,
        format: FormatParam = "json",
    ) -> Response:
        box = parse_bbox(bbox)
        if nation not in known_partners(ctx):
            raise not_found(f"no partner {nation}")
        with ctx.reading():
            table = ctx.store.released_vessels(nation)
        table = in_bbox(placed_vessels(table), box)
        return answer_table(table, format, key="vessels", name=f"vessels-{nation}")

    return router
