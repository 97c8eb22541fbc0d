"""The release decision, story by story: each rule's denial, holds, the first clause, areas,
validity edges and sanitising."""

from __future__ import annotations

import importlib
from datetime import timedelta

import pytest

from mista.labels import Label, Level
from mista.share.agreements import Flow, Sanitise
from mista.share.release import Candidate, Outcome, Releaser, decide, sanitise_record
from tests.share.agreements_builders import (
    POLYGONS,
    T0,
    box_area,
    make_agreement,
    make_clause,
)

WHITE = frozenset({"white-shipping"})


def label(
    *,
    level: Level = Level.RESTRICTED,
    originator: str = "IND",
    to: frozenset[str] = frozenset({"USA"}),
    categories: frozenset[str] = WHITE,
    orcon: bool = False,
) -> Label:
    return Label(level, originator, to, categories, orcon)


def record(
    lab: Label | None = None,
    *,
    flow: Flow = Flow.REPORTS,
    minutes_ago: float | None = 60,
    lat: float | None = 1.0,
    lon: float | None = 1.0,
) -> Candidate:
    observed = None if minutes_ago is None else T0 - timedelta(minutes=minutes_ago)
    return Candidate(flow, lab or label(), observed, lat, lon)


def both(candidate: Candidate, agreements: list[object], node: str = "IND", partner: str = "USA"):  # type: ignore[no-untyped-def]
    """decide and the fast path, which must agree."""
    decision = decide(candidate, node=node, partner=partner, agreements=agreements, now=T0)  # type: ignore[arg-type]
    assert Releaser(node, partner, agreements).decide(candidate, T0) == decision  # type: ignore[arg-type]
    return decision


def test_release_under_a_covering_clause() -> None:
    clause = make_clause("ais", precision=2, remove=frozenset({"receiver"}))
    decision = both(record(), [make_agreement("a", clauses=(clause,))])
    assert decision.outcome == Outcome.RELEASE
    assert (decision.agreement, decision.clause) == ("a", "ais")
    assert decision.sanitise == clause.sanitise
    assert decision.reason == "rule 5: clause ais of agreement a v1 covers it"


@pytest.mark.parametrize(
    ("candidate", "node", "partner", "rule"),
    [
        (record(), "USA", "USA", "rule 1: the partner USA is this node"),
        (record(label(to=frozenset({"JPN"}))), "IND", "USA", "rule 2: not releasable to USA"),
        (
            record(label(originator="JPN", to=frozenset({"IND", "USA"}), orcon=True)),
            "IND",
            "USA",
            "rule 3: originator-controlled by JPN",
        ),
        (record(), "IND", "AUS", "rule 2"),
    ],
)
def test_denials_name_their_rule(candidate: Candidate, node: str, partner: str, rule: str) -> None:
    decision = both(candidate, [make_agreement()], node, partner)
    assert decision.outcome == Outcome.DENY
    assert decision.reason.startswith(rule)


def test_orcon_passes_when_this_node_originated_it() -> None:
    decision = both(record(label(orcon=True)), [make_agreement()])
    assert decision.outcome == Outcome.RELEASE


def test_no_agreement_in_force_is_rule_4() -> None:
    expired = make_agreement("old", valid_from=T0 - timedelta(days=10), valid_until=T0)
    decision = both(record(), [expired])
    assert decision.outcome == Outcome.DENY
    assert decision.reason.startswith("rule 4: no agreement valid at this time lets IND send")
    assert "old" in decision.reason
    assert both(record(), []).reason.startswith("rule 4")


def test_validity_window_starts_inclusive_and_ends_exclusive() -> None:
    starts_now = make_agreement("a", valid_from=T0, valid_until=T0 + timedelta(days=1))
    assert both(record(), [starts_now]).outcome == Outcome.RELEASE
    ends_now = make_agreement("a", valid_from=T0 - timedelta(days=1), valid_until=T0)
    assert both(record(), [ends_now]).outcome == Outcome.DENY


def test_one_way_agreement_does_not_carry_the_other_way() -> None:
    one_way = make_agreement("a", sender="USA")
    decision = both(record(label(to=frozenset({"USA"}))), [one_way])
    assert decision.reason.startswith("rule 4")


@pytest.mark.parametrize(
    ("candidate", "clause", "words"),
    [
        (record(flow=Flow.ALERTS), make_clause(), "flow alerts is not one of reports"),
        (record(label(categories=frozenset())), make_clause(), "the record has no categories"),
        (
            record(label(categories=frozenset({"white-shipping", "sensor:radar"}))),
            make_clause(),
            "categories sensor:radar are not covered",
        ),
        (
            record(label(level=Level.SECRET)),
            make_clause(max_level=Level.CONFIDENTIAL),
            "SECRET is above CONFIDENTIAL",
        ),
        (record(lat=None), make_clause(area=box_area(0, 0, 2, 2)), "it has no position"),
        (record(lat=3.0), make_clause(area=box_area(0, 0, 2, 2)), "it is outside bbox 0,0,2,2"),
        (record(lat=7.0, lon=-2.0), make_clause(area=POLYGONS[0]), "it is outside test#triangle"),
        (
            record(minutes_ago=None),
            make_clause(delay=timedelta(minutes=5)),
            "it has no observation time",
        ),
    ],
)
def test_clause_misses_are_rule_5_with_the_clause_named(
    candidate: Candidate, clause: object, words: str
) -> None:
    decision = both(candidate, [make_agreement("a", clauses=(clause,))])  # type: ignore[arg-type]
    assert decision.outcome == Outcome.DENY
    assert decision.reason.startswith("rule 5: no clause")
    assert f"a/c1: {words}" in decision.reason


