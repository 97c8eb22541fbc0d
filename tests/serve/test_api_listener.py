"""A node with ``[api] listen`` serves its users over plain HTTP beside the partner
listener: /health and the spec without a token, everything else only with one, and each
user sees exactly what their nation and clearance allow — with the node ingesting."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta

import httpx

from mista.labels import Level
from mista.model import Role, User
from mista.node import add_user, issue_token
from tests.serve.nodes import Cluster, free_port, nmea_position, wait_until, write_spool

OBSERVED = datetime.now(UTC) - timedelta(minutes=5)


def test_users_reach_the_node_by_token_and_see_only_their_share(cluster: Cluster) -> None:
    ind = cluster.node("IND", fuse_s=0.2)
    api_port = free_port()
    toml = (ind.path / "node.toml").read_text()
    toml = toml.replace('# listen = "127.0.0.1:8080"', f'listen = "127.0.0.1:{api_port}"')
    (ind.path / "node.toml").write_text(toml)
    own = cluster.spool_source(ind, "own-radar-net", "CONFIDENTIAL//REL TO IND")
    shared = cluster.spool_source(ind, "shared-shore", "RESTRICTED//REL TO IND,USA")
    add_user(ind.store, User("watch", "IND", Level.SECRET, frozenset({Role.ADMIN})))
    add_user(ind.store, User("usa-lo", "USA", Level.RESTRICTED, frozenset({Role.LIAISON})))
    watch = issue_token(ind.store, "watch")
    liaison = issue_token(ind.store, "usa-lo")
    cluster.start(ind)

    base = f"http://127.0.0.1:{api_port}"
    with httpx.Client(base_url=base, timeout=10, trust_env=False) as http:
        assert http.get("/health").json() == {"status": "ok", "nation": "IND"}
        assert http.get("/openapi.json").json()["info"]["title"] == "mista node"
        refused = http.get("/api/v1/vessels")
        assert refused.status_code == 401
        assert refused.json()["error"]["code"] == "unauthenticated"

        write_spool(own, "own.nmea", [nmea_position(419_000_001, 15.0, 72.0, OBSERVED)])
        write_spool(shared, "shared.nmea", [nmea_position(419_000_002, 15.5, 72.5, OBSERVED)])

        def vessels(token: str) -> set[int]:
            answer = http.get("/api/v1/vessels", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200, answer.text
            return {row["mmsi"] for row in answer.json()["vessels"]}

        wait_until(lambda: len(vessels(watch)) == 2, 20, "both vessels stored", ind)
        assert vessels(liaison) == {419_000_002}
        hidden = http.get(
            "/api/v1/vessels/419000001", headers={"Authorization": f"Bearer {liaison}"}
        )
        missing = http.get(
            "/api/v1/vessels/419000009", headers={"Authorization": f"Bearer {liaison}"}
        )
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error"]["code"] == missing.json()["error"]["code"] == "not-found"
    assert cluster.stop(ind) == 0


def test_a_cot_user_the_node_does_not_know_stops_it_at_start(cluster: Cluster) -> None:
    ind = cluster.node("IND")
    toml = (ind.path / "node.toml").read_text()
    toml = toml.replace('# cot = "udp', 'cot = "udp').replace(
        '# cot_user = "watch"', 'cot_user = "nobody"'
    )
    (ind.path / "node.toml").write_text(toml)
    run = subprocess.run(
        [sys.executable, "-m", "mista", "serve", str(ind.path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2, run.stderr
    assert "api.cot_user = 'nobody' is not a user of this node" in run.stderr
