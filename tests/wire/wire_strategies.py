"""Hypothesis strategies for wire records, items and batches."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from mista.labels import Label, Level
from mista.model import SourceKind
from mista.wire import (
    REPORT_FIELDS,
    Batch,
    CorrectItem,
    Item,
    RecordItem,
    WireRecord,
    WithdrawItem,
)

# Own strategies (not tests.strategies) so this tree stands on its own.
NATIONS = ("AUS", "FRA", "GBR", "IND", "JPN", "USA")
nations = st.sampled_from(NATIONS)
categories = st.from_regex(r"[a-z0-9][a-z0-9:._-]{0,20}", fullmatch=True)


@st.composite
def labels(draw: st.DrawFn) -> Label:
    return Label(
        level=draw(st.sampled_from(list(Level))),
        originator=draw(nations),
        releasable_to=frozenset(draw(st.sets(nations))),
        categories=frozenset(draw(st.sets(categories, max_size=4))),
        orcon=draw(st.booleans()),
    )


ids = st.text(alphabet="0123456789abcdef", min_size=32, max_size=32)
nonces = ids
times = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def _field_values(name: str) -> st.SearchStrategy[Any]:
    spec = REPORT_FIELDS[name]
    if spec.kind == "time":
        return times
    if spec.kind == "nation":
        return nations
    if spec.kind == "source-kind":
        return st.sampled_from(list(SourceKind)).map(lambda kind: kind.value)
    if spec.kind == "text":
        return st.text(
            alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=spec.max_chars
        )
    assert spec.low is not None
    assert spec.high is not None
    if spec.kind == "int":
        return st.integers(int(spec.low), int(spec.high))
    return st.floats(spec.low, spec.high, exclude_max=spec.below, allow_nan=False)


@st.composite
def report_fields(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.sets(st.sampled_from(sorted(REPORT_FIELDS))))
    fields = {name: draw(_field_values(name)) for name in names}
    fields.setdefault("originator", draw(nations))
    fields.setdefault("source_kind", SourceKind.AIS_TERRESTRIAL.value)
    return fields


@st.composite
def wire_records(draw: st.DrawFn) -> WireRecord:
    return WireRecord(
        id=draw(ids), flow="reports", label=draw(labels()), fields=draw(report_fields())
    )


reasons = st.text(alphabet="abcdefghij klm", min_size=1, max_size=40).filter(str.strip)
items: st.SearchStrategy[Item] = st.one_of(
    st.builds(RecordItem, wire_records()),
    st.builds(CorrectItem, wire_records(), reasons),
    st.builds(WithdrawItem, ids, reasons),
)


@st.composite
def batches(draw: st.DrawFn, max_items: int = 4) -> Batch:
    sender, receiver = draw(st.permutations(NATIONS))[:2]
    return Batch(
        sender=sender,
        receiver=receiver,
        seq=draw(st.integers(0, 2**53 - 1)),
        created_at=draw(times),
        nonce=draw(nonces),
        items=tuple(draw(st.lists(items, max_size=max_items))),
    )
