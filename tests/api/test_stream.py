"""The live stream: each reader gets exactly the new positions and alerts its user may see.

The hub's fan-out is held to ``may_see`` over random labels and users (a property), the
poller over a real store, and the whole route over a real uvicorn server on 127.0.0.1
read with httpx: a USA liaison officer (USA, RESTRICTED) never receives an IND-only
position or alert.
"""

from __future__ import annotations

import json
import queue
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.api.app import create_api_app
from mista.api.context import ApiContext
from mista.api.events import ALERT, KINDS, POSITION, EventHub, LiveEvent, Subscription
from mista.labels import Label, Level, may_see
from mista.model import Alert, AlertStatus, Role, User
from mista.store.embedded import DuckDBStore
from tests.api.conftest import (
    LABELS,
    USERS,
    ApiWorld,
    Position,
    add_reports,
    make_alert,
)
from tests.strategies import NATIONS, numbered_labels

LIAISON = USERS["usa.liaison"]
ANALYST = USERS["ind.analyst"]
#: Labels a USA officer cleared to RESTRICTED must never receive anything under.
HIDDEN_FROM_LIAISON = ("ind-only", "ind-usa-conf")


def event(kind: str, label: Label, number: int) -> LiveEvent:
    return LiveEvent.of(kind, label, {"n": number, "label": label.to_marking()})


# -- the fan-out, as a property --------------------------------------------------------------


@pytest.fixture(scope="module")
def idle_ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiContext]:
    """A context whose hub is driven by hand (``publish``): the store is never read."""
    with DuckDBStore(tmp_path_factory.mktemp("hub") / "store.duckdb") as store:
        yield ApiContext("IND", store)


viewers = st.builds(
    User,
    name=st.just("reader"),
    nation=st.sampled_from((*NATIONS, "BRA")),
    clearance=st.sampled_from(list(Level)),
    roles=st.just(frozenset()),
)
batches = st.lists(
    st.tuples(st.sampled_from(sorted(KINDS)), numbered_labels), min_size=1, max_size=60
)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    readers=st.lists(viewers, min_size=1, max_size=8),
    rounds=st.lists(batches, min_size=1, max_size=4),
    kinds=st.sampled_from([KINDS, frozenset({ALERT}), frozenset({POSITION})]),
)
def test_each_reader_gets_exactly_what_may_see_allows_in_order(
    idle_ctx: ApiContext,
    readers: list[User],
    rounds: list[list[tuple[str, Label]]],
    kinds: frozenset[str],
) -> None:
    hub = EventHub(idle_ctx)
    liaison = hub.subscribe(LIAISON)
    node = hub.subscribe(None, kinds=kinds)
    subscriptions = [hub.subscribe(reader) for reader in readers]
    published: list[LiveEvent] = []
    for batch in rounds:
        events = [event(kind, label, len(published) + at) for at, (kind, label) in enumerate(batch)]
        published.extend(events)
        hub.publish(events)
    for reader, subscription in zip(readers, subscriptions, strict=True):
        expected = [e for e in published if may_see(e.label, reader.nation, reader.clearance)]
        assert subscription.take() == expected
    assert node.take() == [e for e in published if e.kind in kinds]
    for got in liaison.take():
        assert "USA" in got.label.releasable_to
        assert got.label.level <= Level.RESTRICTED


def test_a_slow_reader_is_dropped_and_the_others_go_on(idle_ctx: ApiContext) -> None:
    hub = EventHub(idle_ctx, max_events=5)
    slow = hub.subscribe(ANALYST)
    fast = hub.subscribe(ANALYST)
    quad = LABELS["quad"]
    for number in range(4):
        hub.publish([event(POSITION, quad, number)])
        assert len(fast.take()) == 1
    assert slow.pending() == 4
    assert not slow.dropped
    hub.publish([event(POSITION, quad, 4), event(POSITION, quad, 5)])
    assert slow.dropped
    assert slow.take() == []  # its queue is let go, not kept growing
    assert [e.data["n"] for e in fast.take()] == [4, 5]
    hub.publish([event(POSITION, quad, 6)])
    assert slow.take() == []
    assert [e.data["n"] for e in fast.take()] == [6]
    assert hub.stats().dropped == 1
    assert hub.subscriber_count == 1  # the dropped reader is no longer offered anything


