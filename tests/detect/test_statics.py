"""StaticLog: when each name and call sign was stated, and which MMSIs stated one IMO."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mista.detect.statics import StaticLog
from tests.detect.builders import HOUR, T0, static_rows

IMO = 9_074_729  # a valid IMO number (check digit 9)
A, B, C = 419_000_001, 419_000_002, 419_000_003


def test_the_last_statement_of_a_name_before_a_time_is_found() -> None:
    log = StaticLog()
    log.add(
        static_rows(
            [
                (T0, A, "SEA STAR@@@", "AB12", 0),
                (T0 + HOUR, A, "sea  star", None, 0),  # padding and case do not matter
                (T0 + 3 * HOUR, A, "OCEAN STAR", "AB12", 0),
            ]
        )
    )
    assert log.last_stated(A, "name", "SEA STAR", T0 + 3 * HOUR) == T0 + HOUR
    assert log.last_stated(A, "name", "SEA STAR", T0 + HOUR - 1) == T0
    assert log.last_stated(A, "name", "SEA STAR", T0 - 1) is None
    assert log.last_stated(A, "callsign", "AB12", T0 + 2 * HOUR) == T0
    assert log.last_stated(B, "name", "SEA STAR", T0 + 9 * HOUR) is None
    assert log.last_stated(A, "name", None, T0 + 9 * HOUR) is None


def test_rows_out_of_order_are_kept_in_time_order() -> None:
    log = StaticLog()
    log.add(static_rows([(T0 + 2 * HOUR, A, "SEA STAR", None, 0)]))
    log.add(static_rows([(T0, A, "SEA STAR", None, 0)]))
    assert log.last_stated(A, "name", "SEA STAR", T0 + HOUR) == T0


def test_two_mmsis_stating_one_imo_are_a_link_told_once() -> None:
    log = StaticLog()
    log.add(static_rows([(T0, A, "SEA STAR", None, IMO), (T0 + 60, A, "SEA STAR", None, IMO)]))
    assert log.new_links() == []
    log.add(static_rows([(T0 + HOUR, B, "SEA STAR", None, IMO)]))
    [link] = log.new_links()
    assert (link.imo, link.mmsis, link.first_t) == (IMO, (A, B), (T0, T0 + HOUR))
    assert log.new_links() == []
    log.add(static_rows([(T0 + 2 * HOUR, B, "SEA STAR", None, IMO)]))
    assert log.new_links() == []
    assert log.same_imo(A) == [B]
    assert log.same_imo(B) == [A]
    assert log.same_imo(C) == []


def test_invalid_or_missing_imo_numbers_link_nothing() -> None:
    log = StaticLog()
    log.add(static_rows([(T0, A, None, None, IMO + 1), (T0, B, None, None, IMO + 1)]))
    log.add(static_rows([(T0, A, None, None, 0), (T0, B, None, None, -1)]))
    assert log.new_links() == []
    assert log.same_imo(A) == []


def test_statements_older_than_the_retention_are_forgotten() -> None:
    log = StaticLog(retain_s=10 * HOUR)
    log.add(static_rows([(T0, A, "SEA STAR", None, IMO)]))
    log.add(static_rows([(T0 + 11 * HOUR, B, "OCEAN STAR", None, IMO)]))
    assert log.last_stated(A, "name", "SEA STAR", T0 + 11 * HOUR) is None
    assert log.same_imo(B) == []
    assert log.same_imo(A) == []


@settings(max_examples=50, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-1e12, 1e12, allow_nan=False),
            st.integers(-(2**40), 2**40),
            st.one_of(st.none(), st.text(max_size=30)),
            st.one_of(st.none(), st.text(max_size=10)),
            st.integers(-(2**40), 2**40),
        ),
        max_size=30,
    )
)
def test_any_static_rows_are_recorded_without_error(
    rows: list[tuple[float, int, str | None, str | None, int]],
) -> None:
    log = StaticLog()
    log.add(static_rows(rows))
    for link in log.new_links():
        assert link.mmsis[0] != link.mmsis[1]
