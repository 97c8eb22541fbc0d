"""Builders and strategies for agreements, clauses and release candidates.

The universe is small on purpose (the nations of tests/strategies.py, a few categories,
times within days of T0 in whole seconds, boxes on a one-degree grid, a few polygons) so
random agreements and records meet often: most cases reach the clause tests.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import shapely
from hypothesis import strategies as st
from shapely.geometry import Polygon

from mista.labels import Label, Level
from mista.share.agreements import Agreement, Clause, Flow, Sanitise
from mista.share.area import Area
from mista.share.release import Candidate
from tests.strategies import CATEGORIES, NATIONS, labels

T0 = datetime(2026, 1, 1, tzinfo=UTC)
#: Times are T0 + this many seconds, either way.
SPAN_S = 5 * 86_400
DELAYS_S = (0, 0, 60, 1_800, 7_200, 86_400)
LAT_RANGE_UDEG = 12_000_000  # points within +-12 degrees, boxes on +-10
LON_RANGE_UDEG = 12_000_000


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_polygon_area(name: str, ring: list[tuple[float, float]]) -> Area:
    """An Area from a ring of (lon, lat), as load_layer_area builds it from GeoJSON."""
    polygon = Polygon(ring)
    shapely.prepare(polygon)
    return Area(description=f"test#{name}", bbox=tuple(polygon.bounds), geometry=polygon)


POLYGONS = (
    make_polygon_area("triangle", [(-5.0, -5.0), (5.0, -5.0), (0.0, 6.0)]),
    make_polygon_area("l-shape", [(0, 0), (8, 0), (8, 2), (2, 2), (2, 8), (0, 8)]),
)


def box_area(west: int, south: int, east: int, north: int) -> Area:
    """A box on whole degrees (as ``bbox_area`` builds it)."""
    return Area(
        description=f"bbox {west},{south},{east},{north}",
        bbox=(float(west), float(south), float(east), float(north)),
    )


def make_clause(
    clause_id: str = "c1",
    *,
    flows: frozenset[Flow] = frozenset({Flow.REPORTS}),
    categories: frozenset[str] = frozenset({"white-shipping"}),
    max_level: Level = Level.SECRET,
    area: Area | None = None,
    delay: timedelta = timedelta(0),
    precision: int | None = None,
    remove: frozenset[str] = frozenset(),
) -> Clause:
    return Clause(
        id=clause_id,
        flows=flows,
        categories=categories,
        max_level=max_level,
        area=area,
        sanitise=Sanitise(delay=delay, precision=precision, remove=remove),
    )


def make_agreement(
    agreement_id: str = "a1",
    *,
    parties: frozenset[str] = frozenset({"IND", "USA"}),
    sender: str | None = None,
    valid_from: datetime = T0 - timedelta(days=365),
    valid_until: datetime = T0 + timedelta(days=365),
    clauses: tuple[Clause, ...] = (),
    version: int = 1,
) -> Agreement:
    """A mutual agreement, or one-way from ``sender``."""
    senders = parties if sender is None else frozenset({sender})
    receivers = parties if sender is None else parties - {sender}
    return Agreement(
        id=agreement_id,
        version=version,
        parties=parties,
        senders=senders,
        receivers=receivers,
        valid_from=valid_from,
        valid_until=valid_until,
        clauses=clauses or (make_clause(),),
        path=Path(f"{agreement_id}.toml"),
    )


# -- hypothesis strategies --------------------------------------------------------------

times = st.integers(-SPAN_S, SPAN_S).map(at)


@st.composite
def boxes(draw: st.DrawFn) -> Area:
    south = draw(st.integers(-10, 9))
    north = draw(st.integers(south, 10))
    west = draw(st.integers(-10, 10))
    east = draw(st.integers(-10, 10))  # east < west: a box crossing the antimeridian
    return box_area(west, south, east, north)


areas = st.one_of(st.none(), boxes(), st.sampled_from(POLYGONS))


@st.composite
def clauses(draw: st.DrawFn, clause_id: str) -> Clause:
    return make_clause(
        clause_id,
        flows=frozenset(draw(st.sets(st.sampled_from(list(Flow)), min_size=1))),
        categories=frozenset(draw(st.sets(st.sampled_from(CATEGORIES), min_size=1))),
        max_level=draw(st.sampled_from(list(Level))),
        area=draw(areas),
        delay=timedelta(seconds=draw(st.sampled_from(DELAYS_S))),
        precision=draw(st.one_of(st.none(), st.integers(0, 6))),
        remove=frozenset(draw(st.sets(st.sampled_from(["receiver", "raw", "name"])))),
    )


@st.composite
def agreements(draw: st.DrawFn, agreement_id: str) -> Agreement:
    parties = frozenset(draw(st.sets(st.sampled_from(NATIONS), min_size=2, max_size=4)))
    sender = draw(st.one_of(st.none(), st.sampled_from(sorted(parties))))
    start = draw(st.integers(-SPAN_S, SPAN_S))
    length = draw(st.integers(1, 2 * SPAN_S))
    count = draw(st.integers(1, 3))
    return make_agreement(
        agreement_id,
        parties=parties,
        sender=sender,
        valid_from=at(start),
        valid_until=at(start + length),
        clauses=tuple(draw(clauses(f"c{i}")) for i in range(count)),
        version=draw(st.integers(1, 3)),
    )


@st.composite
def agreement_sets(draw: st.DrawFn) -> list[Agreement]:
    count = draw(st.integers(0, 3))
    return [draw(agreements(f"a{i}")) for i in range(count)]


coordinates = st.one_of(
    st.none(),
    st.integers(-LAT_RANGE_UDEG, LAT_RANGE_UDEG).map(lambda u: u / 1e6),
    st.integers(-12, 12).map(float),  # on the grid: box edges and polygon corners
)


@st.composite
def candidates(draw: st.DrawFn) -> Candidate:
    return Candidate(
        flow=draw(st.sampled_from(list(Flow))),
        label=draw(labels()),
        observed_at=draw(st.one_of(st.none(), times)),
        lat=draw(coordinates),
        lon=draw(coordinates),
    )


# -- seeded random cases (many thousands, for the Cedar comparison) ----------------------


def random_label(rng: random.Random) -> Label:
    return Label(
        level=rng.choice(list(Level)),
        originator=rng.choice(NATIONS),
        releasable_to=frozenset(rng.sample(NATIONS, rng.randint(0, len(NATIONS)))),
        categories=frozenset(rng.sample(CATEGORIES, rng.choice((0, 1, 1, 2, 2, 3)))),
        orcon=rng.random() < 0.3,
    )


def random_box(rng: random.Random) -> Area:
    south = rng.randint(-10, 9)
    north = rng.randint(south, 10)
    return box_area(rng.randint(-10, 10), south, rng.randint(-10, 10), north)


def random_agreement(rng: random.Random, agreement_id: str) -> Agreement:
    parties = frozenset(rng.sample(NATIONS, rng.randint(2, 4)))
    sender = rng.choice([None, *sorted(parties)])
    start = rng.randint(-SPAN_S, SPAN_S)
    clause_list = tuple(
        make_clause(
            f"c{i}",
            flows=frozenset(rng.sample(list(Flow), rng.randint(1, 4))),
            categories=frozenset(rng.sample(CATEGORIES, rng.randint(1, len(CATEGORIES)))),
            max_level=rng.choice(list(Level)),
            area=random_box(rng) if rng.random() < 0.5 else None,
            delay=timedelta(seconds=rng.choice(DELAYS_S)),
        )
        for i in range(rng.randint(1, 3))
    )
    return make_agreement(
        agreement_id,
        parties=parties,
        sender=sender,
        valid_from=at(start),
        valid_until=at(start + rng.randint(1, 2 * SPAN_S)),
        clauses=clause_list,
    )


def random_coordinate_udeg(rng: random.Random) -> int | None:
    roll = rng.random()
    if roll < 0.1:
        return None
    if roll < 0.3:
        return rng.randint(-12, 12) * 1_000_000  # on the grid
    return rng.randint(-LAT_RANGE_UDEG, LAT_RANGE_UDEG)


likely = st.sampled_from((True, True, True, True, False))
nations = st.sampled_from(NATIONS)
PAIRS = tuple((a, b) for a in NATIONS for b in NATIONS if a != b)


def fitted(clause: Clause, flow: Flow, label: Label, level_step: int) -> Clause:
    """The clause fitted to the record's flow and categories, its level just at, above or
    below the record's (``level_step``); area and delay kept. Edges are where bugs live."""
    level = min(max(label.level + level_step, Level.UNCLASSIFIED), Level.SECRET)
    return Clause(
        id=clause.id,
        flows=clause.flows | {flow},
        categories=clause.categories | label.categories,
        max_level=Level(level),
        area=clause.area,
        sanitise=clause.sanitise,
    )


