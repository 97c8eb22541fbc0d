"""mista's visibility and release rules against Cedar, an independent policy engine.

The rules are written a second time as Cedar policy (tests/share/cedar_*.cedar) from
DESIGN.md rule 1 and docs/sharing.md section 2, not from mista's code. Each agreement
clause becomes one ``permit``; Cedar's "allowed" must equal mista's RELEASE on every
case, and Cedar's visibility must equal ``may_see`` / ``User.may_see``. Times are whole
seconds and positions whole micro-degrees, so both sides compare the same numbers.
Polygon areas are beyond Cedar's arithmetic; tests/share/test_release_properties.py holds
them to the rule instead.
"""

from __future__ import annotations

import json
import random
from datetime import datetime
from pathlib import Path

import pytest

from mista.labels import Level, may_see
from mista.model import User
from mista.share.agreements import Agreement, Clause, Flow
from mista.share.release import Candidate, Outcome, decide
from tests.share.agreements_builders import (
    PAIRS,
    SPAN_S,
    T0,
    at,
    random_agreement,
    random_coordinate_udeg,
    random_label,
)
from tests.strategies import NATIONS

cedarpy = pytest.importorskip(
    "cedarpy", reason="cedarpy is a dev dependency (pip install -e .[dev])"
)

HERE = Path(__file__).parent
VISIBILITY_RECORDS = 2_500  # x 24 users = 60,000 cases
RELEASE_SETS = 40
RELEASE_CASES_PER_SET = 1_100  # 44,000 cases
T0_S = int(T0.timestamp())


def cedar_set(values: object) -> str:
    return "[" + ", ".join(json.dumps(v) for v in sorted(values)) + "]"  # type: ignore[call-overload]


def area_condition(clause: Clause) -> str:
    if clause.area is None:
        return "true"
    assert clause.area.geometry is None, "Cedar cannot hold polygons"
    west, south, east, north = (round(v * 1_000_000) for v in clause.area.bbox)
    lon = (
        f"context.lon_u >= {west} && context.lon_u <= {east}"
        if west <= east
        else f"(context.lon_u >= {west} || context.lon_u <= {east})"
    )
    return (
        "(context has lat_u && context has lon_u && "
        f"context.lat_u >= {south} && context.lat_u <= {north} && {lon})"
    )


def release_policies(agreements: list[Agreement]) -> str:
    template = (HERE / "cedar_release_clause.cedar").read_text()
    policies = []
    for agreement in agreements:
        for clause in agreement.clauses:
            values = {
                "$ID": f"{agreement.id}/{clause.id}",
                "$SENDERS": cedar_set(agreement.senders),
                "$RECEIVERS": cedar_set(agreement.receivers),
                "$VALID_FROM_S": str(int(agreement.valid_from.timestamp())),
                "$VALID_UNTIL_S": str(int(agreement.valid_until.timestamp())),
                "$FLOWS": cedar_set(flow.value for flow in clause.flows),
                "$CATEGORIES": cedar_set(clause.categories),
                "$MAX_LEVEL": str(int(clause.max_level)),
                "$AREA": area_condition(clause),
                "$DELAY_S": str(int(clause.sanitise.delay.total_seconds())),
            }
            text = template
            for name, value in values.items():
                text = text.replace(name, value)
            policies.append(text)
    return "\n".join(policies)


def release_case(
    rng: random.Random, agreements: list[Agreement]
) -> tuple[Candidate, str, str, datetime, dict[str, object]]:
    """A random case biased to reach the clauses (as release_cases does), and its context."""
    label = random_label(rng)
    flow = rng.choice(list(Flow))
    if rng.random() < 0.85:
        # Aimed at one clause: a sender and a receiver of its agreement, the clause's flow
        # and some of its categories, the partner in the label's releasability.
        agreement = rng.choice(agreements)
        clause = rng.choice(agreement.clauses)
        node = rng.choice(sorted(agreement.senders))
        partner = rng.choice(sorted(agreement.receivers - {node}) or [node])
        if rng.random() < 0.8:
            flow = rng.choice(sorted(clause.flows))
        categories = label.categories
        if rng.random() < 0.7:
            some = rng.randint(1, min(2, len(clause.categories)))
            categories = frozenset(rng.sample(sorted(clause.categories), some))
        originator = node if rng.random() < 0.7 else label.originator
        releasable = label.releasable_to | {partner} if rng.random() < 0.9 else label.releasable_to
        label = type(label)(label.level, originator, releasable, categories, label.orcon)
    else:
        node, partner = rng.choice(PAIRS) if rng.random() < 0.9 else (rng.choice(NATIONS),) * 2
    now_s = rng.randint(-SPAN_S, SPAN_S)
    roll = rng.random()
    observed_s: int | None
    if roll < 0.1:
        observed_s = None
    elif roll < 0.4:  # exactly one clause delay before now: the edge of rule 6
        delays = [int(c.sanitise.delay.total_seconds()) for a in agreements for c in a.clauses]
        observed_s = now_s - rng.choice(delays)
    else:
        observed_s = rng.randint(-SPAN_S, SPAN_S)
    lat_u, lon_u = random_coordinate_udeg(rng), random_coordinate_udeg(rng)
    candidate = Candidate(
        flow=flow,
        label=label,
        observed_at=None if observed_s is None else at(observed_s),
        lat=None if lat_u is None else lat_u / 1e6,
        lon=None if lon_u is None else lon_u / 1e6,
    )
    context: dict[str, object] = {
        "node": node,
        "partner": partner,
        "flow": candidate.flow.value,
        "level": int(label.level),
        "releasable_to": sorted(label.releasable_to),
        "categories": sorted(label.categories),
        "originator": label.originator,
        "orcon": label.orcon,
        "now_s": T0_S + now_s,
    }
    if observed_s is not None:
        context["observed_s"] = T0_S + observed_s
    if lat_u is not None:
        context["lat_u"] = lat_u
    if lon_u is not None:
        context["lon_u"] = lon_u
    return candidate, node, partner, at(now_s), context


