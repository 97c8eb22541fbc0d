"""Watch-list routes: each user's own lists; bad bodies answer 400 in the one error shape;
another user's list answers exactly as one that does not exist."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.api.watch import MAX_MMSIS
from tests.api.conftest import ApiWorld

LIST = {"name": "tankers off Kochi", "mmsis": [419000001, 367000002], "webhook": None}


def call(world: ApiWorld, user: str, method: str, path: str, body: Any = None) -> httpx2.Response:
    return world.client.request(method, f"/api/v1{path}", json=body, headers=world.headers(user))


def assert_error(answer: httpx2.Response, status: int, code: str) -> str:
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    message: str = body["error"]["message"]
    assert message
    return message


def test_a_user_creates_reads_replaces_and_deletes_a_list(fresh_world: ApiWorld) -> None:
    created = call(fresh_world, "ind.analyst", "POST", "/watchlists", LIST)
    assert created.status_code == 201
    made = created.json()
    assert made["id"].startswith("wl_")
    assert made["name"] == LIST["name"]
    assert made["mmsis"] == LIST["mmsis"]
    assert made["webhook"] is None
    assert made["created_at"].endswith("Z")
    path = f"/watchlists/{made['id']}"
    assert call(fresh_world, "ind.analyst", "GET", path).json() == made
    listed = call(fresh_world, "ind.analyst", "GET", "/watchlists").json()
    assert listed == {"count": 1, "watchlists": [made]}

    change = {"name": "  renamed  ", "mmsis": [503000005], "webhook": "https://ops.example/hook"}
    replaced = call(fresh_world, "ind.analyst", "PUT", path, change)
    assert replaced.status_code == 200
    assert replaced.json()["name"] == "renamed"  # surrounding blanks are not part of a name
    assert replaced.json()["mmsis"] == [503000005]
    assert replaced.json()["webhook"] == "https://ops.example/hook"
    assert replaced.json()["created_at"] == made["created_at"]

    deleted = call(fresh_world, "ind.analyst", "DELETE", path)
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert_error(call(fresh_world, "ind.analyst", "GET", path), 404, "not-found")
    assert call(fresh_world, "ind.analyst", "GET", "/watchlists").json()["count"] == 0


def test_another_users_list_answers_exactly_as_a_missing_one(fresh_world: ApiWorld) -> None:
    made = call(fresh_world, "ind.analyst", "POST", "/watchlists", LIST).json()
    theirs, missing = made["id"], "wl_doesnotexist0000"
    for method, body in (("GET", None), ("PUT", LIST), ("DELETE", None)):
        other = call(fresh_world, "usa.liaison", method, f"/watchlists/{theirs}", body)
        absent = call(fresh_world, "usa.liaison", method, f"/watchlists/{missing}", body)
        assert other.status_code == absent.status_code == 404
        assert other.json() == {
            "error": {"status": 404, "code": "not-found", "message": f"no watch list {theirs}"}
        }
        assert absent.json()["error"]["message"] == f"no watch list {missing}"
        assert other.headers.get("content-type") == absent.headers.get("content-type")
    assert call(fresh_world, "usa.liaison", "GET", "/watchlists").json()["count"] == 0
    # The owner's list is untouched by the other user's PUT and DELETE.
    assert call(fresh_world, "ind.analyst", "GET", f"/watchlists/{theirs}").json() == made


@pytest.mark.parametrize(
    ("body", "what"),
    [
        ({**LIST, "mmsis": [0]}, "MMSI"),
        ({**LIST, "mmsis": [1_000_000_000]}, "MMSI"),
        ({**LIST, "mmsis": [419000001, 419000001]}, "more than once"),
        ({**LIST, "mmsis": ["419000001"]}, "mmsis"),
        ({**LIST, "mmsis": [4.19e8]}, "mmsis"),
        ({**LIST, "mmsis": [True]}, "mmsis"),
        ({**LIST, "mmsis": list(range(1, MAX_MMSIS + 2))}, "mmsis"),
        ({**LIST, "name": "   "}, "blank"),
        ({**LIST, "name": "a\nb"}, "control"),
        ({**LIST, "name": "x" * 201}, "name"),
        ({**LIST, "webhook": "ftp://ops.example/hook"}, "http"),
        ({**LIST, "webhook": "https:///nohost"}, "http"),
        ({**LIST, "webhook": "http://ops.example:99999/"}, "port"),
        ({**LIST, "webhook": "http://ops.example/a b"}, "spaces"),
        ({**LIST, "owner": "someone.else"}, "owner"),
        ({"name": "no vessels"}, "mmsis"),
        ([1, 2, 3], "body"),
        ("just text", "body"),
    ],
)
def test_bad_bodies_answer_400_in_the_one_error_shape(
    world: ApiWorld, body: Any, what: str
) -> None:
    for method, path in (("POST", "/watchlists"), ("PUT", "/watchlists/wl_any")):
        message = assert_error(call(world, "ind.analyst", method, path, body), 400, "bad-parameter")
        assert what.lower() in message.lower()
    assert call(world, "ind.analyst", "GET", "/watchlists").json()["count"] == 0


def test_a_body_that_is_not_json_answers_400(world: ApiWorld) -> None:
    answer = world.client.post(
        "/api/v1/watchlists",
        content=b"{not json",
        headers={**world.headers("ind.analyst"), "Content-Type": "application/json"},
    )
    assert_error(answer, 400, "bad-parameter")


def test_the_routes_need_a_token(world: ApiWorld) -> None:
    for method, path in (("GET", "/watchlists"), ("POST", "/watchlists"), ("GET", "/watchlists/x")):
        answer = world.client.request(method, f"/api/v1{path}", json=LIST)
        assert_error(answer, 401, "unauthenticated")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
bodies = (
    st.fixed_dictionaries(
        {},
        optional={
            "name": json_values | st.text(max_size=40),
            "mmsis": json_values | st.lists(st.integers(-5, 2_000_000_000), max_size=5),
            "webhook": json_values
            | st.sampled_from(["http://a.example/", "https://b.example:8443/x"]),
            "extra": json_values,
        },
    )
    | json_values
)


@settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_any_body_is_created_or_refused_never_a_server_error(
    fresh_world: ApiWorld, body: Any
) -> None:
    answer = call(fresh_world, "jpn.analyst", "POST", "/watchlists", body)
    if answer.status_code == 201:
        made = answer.json()
        assert isinstance(body, dict)
        assert made["mmsis"] == body["mmsis"]
        assert all(1 <= mmsi <= 999_999_999 for mmsi in made["mmsis"])
        assert (
            call(fresh_world, "jpn.analyst", "DELETE", f"/watchlists/{made['id']}").status_code
            == 204
        )
    else:
        assert_error(answer, 400, "bad-parameter")
