"""Several partitions' messages put back into the stream's order.

A JetStream stream numbers every message it stores, across all subjects, in the order it
stored them. A consumer of one partition sees that partition's messages in that order, but
a process consuming several partitions at once gets them interleaved by the timing of its
fetches: a different interleaving in every run. A fusion worker writing and fusing
several partitions needs one order, the same in every run, or its steps (and what they
find) change from run to run. ``StreamOrder`` gives it the stream's.

It holds each partition's fetched messages and lets one go only when no partition can
still deliver an earlier one: every other partition either holds a later message or has
said it has nothing more (its last message came with nothing pending after it, or a
fetch came back empty while the server had nothing to deliver). On a stream published
before it is read (a backlog, a worker catching up after a crash) the order is exactly
the stream's; on a live stream a message published while a partition was found empty
may come after later ones of other partitions, as it would with any timing.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

__all__ = ["StreamOrder"]

M = TypeVar("M")


class StreamOrder(Generic[M]):
    """Messages of ``partitions`` in, runs of them out in stream order.

    ``seq`` gives a message's stream sequence, ``pending_after`` how many messages the
    server still had for its consumer when it delivered it (0: the partition had nothing
    more then). Each ``add`` is one fetch; ``release`` returns what may be handled now and
    how many fetches of each partition it used up entirely."""

    def __init__(
        self,
        partitions: Iterable[int],
        seq: Callable[[M], int],
        pending_after: Callable[[M], int],
    ) -> None:
        self._seq = seq
        self._pending_after = pending_after
        # Per partition: fetched lists not yet used up, and the index of the next in the first.
        self._fetches: dict[int, deque[list[M]]] = {p: deque() for p in partitions}
        self._next: dict[int, int] = dict.fromkeys(self._fetches, 0)
        self._empty: dict[int, bool] = dict.fromkeys(self._fetches, False)

    def add(self, partition: int, msgs: list[M]) -> None:
        """A fetch of ``partition``: its messages in delivery order, or none to say the
        partition has nothing more to deliver now."""
        if not msgs:
            self._empty[partition] = True
            return
        self._fetches[partition].append(msgs)
        self._empty[partition] = self._pending_after(msgs[-1]) == 0

    def release(self) -> tuple[list[tuple[int, list[M]]], dict[int, int]]:
        """The messages that may go now, as runs of one partition in stream order, and per
        partition the number of its fetches now used up."""
        runs: list[tuple[int, list[M]]] = []
        used: dict[int, int] = {}
        while True:
            heads = {p: f[0][self._next[p]] for p, f in self._fetches.items() if f}
            if not heads:
                break
            first = min(heads, key=lambda p: self._seq(heads[p]))
            if any(not (q in heads or self._empty[q]) for q in self._fetches if q != first):
                break  # a partition that may still deliver an earlier message
            # Everything of ``first`` before the next other head may go at once.
            bound = min((self._seq(m) for q, m in heads.items() if q != first), default=None)
            taken = self._take(first, bound, used)
            if runs and runs[-1][0] == first:
                runs[-1][1].extend(taken)
            else:
                runs.append((first, taken))
        return runs, used

    def _take(self, partition: int, bound: int | None, used: dict[int, int]) -> list[M]:
        fetches = self._fetches[partition]
        taken: list[M] = []
        while fetches:
            fetch, start = fetches[0], self._next[partition]
            end = start
            while end < len(fetch) and (bound is None or self._seq(fetch[end]) < bound):
                end += 1
            taken += fetch[start:end]
            if end < len(fetch):
                self._next[partition] = end
                break
            fetches.popleft()
            self._next[partition] = 0
            used[partition] = used.get(partition, 0) + 1
        return taken

    @property
    def caught_up(self) -> bool:
        """Nothing held, and every partition has said it has nothing more."""
        return all(not f and self._empty[p] for p, f in self._fetches.items())

    def held(self) -> list[M]:
        """Every message held and not released (to hand back when consuming stops)."""
        return [
            msg
            for p, fetches in self._fetches.items()
            for i, fetch in enumerate(fetches)
            for msg in fetch[self._next[p] if i == 0 else 0 :]
        ]