def in_force_now(rng: random.Random, agreement: Agreement) -> Agreement:
    """Most agreements in force around T0, so the clauses are reached; some not."""
    if rng.random() < 0.25:
        return agreement
    return type(agreement)(
        **{
            **{f: getattr(agreement, f) for f in agreement.__dataclass_fields__},
            "valid_from": at(-SPAN_S - rng.randint(0, 3600)),
            "valid_until": at(SPAN_S + rng.randint(1, 3600)),
        }
    )


def test_release_agrees_with_cedar() -> None:
    rng = random.Random(20261126)
    disagreements: list[str] = []
    outcomes: dict[str, int] = {}
    total = 0
    for set_no in range(RELEASE_SETS):
        agreements = [
            in_force_now(rng, random_agreement(rng, f"s{set_no}a{i}"))
            for i in range(rng.randint(1, 3))
        ]
        policies = cedarpy.PolicySet.from_str(release_policies(agreements))
        cases = [release_case(rng, agreements) for _ in range(RELEASE_CASES_PER_SET)]
        requests = [
            {
                "principal": {"type": "Node", "id": node},
                "action": {"type": "Action", "id": "release"},
                "resource": {"type": "Record", "id": str(n)},
                "context": context,
            }
            for n, (_, node, _, _, context) in enumerate(cases)
        ]
        results = cedarpy.is_authorized_batch(requests, policies, [])
        for (candidate, node, partner, now, context), result in zip(cases, results, strict=True):
            assert not result.diagnostics.errors, result.diagnostics.errors
            decision = decide(candidate, node=node, partner=partner, agreements=agreements, now=now)
            outcomes[decision.outcome] = outcomes.get(decision.outcome, 0) + 1
            if result.allowed != (decision.outcome == Outcome.RELEASE):
                disagreements.append(f"{context} cedar={result.allowed} mista={decision}")
            elif result.allowed:
                # Cedar names every permitting clause; mista's is one of them.
                assert f"{decision.agreement}/{decision.clause}" in set(
                    result.diagnostics.id_annotations_by_reason.values()
                )
        total += len(cases)
    assert not disagreements, f"{len(disagreements)} of {total}:\n" + "\n".join(disagreements[:5])
    # Every outcome is well represented, so the agreement is not an empty one.
    assert min(outcomes.values()) > total // 50, outcomes
    assert set(outcomes) == set(Outcome)


def test_visibility_agrees_with_cedar() -> None:
    rng = random.Random(1)
    users = [
        User(name=f"u.{nation.lower()}.{int(level)}", nation=nation, clearance=level)
        for nation in NATIONS
        for level in Level
    ]
    labels = [random_label(rng) for _ in range(VISIBILITY_RECORDS)]
    entities = [
        {
            "uid": {"type": "User", "id": user.name},
            "attrs": {"nation": user.nation, "clearance": int(user.clearance)},
            "parents": [],
        }
        for user in users
    ] + [
        {
            "uid": {"type": "Record", "id": f"r{n}"},
            "attrs": {"level": int(label.level), "releasable_to": sorted(label.releasable_to)},
            "parents": [],
        }
        for n, label in enumerate(labels)
    ]
    handle = cedarpy.Entities.from_json_str(json.dumps(entities))
    policies = cedarpy.PolicySet.from_str((HERE / "cedar_visibility.cedar").read_text())
    requests = []
    expected = []
    for user in users:
        for n, label in enumerate(labels):
            requests.append(
                {
                    "principal": {"type": "User", "id": user.name},
                    "action": {"type": "Action", "id": "view"},
                    "resource": {"type": "Record", "id": f"r{n}"},
                    "context": {},
                }
            )
            sees = may_see(label, user.nation, user.clearance)
            assert user.may_see(label) == sees
            expected.append(sees)
    results = cedarpy.is_authorized_batch(requests, policies, handle)
    allowed = [result.allowed for result in results]
    wrong = [n for n, (a, b) in enumerate(zip(allowed, expected, strict=True)) if a != b]
    assert not wrong, f"{len(wrong)} disagreements, first: {requests[wrong[0]]}"
    assert len(requests) >= 50_000
    assert 0.1 < sum(allowed) / len(allowed) < 0.9  # both answers well represented
