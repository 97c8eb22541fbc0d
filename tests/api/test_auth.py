"""Tokens and the one error shape: every route but /health and the spec needs a token that
is known, unrevoked and unexpired; errors of every kind answer in one shape."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.api.app import create_api_app
from mista.api.auth import admin_user, current_user
from mista.api.context import ApiContext
from mista.api.errors import ApiError, install_error_handlers
from mista.api.tokens import TOKEN_CACHE_S, TokenCache
from mista.labels import Level
from mista.model import Role, User
from mista.node import issue_token, revoke_tokens, token_hash
from mista.store.embedded import DuckDBStore

WATCH = User("watch.ind", "IND", Level.SECRET, frozenset({Role.ANALYST, Role.ADMIN}))
LIAISON = User("liaison.usa", "USA", Level.RESTRICTED, frozenset({Role.LIAISON}))


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "node.duckdb"
    with DuckDBStore(path) as store:
        store.add_user(WATCH)
        store.add_user(LIAISON)
    return path


@pytest.fixture
def client(store_path: Path) -> Iterator[tuple[TestClient, DuckDBStore]]:
    store = DuckDBStore(store_path)
    # No remembering of tokens here: revocation must show at once (TokenCache is tested below).
    ctx = ApiContext("IND", store, tokens=TokenCache(ttl_s=0.0))
    app = create_api_app(ctx, start_background=False)
    probe = APIRouter()

    @probe.get("/probe/me")
    def me(user: User = Depends(current_user)) -> dict[str, str]:  # noqa: B008
        return {"name": user.name}

    @probe.get("/probe/admin")
    def admin(user: User = Depends(admin_user)) -> dict[str, str]:  # noqa: B008
        return {"name": user.name}

    app.include_router(probe)
    with TestClient(app) as test_client:
        yield test_client, store
    store.close()


def _error(answer: object, status: int, code: str) -> None:
    response = answer
    assert response.status_code == status  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code
    assert isinstance(body["error"]["message"], str)
    assert body["error"]["message"]


def test_health_and_spec_need_no_token(client: tuple[TestClient, DuckDBStore]) -> None:
    http, _ = client
    assert http.get("/health").json() == {"status": "ok", "nation": "IND"}
    assert http.get("/openapi.json").json()["info"]["title"] == "mista node"


def test_a_token_maps_to_its_user_and_stops_when_revoked(
    store_path: Path, client: tuple[TestClient, DuckDBStore]
) -> None:
    http, store = client
    token = "mista_" + "x" * 43
    store.add_token(LIAISON.name, token_hash(token), created_at=datetime.now(UTC), expires_at=None)
    answer = http.get("/probe/me", headers={"Authorization": f"Bearer {token}"})
    assert answer.json() == {"name": "liaison.usa"}
    _error(http.get("/probe/admin", headers={"Authorization": f"Bearer {token}"}), 403, "forbidden")
    assert store.revoke_tokens(LIAISON.name) == 1
    _error(
        http.get("/probe/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated"
    )


def test_issued_tokens_are_stored_only_as_hashes(store_path: Path) -> None:
    token = issue_token(store_path, WATCH.name)
    assert token.startswith("mista_")
    assert len(token) == 49
    with DuckDBStore(store_path) as store:
        rows = store.connection.execute("SELECT token_hash FROM api_tokens").fetchall()
        assert rows == [(token_hash(token),)]
        assert token not in str(rows)
        assert store.user_for_token(token_hash(token), now=datetime.now(UTC)) == WATCH
    assert revoke_tokens(store_path, WATCH.name) == 1


def test_an_expired_token_is_refused(client: tuple[TestClient, DuckDBStore]) -> None:
    http, store = client
    token = "mista_" + "e" * 43
    now = datetime.now(UTC)
    store.add_token(
        WATCH.name, token_hash(token), created_at=now - timedelta(days=2), expires_at=now
    )
    _error(
        http.get("/probe/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated"
    )
    assert store.user_for_token(token_hash(token), now=now - timedelta(seconds=1)) == WATCH


def test_a_removed_user_loses_their_tokens(client: tuple[TestClient, DuckDBStore]) -> None:
    http, store = client
    token = "mista_" + "r" * 43
    store.add_token(WATCH.name, token_hash(token), created_at=datetime.now(UTC), expires_at=None)
    assert store.remove_user(WATCH.name)
    _error(
        http.get("/probe/me", headers={"Authorization": f"Bearer {token}"}), 401, "unauthenticated"
    )


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    header=st.one_of(
        st.none(),
        st.text(max_size=300).map(lambda text: "Bearer " + text),
        st.text(max_size=80),
        st.binary(max_size=60).map(lambda raw: "Bearer mista_" + raw.hex()),
    )
)
def test_garbage_authorization_is_401_in_the_one_shape(
    client: tuple[TestClient, DuckDBStore], header: str | None
) -> None:
    http, _ = client
    headers = {}
    if header is not None:
        # The client sends ASCII headers only; what it cannot send is not a case to test.
        try:
            header.encode("ascii")
        except UnicodeEncodeError:
            return
        headers["Authorization"] = header.strip()
    _error(http.get("/probe/me", headers=headers), 401, "unauthenticated")


def test_framework_errors_answer_in_the_one_shape(client: tuple[TestClient, DuckDBStore]) -> None:
    http, _ = client
    _error(http.get("/no/such/route"), 404, "not-found")
    _error(http.post("/health"), 405, "method-not-allowed")


def test_route_errors_and_unexpected_failures_answer_in_the_one_shape(tmp_path: Path) -> None:
    from fastapi import FastAPI

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/gone")
    def gone() -> None:
        raise ApiError(404, "not-found", "no vessel 1")

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a secret detail")

    @app.get("/typed")
    def typed(limit: int) -> int:
        return limit

    with TestClient(app, raise_server_exceptions=False) as http:
        _error(http.get("/gone"), 404, "not-found")
        answer = http.get("/boom")
        _error(answer, 500, "internal")
        assert "secret" not in answer.text
        _error(http.get("/typed", params={"limit": "many"}), 400, "bad-parameter")
        assert "limit" in http.get("/typed", params={"limit": "x"}).json()["error"]["message"]


def test_a_remembered_token_is_forgotten_after_its_time() -> None:
    assert 0 < TOKEN_CACHE_S <= 10  # the revocation delay docs/api.md states
    cache = TokenCache(ttl_s=0.2, max_entries=2)
    cache.put("a", WATCH)
    assert cache.get("a") == WATCH
    assert cache.get("b") is None
    cache.put("b", LIAISON)
    cache.put("c", LIAISON)  # full: the oldest go rather than growing without bound
    assert len([key for key in "abc" if cache.get(key) is not None]) <= 2
    time.sleep(0.25)
    assert cache.get("c") is None
