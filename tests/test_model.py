"""Core records: content-hash ids are stable and ignore who heard a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mista.labels import Label
from mista.model import DEDUPE_WINDOW_S, Report, SourceKind, report_id

LABEL = Label.default_for("IND")
payloads = st.text(
    alphabet="0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVW`abcdefghijklmnopqrstuvw", min_size=1
)
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


def _report(payload: str, at: datetime | None, receiver: str, raw: str) -> Report:
    return Report(
        originator="IND",
        label=LABEL,
        source_kind=SourceKind.AIS_TERRESTRIAL,
        content_key=payload,
        raw=raw,
        observed_at=at,
        receiver=receiver,
    )


@given(payloads, times, st.text(), st.text())
def test_id_ignores_receiver_and_raw_line(payload: str, at: datetime, r1: str, r2: str) -> None:
    assert _report(payload, at, r1, "a").id == _report(payload, at, r2, "b").id


@given(payloads, times)
def test_id_is_stable_and_hex(payload: str, at: datetime) -> None:
    first = report_id("IND", payload, at)
    assert first == report_id("IND", payload, at)
    assert len(first) == 32
    int(first, 16)


@given(payloads, times)
def test_id_separates_originators_and_distant_times(payload: str, at: datetime) -> None:
    assert report_id("IND", payload, at) != report_id("USA", payload, at)
    later = at + timedelta(seconds=DEDUPE_WINDOW_S)
    assert report_id("IND", payload, at) != report_id("IND", payload, later)


def test_untimed_reports_have_an_id() -> None:
    assert report_id("IND", "15Di=4002,0", None) == report_id("IND", "15Di=4002,0", None)


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _report("x", datetime(2020, 1, 1), "r", "raw")