# -- the poller over a real store --------------------------------------------------------------


def wait_for(subscription: Subscription, count: int, timeout_s: float = 10.0) -> list[LiveEvent]:
    """Events until at least ``count`` came (or the timeout)."""
    got: list[LiveEvent] = []
    deadline = time.monotonic() + timeout_s
    while len(got) < count and time.monotonic() < deadline:
        subscription.wait(0.1)
        got.extend(subscription.take())
    return got


def write_mixed(world: ApiWorld, *, t_s: int = 0) -> None:
    """One position per fixture label, then an alert under each."""
    positions = [
        Position(400000000 + index, t_s, 10.0 + index, 65.0, LABELS[name], name=name.upper())
        for index, name in enumerate(LABELS)
    ]
    with world.ctx.lock:
        add_reports(world.store, positions)
        world.store.write_alerts(
            [make_alert(f"live-{name}-{t_s}", LABELS[name]) for name in LABELS]
        )


def test_the_poller_reads_new_reports_and_alert_revisions_once_for_every_reader(
    fresh_world: ApiWorld,
) -> None:
    write_mixed(fresh_world, t_s=0)  # before the hub starts: not live, never sent
    hub = EventHub(fresh_world.ctx, poll_interval_s=0.05)
    liaison, analyst = hub.subscribe(LIAISON), hub.subscribe(ANALYST)
    hub.start()
    try:
        write_mixed(fresh_world, t_s=60)
        every = wait_for(analyst, 2 * len(LABELS))
        seen = wait_for(liaison, 4, timeout_s=1.0)
        polls = hub.stats().polls
    finally:
        hub.stop()
    assert [e.kind for e in every] == [POSITION] * 4 + [ALERT] * 4
    assert {e.data["label"] for e in every} == {label.to_marking() for label in LABELS.values()}
    assert all(e.data.get("id", "").endswith("-60") for e in every if e.kind == ALERT)
    visible = {LABELS["quad"].to_marking(), LABELS["ind-usa"].to_marking()}
    assert [e.kind for e in seen] == [POSITION, POSITION, ALERT, ALERT]
    assert {e.data["label"] for e in seen} <= visible
    position = next(e.data for e in seen if e.kind == POSITION)
    assert set(position) == {
        "mmsi", "lat", "lon", "speed_kn", "course_deg", "observed_at", "source_kind", "label"
    }  # fmt: skip
    alert = next(e.data for e in seen if e.kind == ALERT)
    assert alert["revision"] == 1
    assert alert["evidence"]["radius_m"] == 500
    assert alert["start"] == "2024-03-01T00:00:00Z"
    assert polls < 400  # one poll per interval for everyone, not one per reader
    assert liaison.closed
    assert analyst.closed


def test_a_changed_alert_comes_again_with_its_next_revision(fresh_world: ApiWorld) -> None:
    hub = EventHub(fresh_world.ctx, poll_interval_s=0.05)
    reader = hub.subscribe(ANALYST)
    hub.start()
    try:
        first = make_alert("moving", LABELS["quad"])
        with fresh_world.ctx.lock:
            fresh_world.store.write_alerts([first])
        got = wait_for(reader, 1)
        later = Alert(**{**_fields(first), "end": first.end + timedelta(hours=1)})
        closed = Alert(**{**_fields(later), "status": AlertStatus.CLOSED})
        with fresh_world.ctx.lock:
            fresh_world.store.write_alerts([first])  # unchanged: no new revision
            fresh_world.store.write_alerts([later])
            fresh_world.store.write_alerts([closed])
        got += wait_for(reader, 2)
    finally:
        hub.stop()
    assert [(e.data["revision"], e.data["status"]) for e in got] == [
        (1, "open"),
        (2, "open"),
        (3, "closed"),
    ]


def _fields(alert: Alert) -> dict[str, Any]:
    return {name: getattr(alert, name) for name in Alert.__dataclass_fields__}


# -- the route, over a real server -------------------------------------------------------------


