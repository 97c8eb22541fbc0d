"""schemathesis against the app's own OpenAPI spec: no request it generates, valid or not,
gets a server error (5xx), with an admin's token so every route is reached.

The live stream (``/api/v1/stream``) never ends by design, so it is left out here (its
own tests read it); every other operation of the spec is exercised with valid and invalid
requests, a few examples each to keep the run short.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err

from tests.api.conftest import ApiWorld

#: Examples per operation (the whole file stays well under a minute on two cores).
EXAMPLES = 8


Operation = schemathesis.APIOperation[Any, Any, Any, Any]


def operations(world: ApiWorld) -> list[Operation]:
    """Every operation of the app's spec but the endless stream."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", world.app)
    found: list[Operation] = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the spec itself is broken
        found.append(result.ok())
    return [op for op in found if not op.path.endswith("/stream")]


def test_no_server_errors(world: ApiWorld) -> None:
    headers = world.headers("ind.admin")
    failures: list[str] = []
    tried = operations(world)
    assert len(tried) >= 20  # the data, features, admin, live and web routes

    for operation in tried:
        cases = st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )

        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=cases)
        def no_server_error(case: schemathesis.Case[Operation]) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            no_server_error()
        except Exception as exc:  # every failing operation is reported, not just the first
            failures.append(f"{operation.label}: {str(exc)[:2000]}")
    assert not failures, "\n\n".join(failures)


def test_the_spec_documents_every_data_route(world: ApiWorld) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/me",
        "/api/v1/vessels",
        "/api/v1/vessels/{mmsi}",
        "/api/v1/vessels/{mmsi}/track",
        "/api/v1/positions",
        "/api/v1/alerts",
        "/api/v1/alerts/{alert_id}",
        "/api/v1/tracks",
        "/api/v1/features/collections/{collection_id}/items",
        "/api/v1/agreements",
        "/api/v1/releases",
        "/api/v1/audit",
        "/api/v1/partners/{nation}/view/vessels",
    ):
        assert path in paths
        responses = paths[path]["get"]["responses"]
        assert {"200", "400", "401"} <= set(responses)


def _shape(path: str) -> str:
    """A route with its parameters blanked (``/vessels/{mmsi}`` -> ``/vessels/{}``)."""
    return re.sub(r"\{[^}]+\}", "{}", path)


def test_every_route_of_the_spec_is_in_the_api_docs(world: ApiWorld) -> None:
    documented = _shape((Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text())
    paths = world.client.get("/openapi.json").json()["paths"]
    ours = [path for path in paths if path.startswith(("/api/", "/health"))]
    missing = [path for path in ours if _shape(path) not in documented]
    assert not missing, f"routes missing from docs/api.md: {missing}"
