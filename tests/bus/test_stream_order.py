"""StreamOrder: however the fetches of several partitions interleave, what it lets go is
the stream's order, it never waits on a partition that has said it has nothing more, and
it gives back each fetch's credit exactly once."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from mista.bus.stream_order import StreamOrder


@dataclass(frozen=True)
class Msg:
    partition: int
    seq: int  # the stream's sequence, across partitions
    pending_after: int  # the partition's messages after this one (a backlog)


def order_of(partitions: list[int]) -> StreamOrder[Msg]:
    return StreamOrder(partitions, lambda m: m.seq, lambda m: m.pending_after)


@st.composite
def backlogs(draw: st.DrawFn) -> tuple[list[int], dict[int, list[list[Msg]]], list[int]]:
    """A stream of messages over some partitions, each partition's cut into fetches, and
    an order in which the partitions' fetches (and empty ones) arrive."""
    count = draw(st.integers(1, 4))
    partitions = list(range(count))
    owners = draw(st.lists(st.sampled_from(partitions), max_size=60))
    by_partition: dict[int, list[Msg]] = {p: [] for p in partitions}
    for seq, owner in enumerate(owners, start=1):
        by_partition[owner].append(Msg(owner, seq, 0))
    fetches: dict[int, list[list[Msg]]] = {}
    for p, msgs in by_partition.items():
        msgs = [Msg(p, m.seq, len(msgs) - i - 1) for i, m in enumerate(msgs)]
        cuts = sorted(draw(st.sets(st.integers(1, max(1, len(msgs) - 1)), max_size=5)))
        bounds = [0, *[c for c in cuts if c < len(msgs)], len(msgs)]
        fetches[p] = [msgs[a:b] for a, b in itertools.pairwise(bounds) if b > a]
    # Each partition's fetches in order, then an empty fetch; interleaved at random.
    turns = [p for p in partitions for _ in range(len(fetches[p]) + 1)]
    return partitions, fetches, draw(st.permutations(turns))


@given(backlogs())
@settings(max_examples=300, deadline=None)
def test_what_goes_is_the_stream_order_whatever_the_interleaving(
    case: tuple[list[int], dict[int, list[list[Msg]]], list[int]],
) -> None:
    partitions, fetches, turns = case
    order = order_of(partitions)
    next_fetch = dict.fromkeys(partitions, 0)
    released: list[Msg] = []
    credits = dict.fromkeys(partitions, 0)
    for p in turns:
        index = next_fetch[p]
        order.add(p, fetches[p][index] if index < len(fetches[p]) else [])
        next_fetch[p] += 1
        runs, used = order.release()
        for partition, msgs in runs:
            assert msgs
            assert all(m.partition == partition for m in msgs)
            released += msgs
        for partition, n in used.items():
            credits[partition] += n
        # Nothing goes ahead of what is still to come, or held.
        later = [m for q in partitions for f in fetches[q][next_fetch[q] :] for m in f]
        later += order.held()
        if released and later:
            assert max(m.seq for m in released) < min(m.seq for m in later)
        assert order.caught_up == (not later and all(next_fetch[q] > 0 for q in partitions))
    everything = sorted((m for fs in fetches.values() for f in fs for m in f), key=lambda m: m.seq)
    assert released == everything
    assert order.caught_up
    assert order.held() == []
    assert credits == {p: len(fetches[p]) for p in partitions}


def test_a_partition_not_heard_from_holds_the_others_back() -> None:
    order = order_of([0, 1])
    order.add(0, [Msg(0, 2, 0)])  # partition 0 has nothing after it; 1 has said nothing
    assert order.release() == ([], {})
    assert not order.caught_up
    order.add(1, [Msg(1, 1, 3)])
    assert order.release() == ([(1, [Msg(1, 1, 3)])], {1: 1})  # 1 may still have earlier
    order.add(1, [])  # 1 has nothing more now
    assert order.release() == ([(0, [Msg(0, 2, 0)])], {0: 1})
    assert order.caught_up