@dataclass
class Server:
    """The real app served by uvicorn on 127.0.0.1 (a free port), in a thread."""

    base_url: str
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()


def serve(ctx: ApiContext) -> Server:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    # Open streams last until the client goes: a shutdown waits for them at most 1 s.
    config = uvicorn.Config(
        create_api_app(ctx), log_level="warning", lifespan="on", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server stopped while starting"
        assert time.monotonic() < deadline, "the server did not start within 20 s"
        time.sleep(0.02)
    return Server(f"http://127.0.0.1:{port}", server, thread)


@pytest.fixture
def live(fresh_world: ApiWorld) -> Iterator[tuple[ApiWorld, Server]]:
    running = serve(fresh_world.ctx)
    try:
        assert fresh_world.ctx.hub is not None
        fresh_world.ctx.hub.poll_interval_s = 0.05
        fresh_world.ctx.hub.keepalive_s = 0.2
        yield fresh_world, running
    finally:
        while READERS:
            READERS.pop().close()
        running.stop()
    assert fresh_world.ctx.hub is None  # the app's shutdown stopped the live parts


#: Readers started by the running test, ended when its server stops.
READERS: list[StreamReader] = []


@dataclass
class StreamReader:
    """Reads ``/api/v1/stream`` as a user in a thread: SSE events and comments, in order."""

    url: str
    token: str
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    opened: threading.Event = field(default_factory=threading.Event)
    status: int | None = None
    thread: threading.Thread | None = None
    closing: threading.Event = field(default_factory=threading.Event)

    def start(self) -> StreamReader:
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()
        assert self.opened.wait(10), "the stream did not open"
        READERS.append(self)
        return self

    def close(self) -> None:
        """Hang up (as a browser tab that closes) and wait for the reading thread."""
        self.closing.set()  # the reader hangs up at the next line (keep-alives come often)
        assert self.thread is not None
        self.thread.join(timeout=20)
        assert not self.thread.is_alive()

    def ended(self, timeout_s: float = 10.0) -> bool:
        """Whether the server ends the stream within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if self.lines.get(timeout=0.1) == "! end":
                    return True
            except queue.Empty:
                continue
        return False

    def _read(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"}
        timeout = httpx.Timeout(10.0, read=20.0)
        try:
            with httpx.stream("GET", self.url, headers=headers, timeout=timeout) as response:
                self.status = response.status_code
                for line in response.iter_lines():
                    if self.closing.is_set():
                        break
                    self.lines.put(line)
                    self.opened.set()
        except httpx.HTTPError as exc:
            self.lines.put(f"! {exc}")
        finally:
            self.opened.set()
            self.lines.put("! end")

    def events(self, until: Any, timeout_s: float = 15.0) -> list[tuple[str, dict[str, Any]]]:
        """(event, data) until one for which ``until(event, data)`` is true, or the end."""
        got: list[tuple[str, dict[str, Any]]] = []
        name = ""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            if line.startswith("! "):
                return got
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                got.append((name, json.loads(line[len("data: ") :])))
                if until(*got[-1]):
                    return got
        raise AssertionError(f"no closing event within {timeout_s} s; got {got}")

    def comments(self, timeout_s: float) -> list[str]:
        seen = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.1)
            except queue.Empty:
                continue
            if line.startswith(":"):
                seen.append(line)
        return seen


def test_a_usa_liaison_officer_never_receives_an_ind_only_record_over_the_stream(
    live: tuple[ApiWorld, Server],
) -> None:
    world, server = live
    url = f"{server.base_url}/api/v1/stream"
    liaison = StreamReader(url, world.tokens["usa.liaison"]).start()
    analyst = StreamReader(url, world.tokens["ind.analyst"]).start()
    assert liaison.status == analyst.status == 200
    for round_s in (0, 60, 120):
        write_mixed(world, t_s=round_s)
    # The last alert change, under a label both may see, closes the run for both readers.
    closing = make_alert("closing", LABELS["quad"])
    with world.ctx.lock:
        world.store.write_alerts([closing])

    def is_closing(name: str, data: dict[str, Any]) -> bool:
        return name == "alert" and data["id"] == "closing"

    to_liaison = liaison.events(is_closing)
    to_analyst = analyst.events(is_closing)
    hidden = {LABELS[name].to_marking() for name in HIDDEN_FROM_LIAISON}
    assert len(to_analyst) == 3 * 2 * len(LABELS) + 1
    assert {data["label"] for _, data in to_analyst} >= hidden
    assert len(to_liaison) == 3 * 2 * 2 + 1
    for name, data in to_liaison:
        assert data["label"] not in hidden
        label = next(lab for lab in LABELS.values() if lab.to_marking() == data["label"])
        assert may_see(label, "USA", Level.RESTRICTED), (name, data)
    assert {name for name, _ in to_liaison} == {"position", "alert"}


def test_the_stream_keeps_alive_and_drops_a_reader_that_falls_behind(
    live: tuple[ApiWorld, Server],
) -> None:
    world, server = live
    hub = world.ctx.hub
    assert isinstance(hub, EventHub)
    reader = StreamReader(f"{server.base_url}/api/v1/stream", world.tokens["ind.analyst"]).start()
    assert ": keep-alive" in reader.comments(1.0)
    hub.max_events = 3  # for readers from now on
    behind = StreamReader(f"{server.base_url}/api/v1/stream", world.tokens["ind.analyst"]).start()
    write_mixed(world, t_s=0)  # 8 events in one poll: more than 3 at once
    got = behind.events(lambda name, data: name == "dropped")
    assert got[-1][0] == "dropped"
    assert got[-1][1]["reason"] == "too-slow"
    assert behind.ended()
    # The first reader, whose queue allows 10,000, got every event.
    assert len(reader.events(lambda name, data: data.get("id") == "live-ind-usa-conf-0")) == 8


def test_the_stream_needs_a_token_and_a_running_hub(tmp_path: Path, fresh_world: ApiWorld) -> None:
    answer = fresh_world.client.get("/api/v1/stream")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthenticated"
    # The test app runs without background work: no hub, no stream (and no hanging).
    answer = fresh_world.get("usa.liaison", "/stream")
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "not-found"


def test_start_live_starts_once_per_context(fresh_world: ApiWorld) -> None:
    from mista.api.events import start_live

    parts = start_live(fresh_world.ctx)
    try:
        assert isinstance(fresh_world.ctx.hub, EventHub)
        assert start_live(fresh_world.ctx) == []  # a second listener of the same app
    finally:
        for part in reversed(parts):
            part.stop()
    assert fresh_world.ctx.hub is None


def test_roles_never_widen_what_the_stream_carries(idle_ctx: ApiContext) -> None:
    hub = EventHub(idle_ctx)
    admin = User("usa.admin", "USA", Level.RESTRICTED, frozenset(Role))
    subscription = hub.subscribe(admin)
    hub.publish([event(POSITION, LABELS[name], n) for n, name in enumerate(LABELS)])
    assert {e.data["label"] for e in subscription.take()} == {
        LABELS["quad"].to_marking(),
        LABELS["ind-usa"].to_marking(),
    }


def test_a_burst_larger_than_a_queue_reaches_a_reader_that_keeps_up(
    fresh_world: ApiWorld,
) -> None:
    # A spool file of many reports lands at once: a reader draining its queue steadily
    # gets every one, though the burst is eight times its queue.
    hub = EventHub(fresh_world.ctx, poll_interval_s=0.5, batch_rows=50, max_events=100)
    reader = hub.subscribe(ANALYST)
    hub.start()
    try:
        burst = [
            Position(401_000_000 + i, i, 10.0 + i / 1000, 66.0, LABELS["quad"], name="BURST")
            for i in range(800)
        ]
        with fresh_world.ctx.lock:
            add_reports(fresh_world.store, burst)
        got: list[LiveEvent] = []
        deadline = time.monotonic() + 30
        while len(got) < 800 and not reader.dropped and time.monotonic() < deadline:
            time.sleep(0.1)  # a reader that drains steadily, not instantly
            got.extend(reader.take())
    finally:
        hub.stop()
    assert not reader.dropped
    assert len(got) == 800
