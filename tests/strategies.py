"""Hypothesis strategies for the core records, shared by the test tree."""

from __future__ import annotations

from hypothesis import strategies as st

from mista.labels import Label, Level

#: A small universe of nations so that random labels overlap often enough to be interesting.
NATIONS = ("AUS", "FRA", "GBR", "IND", "JPN", "USA")
CATEGORIES = ("white-shipping", "geospatial", "sensor:radar", "sensor:ais", "alerts")

nations = st.sampled_from(NATIONS)
levels = st.sampled_from(list(Level))


@st.composite
def labels(draw: st.DrawFn, originator: str | None = None) -> Label:
    return Label(
        level=draw(levels),
        originator=originator if originator is not None else draw(nations),
        releasable_to=frozenset(draw(st.sets(nations, max_size=len(NATIONS)))),
        categories=frozenset(draw(st.sets(st.sampled_from(CATEGORIES), max_size=3))),
        orcon=draw(st.booleans()),
    )


@st.composite
def labels_releasable_to(draw: st.DrawFn, nation: str) -> Label:
    """A label the given nation may hold (it is in the releasability)."""
    label = draw(labels())
    return Label(
        level=label.level,
        originator=label.originator,
        releasable_to=label.releasable_to | {nation},
        categories=label.categories,
        orcon=label.orcon,
    )
