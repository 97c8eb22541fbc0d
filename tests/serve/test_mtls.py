"""Who may talk to a running node: only pinned partners, each only as itself.

Refusals at the TLS layer never reach the app (nothing to audit: the handshake fails);
refusals of a batch that arrives over an accepted connection are audited as ``reject``.
"""

from __future__ import annotations

import ssl
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mista.share.keys import client_ssl_context, init_keys
from mista.wire.batch import Batch, new_nonce, seal
from tests.serve.nodes import Cluster, Node


def _post(client: httpx.Client, node: Node, data: bytes) -> httpx.Response:
    return client.post(f"{node.endpoint}/v1/exchange/batches", content=data)


def _batch(sender: str, receiver: str, seq: int) -> Batch:
    return Batch(sender, receiver, seq, datetime.now(UTC), new_nonce(), ())


def _rejections(node: Node) -> list[str]:
    return [
        str(entry.get("detail", {}).get("reason"))
        for entry in node.audit_entries()
        if entry.get("kind") == "reject"
    ]


def test_only_pinned_partners_sending_as_themselves_are_accepted(
    cluster: Cluster, tmp_path: Path
) -> None:
    ind, usa, jpn = cluster.node("IND"), cluster.node("USA"), cluster.node("JPN")
    cluster.pin(ind, usa)
    cluster.pin(ind, jpn)
    cluster.start(ind)
    url = f"{ind.endpoint}/health"

    # No client certificate: TLS 1.3 refuses after the handshake, before any HTTP.
    no_cert = ssl.create_default_context(cafile=str(ind.certificate))
    with httpx.Client(verify=no_cert, trust_env=False) as client, pytest.raises(httpx.HTTPError):
        client.get(url)

    # A certificate from an unknown authority, even one claiming to be USA.
    rogue = init_keys(tmp_path / "rogue", "USA")
    with (
        httpx.Client(verify=client_ssl_context(rogue, ind.certificate), trust_env=False) as client,
        pytest.raises(httpx.HTTPError),
    ):
        _post(client, ind, seal(_batch("USA", "IND", 0), rogue.signing_key))
    assert _rejections(ind) == [], "TLS refusals never reach the app"

    # USA's own certificate and key: accepted (the control that makes the refusals count).
    with httpx.Client(
        verify=client_ssl_context(usa.identity, ind.certificate), trust_env=False
    ) as as_usa:
        sealed = seal(_batch("USA", "IND", 0), usa.identity.signing_key)
        answer = _post(as_usa, ind, sealed)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        # A partner learns the node is up, not what it exchanges with others.
        assert as_usa.get(f"{ind.endpoint}/health").json() == {"status": "ok", "nation": "IND"}
        # The same bytes again are a replay.
        replay = _post(as_usa, ind, sealed)
        assert replay.status_code == 409
        assert replay.json()["reason"] == "replay"
        # USA's certificate used to send a batch signed by JPN (a pinned partner's key).
        as_jpn = seal(_batch("JPN", "IND", 0), jpn.identity.signing_key)
        answer = _post(as_usa, ind, as_jpn)
        assert answer.status_code == 403
        assert answer.json()["reason"] == "wrong-sender"
        # A batch signed with the rogue key in USA's name does not verify.
        forged = seal(_batch("USA", "IND", 1), rogue.signing_key)
        answer = _post(as_usa, ind, forged)
        assert answer.status_code == 401
        assert answer.json()["reason"] == "bad-signature"

    # The node's own certificate opens /health, but it is no partner to take batches from.
    with ind.client() as own:
        answer = _post(own, ind, seal(_batch("USA", "IND", 2), usa.identity.signing_key))
        assert answer.status_code == 403
        assert answer.json()["reason"] == "unknown-peer"

    health = ind.health()
    assert health["received"] == {"USA": 0}
    assert health["refused"] == {"USA": 3, "IND": 1}
    assert cluster.stop(ind) == 0, ind.logs()
    assert sorted(_rejections(ind)) == sorted(
        ["replay", "wrong-sender", "bad-signature", "unknown-peer"]
    )
