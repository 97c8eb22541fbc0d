"""Every vessel's latest position as each class of reader may see it, kept until the store
moves on.

The vessel list is the answer a map asks for most and the largest: recomputing it per
request (a store query, then JSON, then gzip) is most of what 50 analysts cost a node.
What a reader may see depends only on their nation and clearance (DESIGN.md rule 1), and
the latest state changes only when reports are stored, each with a new ``seq``. So one
answer per (nation, clearance) stays right until the store's last report seq passes the one
it was made at; that check (``Store.feed_ends`` from the known end) is a look at the newest
rows only. The first reader of a class after a change makes its answer; readers of the
same class arriving meanwhile wait for it instead of repeating the work.
"""

from __future__ import annotations

import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from mista.labels import Level
from mista.model import User
from mista.store import Store

__all__ = ["GZIP_LEVEL", "LatestVessels", "VesselCache"]

#: gzip level of the answers kept compressed (level 3 is close to 9 in size on this JSON,
#: at a fraction of the time).
GZIP_LEVEL = 3
#: Reader classes kept at once; a node has a handful (its own nation and its liaisons).
_MAX_CLASSES = 64


def placed_vessels(table: pa.Table) -> pa.Table:
    """The vessels of ``table`` with a position, and so a label: a vessel the caller knows
    only by identity (no position they may see) has no label to show, and every answer
    carries the label of each record."""
    return table.filter(pc.fill_null(pc.is_valid(table.column("label")), False))


@dataclass
class LatestVessels:
    """One reader class's vessels with a position, as of report ``seq``, and the answers
    already made from them (by name, e.g. ``json`` or ``json.gz``)."""

    seq: int
    table: pa.Table
    _answers: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, name: str, make: Callable[[pa.Table], bytes], *, gzipped: bool) -> bytes:
        """The answer ``make(table)`` (gzip-compressed when ``gzipped``), made once."""
        key = f"{name}.gz" if gzipped else name
        with self._lock:
            body = self._answers.get(key)
            if body is None:
                body = self._answers.get(name)
                if body is None:
                    body = self._answers[name] = make(self.table)
                if gzipped:
                    body = self._answers[key] = gzip.compress(body, GZIP_LEVEL, mtime=0)
            return body


class VesselCache:
    """``LatestVessels`` per (nation, clearance), renewed when the store has new reports."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[str, Level], LatestVessels] = OrderedDict()
        self._making: dict[tuple[str, Level], threading.Lock] = {}

    def vessels(self, store: Store, user: User) -> LatestVessels:
        """``user``'s class's vessels as of the store's last report (call inside
        ``store.reading()``)."""
        key = (user.nation, user.clearance)
        with self._lock:
            known = self._entries.get(key)
            making = self._making.setdefault(key, threading.Lock())
        if known is not None and store.feed_ends(known.seq)[0] == known.seq:
            return known
        with making:  # one reader of the class makes it; the others wait and take it
            with self._lock:
                latest = self._entries.get(key)
            seq = store.feed_ends(latest.seq if latest is not None else 0)[0]
            if latest is not None and latest.seq == seq:
                return latest
            # The table is read after the seq: it holds at least what that seq covers, so
            # a write in between is at worst answered early, never missed at the next check.
            latest = LatestVessels(seq, placed_vessels(store.vessels(viewer=user)))
            with self._lock:
                self._entries[key] = latest
                self._entries.move_to_end(key)
                while len(self._entries) > _MAX_CLASSES:
                    dropped, _ = self._entries.popitem(last=False)
                    self._making.pop(dropped, None)
            return latest
