"""TrackHistory: points kept in time order through appends, late inserts, trims and flag
changes; what a reader got never changes afterwards; pickles without its spare room."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from mista.fuse.history import COLUMNS, PointBlock, TrackHistory


def block(t: list[float], first_seq: int = 0) -> PointBlock:
    n = len(t)
    out: PointBlock = {name: np.zeros(n, dtype) for name, dtype in COLUMNS.items()}
    out["t"] = np.asarray(t, np.float64)
    out["seq"] = np.arange(first_seq, first_seq + n, dtype=np.int64)
    out["lat"] = np.asarray(t, np.float64) / 1000.0
    return out


def filled(chunks: int, per_chunk: int) -> TrackHistory:
    history = TrackHistory()
    for k in range(chunks):
        times = [float(k * per_chunk + i) for i in range(per_chunk)]
        history.append(block(times, first_seq=k * per_chunk))
    return history


def test_appends_read_back_in_order_across_growth() -> None:
    history = TrackHistory()
    expected: list[float] = []
    for k in range(40):  # well past the first arrays' room
        times = [float(10 * k + i) for i in range(7)]
        history.append(block(times, first_seq=len(expected)))
        expected += times
        if k % 3 == 0:  # reads between appends join what is pending
            assert history.t.tolist() == expected
    points = history.points(track=5, since=100.0)
    assert points.t.tolist() == [t for t in expected if t >= 100.0]
    assert points.track.tolist() == [5] * len(points)
    assert points.seq.tolist() == list(range(len(expected) - len(points), len(expected)))
    assert len(history) == len(expected)
    assert points.label_no.dtype == np.int32
    assert points.flags.dtype == np.uint16


def test_what_a_reader_got_is_read_only_and_unchanged_by_later_appends() -> None:
    history = filled(3, 5)
    before = history.points(track=1, since=0.0)
    t_before = before.t.tolist()
    history.append(block([100.0, 101.0], first_seq=50))
    history.insert(block([2.5], first_seq=60))
    history.set_flags(np.array([0, 1], np.int64), set_bits=4, clear_bits=0)
    history.trim(3.0)
    assert before.t.tolist() == t_before
    assert before.flags.tolist() == [0] * len(before)
    with pytest.raises(ValueError, match="read-only"):
        before.t[0] = -1.0
    with pytest.raises(ValueError, match="read-only"):
        history.t[0] = -1.0


def test_insert_trim_flags_and_take_out() -> None:
    history = filled(2, 4)  # t 0..7, seq 0..7
    history.insert(block([2.5, 9.0], first_seq=20))
    assert history.t.tolist() == [0, 1, 2, 2.5, 3, 4, 5, 6, 7, 9]
    history.append(block([10.0], first_seq=30))  # after an insert, room to append
    history.set_flags(np.array([20, 30], np.int64), set_bits=0b101, clear_bits=0b100)
    flagged = dict(zip(history.column("seq").tolist(), history.flags.tolist(), strict=True))
    assert (flagged[20], flagged[30], flagged[0]) == (0b001, 0b001, 0)
    taken = history.take_out(np.array([3, 20], np.int64))
    assert taken["t"].tolist() == [2.5, 3.0]
    history.trim(5.0)
    assert history.t.tolist() == [5, 6, 7, 9, 10]
    assert len(history) == 5
    assert history.first_t == 5.0
    history.append(block([11.0], first_seq=40))
    assert history.points(track=0, since=9.5).t.tolist() == [10.0, 11.0]


def test_pickles_the_points_and_goes_on_appending() -> None:
    history = filled(4, 6)
    history.append(block([30.0, 31.0], first_seq=100))  # still pending when pickled
    copy = pickle.loads(pickle.dumps(history))
    assert copy.t.tolist() == history.t.tolist()
    assert len(copy) == len(history)
    copy.append(block([40.0], first_seq=200))
    assert copy.t.tolist()[-3:] == [30.0, 31.0, 40.0]
    assert history.t.tolist()[-1] == 31.0
    # The spare room is not pickled: the bytes hold about the points themselves.
    small = len(pickle.dumps(filled(1, 1)))
    row_bytes = sum(np.dtype(dtype).itemsize for dtype in COLUMNS.values())
    assert len(pickle.dumps(filled(40, 50))) - small < 40 * 50 * row_bytes * 1.1


def test_first_t_of_empty_and_pending() -> None:
    history = TrackHistory()
    assert history.first_t == float("inf")
    history.append(block([4.0, 5.0]))
    assert history.first_t == 4.0
    assert history.points(track=1, since=6.0).t.tolist() == []
