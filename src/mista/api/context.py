"""What every route works with: the node's store and lock, its agreements, zones and links.

One ``ApiContext`` per app (``app.state.ctx``). The store is the node's own, shared with its
ingest, fusion and exchange threads: every write to it happens inside ``with ctx.lock:``;
reads happen inside ``with ctx.reading():``, which lets them run beside each other and
beside writes (``Store.reading``), each seeing the last commit.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mista.api.latest import VesselCache
from mista.api.tokens import TokenCache
from mista.geo import Zones
from mista.share.agreements import Agreement
from mista.store import Store

if TYPE_CHECKING:
    from mista.api.cot import CotSettings
    from mista.api.events import EventHub

__all__ = ["ApiContext"]


def _now() -> datetime:
    return datetime.now(UTC)


def _no_links() -> Mapping[str, Any]:
    return {}


@dataclass
class ApiContext:
    """The node as the API sees it.

    ``partner_status()`` gives each partner's link state (nation -> stats dict);
    ``audit_path`` is the node's audit log (JSON lines); ``zones`` its labelled zone layer;
    ``cot`` where Cursor-on-Target goes (``mista.api.cot.CotSettings``, None = nowhere);
    ``hub`` the live event hub (``mista.api.events.EventHub``), made by ``create_api_app``;
    ``webhooks`` whether this process sends the watch lists' webhooks: one process per
    store should, and it must be able to record each delivery (not a read-only store).
    """

    nation: str
    store: Store
    lock: threading.RLock = field(default_factory=threading.RLock)
    agreements: Sequence[Agreement] = ()
    partner_status: Callable[[], Mapping[str, Any]] = _no_links
    audit_path: Path | None = None
    zones: Zones | None = None
    cot: CotSettings | None = None
    clock: Callable[[], datetime] = _now
    hub: EventHub | None = None
    webhooks: bool = True
    #: Tokens recently found in the store.
    tokens: TokenCache = field(default_factory=TokenCache)
    #: Each reader class's latest vessels, until the store has new reports.
    vessels: VesselCache = field(default_factory=VesselCache)

    def reading(self) -> AbstractContextManager[None]:
        """Where the store may be read from this thread, beside other readers and writers."""
        return self.store.reading()
