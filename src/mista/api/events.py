"""The live event hub: one poller reads what is new in the store and fans it out.

Every ``poll_interval_s`` ONE thread reads the reports after its cursor
(``store.report_feed``) and the alert changes after its alert cursor
(``store.alert_changes_after``) under the node's store lock, turns them into events (each
encoded once as a Server-Sent Events frame) and hands each subscriber the events whose
label that subscriber's user may see (``mista.labels.may_see``, decided once per label per
batch). However many subscribers there are, the store is read once per interval.

Each subscriber has a bounded queue (``max_events``). A subscriber that falls that far
behind is dropped, not waited for: its queue is emptied, it is told so once (``dropped``),
and the others go on. Memory stays bounded and one slow reader never slows the rest.

Subscribers are the API's stream readers (``GET /api/v1/stream``, one per connection),
the CoT sender (as its configured user) and the webhook sender (as the node itself,
``viewer=None``: it sees every alert and decides per watch-list owner).
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import pyarrow as pa
import pyarrow.compute as pc

from mista.api.formats import json_objects
from mista.labels import Label, may_see
from mista.model import Alert, User

if TYPE_CHECKING:
    from mista.api.context import ApiContext

__all__ = [
    "ALERT",
    "KINDS",
    "POSITION",
    "EventHub",
    "HubStats",
    "LiveEvent",
    "Stoppable",
    "Subscription",
    "alert_json",
    "iso_time",
    "position_events",
    "sse_frame",
    "start_live",
]

POSITION = "position"
ALERT = "alert"
KINDS = frozenset({POSITION, ALERT})
#: The feed columns a position event carries (with ``label``, the marking).
_POSITION_FIELDS = (
    "mmsi",
    "lat",
    "lon",
    "speed_kn",
    "course_deg",
    "observed_at",
    "source_kind",
)
_EMPTY_FEED = pa.table({"seq": pa.array([], pa.int64()), "label_no": pa.array([], pa.int32())})
_log = logging.getLogger("mista.api.events")


class Stoppable(Protocol):
    """A background part the app stops on shutdown."""

    def stop(self) -> None: ...


def iso_time(moment: datetime | None) -> str | None:
    """``moment`` as ISO 8601 UTC with ``Z`` (``2024-03-01T10:00:00Z``; microseconds
    only when there are some)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _number(value: Any) -> Any:
    # JSON has no NaN: an unknown measurement is null.
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def sse_frame(kind: str, data: Mapping[str, Any]) -> bytes:
    """One Server-Sent Events frame: ``event: KIND`` and one ``data:`` line of JSON."""
    return _frame(kind, _json(data))


def _json(data: Mapping[str, Any]) -> str:
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def _frame(kind: str, text: str) -> bytes:
    # JSON text holds no line break (they are escaped), so it is one ``data:`` line.
    return f"event: {kind}\ndata: {text}\n\n".encode()


@dataclass(frozen=True, slots=True)
class LiveEvent:
    """A new position or alert revision: its label, its JSON object as text and its SSE
    frame (both made once, shared by every subscriber). ``alert`` is set for alerts."""

    kind: str
    label: Label
    text: str
    frame: bytes
    alert: Alert | None = None

    @property
    def data(self) -> dict[str, Any]:
        """The JSON object (parsed anew at each call: most readers only need ``frame``)."""
        value: dict[str, Any] = json.loads(self.text)
        return value

    @classmethod
    def of(
        cls, kind: str, label: Label, data: Mapping[str, Any], alert: Alert | None = None
    ) -> LiveEvent:
        text = _json(data)
        return cls(kind, label, text, _frame(kind, text), alert)


def alert_json(alert: Alert, revision: int) -> dict[str, Any]:
    """An alert as the API's ALERT object (evidence as an object, label as its marking)."""
    try:
        evidence = json.loads(alert.evidence)
    except ValueError:
        evidence = {"text": alert.evidence}
    if not isinstance(evidence, dict):
        evidence = {"value": evidence}
    return {
        "id": alert.id,
        "kind": alert.kind,
        "status": alert.status.value,
        "start": iso_time(alert.start),
        "end": iso_time(alert.end),
        "lat": _number(alert.lat),
        "lon": _number(alert.lon),
        "mmsis": list(alert.mmsis),
        "tracks": list(alert.tracks),
        "evidence": evidence,
        "revision": revision,
        "label": alert.label.to_marking(),
    }