def test_areas_count_their_edges_and_boxes_may_cross_the_antimeridian() -> None:
    box = make_agreement(clauses=(make_clause(area=box_area(0, 0, 2, 2)),))
    assert both(record(lat=2.0, lon=0.0), [box]).outcome == Outcome.RELEASE
    crossing = make_agreement(clauses=(make_clause(area=box_area(170, -5, -170, 5)),))
    assert both(record(lat=0.0, lon=179.5), [crossing]).outcome == Outcome.RELEASE
    assert both(record(lat=0.0, lon=-175.0), [crossing]).outcome == Outcome.RELEASE
    assert both(record(lat=0.0, lon=0.0), [crossing]).outcome == Outcome.DENY
    triangle = make_agreement(clauses=(make_clause(area=POLYGONS[0]),))
    assert both(record(lat=0.0, lon=0.0), [triangle]).outcome == Outcome.RELEASE
    assert both(record(lat=-5.0, lon=0.0), [triangle]).outcome == Outcome.RELEASE  # on the edge
    assert both(record(lat=5.0, lon=4.0), [triangle]).outcome == Outcome.DENY  # in its box


def test_delay_holds_until_not_before() -> None:
    clause = make_clause("late", delay=timedelta(hours=2))
    decision = both(record(minutes_ago=30), [make_agreement("a", clauses=(clause,))])
    assert decision.outcome == Outcome.HOLD
    assert decision.not_before == T0 + timedelta(minutes=90)
    assert (decision.agreement, decision.clause) == ("a", "late")
    assert decision.reason.startswith("rule 6: clause late of agreement a v1")
    assert (
        both(record(minutes_ago=120), [make_agreement("a", clauses=(clause,))]).outcome
        == Outcome.RELEASE
    )


def test_future_observations_wait_for_their_time_even_without_delay() -> None:
    decision = both(record(minutes_ago=-10), [make_agreement()])
    assert decision.outcome == Outcome.HOLD
    assert decision.not_before == T0 + timedelta(minutes=10)


def test_first_clause_that_releases_now_wins_and_holds_take_the_soonest() -> None:
    slow = make_clause("slow", delay=timedelta(days=1))
    medium = make_clause("medium", delay=timedelta(hours=2))
    fast = make_clause("fast")
    also = make_clause("also")
    decision = both(record(), [make_agreement("a", clauses=(slow, fast, also))])
    assert decision.clause == "fast"
    decision = both(record(minutes_ago=30), [make_agreement("a", clauses=(slow, medium))])
    assert decision.outcome == Outcome.HOLD
    assert decision.clause == "medium"
    second = make_agreement("b", clauses=(fast,))
    decision = both(record(), [make_agreement("a", clauses=(slow,)), second])
    assert (decision.agreement, decision.clause) == ("b", "fast")


def test_released_label_is_unchanged() -> None:
    candidate = record(label(level=Level.CONFIDENTIAL, orcon=True))
    decision = both(candidate, [make_agreement()])
    assert decision.outcome == Outcome.RELEASE
    assert candidate.label == label(level=Level.CONFIDENTIAL, orcon=True)


def test_sanitise_record_rounds_and_removes_but_keeps_the_label() -> None:
    lab = label()
    fields = {"lat": 12.345678, "lon": -70.98765, "receiver": "r1", "name": "X", "label": lab}
    out = sanitise_record(fields, Sanitise(timedelta(0), 2, frozenset({"receiver"})))
    assert out == {"lat": 12.35, "lon": -70.99, "name": "X", "label": lab}
    assert out["label"] is lab
    assert sanitise_record(fields, Sanitise(timedelta(0), None, frozenset())) == fields
    untouched = {"lat": None, "lon": True}
    assert sanitise_record(untouched, Sanitise(timedelta(0), 0, frozenset())) == untouched


@pytest.mark.parametrize(
    "name",
    [
        "mista.share.agreements",
        "mista.share.area",
        "mista.share.explain",
        "mista.share.nations",
        "mista.share.release",
    ],
)
def test_public_surface_is_sorted_and_importable(name: str) -> None:
    module = importlib.import_module(name)

    # Sorted as ruff sorts them (RUF022): CONSTANTS, then Classes, then functions.
    def kind(name: str) -> tuple[int, str]:
        return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)

    assert list(module.__all__) == sorted(module.__all__, key=kind)
    for member in module.__all__:
        assert getattr(module, member) is not None


def test_the_fast_path_cache_is_bounded_and_stays_right(monkeypatch: pytest.MonkeyPatch) -> None:
    import mista.share.release as release

    monkeypatch.setattr(release, "MAX_PLANS", 3)
    agreements = [make_agreement(clauses=(make_clause(max_level=Level.CONFIDENTIAL),))]
    releaser = Releaser("IND", "USA", agreements)
    for level in [*Level, *Level]:
        candidate = record(label(level=level))
        expected = decide(candidate, node="IND", partner="USA", agreements=agreements, now=T0)
        assert releaser.decide(candidate, T0) == expected
        assert len(releaser._plans) <= 3
