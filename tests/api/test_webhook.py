"""Webhooks, delivered to a real HTTP server on 127.0.0.1: alerts about watched vessels
that the list's owner may see, retried after a failure, at most once per alert revision."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from mista.api import events
from mista.api.events import ALERT, EventHub, LiveEvent, alert_json
from mista.api.webhook import WebhookSender
from mista.labels import Label
from mista.model import Alert
from tests.api.conftest import LABELS, ApiWorld, make_alert
from tests.api.hook import Hook

WATCHED = 419000001


@dataclass
class Live:
    """A hub and a webhook sender over a world's store, started."""

    world: ApiWorld
    hub: EventHub
    sender: WebhookSender

    def stop(self) -> None:
        self.sender.stop()
        self.hub.stop()

    def watch(self, user: str, url: str, mmsis: list[int]) -> str:
        body = {"name": f"{user} list", "mmsis": mmsis, "webhook": url}
        answer = self.world.client.post(
            "/api/v1/watchlists", json=body, headers=self.world.headers(user)
        )
        assert answer.status_code == 201, answer.text
        ident: str = answer.json()["id"]
        return ident

    def alert(self, ident: str, label: Label, **changes: Any) -> Alert:
        base = make_alert(ident, label, mmsis=(WATCHED,))
        alert = Alert(
            **{name: changes.get(name, getattr(base, name)) for name in Alert.__dataclass_fields__}
        )
        with self.world.ctx.lock:
            self.world.store.write_alerts([alert])
        return alert

    def deliveries(self) -> list[dict[str, Any]]:
        with self.world.ctx.lock:
            rows: list[dict[str, Any]] = self.world.store.webhook_deliveries().to_pylist()
        return rows

    def delivered(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The delivery records once ``count`` of them say delivered: the sender records
        an attempt after the hook has answered it, so a test that saw the POST arrive may
        look before the record is written."""
        deadline = time.monotonic() + timeout_s
        while True:
            rows = self.deliveries()
            done = sum(row["delivered_at"] is not None for row in rows)
            if done >= count or time.monotonic() > deadline:
                return rows
            time.sleep(0.02)


def start_live(world: ApiWorld, **options: Any) -> Live:
    hub = EventHub(world.ctx, poll_interval_s=0.05)
    settings = {"first_backoff_s": 0.1, "timeout_s": 5.0, **options}
    sender = WebhookSender(world.ctx, hub, **settings)
    hub.start()
    sender.start()
    return Live(world, hub, sender)


@pytest.fixture
def hook() -> Iterator[Hook]:
    running = Hook().start()
    yield running
    running.stop()


@pytest.fixture
def live(fresh_world: ApiWorld) -> Iterator[Live]:
    running = start_live(fresh_world)
    yield running
    running.stop()


def test_an_alert_on_a_watched_vessel_is_posted_again_after_a_500(live: Live, hook: Hook) -> None:
    hook.statuses = [500]
    list_id = live.watch("ind.analyst", hook.url, [WATCHED, 367000002])
    live.alert("loiter-1", LABELS["quad"])
    first, second = hook.wait(2)
    assert (first["status"], second["status"]) == (500, 200)
    assert first["body"] == second["body"]
    assert second["delivery"] == f"{list_id}/loiter-1/1"
    assert second["type"] == "application/json"
    assert second["path"] == "/hook"
    sent = second["body"]
    assert sent["watchlist"]["id"] == list_id
    assert sent["watchlist"]["mmsis"] == [WATCHED, 367000002]
    assert sent["alert"]["id"] == "loiter-1"
    assert sent["alert"]["revision"] == 1
    assert sent["alert"]["mmsis"] == [WATCHED]
    assert sent["alert"]["label"] == LABELS["quad"].to_marking()
    (record,) = live.delivered(1)
    assert record["attempts"] == 2
    assert record["delivered_at"] is not None
    assert record["last_error"] is None
    time.sleep(0.5)
    assert hook.count() == 2  # delivered: never again


def test_no_alert_goes_to_an_owner_who_may_not_see_it(live: Live, hook: Hook) -> None:
    analyst = live.watch("ind.analyst", hook.url + "/ind", [WATCHED])
    liaison = live.watch("usa.liaison", hook.url + "/usa", [WATCHED])
    live.watch("jpn.analyst", hook.url + "/elsewhere", [123456789])  # not involved
    live.alert("secret-1", LABELS["ind-only"])
    live.alert("conf-1", LABELS["ind-usa-conf"])
    live.alert("shared-1", LABELS["quad"])
    received = hook.wait(4)
    time.sleep(0.5)
    assert hook.count() == 4
    sent = sorted((post["path"], post["body"]["alert"]["id"]) for post in received)
    assert sent == [
        ("/hook/ind", "conf-1"),
        ("/hook/ind", "secret-1"),
        ("/hook/ind", "shared-1"),
        ("/hook/usa", "shared-1"),
    ]
    by_list = {(row["watchlist_id"], row["alert_id"]) for row in live.deliveries()}
    assert (liaison, "secret-1") not in by_list
    assert (liaison, "conf-1") not in by_list
    assert (analyst, "secret-1") in by_list


def test_each_revision_is_delivered_at_most_once_even_across_a_restart(
    fresh_world: ApiWorld, hook: Hook
) -> None:
    live = start_live(fresh_world)
    try:
        list_id = live.watch("ind.analyst", hook.url, [WATCHED])
        first = live.alert("moving", LABELS["quad"])
        hook.wait(1)
        live.alert("moving", LABELS["quad"])  # unchanged: no new revision, nothing sent
    finally:
        live.stop()
    again = start_live(fresh_world)
    try:
        # The same revision offered again (as after a crash before the cursor moved) ...
        replay = alert_json(first, 1)
        again.hub.publish([LiveEvent.of(ALERT, first.label, replay, first)])
        # ... then a real change, which must be the only new POST.
        again.alert("moving", LABELS["quad"], end=first.end + timedelta(hours=2))
        received = hook.wait(2)
        time.sleep(0.5)
    finally:
        again.stop()
    assert hook.count() == 2
    assert [post["delivery"] for post in received] == [f"{list_id}/moving/1", f"{list_id}/moving/2"]
    assert [row["attempts"] for row in again.deliveries()] == [1, 1]


def test_a_hook_that_keeps_failing_is_given_up_after_the_last_attempt(
    fresh_world: ApiWorld, hook: Hook
) -> None:
    hook.statuses = [500, 503, 500, 500]
    live = start_live(fresh_world, max_attempts=3)
    try:
        live.watch("ind.analyst", hook.url, [WATCHED])
        live.alert("failing", LABELS["quad"])
        hook.wait(3)
        deadline = time.monotonic() + 5
        while live.sender.failed == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
    finally:
        live.stop()
    assert hook.count() == 3
    (record,) = live.deliveries()
    assert record["attempts"] == 3
    assert record["delivered_at"] is None
    assert record["last_error"].startswith("HTTP 500")
    assert live.sender.failed == 1


def test_an_unreachable_hook_is_recorded_not_fatal(fresh_world: ApiWorld, hook: Hook) -> None:
    live = start_live(fresh_world, max_attempts=2)
    try:
        live.watch("ind.analyst", "http://127.0.0.1:9/nothing-listens", [WATCHED])
        reachable = live.watch("ind.analyst", hook.url, [WATCHED])
        live.alert("both", LABELS["quad"])
        (post,) = hook.wait(1)
        deadline = time.monotonic() + 5
        while live.sender.failed == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        live.stop()
    assert post["delivery"] == f"{reachable}/both/1"
    errors = [row["last_error"] for row in live.deliveries() if row["delivered_at"] is None]
    assert len(errors) == 1
    assert "Connect" in errors[0]


def test_a_slow_hook_does_not_hold_up_another_list(fresh_world: ApiWorld, hook: Hook) -> None:
    slow = Hook(delay_s=3.0).start()
    live = start_live(fresh_world)
    other = 367000002
    try:
        live.watch("ind.analyst", slow.url, [WATCHED])
        fast = live.watch("ind.analyst", hook.url, [other])
        live.alert("first", LABELS["quad"])
        slow.wait(1)  # the slow hook has its POST and sits on it...
        live.alert("second", LABELS["quad"], mmsis=(other,))
        (post,) = hook.wait(1)  # ...while the other list's alert, later, goes out
        with slow.lock:
            assert slow.answered == 0
        deadline = time.monotonic() + 10
        while live.sender.delivered < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert live.sender.delivered == 2
    finally:
        live.stop()
        slow.stop()
    assert post["delivery"] == f"{fast}/second/1"


def test_a_delivery_still_failing_when_the_sender_stopped_is_tried_again_at_start(
    fresh_world: ApiWorld, hook: Hook
) -> None:
    hook.statuses = [503]
    live = start_live(fresh_world, first_backoff_s=60.0)  # no retry before the stop
    try:
        list_id = live.watch("ind.analyst", hook.url, [WATCHED])
        live.alert("pending", LABELS["quad"])
        hook.wait(1)
    finally:
        live.stop()
    again = start_live(fresh_world)
    try:
        first, second = hook.wait(2)
        time.sleep(0.3)
    finally:
        again.stop()
    assert hook.count() == 2
    assert (first["status"], second["status"]) == (503, 200)
    assert second["delivery"] == f"{list_id}/pending/1"
    (record,) = again.deliveries()
    assert record["attempts"] == 2
    assert record["delivered_at"] is not None


def test_only_a_process_that_may_send_webhooks_starts_a_sender(fresh_world: ApiWorld) -> None:
    ctx = fresh_world.ctx
    for allowed in (True, False):
        ctx.webhooks = allowed
        parts = events.start_live(ctx)
        try:
            assert ctx.hub is not None
            senders = [part for part in parts if isinstance(part, WebhookSender)]
            assert len(senders) == (1 if allowed else 0)
        finally:
            for part in reversed(parts):
                part.stop()
    assert ctx.hub is None
