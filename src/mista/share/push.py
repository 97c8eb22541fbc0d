"""Pushing batches to one partner over mutual TLS, with retries that never drop anything.

``PartnerLink`` POSTs one sealed batch to the partner's ``/v1/exchange/batches`` and says
whether the partner took it. ``push_loop`` drives one partner: it asks for the next batch,
POSTs it, and only on a 2xx acknowledges it (so the outbox rows are marked sent). Any
failure (partner down, timeout, refusal, 5xx) keeps the batch where it is and waits
``Backoff`` before trying again: exponential, capped, with jitter so partners that come
back are not hit by every node at once. Link status changes are logged as one line each.
"""

from __future__ import annotations

import logging
import random
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from mista.errors import PeerError

__all__ = [
    "BATCHES_PATH",
    "Backoff",
    "LinkDownError",
    "LinkStats",
    "PartnerLink",
    "PushResult",
    "push_loop",
]

BATCHES_PATH = "/v1/exchange/batches"
_log = logging.getLogger("mista.push")


@dataclass
class Backoff:
    """Exponential backoff with jitter: ``initial_s`` doubled per failure up to ``max_s``;
    each wait is drawn from [half, all] of that, so it never exceeds ``max_s``."""

    initial_s: float = 0.5
    max_s: float = 30.0
    failures: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def next_wait_s(self) -> float:
        ceiling = min(self.max_s, self.initial_s * (2 ** min(self.failures, 30)))
        self.failures += 1
        return float(ceiling * self.rng.uniform(0.5, 1.0))

    def reset(self) -> None:
        self.failures = 0


@dataclass(frozen=True, slots=True)
class PushResult:
    """The partner's answer to one batch."""

    status_code: int
    status: str
    reason: str
    stored: int

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300


class LinkDownError(PeerError):
    """The partner could not be reached. ``delivered`` is False when nothing was sent (the
    connection was refused or never made), so the very same bytes may be sent again."""

    def __init__(self, message: str, *, delivered: bool) -> None:
        super().__init__(message)
        self.delivered = delivered


class PartnerLink:
    """An HTTPS client for one partner, authenticated by this node's certificate."""

    def __init__(
        self, nation: str, endpoint: str, ssl_context: ssl.SSLContext, *, timeout_s: float = 10.0
    ) -> None:
        self.nation = nation
        self.url = endpoint.rstrip("/") + BATCHES_PATH
        self._client = httpx.Client(verify=ssl_context, timeout=timeout_s, trust_env=False)

    def post(self, data: bytes) -> PushResult:
        """POST one sealed batch; raises ``LinkDownError`` when the partner cannot be reached."""
        try:
            response = self._client.post(
                self.url, content=data, headers={"content-type": "application/json"}
            )
        except httpx.HTTPError as exc:
            raise LinkDownError(
                f"partner {self.nation} at {self.url}: {type(exc).__name__}: {exc or 'no answer'}",
                delivered=not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout),
            ) from None
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        return PushResult(
            response.status_code,
            str(body.get("status", "")),
            str(body.get("reason", response.reason_phrase)),
            int(body.get("stored", 0) or 0),
        )

    def close(self) -> None:
        self._client.close()


class Outgoing(Protocol):
    """What ``push_loop`` needs of a batch to send (``mista.share.exchange.Outgoing``)."""

    @property
    def seq(self) -> int: ...

    @property
    def data(self) -> bytes: ...

    @property
    def record_ids(self) -> Any: ...


@dataclass
class LinkStats:
    """Counters of one partner link (shown by ``/health`` and the status lines)."""

    batches: int = 0
    records: int = 0
    failures: int = 0
    up: bool | None = None
    last_error: str = ""
    last_ok_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "batches": self.batches,
            "records": self.records,
            "failures": self.failures,
            "last_error": self.last_error,
        }


def push_loop(
    link: PartnerLink,
    *,
    next_batch: Callable[[], Outgoing | None],
    acknowledge: Callable[[Outgoing], None],
    stop: threading.Event,
    wake: threading.Event,
    idle_s: float,
    backoff: Backoff,
    stats: LinkStats | None = None,
    resend_same_s: float = 60.0,
) -> None:
    """Push batches to one partner until ``stop`` is set.

    ``next_batch`` returns the next batch due (the same unacknowledged one again, freshly
    sealed, after a failure) or None; ``wake`` is set when new data may be due, else the
    loop looks again every ``idle_s``. A batch is acknowledged only after a 2xx answer.
    While the partner cannot even be connected to, the bytes already sealed are sent again
    as they are (for up to ``resend_same_s``): nothing reached the partner, so they are no
    replay, and the store is spared a re-seal per retry of a long outage.
    """
    stats = stats if stats is not None else LinkStats()
    undelivered: Outgoing | None = None
    undelivered_since = 0.0
    while not stop.is_set():
        if undelivered is not None and time.monotonic() - undelivered_since < resend_same_s:
            outgoing: Outgoing | None = undelivered
        else:
            undelivered = None
            try:
                outgoing = next_batch()
            except Exception as exc:  # a store or release error: log, wait, retry
                _log.exception("link %s: preparing a batch failed: %s", link.nation, exc)
                stop.wait(backoff.next_wait_s())
                continue
        if outgoing is None:
            wake.wait(idle_s)
            wake.clear()
            continue
        error = ""
        try:
            result = link.post(outgoing.data)
            if not result.ok:
                error = f"answered {result.status_code} {result.status}: {result.reason}"
                # The partner saw these bytes: sending them again would be a replay.
                undelivered = None
        except LinkDownError as exc:
            error = str(exc)
            if exc.delivered:
                undelivered = None  # they may have arrived: the next try re-seals
            elif undelivered is None:
                undelivered, undelivered_since = outgoing, time.monotonic()
        if error:
            stats.failures += 1
            wait_s = backoff.next_wait_s()
            if stats.up is not False or error != stats.last_error:
                _log.warning(
                    "link %s: down (%s); batch %d kept, retrying with backoff (now %.1f s)",
                    link.nation,
                    error,
                    outgoing.seq,
                    wait_s,
                )
            stats.up, stats.last_error = False, error
            stop.wait(wait_s)
            continue
        undelivered = None
        acknowledge(outgoing)
        count = len(outgoing.record_ids)
        stats.batches += 1
        stats.records += count
        stats.last_ok_at = time.time()
        if stats.up is not True:
            _log.warning(
                "link %s: up (batch %d, %d records accepted)", link.nation, outgoing.seq, count
            )
        stats.up, stats.last_error = True, ""
        backoff.reset()
