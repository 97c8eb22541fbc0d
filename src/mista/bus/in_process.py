"""``InProcessBus``: delivery by direct call, in the publisher's thread, in order.

Minimal and real: a subscriber's exception reaches the publisher, so a batch that could
not be stored stops ingest instead of being lost silently.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import Generic, TypeVar

__all__ = ["InProcessBus"]

M = TypeVar("M")


class InProcessBus(Generic[M]):
    """Publish/subscribe within one process."""

    def __init__(self) -> None:
        self._handlers: defaultdict[str, list[Callable[[M], None]]] = defaultdict(list)
        self._closed = False

    def subscribe(self, topic: str, handler: Callable[[M], None]) -> None:
        self._handlers[topic].append(handler)

    def publish(self, topic: str, message: M) -> None:
        if self._closed:
            raise RuntimeError("publish on a closed bus")
        for handler in self._handlers.get(topic, ()):
            handler(message)

    def close(self) -> None:
        self._closed = True
        self._handlers.clear()