def position_events(feed: pa.Table, labels: Mapping[int, Label]) -> list[LiveEvent]:
    """Position events of the feed's reports that have a position, in seq order.
    Reports under a label number not in ``labels`` are left out (no label, no reader).

    The JSON texts are built column by column with Arrow (``formats.json_objects``, as
    the data routes build theirs): a busy feed brings tens of thousands of rows a poll.
    """
    if feed.num_rows == 0 or not labels:
        return []
    numbers = pa.array(sorted(labels), pa.int32())
    placed = pc.and_(pc.is_finite(feed.column("lat")), pc.is_finite(feed.column("lon")))
    labelled = pc.is_in(feed.column("label_no"), value_set=numbers)
    rows = feed.filter(pc.and_(pc.fill_null(placed, False), labelled))
    if rows.num_rows == 0:
        return []
    markings = pa.array([labels[number].to_marking() for number in numbers.to_pylist()])
    at = pc.index_in(rows.column("label_no"), value_set=numbers)
    table = rows.select(list(_POSITION_FIELDS)).append_column("label", pc.take(markings, at))
    texts = json_objects(table).to_pylist()
    row_labels = [labels[number] for number in rows.column("label_no").to_pylist()]
    return [
        LiveEvent(POSITION, label, text, _frame(POSITION, text))
        for label, text in zip(row_labels, texts, strict=True)
    ]


class Subscription:
    """One reader's queue of events, filled by the hub's poller and emptied by the reader.

    ``viewer`` None is the node itself (every label). ``wake`` is called (from the poller
    thread) whenever events arrive or the subscription ends; thread readers can instead
    ``wait``. A reader takes everything queued with ``take``; once ``dropped`` (it fell
    ``max_events`` behind) or ``closed`` (the hub stopped), nothing more comes.
    """

    def __init__(
        self,
        viewer: User | None,
        *,
        kinds: frozenset[str] = KINDS,
        max_events: int = 10_000,
        wake: Callable[[], None] | None = None,
    ) -> None:
        self.viewer = viewer
        self.kinds = kinds
        self.max_events = max_events
        self._wake = wake
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self._queued: list[LiveEvent] = []
        self._dropped = False
        self._closed = False
        #: Whether the viewer may see a label, by label (read by the poller thread only).
        self._visible: dict[Label, bool] = {}

    @property
    def dropped(self) -> bool:
        """True once the reader fell too far behind and was cut off."""
        return self._dropped

    @property
    def closed(self) -> bool:
        """True once the hub stopped or the reader unsubscribed."""
        return self._closed

    def may_see(self, label: Label) -> bool:
        if self.viewer is None:
            return True
        seen = self._visible.get(label)
        if seen is None:
            seen = self._visible[label] = may_see(label, self.viewer.nation, self.viewer.clearance)
        return seen

    def offer(self, events: Sequence[LiveEvent]) -> None:
        """Queue ``events`` (already filtered for this reader); drop the reader instead
        when that would put more than ``max_events`` in its queue."""
        if not events:
            return
        with self._lock:
            if self._dropped or self._closed:
                return
            if len(self._queued) + len(events) > self.max_events:
                self._dropped = True
                self._queued = []
            else:
                self._queued.extend(events)
        self._signal()

    @property
    def queued(self) -> int:
        """How many events wait for the reader."""
        with self._lock:
            return len(self._queued)

    def close(self) -> None:
        with self._lock:
            self._closed = True
        self._signal()

    def _signal(self) -> None:
        self._ready.set()
        if self._wake is not None:
            try:
                self._wake()
            except RuntimeError:  # the reader's event loop is gone: nobody reads any more
                with self._lock:
                    self._closed = True

    def take(self) -> list[LiveEvent]:
        """Everything queued, oldest first (empty when nothing is)."""
        with self._lock:
            events, self._queued = self._queued, []
            self._ready.clear()
        return events

    def wait(self, timeout_s: float) -> bool:
        """Block until events arrive or the subscription ends (or ``timeout_s``)."""
        return self._ready.wait(timeout_s)

    def pending(self) -> int:
        with self._lock:
            return len(self._queued)


