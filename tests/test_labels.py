"""Laws of security labels: combination and dominance (DESIGN.md, "Core records")."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mista.errors import LabelError
from mista.labels import Label, Level, combine, may_see
from tests.strategies import labels, labels_releasable_to, levels, nations

COMBINER = "IND"
held = labels_releasable_to(COMBINER)


@given(st.lists(held, min_size=1, max_size=5))
def test_combined_label_dominates_every_input(inputs: list[Label]) -> None:
    combined = combine(inputs, COMBINER)
    assert all(combined.dominates(label) for label in inputs)


@given(st.lists(held, min_size=1, max_size=5))
def test_combined_label_is_the_least_label_that_dominates_the_inputs(inputs: list[Label]) -> None:
    combined = combine(inputs, COMBINER)
    assert combined.level == max(label.level for label in inputs)
    assert combined.releasable_to == frozenset.intersection(*(x.releasable_to for x in inputs))
    assert combined.categories == frozenset().union(*(label.categories for label in inputs))
    assert combined.orcon == any(label.orcon for label in inputs)


@given(held, held)
def test_combine_is_commutative(a: Label, b: Label) -> None:
    assert combine([a, b], COMBINER) == combine([b, a], COMBINER)


@given(held, held, held)
def test_combine_is_associative(a: Label, b: Label, c: Label) -> None:
    left = combine([combine([a, b], COMBINER), c], COMBINER)
    right = combine([a, combine([b, c], COMBINER)], COMBINER)
    assert left == right == combine([a, b, c], COMBINER)


@given(held)
def test_combine_is_idempotent_up_to_originator(a: Label) -> None:
    once = combine([a, a], COMBINER)
    assert once.dominates(a)
    assert combine([once, once], COMBINER) == once


@given(labels())
def test_dominance_is_reflexive(a: Label) -> None:
    assert a.dominates(a)


@given(labels(), labels(), labels())
def test_dominance_is_transitive(a: Label, b: Label, c: Label) -> None:
    if a.dominates(b) and b.dominates(c):
        assert a.dominates(c)


@given(labels())
def test_releasability_always_contains_the_originator(a: Label) -> None:
    assert a.originator in a.releasable_to


@given(labels(), labels(), nations, levels)
def test_a_user_who_may_see_a_combination_may_see_each_input(
    a: Label, b: Label, nation: str, clearance: Level
) -> None:
    a = Label(a.level, COMBINER, a.releasable_to, a.categories, a.orcon)
    b = Label(b.level, COMBINER, b.releasable_to, b.categories, b.orcon)
    if may_see(combine([a, b], COMBINER), nation, clearance):
        assert may_see(a, nation, clearance)
        assert may_see(b, nation, clearance)


@given(labels(), nations, levels)
def test_may_see_is_clearance_and_releasability(
    label: Label, nation: str, clearance: Level
) -> None:
    expected = clearance >= label.level and nation in label.releasable_to
    assert may_see(label, nation, clearance) is expected


def test_combining_what_the_combiner_may_not_hold_is_refused() -> None:
    usa_only = Label(Level.SECRET, "USA", frozenset({"USA"}))
    with pytest.raises(LabelError, match="not releasable to IND"):
        combine([usa_only], "IND")


def test_combining_nothing_is_refused() -> None:
    with pytest.raises(LabelError, match="empty"):
        combine([], "IND")


@pytest.mark.parametrize("bad", ["in", "INDIA", "1ND", ""])
def test_nation_codes_are_checked(bad: str) -> None:
    with pytest.raises(LabelError, match="alpha-3"):
        Label(Level.UNCLASSIFIED, bad)


def test_marking_names_level_releasability_categories_and_orcon() -> None:
    label = Label(
        Level.RESTRICTED, "IND", frozenset({"USA"}), frozenset({"white-shipping"}), orcon=True
    )
    assert label.to_marking() == "RESTRICTED//REL TO IND,USA//white-shipping//ORCON"


def test_levels_are_ordered_as_design_says() -> None:
    assert Level.UNCLASSIFIED < Level.RESTRICTED < Level.CONFIDENTIAL < Level.SECRET
    assert Level.from_name("secret") is Level.SECRET
    with pytest.raises(LabelError, match="known: UNCLASSIFIED"):
        Level.from_name("TOP SECRET")
