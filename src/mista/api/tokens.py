"""Tokens recently found in the store, so a request does not cost a store query to know
its caller (``mista.api.auth``)."""

from __future__ import annotations

import threading
import time

from mista.model import User

__all__ = ["TOKEN_CACHE_S", "TokenCache"]


#: Seconds a token looked up in the store is trusted without asking the store again.
TOKEN_CACHE_S = 5.0


class TokenCache:
    """Token hashes recently found in the store, with the user each maps to."""

    def __init__(self, ttl_s: float = TOKEN_CACHE_S, max_entries: int = 4096) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, User]] = {}
        self._lock = threading.Lock()

    def get(self, digest: str) -> User | None:
        with self._lock:
            entry = self._entries.get(digest)
            if entry is None or entry[0] < time.monotonic():
                return None
            return entry[1]

    def put(self, digest: str, user: User) -> None:
        with self._lock:
            if len(self._entries) >= self.max_entries:
                now = time.monotonic()
                self._entries = {k: v for k, v in self._entries.items() if v[0] >= now}
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
            self._entries[digest] = (time.monotonic() + self.ttl_s, user)
