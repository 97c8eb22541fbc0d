"""Laws of the release decision over random labels, nodes, partners, agreements and times.

DESIGN.md rule 1: a partner receives a record iff an active agreement clause covers it,
its level is at most the clause's maximum, the partner is in its releasability, and the
node may pass it on. Each condition is re-stated here from the rule (not from
mista.share.release), polygons included (Cedar cannot hold them: tests/share/test_cedar.py).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

from mista.labels import Label
from mista.share.agreements import Agreement, Clause
from mista.share.area import Area
from mista.share.release import Candidate, Decision, Outcome, Releaser, decide, sanitise_record
from tests.share.agreements_builders import candidates, clauses, release_cases, times
from tests.strategies import labels

Case = tuple[Candidate, str, str, list[Agreement], datetime]

SETTINGS = settings(max_examples=200, deadline=None)


def inside(area: Area, lat: float, lon: float) -> bool:
    """The area test from its definition: edges inside, W > E crosses the antimeridian."""
    west, south, east, north = area.bbox
    if area.geometry is not None:
        return bool(area.geometry.covers(Point(lon, lat)))
    in_lon = west <= lon <= east if west <= east else (lon >= west or lon <= east)
    return south <= lat <= north and in_lon


def covers(clause: Clause, candidate: Candidate) -> bool:
    """Rule 5 for one clause, from the design: flow, categories, level, area."""
    label = candidate.label
    if clause.area is not None and (
        candidate.lat is None
        or candidate.lon is None
        or not inside(clause.area, candidate.lat, candidate.lon)
    ):
        return False
    return (
        candidate.flow in clause.flows
        and bool(label.categories)
        and label.categories <= clause.categories
        and label.level <= clause.max_level
    )


def delay_passed(clause: Clause, candidate: Candidate, now: object) -> bool:
    if candidate.observed_at is None:
        return clause.sanitise.delay == timedelta(0)
    return candidate.observed_at + clause.sanitise.delay <= now  # type: ignore[operator]


def label_allows(label: Label, node: str, partner: str) -> bool:
    return (
        partner != node
        and partner in label.releasable_to
        and (label.originator == node or not label.orcon)
    )


def releasing_clauses(
    candidate: Candidate, node: str, partner: str, agreements: list[Agreement], now: object
) -> list[tuple[Agreement, Clause]]:
    """Every (agreement, clause) under which DESIGN.md rule 1 lets the record go now."""
    if not label_allows(candidate.label, node, partner):
        return []
    return [
        (agreement, clause)
        for agreement in agreements
        if node in agreement.senders
        and partner in agreement.receivers
        and agreement.valid_from <= now < agreement.valid_until  # type: ignore[operator]
        for clause in agreement.clauses
        if covers(clause, candidate) and delay_passed(clause, candidate, now)
    ]


@SETTINGS
@given(case=release_cases())
def test_release_iff_rule_one_holds_and_holds_wait_for_the_delay(case: Case) -> None:
    candidate, node, partner, agreements, now = case
    decision = decide(candidate, node=node, partner=partner, agreements=agreements, now=now)  # type: ignore[arg-type]
    allowed = releasing_clauses(candidate, node, partner, agreements, now)
    assert (decision.outcome == Outcome.RELEASE) == bool(allowed), decision.reason
    if decision.outcome == Outcome.RELEASE:
        # The first releasing clause, in agreement order then clause order, decides.
        agreement, clause = allowed[0]
        assert (decision.agreement, decision.clause) == (agreement.id, clause.id)
        assert decision.sanitise == clause.sanitise
        assert decision.not_before is None
        assert partner in candidate.label.releasable_to
        assert candidate.label.level <= clause.max_level
    check_hold_or_deny(decision, candidate, node, partner, agreements, now)


def check_hold_or_deny(
    decision: Decision,
    candidate: Candidate,
    node: str,
    partner: str,
    agreements: list[Agreement],
    now: object,
) -> None:
    """A hold is a covering clause whose delay has not passed; a denial names its rule."""
    if decision.outcome == Outcome.DENY:
        assert decision.reason.startswith("rule ")
        assert decision.agreement is None
        assert decision.sanitise is None
        return
    if decision.outcome != Outcome.HOLD:
        return
    assert label_allows(candidate.label, node, partner)
    agreement = next(a for a in agreements if a.id == decision.agreement)
    clause = next(c for c in agreement.clauses if c.id == decision.clause)
    assert agreement.allows(node, partner)
    assert agreement.valid_from <= now < agreement.valid_until  # type: ignore[operator]
    assert covers(clause, candidate)
    assert candidate.observed_at is not None
    assert decision.not_before == candidate.observed_at + clause.sanitise.delay
    assert decision.not_before > now  # type: ignore[operator]
    assert decision.sanitise == clause.sanitise


@settings(max_examples=80, deadline=None)
@given(
    case=release_cases(),
    more=st.lists(st.tuples(candidates(), times), max_size=20),
    data=st.data(),
)
def test_fast_path_gives_the_same_decisions(
    case: Case, more: list[tuple[Candidate, datetime]], data: st.DataObject
) -> None:
    candidate, node, partner, agreements, now = case
    releaser = Releaser(node, partner, agreements)
    # Records of the same label at other times and places, and other labels, in any order:
    # the cache must hold per (label, flow) and per set of agreements in force.
    cases = [(candidate, now)]
    for other, when in more:
        same_label = Candidate(
            candidate.flow, candidate.label, other.observed_at, other.lat, other.lon
        )
        cases.append((data.draw(st.sampled_from((same_label, other))), when))
    for candidate, now in cases:
        # The same label twice, at times in any order: the cache must not leak across.
        expected = decide(candidate, node=node, partner=partner, agreements=agreements, now=now)  # type: ignore[arg-type]
        assert releaser.decide(candidate, now) == expected  # type: ignore[arg-type]


fields = st.dictionaries(
    st.sampled_from(["mmsi", "name", "receiver", "raw", "speed_kn", "source", "callsign"]),
    st.one_of(st.none(), st.integers(), st.text(max_size=5), st.floats(allow_nan=False)),
)


@settings(max_examples=80, deadline=None)
@given(
    clause=clauses("c1"),
    label=labels(),
    extra=fields,
    lat=st.floats(-90, 90),
    lon=st.floats(-180, 180),
)
def test_sanitising_keeps_the_label_and_drops_what_the_clause_says(
    clause: Clause, label: Label, extra: dict[str, object], lat: float, lon: float
) -> None:
    sanitise = clause.sanitise
    record = {**extra, "label": label, "lat": lat, "lon": lon}
    out = sanitise_record(record, sanitise)
    assert out["label"] is label
    assert set(out) == set(record) - sanitise.remove
    precision = sanitise.precision
    for key in ("lat", "lon"):
        value = record[key]
        assert isinstance(value, float)
        if precision is None:
            assert out[key] == value
        else:
            assert out[key] == round(value, precision)
            assert abs(out[key] - value) <= 0.5 * 10**-precision + 1e-9  # type: ignore[operator]
