"""Webhooks: alerts about watched vessels, POSTed to the URL of each watch list.

The sender takes every new alert revision from the event hub (as the node itself, every
label) and, for each watch list with a webhook whose MMSIs the alert involves and whose
owner may see the alert's label (``mista.labels.may_see``, the owner as the store holds
them at send time), POSTs ``{"watchlist": {...}, "alert": ALERT}`` as JSON with the header
``X-Mista-Delivery: LIST/ALERT/REVISION``.

A delivery is done when the hook answers 2xx. Otherwise it is tried again after
``first_backoff_s``, doubling up to ``max_backoff_s``, at most ``max_attempts`` times.
Every attempt is recorded in the store (``webhook_deliveries``), and a revision that was
delivered is never POSTed again (at most once per alert revision). Redirects are not
followed. A sender that starts first queues what it is owed from before
(``mista.api.webhook_resume``: revisions stored while no sender ran, and earlier attempts
not given up), then what comes next.

Up to ``MAX_IN_FLIGHT`` POSTs run at once, each to a different watch list, so a hook that
hangs until the timeout delays only its own list; one list's deliveries go one at a time,
in the order they fell due (then in the order the alert changes were stored).
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from mista import __version__
from mista.api.events import ALERT, EventHub, LiveEvent, Subscription, alert_json
from mista.api.watch import Watchlist, watchlists_from_table
from mista.api.webhook_resume import owed_deliveries
from mista.labels import may_see
from mista.model import Alert

if TYPE_CHECKING:
    from mista.api.context import ApiContext

__all__ = ["MAX_IN_FLIGHT", "Delivery", "WebhookSender", "webhook_body"]

_log = logging.getLogger("mista.api.webhook")
#: POSTs in flight at once (to different watch lists).
MAX_IN_FLIGHT = 8
#: How often the sender looks again while POSTs are in flight (one may free a list).
_IN_FLIGHT_POLL_S = 0.05
#: How much of a failing hook's answer is kept as the error.
_ERROR_CHARS = 200


@dataclass(order=True)
class Delivery:
    """One alert revision for one watch list, due at ``due`` (monotonic seconds); of two
    due at once, the one queued first (``order``) goes first."""

    due: float
    order: int
    watchlist_id: str = field(compare=False)
    alert: Alert = field(compare=False)
    data: dict[str, Any] = field(compare=False)
    revision: int = field(compare=False)
    attempts: int = field(default=0, compare=False)

    @property
    def key(self) -> tuple[str, str, int]:
        return self.watchlist_id, self.alert.id, self.revision


def webhook_body(watchlist: Watchlist, alert: dict[str, Any]) -> bytes:
    """The JSON a hook receives."""
    return json.dumps({"watchlist": watchlist.to_json(), "alert": alert}).encode()


class WebhookSender:
    """POSTs alerts about watched vessels to their lists' webhooks (see the module)."""

    def __init__(
        self,
        ctx: ApiContext,
        hub: EventHub,
        *,
        timeout_s: float = 5.0,
        max_attempts: int = 5,
        first_backoff_s: float = 2.0,
        max_backoff_s: float = 300.0,
    ) -> None:
        self.ctx, self.hub = ctx, hub
        self.timeout_s = timeout_s
        self.max_attempts = max_attempts
        self.first_backoff_s = first_backoff_s
        self.max_backoff_s = max_backoff_s
        self.delivered = 0
        self.failed = 0
        # _due, _queued, _busy and the counters are shared with the POSTing threads.
        self._lock = threading.Lock()
        self._due: list[Delivery] = []
        self._queued: set[tuple[str, str, int]] = set()
        self._busy: set[str] = set()  # watch lists with a POST in flight
        self._order = itertools.count()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._subscription: Subscription | None = None
        self._resume_until = 0

    def start(self) -> None:
        self._subscription = self.hub.subscribe(None, kinds=frozenset({ALERT}))
        # Everything after the hub's cursor now comes through the subscription; up to it,
        # the store's records say what is owed (a revision heard both ways is queued once).
        self._resume_until = self.hub.stats().alert_seq
        self._thread = threading.Thread(target=self._run, name="mista-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._subscription is not None:
            self.hub.unsubscribe(self._subscription)
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def pending(self) -> int:
        """Deliveries waiting for their (next) attempt or in flight."""
        with self._lock:
            return len(self._due) + len(self._busy)

    def _run(self) -> None:
        assert self._subscription is not None
        with (
            httpx.Client(
                timeout=self.timeout_s,
                follow_redirects=False,
                headers={
                    "User-Agent": f"mista/{__version__}",
                    "Content-Type": "application/json",
                },
            ) as client,
            ThreadPoolExecutor(MAX_IN_FLIGHT, thread_name_prefix="mista-webhook") as posting,
        ):
            self._queue_owed()
            while not self._stop.is_set():
                self._subscription.wait(self._wait_s())
                try:
                    self._resubscribe_if_dropped()
                    self._plan(self._subscription.take())
                    while not self._stop.is_set() and (delivery := self._next_ready()):
                        posting.submit(self._attempt_in_flight, client, delivery)
                except Exception:  # e.g. a store opened read-only: log, keep serving
                    _log.exception("webhook delivery failed; going on with the next")

    def _queue_owed(self) -> None:
        """Queue what the lists are owed from before this sender started."""
        try:
            owed = owed_deliveries(
                self.ctx, until_seq=self._resume_until, max_attempts=self.max_attempts
            )
        except Exception as exc:  # e.g. a store opened read-only: say so, go on live
            _log.error("webhooks: could not read what was owed from before the start: %s", exc)
            return
        now = time.monotonic()
        for item in owed:
            self._queue(
                Delivery(
                    due=now,
                    order=next(self._order),
                    watchlist_id=item.watchlist_id,
                    alert=item.alert,
                    data=alert_json(item.alert, item.revision),
                    revision=item.revision,
                )
            )
        if owed:
            lists = len({item.watchlist_id for item in owed})
            _log.info(
                "webhooks: %d alert revision(s) stored while no sender ran are due to %d "
                "watch list(s)",
                len(owed),
                lists,
            )

    def _queue(self, delivery: Delivery) -> None:
        with self._lock:
            if delivery.key not in self._queued:
                self._queued.add(delivery.key)
                heapq.heappush(self._due, delivery)

    def _wait_s(self) -> float:
        with self._lock:
            wait_s = _IN_FLIGHT_POLL_S if self._busy else 1.0
            if self._due:
                wait_s = min(wait_s, max(0.0, self._due[0].due - time.monotonic()))
            return wait_s

    def _next_ready(self) -> Delivery | None:
        """The earliest due delivery whose list has no POST in flight (marked busy now)."""
        now = time.monotonic()
        held: list[Delivery] = []
        ready = None
        with self._lock:
            while self._due and self._due[0].due <= now and len(self._busy) < MAX_IN_FLIGHT:
                delivery = heapq.heappop(self._due)
                if delivery.watchlist_id in self._busy:
                    held.append(delivery)
                    continue
                self._busy.add(delivery.watchlist_id)
                ready = delivery
                break
            for delivery in held:
                heapq.heappush(self._due, delivery)
        return ready

    def _attempt_in_flight(self, client: httpx.Client, delivery: Delivery) -> None:
        try:
            self._attempt(client, delivery)
        except Exception:  # a POSTing thread must not die silently
            _log.exception("webhook delivery of %s failed", "/".join(map(str, delivery.key)))
        finally:
            with self._lock:
                self._busy.discard(delivery.watchlist_id)

    def _resubscribe_if_dropped(self) -> None:
        assert self._subscription is not None
        if self._subscription.dropped:
            _log.warning("webhooks fell behind the alerts: some alert revisions were skipped")
            self.hub.unsubscribe(self._subscription)
            self._subscription = self.hub.subscribe(None, kinds=frozenset({ALERT}))

    def _plan(self, events: list[LiveEvent]) -> None:
        """Queue a delivery per (watch list, alert revision) that should get one."""
        alerts = [event for event in events if event.alert is not None and event.alert.mmsis]
        if not alerts:
            return
        with self.ctx.lock:
            lists = watchlists_from_table(self.ctx.store.watchlists())
        hooked = [watchlist for watchlist in lists if watchlist.webhook]
        now = time.monotonic()
        for event in alerts:
            assert event.alert is not None
            involved = set(event.alert.mmsis)
            for watchlist in hooked:
                if involved.isdisjoint(watchlist.mmsis):
                    continue
                self._queue(
                    Delivery(
                        due=now,
                        order=next(self._order),
                        watchlist_id=watchlist.id,
                        alert=event.alert,
                        data=dict(event.data),
                        revision=int(event.data["revision"]),
                    )
                )

    def _current(self, delivery: Delivery) -> Watchlist | None:
        """The list as it stands, if it still should get this delivery: it exists, has
        a webhook, watches a vessel of the alert, its owner may see the alert, and this
        revision was not delivered yet."""
        store = self.ctx.store
        with self.ctx.lock:
            found = watchlists_from_table(store.watchlists(watchlist_id=delivery.watchlist_id))
            owner = store.user(found[0].owner) if found else None
            done = store.webhook_delivered(*delivery.key)
        if not found or owner is None or done:
            return None
        watchlist = found[0]
        if not watchlist.webhook or set(watchlist.mmsis).isdisjoint(delivery.alert.mmsis):
            return None
        if not may_see(delivery.alert.label, owner.nation, owner.clearance):
            return None
        return watchlist

    def _attempt(self, client: httpx.Client, delivery: Delivery) -> None:
        watchlist = self._current(delivery)
        if watchlist is None or watchlist.webhook is None:
            with self._lock:
                self._queued.discard(delivery.key)
            return
        error: str | None = None
        try:
            answer = client.post(
                watchlist.webhook,
                content=webhook_body(watchlist, delivery.data),
                headers={"X-Mista-Delivery": "/".join(map(str, delivery.key))},
            )
            if not answer.is_success:
                error = f"HTTP {answer.status_code}: {answer.text[:_ERROR_CHARS]}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:_ERROR_CHARS]
        delivered_at = self.ctx.clock() if error is None else None
        with self.ctx.lock:
            attempts = self.ctx.store.record_webhook_attempt(
                *delivery.key, delivered_at=delivered_at, error=error
            )
        if error is None:
            with self._lock:
                self.delivered += 1
                self._queued.discard(delivery.key)
            return
        if attempts >= self.max_attempts:
            with self._lock:
                self.failed += 1
                self._queued.discard(delivery.key)
            _log.warning(
                "webhook of watch list %s gave up on alert %s revision %d after %d attempts: %s",
                *delivery.key,
                attempts,
                error,
            )
            return
        backoff = min(self.max_backoff_s, self.first_backoff_s * 2 ** (attempts - 1))
        delivery.attempts = attempts
        delivery.due = time.monotonic() + backoff
        with self._lock:
            heapq.heappush(self._due, delivery)
