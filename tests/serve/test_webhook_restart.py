"""Alert changes stored while a node is down reach its watch lists' webhooks when it starts:
each revision once, in the order stored, nothing delivered before the stop sent again.

A real ``mista serve`` is stopped and started; the alerts are written into its store
while it is down (as a fusion role or ``mista fuse`` would write them); the webhook is a
real HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from mista.labels import Level, parse_marking
from mista.model import Alert, AlertStatus, Role, User
from mista.node import add_user, open_store
from tests.api.hook import Hook
from tests.serve.nodes import Cluster, Node

WATCHED = 419_000_001
ELSEWHERE = 419_000_002
OWNER = User("watch", "IND", Level.SECRET, frozenset({Role.ANALYST}))
#: How long a started node is given to send something it should not have.
QUIET_S = 1.5


@pytest.fixture
def hook() -> Iterator[Hook]:
    running = Hook().start()
    yield running
    running.stop()


def _alert(
    ident: str,
    mmsi: int,
    *,
    status: AlertStatus = AlertStatus.OPEN,
    marking: str = "RESTRICTED",
) -> Alert:
    now = datetime.now(UTC)
    return Alert(
        id=ident,
        kind="loitering",
        status=status,
        start=now - timedelta(hours=2),
        end=now,
        lat=15.0,
        lon=72.0,
        label=parse_marking(f"{marking}//REL TO IND", "IND"),
        mmsis=(mmsi,),
    )


def _write_while_down(node: Node, alerts: list[Alert]) -> None:
    assert node.process is None or node.process.poll() is not None, "stop the node first"
    store = open_store(node.store)
    try:
        assert store.write_alerts(alerts) == len(alerts)
    finally:
        store.close()


def _run(cluster: Cluster, node: Node, hook: Hook, expected: int) -> list[str]:
    """Start the node, wait for ``expected`` POSTs in all, give it QUIET_S to send more,
    stop it; the deliveries (X-Mista-Delivery) of this run."""
    before = hook.count()
    cluster.start(node)
    received = hook.wait(expected)
    time.sleep(QUIET_S)
    assert cluster.stop(node) == 0, node.logs()
    assert hook.count() == expected, [post["delivery"] for post in hook.received]
    return [post["delivery"] for post in received[before:]]


def test_alerts_stored_while_the_node_was_down_are_posted_once_in_order(
    cluster: Cluster, hook: Hook
) -> None:
    ind = cluster.node("IND")
    add_user(ind.store, OWNER)
    store = open_store(ind.store)
    try:
        store.add_watchlist(
            "wl_restart",
            owner=OWNER.name,
            name="off Kochi",
            mmsis=[WATCHED],
            webhook=hook.url,
            now=datetime.now(UTC) - timedelta(seconds=1),
        )
    finally:
        store.close()

    # A list that never had a delivery: what was stored after it was made.
    first = _alert("loiter-a", WATCHED)
    _write_while_down(ind, [first, _alert("other-vessel", ELSEWHERE)])
    assert _run(cluster, ind, hook, 1) == ["wl_restart/loiter-a/1"]

    # After a delivery: what was stored after it, in order; a revision of the delivered
    # alert is new, the delivered revision is not sent again.
    _write_while_down(ind, [_alert("loiter-a", WATCHED, status=AlertStatus.CLOSED)])
    _write_while_down(ind, [_alert("loiter-b", WATCHED), _alert("gone-by", ELSEWHERE)])
    _write_while_down(ind, [_alert("loiter-c", WATCHED, marking="SECRET")])
    assert _run(cluster, ind, hook, 4) == [
        "wl_restart/loiter-a/2",
        "wl_restart/loiter-b/1",
        "wl_restart/loiter-c/1",
    ]
    bodies = [post["body"]["alert"] for post in hook.received]
    assert [(alert["id"], alert["revision"]) for alert in bodies][-3:] == [
        ("loiter-a", 2),
        ("loiter-b", 1),
        ("loiter-c", 1),
    ]
    assert [alert["status"] for alert in bodies[:2]] == ["open", "closed"]

    # Started again with nothing new: nothing is sent.
    assert _run(cluster, ind, hook, 4) == []
    assert "webhooks: 3 alert revision(s) stored while no sender ran" in ind.logs()
    store = open_store(ind.store)
    try:
        rows = store.webhook_deliveries().to_pylist()
    finally:
        store.close()
    assert [(row["alert_id"], row["revision"], row["attempts"]) for row in rows] == [
        ("loiter-a", 1, 1),
        ("loiter-a", 2, 1),
        ("loiter-b", 1, 1),
        ("loiter-c", 1, 1),
    ]
    assert all(row["delivered_at"] is not None for row in rows)