@st.composite
def release_cases(
    draw: st.DrawFn,
) -> tuple[Candidate, str, str, list[Agreement], datetime]:
    """(candidate, node, partner, agreements, now) biased towards reaching the clauses:
    usually the partner may hold the label, the node originated it, and the agreements
    bind both and are in force; every rule still fails in some draws."""
    node, partner = draw(st.sampled_from(PAIRS)) if draw(likely) else (draw(nations),) * 2
    candidate = draw(candidates())
    label = candidate.label
    if draw(likely):
        label = Label(
            level=label.level,
            originator=node if draw(likely) else label.originator,
            releasable_to=label.releasable_to | {partner},
            categories=label.categories,
            orcon=label.orcon,
        )
    if not label.categories and draw(likely):
        label = Label(
            level=label.level,
            originator=label.originator,
            releasable_to=label.releasable_to,
            categories=frozenset({"white-shipping"}),
            orcon=label.orcon,
        )
    now = draw(times)
    observed_at = candidate.observed_at
    if observed_at is not None and draw(likely):
        # Often exactly one delay before now: the edge of rule 6.
        observed_at = now - timedelta(seconds=draw(st.sampled_from(DELAYS_S)))
    bound = []
    for index in range(draw(st.integers(1, 3))):
        found = draw(agreements(f"a{index}"))
        in_force = draw(likely)
        bound.append(
            make_agreement(
                found.id,
                parties=found.parties | {node, partner} if draw(likely) else found.parties,
                sender=draw(st.sampled_from((None, node, partner))),
                valid_from=now - timedelta(seconds=draw(st.integers(0, SPAN_S)))
                if in_force
                else found.valid_from,
                valid_until=now + timedelta(seconds=draw(st.integers(1, SPAN_S)))
                if in_force
                else found.valid_until,
                clauses=tuple(
                    fitted(clause, candidate.flow, label, draw(st.sampled_from((0, 1, -1))))
                    if draw(likely)
                    else clause
                    for clause in found.clauses
                ),
                version=found.version,
            )
        )
    return (
        Candidate(candidate.flow, label, observed_at, candidate.lat, candidate.lon),
        node,
        partner,
        bound,
        now,
    )
