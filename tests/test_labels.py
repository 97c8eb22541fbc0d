"""Laws of security labels: combination and dominance (DESIGN.md, "Core records")."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.errors import LabelError
from mista.labels import (
    Label,
    Level,
    check_groups,
    combine,
    expand_groups,
    may_see,
    parse_marking,
)
from tests.strategies import GROUPS, labels, labels_releasable_to, levels, nations

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


# -- markings ---------------------------------------------------------------------------


@given(labels())
def test_every_marking_reads_back_as_the_label_it_came_from(label: Label) -> None:
    assert parse_marking(label.to_marking(), label.originator) == label


@given(labels(), st.sampled_from(sorted(GROUPS)))
def test_a_group_in_rel_to_expands_to_its_nations(label: Label, group: str) -> None:
    marking = label.to_marking().replace("//REL TO ", f"//REL TO {group},", 1)
    read = parse_marking(marking, label.originator, GROUPS)
    assert read.releasable_to == label.releasable_to | set(GROUPS[group])
    assert (read.level, read.categories, read.orcon) == (label.level, label.categories, label.orcon)


@pytest.mark.parametrize(
    ("marking", "expected"),
    [
        ("UNCLASSIFIED", Label(Level.UNCLASSIFIED, "IND")),
        ("  SECRET//ORCON\n", Label(Level.SECRET, "IND", orcon=True)),
        (
            "RESTRICTED//REL TO QUAD//white-shipping",
            Label(
                Level.RESTRICTED,
                "IND",
                frozenset({"AUS", "IND", "JPN", "USA"}),
                frozenset({"white-shipping"}),
            ),
        ),
        (
            "CONFIDENTIAL//sensor:radar,alerts",
            Label(Level.CONFIDENTIAL, "IND", categories=frozenset({"sensor:radar", "alerts"})),
        ),
    ],
)
def test_markings_read_as_written(marking: str, expected: Label) -> None:
    assert parse_marking(marking, "IND", GROUPS) == expected


@pytest.mark.parametrize(
    ("marking", "message"),
    [
        ("", "empty marking"),
        ("TOP SECRET", "not a level"),
        ("secret", "not a level"),
        ("RESTRICTED//REL TO FVEY", "group FVEY, which is not defined"),
        ("RESTRICTED//REL TO usa", "write USA"),
        ("RESTRICTED//REL TO USA, GBR", "has spaces"),
        ("RESTRICTED//REL TO USA,,GBR", "empty nation between commas"),
        ("RESTRICTED//REL TO ", "list is empty"),
        ("RESTRICTED//REL TO", "list is empty"),
        ("RESTRICTED//REL TO USA,USA", "USA listed more than once"),
        ("RESTRICTED//REL TO USA//REL TO GBR", "REL TO appears twice"),
        ("RESTRICTED//ORCON//ORCON", "ORCON appears twice"),
        ("RESTRICTED//ORCON//alerts", "comes after the categories or ORCON"),
        ("RESTRICTED//alerts//REL TO USA", "REL TO appears twice or after the categories"),
        ("RESTRICTED//alerts//geospatial", "comes after the categories"),
        ("RESTRICTED//alerts,alerts", "alerts listed more than once"),
        ("RESTRICTED//", "empty part"),
        ("RESTRICTED////ORCON", "empty part"),
        ("RESTRICTED//White-Shipping", "is not a category"),
        ("RESTRICTED//REL TO U$A", "neither a nation code"),
        ("RESTRICTED //REL TO USA", "not a level"),
        ("R" * 5000, "too long"),
    ],
)
def test_bad_markings_name_the_part_and_the_fix(marking: str, message: str) -> None:
    with pytest.raises(LabelError, match=re.escape(message)):
        parse_marking(marking, "IND", GROUPS)


def test_a_bad_originator_is_a_label_error() -> None:
    with pytest.raises(LabelError, match="alpha-3"):
        parse_marking("SECRET", "india")


#: Text made of marking pieces, so garbage often comes close to a valid marking.
markingish = st.lists(
    st.sampled_from(
        ["/", "//", ",", " ", "REL TO ", "ORCON", "SECRET", "QUAD", "USA", "usa", "a", ":", "-"]
    ),
    max_size=12,
).map("".join)


@settings(max_examples=300)
@given(st.one_of(markingish, st.text(max_size=60)))
def test_garbage_is_a_label_error_or_a_label(text: str) -> None:
    try:
        label = parse_marking(text, "IND", GROUPS)
    except LabelError:
        return
    assert parse_marking(label.to_marking(), "IND") == label


@given(labels(), st.data())
def test_a_truncated_marking_is_a_label_error_or_a_wider_label(
    label: Label, data: st.DataObject
) -> None:
    marking = label.to_marking()
    cut = data.draw(st.integers(min_value=0, max_value=len(marking)))
    try:
        read = parse_marking(marking[:cut], label.originator)
    except LabelError:
        return
    assert read.level == label.level


def test_groups_are_checked() -> None:
    assert check_groups({"QUAD": ["IND", "USA"]}) == {"QUAD": frozenset({"IND", "USA"})}
    for bad, message in [
        ({"USA": ["IND"]}, "not three letters"),
        ({"quad": ["IND"]}, "group name 'quad'"),
        ({"QUAD": "IND,USA"}, "must list its nations"),
        ({"QUAD": []}, "has no nations"),
        ({"QUAD": ["IND", "FVEY"]}, "groups cannot contain groups"),
    ]:
        with pytest.raises(LabelError, match=re.escape(message)):
            check_groups(bad)
    assert expand_groups(["QUAD", "FRA"], {"QUAD": ["IND", "USA"]}) == {"IND", "USA", "FRA"}


@pytest.mark.parametrize("bad", ["ORCON", "a,b", "White", "", "x" * 65, "a//b"])
def test_categories_are_lowercase_words_so_markings_are_unambiguous(bad: str) -> None:
    with pytest.raises(LabelError, match="category"):
        Label(Level.UNCLASSIFIED, "IND", categories=frozenset({bad}))


@pytest.mark.parametrize("code", ["IND\n", "IND ", "\nIND"])
def test_a_nation_code_with_a_newline_or_space_is_refused(code: str) -> None:
    with pytest.raises(LabelError):
        Label(Level.UNCLASSIFIED, code)
    with pytest.raises(LabelError):
        Label(Level.UNCLASSIFIED, "IND", categories=frozenset({"white-shipping\n"}))
