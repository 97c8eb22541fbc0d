"""Work that one process per PostgreSQL store may do: a claim on a session advisory lock.

The fusion pipeline keeps one cursor and one memory per store, so two processes fusing
the same reports would state every alert twice; two webhook senders would POST every
delivery twice. A process claims such work with a session advisory lock on a connection
of its own (``FuserClaim``: ``FUSER_LOCK``; ``StoreClaim(..., SENDER_LOCK)`` for the
webhook sender of ``--role api`` processes). Another may wait, polling the lock, and take
over when the first stops or dies: PostgreSQL frees a session lock when its connection
goes, SIGKILL included. With the pipeline's checkpoint (``mista.detect.checkpoint``) a
fuser taking over goes on where the other was. A node whose fusion is split into parts
(``mista.detect.parts``) has one such claim per part: ``FUSER_LOCK + part``.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any, Self

import psycopg

from mista.errors import StoreError

_log = logging.getLogger(__name__)

__all__ = ["FUSER_LOCK", "SENDER_LOCK", "FuserClaim", "StoreClaim"]

#: The session advisory lock of the active fuser (any 64-bit number of our own); fusion
#: part K's is this plus K.
FUSER_LOCK = 0x6D69_7374_6675_7365
#: The session advisory lock of the one API process sending webhooks.
SENDER_LOCK = 0x6D69_7374_686F_6F6B


class StoreClaim:
    """The claim to be the one process doing some work on the database at ``url``
    (``where`` is its redacted address, for messages), by the advisory lock ``lock``.
    ``try_claim`` or ``wait`` until held; ``held`` says whether it still is (the lock's
    connection alive); ``release`` (or leaving the ``with`` block) frees it."""

    def __init__(self, url: str, where: str, lock: int) -> None:
        self._url = url
        self._where = where
        self._lock = lock
        self._con: psycopg.Connection[Any] | None = None

    def __enter__(self) -> Self:
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
            row = con.execute("SELECT pg_try_advisory_lock(%s)", (self._lock,)).fetchone()
        except psycopg.Error as exc:
            con.close()
            raise StoreError(f"store {self._where}: claiming a lock failed: {exc}") from None
        if row and row[0]:
            self._con = con
            return True
        con.close()
        return False

    def wait(self, stop: threading.Event, poll_s: float) -> bool:
        """Claim, waiting while another process holds it; False if ``stop`` was set first.
        A store that cannot be reached is waited for too, logged once until it answers."""
        unreachable = False
        while not stop.is_set():
            try:
                if self.try_claim():
                    return True
                unreachable = False
            except StoreError as exc:
                if not unreachable:
                    _log.warning("waiting for the store to claim it: %s", exc)
                unreachable = True
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
        """Free the claim: unlocked, then its connection closed (closing alone frees the
        lock only when the server's backend has ended, a moment later: a claim made
        meanwhile would find it still held)."""
        if self._con is not None:
            con, self._con = self._con, None
            with contextlib.suppress(psycopg.Error):
                con.execute("SELECT pg_advisory_unlock(%s)", (self._lock,))
            with contextlib.suppress(psycopg.Error):
                con.close()


class FuserClaim(StoreClaim):
    """The claim to be the one process running fusion part ``part`` (0 when fusion is not
    split) of the database at ``url``."""

    def __init__(self, url: str, where: str, part: int = 0) -> None:
        super().__init__(url, where, FUSER_LOCK + part)
