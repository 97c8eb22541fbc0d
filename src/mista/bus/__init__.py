"""The message bus between workers: ``Bus`` protocol; ``InProcessBus`` is the embedded one.

Ingest publishes batches on a topic; the store writer consumes them. ``publish`` returns
once the message is durable (DESIGN.md rule 2): with ``InProcessBus`` once every subscriber
has handled it; with ``mista.bus.jetstream.JetStreamBus`` once the stream has stored it,
store writers in other processes committing it later and acknowledging it only after the
commit (``docs/bus.md``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, TypeVar

__all__ = ["INGEST_TOPIC", "Bus"]

M = TypeVar("M")

#: The topic ingest publishes ``IngestBatch`` messages on.
INGEST_TOPIC = "ingest.batches"


class Bus(Protocol[M]):
    """Topic-based publish/subscribe for messages of one type."""

    def subscribe(self, topic: str, handler: Callable[[M], None]) -> None:
        """Call ``handler`` with every message later published on ``topic``."""
        ...

    def publish(self, topic: str, message: M) -> None:
        """Deliver ``message``; returns once it is durable (handled by every subscriber
        in process, or stored by the stream)."""
        ...

    def close(self) -> None: ...
