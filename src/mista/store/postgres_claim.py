"""One active fuser per PostgreSQL store; the others stand by and take over.

The fusion pipeline keeps one cursor and one memory per store, so two processes fusing
the same reports would state every alert twice. A fuse process claims the store with a
session advisory lock (``FUSER_LOCK``) on a connection of its own. A second one waits,
polling the lock, and takes over when the first stops or dies: PostgreSQL frees a session
lock when its connection goes, SIGKILL included. With the pipeline's checkpoint
(``mista.detect.checkpoint``) the one taking over goes on where the other was.
"""

from __future__ import annotations

import contextlib
import threading
from typing import Any

import psycopg

from mista.errors import StoreError

__all__ = ["FUSER_LOCK", "FuserClaim"]

#: The session advisory lock of the active fuser (any 64-bit number of our own).
FUSER_LOCK = 0x6D69_7374_6675_7365


class FuserClaim:
    """The claim to be the one process fusing the database at ``url`` (``where`` is its
    redacted address, for messages). ``wait`` until held; ``held`` says whether it still
    is (the lock's connection alive); ``release`` (or leaving the ``with`` block) frees it.
    """

    def __init__(self, url: str, where: str) -> None:
        self._url = url
        self._where = where
        self._con: psycopg.Connection[Any] | None = None

    def __enter__(self) -> FuserClaim:
        return self

    def __exit__(self, *_: object) -> None:
        self.release()

    def try_claim(self) -> bool:
        """Take the claim if no other process holds it; True when this one holds it."""
        if self._con is not None and self.held():
            return True
        self.release()
        try:
            con = psycopg.connect(self._url, autocommit=True, connect_timeout=10)
        except psycopg.Error as exc:
            raise StoreError(f"store {self._where}: connecting failed: {exc}") from None
        try:
            row = con.execute("SELECT pg_try_advisory_lock(%s)", (FUSER_LOCK,)).fetchone()
        except psycopg.Error as exc:
            con.close()
            raise StoreError(f"store {self._where}: claiming fusion failed: {exc}") from None
        if row and row[0]:
            self._con = con
            return True
        con.close()
        return False

    def wait(self, stop: threading.Event, poll_s: float) -> bool:
        """Claim, waiting while another process holds it; False if ``stop`` was set first.
        A store that cannot be reached is waited for too (it is logged by the caller's
        next attempt failing the same way)."""
        while not stop.is_set():
            try:
                if self.try_claim():
                    return True
            except StoreError:
                pass  # the store is down: wait for it as for the other fuser
            stop.wait(poll_s)
        return False

    def held(self) -> bool:
        """Whether the claim is still held: its connection answers."""
        if self._con is None:
            return False
        try:
            self._con.execute("SELECT 1").fetchone()
        except psycopg.Error:
            self.release()
            return False
        return True

    def release(self) -> None:
        """Free the claim (closing its connection frees the lock)."""
        if self._con is not None:
            con, self._con = self._con, None
            with contextlib.suppress(psycopg.Error):
                con.close()
