"""Core records: content-hash ids are stable and ignore who heard a message."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mista.errors import InputError
from mista.labels import Label, Level, may_see
from mista.model import DEDUPE_WINDOW_S, Report, Role, SourceKind, User, report_id
from tests.strategies import labels, users

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


# -- users ------------------------------------------------------------------------------


@given(users(), labels())
def test_a_user_sees_what_the_one_rule_says(user: User, label: Label) -> None:
    assert user.may_see(label) == may_see(label, user.nation, user.clearance)
    assert user.may_see(label) == (
        user.clearance >= label.level and user.nation in label.releasable_to
    )


def test_a_user_is_validated_and_normalised() -> None:
    user = User("liaison.usa", "USA", Level(1), frozenset({"liaison"}))  # type: ignore[arg-type]
    assert user.clearance is Level.RESTRICTED
    assert user.roles == {Role.LIAISON}
    for kwargs, message in [
        ({"name": "Bob"}, "user name 'Bob'"),
        ({"name": ""}, "user name ''"),
        ({"name": "-x"}, "user name '-x'"),
        ({"name": "a" * 65}, "user name"),
        ({"nation": "usa"}, "alpha-3"),
        ({"clearance": 7}, "not a level"),
        ({"roles": frozenset({"root"})}, "not a role"),
    ]:
        fields: dict[str, Any] = {
            "name": "ana",
            "nation": "USA",
            "clearance": Level.SECRET,
            "roles": frozenset(),
            **kwargs,
        }
        with pytest.raises(InputError, match=re.escape(message)):
            User(**fields)


def test_roles_are_the_three_the_design_names() -> None:
    assert [role.value for role in Role] == ["analyst", "liaison", "admin"]
