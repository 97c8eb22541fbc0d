"""Hypothesis strategies for the core records, shared by the test tree."""

from __future__ import annotations

from hypothesis import strategies as st

from mista.labels import Label, Level
from mista.model import Role, User

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


#: Groups of the small nation universe, for markings that name communities.
GROUPS = {"QUAD": ("AUS", "IND", "JPN", "USA"), "EURO-2": ("FRA", "GBR")}

user_names = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,15}", fullmatch=True)
roles = st.frozensets(st.sampled_from(list(Role)), max_size=3)


@st.composite
def users(
    draw: st.DrawFn, name: str | None = None, nation: st.SearchStrategy[str] = nations
) -> User:
    """A user of a nation of the universe (or ``nation``), any clearance and roles."""
    return User(
        name=name if name is not None else draw(user_names),
        nation=draw(nation),
        clearance=draw(levels),
        roles=draw(roles),
    )


#: Every label of the small universe has a number below this (level, originator,
#: releasability, categories, orcon): ``numbered_labels`` draws one integer per label, many
#: times cheaper than ``labels()`` when a test needs thousands.
LABEL_SPACE = len(Level) * len(NATIONS) * 2 ** len(NATIONS) * 2 ** len(CATEGORIES) * 2


def label_numbered(number: int) -> Label:
    """The label of a number in ``range(LABEL_SPACE)`` (every label of the universe has one)."""
    rest, level = divmod(number, len(Level))
    rest, originator = divmod(rest, len(NATIONS))
    rest, releasable = divmod(rest, 2 ** len(NATIONS))
    rest, categories = divmod(rest, 2 ** len(CATEGORIES))
    return Label(
        level=Level(level),
        originator=NATIONS[originator],
        releasable_to=frozenset(n for i, n in enumerate(NATIONS) if releasable >> i & 1),
        categories=frozenset(c for i, c in enumerate(CATEGORIES) if categories >> i & 1),
        orcon=bool(rest & 1),
    )


numbered_labels = st.integers(min_value=0, max_value=LABEL_SPACE - 1).map(label_numbered)
