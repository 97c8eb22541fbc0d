"""Sharing and admin routes: agreements per nation, and partners, releases, audit and
"view as partner" for admins only (403 in the one shape for everyone else)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from mista.share.outbox import record_item_text
from mista.store.embedded_exchange import ExchangeTables, OutboxItem
from mista.wire import label_to_wire
from tests.api.conftest import (
    AUDIT_RELEASES,
    LABELS,
    T0,
    USERS,
    ApiWorld,
    Position,
    add_reports,
    error_of,
)

ADMIN_ROUTES = ["/partners", "/releases", "/audit", "/partners/USA/view/vessels"]


@pytest.mark.parametrize("path", ADMIN_ROUTES)
@pytest.mark.parametrize("user", ["ind.analyst", "usa.liaison", "bra.analyst"])
def test_admin_routes_refuse_other_users(world: ApiWorld, path: str, user: str) -> None:
    message = error_of(world.get(user, path), 403, "forbidden")
    assert user in message


@pytest.mark.parametrize("path", [*ADMIN_ROUTES, "/agreements"])
def test_admin_routes_need_a_token(world: ApiWorld, path: str) -> None:
    error_of(world.client.get(f"/api/v1{path}"), 401, "unauthenticated")


@pytest.mark.parametrize(
    ("user", "expected"),
    [("ind.admin", ["ind-usa-white"]), ("usa.liaison", ["ind-usa-white"]), ("jpn.analyst", [])],
)
def test_agreements_are_those_of_the_callers_nation(
    world: ApiWorld, user: str, expected: list[str]
) -> None:
    body = world.get(user, "/agreements").json()
    assert [agreement["id"] for agreement in body["agreements"]] == expected
    assert body["count"] == len(expected)
    if expected:
        (agreement,) = body["agreements"]
        assert agreement["parties"] == ["IND", "USA"]
        assert agreement["valid_from"] == "2024-01-01T00:00:00Z"
        (clause,) = agreement["clauses"]
        assert clause["id"] == "white-shipping"
        assert clause["max_level"] == "RESTRICTED"
        assert clause["precision"] == 1
        assert clause["remove"] == ["name"]


def test_partners_show_agreements_and_link_status(world: ApiWorld) -> None:
    body = world.get("ind.admin", "/partners").json()
    assert body["partners"] == [
        {
            "nation": "USA",
            "agreements": ["ind-usa-white"],
            "link": {"state": "up", "sent_batches": 1},
        }
    ]


def test_releases_newest_first_by_partner(world: ApiWorld) -> None:
    body = world.get("ind.admin", "/releases").json()
    assert body["count"] == 3
    orders = [row["order_no"] for row in body["releases"]]
    assert orders == sorted(orders, reverse=True)
    newest = body["releases"][0]
    assert newest["sent_at"] is None
    assert newest["batch"] is None
    sent = body["releases"][-1]
    assert sent["sent_at"] == "2024-03-01T00:05:00Z"
    assert sent["batch"] == 1
    assert sent["agreement"] == "ind-usa-white"
    assert sent["clause"] == "white-shipping"
    assert world.get("ind.admin", "/releases", partner="JPN").json()["count"] == 0
    assert world.get("ind.admin", "/releases", partner="USA", limit=1).json()["count"] == 1


@pytest.mark.parametrize(
    "params", [{"partner": "usa"}, {"partner": "U1A"}, {"limit": "-1"}, {"limit": "x"}]
)
def test_releases_bad_parameters(world: ApiWorld, params: dict[str, Any]) -> None:
    error_of(world.get("ind.admin", "/releases", **params), 400, "bad-parameter")


def test_audit_gives_the_last_entries_newest_first(world: ApiWorld) -> None:
    body = world.get("ind.admin", "/audit").json()
    kinds = [entry["kind"] for entry in body["entries"]]
    assert kinds == ["checkpoint"] + ["release"] * AUDIT_RELEASES
    seqs = [entry["seq"] for entry in body["entries"]]
    assert seqs == sorted(seqs, reverse=True)
    two = world.get("ind.admin", "/audit", limit=2).json()
    assert two["entries"] == body["entries"][:2]
    assert world.get("ind.admin", "/audit", limit=0).json() == {"count": 0, "entries": []}
    error_of(world.get("ind.admin", "/audit", limit=-1), 400, "bad-parameter")


def test_audit_without_a_log_is_empty(fresh_world: ApiWorld) -> None:
    assert fresh_world.get("ind.admin", "/audit").json() == {"count": 0, "entries": []}


def test_view_as_partner_is_what_was_sent_as_it_was_sent(world: ApiWorld) -> None:
    body = world.get("ind.admin", "/partners/USA/view/vessels").json()
    (vessel,) = body["vessels"]
    assert vessel["mmsi"] == 367000002
    # Two reports were sent (coarsened to one decimal, no name); a third is queued only.
    assert vessel["observed_at"] == "2024-03-01T00:10:00Z"
    assert (vessel["lat"], vessel["lon"]) == (11.0, 66.0)
    assert vessel["name"] is None
    assert vessel["label"] == LABELS["quad"].to_marking()
    own = world.get("ind.admin", "/vessels/367000002").json()
    assert own["name"] == "SHIP 367000002"
    assert own["observed_at"] > vessel["observed_at"]
    geojson = world.get("ind.admin", "/partners/USA/view/vessels", format="geojson").json()
    assert len(geojson["features"]) == 1


def test_view_as_an_unknown_partner_is_404(world: ApiWorld) -> None:
    assert error_of(world.get("ind.admin", "/partners/FRA/view/vessels"), 404, "not-found") == (
        "no partner FRA"
    )
    error_of(world.get("ind.admin", "/partners/ABCD/view/vessels"), 400, "bad-parameter")


def test_a_withdrawn_record_leaves_the_partner_view(fresh_world: ApiWorld) -> None:
    store = fresh_world.store
    label = LABELS["quad"]
    add_reports(store, [Position(367000009, 0, 12.0, 70.0, label, "GONE")])
    (row,) = store.track(367000009, viewer=USERS["ind.analyst"]).to_pylist()
    exchange = ExchangeTables(store)
    fields = {"mmsi": 367000009, "observed_at": row["observed_at"], "lat": 12.0, "lon": 70.0}
    record = OutboxItem(
        row["report_id"],
        "record",
        T0,
        "a",
        "c",
        record_item_text(row["report_id"], label_to_wire(label), fields),
    )
    exchange.commit_scan("JPN", 1, [record])
    batch = exchange.assign_batch("JPN", [1], [])
    assert batch is not None
    exchange.mark_sent("JPN", batch, T0 + timedelta(minutes=1))
    view = fresh_world.get("ind.admin", "/partners/JPN/view/vessels").json()
    assert [vessel["mmsi"] for vessel in view["vessels"]] == [367000009]
    withdraw = OutboxItem(
        row["report_id"],
        "withdraw",
        T0,
        None,
        None,
        f'{{"id": "{row["report_id"]}", "kind": "withdraw", "reason": "wrong vessel"}}',
    )
    exchange.enqueue("JPN", [withdraw])
    batch = exchange.assign_batch("JPN", [2], [])
    assert batch is not None
    exchange.mark_sent("JPN", batch, T0 + timedelta(minutes=2))
    assert fresh_world.get("ind.admin", "/partners/JPN/view/vessels").json()["count"] == 0