@dataclass(frozen=True, slots=True)
class HubStats:
    """What the hub has done since it started."""

    polls: int
    events: int
    subscribers: int
    dropped: int
    report_seq: int
    alert_seq: int


class EventHub:
    """Reads new reports and alert changes once per interval and fans them out.

    ``start`` begins after what the store holds then (only what comes next is live);
    ``stop`` ends the poller and closes every subscription. ``poll_once`` is one round,
    for tests and benchmarks that drive the hub themselves.
    """

    def __init__(
        self,
        ctx: ApiContext,
        *,
        poll_interval_s: float = 0.5,
        batch_rows: int = 2_500,
        max_events: int = 10_000,
        keepalive_s: float = 15.0,
    ) -> None:
        self.ctx = ctx
        self.poll_interval_s = poll_interval_s
        self.batch_rows = batch_rows
        self.max_events = max_events
        #: How often a stream reader gets ``: keep-alive`` when nothing else comes.
        self.keepalive_s = keepalive_s
        self._subscriptions: list[Subscription] = []
        self._subs_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._report_seq = 0
        self._alert_seq = 0
        self._labels: dict[int, Label] = {}
        self._polls = 0
        self._events = 0
        self._dropped = 0

    # -- subscribers ----------------------------------------------------------------------

    def subscribe(
        self,
        viewer: User | None,
        *,
        kinds: frozenset[str] = KINDS,
        max_events: int | None = None,
        wake: Callable[[], None] | None = None,
    ) -> Subscription:
        """A new subscription for ``viewer`` (None: the node itself, every label) to
        events of ``kinds`` from the next poll on."""
        subscription = Subscription(
            viewer,
            kinds=kinds,
            max_events=self.max_events if max_events is None else max_events,
            wake=wake,
        )
        with self._subs_lock:
            self._subscriptions.append(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._subs_lock:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)
        subscription.close()

    @property
    def subscriber_count(self) -> int:
        with self._subs_lock:
            return len(self._subscriptions)

    def stats(self) -> HubStats:
        return HubStats(
            polls=self._polls,
            events=self._events,
            subscribers=self.subscriber_count,
            dropped=self._dropped,
            report_seq=self._report_seq,
            alert_seq=self._alert_seq,
        )

    # -- running --------------------------------------------------------------------------

    def start(self) -> None:
        """Start polling after what the store holds now."""
        if self._thread is not None:
            return
        with self.ctx.lock:
            self._report_seq, self._alert_seq = self.ctx.store.feed_ends()
            self._labels = self.ctx.store.labels()
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="mista-event-hub", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and close every subscription (stream readers then end)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._subs_lock:
            subscriptions, self._subscriptions = self._subscriptions, []
        for subscription in subscriptions:
            subscription.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                more = self.poll_once()
            except Exception:  # a failing poll must not end the stream for everyone
                _log.exception("live event poll failed; trying again")
                more = False
            if not more:
                self._stop.wait(self.poll_interval_s)
            else:
                self._let_readers_drain()

    def _let_readers_drain(self) -> None:
        """Before reading more of a burst, wait (at most one poll interval) until no reader
        has more than half its queue waiting: a burst larger than a queue (a file of 20,000
        reports arriving at once) is then not mistaken for a reader too slow to keep up."""
        deadline = time.monotonic() + self.poll_interval_s
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._subs_lock:
                subscriptions = list(self._subscriptions)
            if all(sub.queued <= sub.max_events // 2 for sub in subscriptions):
                return
            self._stop.wait(0.01)

    def poll_once(self) -> bool:
        """One round: read what is new, fan it out. True when a read was full (more is
        waiting, so the next round should not wait)."""
        self._polls += 1
        store = self.ctx.store
        with self._subs_lock:
            kinds = frozenset().union(*(sub.kinds for sub in self._subscriptions))
        with self.ctx.lock:
            if kinds != KINDS:
                # Skip ahead over what nobody would get instead of reading it.
                report_end, alert_end = store.feed_ends(self._report_seq, self._alert_seq)
                if POSITION not in kinds:
                    self._report_seq = report_end
                if ALERT not in kinds:
                    self._alert_seq = alert_end
            feed = (
                store.report_feed(self._report_seq, self.batch_rows)
                if POSITION in kinds
                else _EMPTY_FEED
            )
            changes = (
                store.alert_changes_after(self._alert_seq, self.batch_rows)
                if ALERT in kinds
                else []
            )
            revisions = store.alert_revisions([seq for seq, _ in changes])
            numbers = set(feed.column("label_no").to_pylist()) if feed.num_rows else set()
            if not numbers <= self._labels.keys():
                self._labels = store.labels()
        events = position_events(feed, self._labels)
        for seq, alert in changes:
            revision = revisions.get(seq, 0)
            events.append(LiveEvent.of(ALERT, alert.label, alert_json(alert, revision), alert))
        if feed.num_rows:
            self._report_seq = int(feed.column("seq")[-1].as_py())
        if changes:
            self._alert_seq = changes[-1][0]
        self.publish(events)
        return feed.num_rows >= self.batch_rows or len(changes) >= self.batch_rows

    def publish(self, events: Sequence[LiveEvent]) -> None:
        """Hand each subscriber the events of its kinds its viewer may see, in order."""
        if not events:
            return
        self._events += len(events)
        # Visibility is decided per distinct label (a few per batch), not per event.
        index: dict[Label, int] = {}
        keys = [index.setdefault(event.label, len(index)) for event in events]
        distinct = list(index)
        with self._subs_lock:
            subscriptions = list(self._subscriptions)
        for subscription in subscriptions:
            visible = [subscription.may_see(label) for label in distinct]
            wanted = _selection(events, keys, visible, subscription.kinds)
            was_dropped = subscription.dropped
            subscription.offer(wanted)
            if subscription.dropped and not was_dropped:
                self._dropped += 1
                _log.warning(
                    "live reader %s fell %d events behind and was dropped",
                    subscription.viewer.name if subscription.viewer else "(node)",
                    subscription.max_events,
                )
        # A dropped or closed reader gets nothing more: stop offering it events (its
        # reader still sees why, through its own reference).
        ended = [sub for sub in subscriptions if sub.dropped or sub.closed]
        if ended:
            with self._subs_lock:
                self._subscriptions = [
                    sub for sub in self._subscriptions if not (sub.dropped or sub.closed)
                ]


def _selection(
    events: Sequence[LiveEvent],
    keys: Sequence[int],
    visible: Sequence[bool],
    kinds: frozenset[str],
) -> Sequence[LiveEvent]:
    """The events of ``kinds`` whose label (by key) is visible, in order."""
    every_kind = kinds >= KINDS
    if every_kind and all(visible):
        return events  # the common case: the reader sees the whole batch, no copy
    if every_kind:
        return [event for event, key in zip(events, keys, strict=True) if visible[key]]
    return [
        event
        for event, key in zip(events, keys, strict=True)
        if visible[key] and event.kind in kinds
    ]


_start_lock = threading.Lock()


def start_live(ctx: ApiContext) -> list[Stoppable]:
    """Start the node's live parts over ``ctx`` and return them (stop them in reverse):
    the event hub (set as ``ctx.hub``), the webhook sender unless ``ctx.webhooks`` is off,
    and the CoT sender when ``ctx.cot`` is set. When ``ctx`` already has a running hub
    (the same app served on two listeners), nothing more is started and nothing is
    returned."""
    # Imported here: both senders build on this module's hub and events.
    from mista.api.cot import CotSender
    from mista.api.webhook import WebhookSender

    with _start_lock:
        if ctx.hub is not None:
            return []
        hub = EventHub(ctx)
        hub.start()
        ctx.hub = hub
    parts: list[Stoppable] = [_Clear(ctx, hub)]
    try:
        if ctx.webhooks:
            webhooks = WebhookSender(ctx, hub)
            webhooks.start()
            parts.append(webhooks)
        if ctx.cot is not None:
            cot = CotSender(ctx, hub, ctx.cot)
            cot.start()
            parts.append(cot)
    except BaseException:
        for part in reversed(parts):
            part.stop()
        raise
    return parts


class _Clear:
    """Stops the hub and takes it off the context (so a restarted app starts a new one)."""

    def __init__(self, ctx: ApiContext, hub: EventHub) -> None:
        self._ctx, self._hub = ctx, hub

    def stop(self) -> None:
        self._hub.stop()
        with _start_lock:
            if self._ctx.hub is self._hub:
                self._ctx.hub = None
