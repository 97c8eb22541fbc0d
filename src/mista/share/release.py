"""The release decision: may this record go to that partner now, and sanitised how.

``decide`` is the rule of docs/sharing.md section 2 (DESIGN.md rule 1) as a pure function
of the record, the node, the partner, the agreements and the time. Default deny; a denial
names the rule that failed. ``Releaser`` gives the same decisions for many records,
caching what depends only on the label and flow; tests hold the two to identical answers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import shapely

from mista.labels import Label
from mista.share.agreements import Agreement, Clause, Flow, Sanitise, format_delay

__all__ = ["Candidate", "Decision", "Outcome", "Releaser", "decide", "sanitise_record"]

_ZERO = timedelta(0)
#: Distinct (label, flow) plans a Releaser keeps; a node sees a few dozen labels, so the
#: bound only matters against input that makes every record's label different.
MAX_PLANS = 4096


class Outcome(StrEnum):
    RELEASE = "release"
    HOLD = "hold"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Candidate:
    """What the decision looks at in a record: its flow, label, time and position."""

    flow: Flow
    label: Label
    observed_at: datetime | None
    lat: float | None
    lon: float | None


@dataclass(frozen=True, slots=True)
class Decision:
    """The outcome, why, and under which agreement and clause (release and hold)."""

    outcome: Outcome
    reason: str
    agreement: str | None = None
    clause: str | None = None
    not_before: datetime | None = None
    sanitise: Sanitise | None = None


# -- reasons: one wording shared by decide and Releaser ---------------------------------


def _deny_self(partner: str) -> Decision:
    return Decision(Outcome.DENY, f"rule 1: the partner {partner} is this node")


def _deny_not_releasable(label: Label, partner: str) -> Decision:
    return Decision(
        Outcome.DENY,
        f"rule 2: not releasable to {partner} (marked {label.to_marking()})",
    )


def _deny_orcon(label: Label, node: str) -> Decision:
    return Decision(
        Outcome.DENY,
        f"rule 3: originator-controlled by {label.originator}: {node} may not pass it on",
    )


def _deny_no_agreement(node: str, partner: str, out_of_window: Sequence[Agreement]) -> Decision:
    reason = f"rule 4: no agreement valid at this time lets {node} send to {partner}"
    if out_of_window:
        names = ", ".join(
            f"{a.id} ({a.valid_from.isoformat()} to {a.valid_until.isoformat()})"
            for a in out_of_window
        )
        reason += f"; not in force now: {names}"
    return Decision(Outcome.DENY, reason)


def _deny_no_clause(misses: Sequence[str]) -> Decision:
    return Decision(
        Outcome.DENY,
        "rule 5: no clause of an agreement in force covers it (" + "; ".join(misses) + ")",
    )


def _release(agreement: Agreement, clause: Clause) -> Decision:
    return Decision(
        Outcome.RELEASE,
        f"rule 5: clause {clause.id} of agreement {agreement.id} v{agreement.version} covers it",
        agreement=agreement.id,
        clause=clause.id,
        sanitise=clause.sanitise,
    )


def _hold(agreement: Agreement, clause: Clause, not_before: datetime) -> Decision:
    return Decision(
        Outcome.HOLD,
        f"rule 6: clause {clause.id} of agreement {agreement.id} v{agreement.version} covers "
        f"it after a delay of {format_delay(clause.sanitise.delay)} from its observation: "
        f"held until {not_before.isoformat()}",
        agreement=agreement.id,
        clause=clause.id,
        not_before=not_before,
        sanitise=clause.sanitise,
    )


def _label_miss(clause: Clause, flow: Flow, label: Label) -> str | None:
    """Why ``clause`` cannot cover a record of this flow and label, or None."""
    if flow not in clause.flows:
        return f"flow {flow} is not one of {', '.join(sorted(clause.flows))}"
    if not label.categories:
        return "the record has no categories"
    uncovered = label.categories - clause.categories
    if uncovered:
        return f"categories {', '.join(sorted(uncovered))} are not covered"
    if label.level > clause.max_level:
        return f"{label.level.name} is above {clause.max_level.name}"
    return None


def _no_position(clause: Clause) -> str:
    return "it has no position and the clause has an area"


def _outside(clause: Clause) -> str:
    assert clause.area is not None
    return f"it is outside {clause.area.description}"


def _no_time(clause: Clause) -> str:
    return f"it has no observation time and the clause delays {format_delay(clause.sanitise.delay)}"


# -- the decision -----------------------------------------------------------------------


def decide(
    candidate: Candidate,
    *,
    node: str,
    partner: str,
    agreements: Sequence[Agreement],
    now: datetime,
) -> Decision:
    """Release, hold or deny ``candidate`` for ``partner`` at ``now`` (docs/sharing.md §2).

    Rules in order, default deny: 1. the partner is not this node; 2. the partner is in
    the label's releasability; 3. this node originated it or it is not ORCON; 4. an
    agreement valid at ``now`` lets the node send to the partner; 5. a clause of it covers
    the flow, every one of the (non-empty) categories, the level and the position; 6. the
    clause's delay has passed since the observation (else HOLD until ``not_before``).
    The first clause (agreements in the order given, clauses in file order) that releases
    now decides; else the covering clause that releases soonest holds it.
    """
    label = candidate.label
    if partner == node:
        return _deny_self(partner)
    if partner not in label.releasable_to:
        return _deny_not_releasable(label, partner)
    if label.orcon and label.originator != node:
        return _deny_orcon(label, node)
    linking = [a for a in agreements if a.allows(node, partner)]
    in_force = [a for a in linking if a.is_valid_at(now)]
    if not in_force:
        return _deny_no_agreement(node, partner, linking)
    misses: list[str] = []
    soonest: tuple[datetime, Agreement, Clause] | None = None
    for agreement in in_force:
        for clause in agreement.clauses:
            miss = _label_miss(clause, candidate.flow, label)
            if miss is None and clause.area is not None:
                if candidate.lat is None or candidate.lon is None:
                    miss = _no_position(clause)
                elif not clause.area.contains(candidate.lat, candidate.lon):
                    miss = _outside(clause)
            if miss is None and candidate.observed_at is None and clause.sanitise.delay > _ZERO:
                miss = _no_time(clause)
            if miss is not None:
                misses.append(f"{agreement.id}/{clause.id}: {miss}")
                continue
            if candidate.observed_at is None:
                return _release(agreement, clause)
            not_before = candidate.observed_at + clause.sanitise.delay
            if not_before <= now:
                return _release(agreement, clause)
            if soonest is None or not_before < soonest[0]:
                soonest = (not_before, agreement, clause)
    if soonest is not None:
        return _hold(soonest[1], soonest[2], soonest[0])
    return _deny_no_clause(misses)


def sanitise_record(fields: Mapping[str, object], sanitise: Sanitise) -> dict[str, object]:
    """A released record's fields: ``lat``/``lon`` rounded to ``precision`` decimal places,
    the ``remove`` fields dropped. Everything else (the label above all) is kept as is."""
    out = {key: value for key, value in fields.items() if key not in sanitise.remove}
    if sanitise.precision is not None:
        for key in ("lat", "lon"):
            value = out.get(key)
            if isinstance(value, float | int) and not isinstance(value, bool):
                out[key] = round(float(value), sanitise.precision)
    return out


# -- the fast path ----------------------------------------------------------------------


class _Check:
    """A clause the label and flow pass: what is left to test per record."""

    __slots__ = ("agreement", "box", "clause", "crosses", "delay", "geometry", "release")

    def __init__(self, agreement: Agreement, clause: Clause) -> None:
        self.agreement = agreement
        self.clause = clause
        self.release = _release(agreement, clause)
        self.delay = clause.sanitise.delay
        area = clause.area
        self.box = area.bbox if area is not None else None
        self.crosses = area is not None and area.bbox[0] > area.bbox[2]
        self.geometry = area.geometry if area is not None else None


@dataclass(frozen=True, slots=True)
class _Plan:
    """Per (label, flow): a decision that holds for every record, or the clauses to test
    in order (a ``str`` entry is a clause the label already fails, with its miss)."""

    fixed: Decision | None
    entries: tuple[_Check | str, ...] = ()


class Releaser:
    """``decide`` for many records to one partner: same decisions, a fraction of the work.

    Everything that depends only on the label and flow (rules 1-3, and per clause the
    flow, category and level tests) is worked out once per distinct (label, flow) and
    kept; per record only the clauses that remain are tested for area and time.
    """

    def __init__(self, node: str, partner: str, agreements: Sequence[Agreement]) -> None:
        self.node = node
        self.partner = partner
        self._linking = tuple(a for a in agreements if a.allows(node, partner))
        self._clauses = {(a.id, c.id): c for a in reversed(self._linking) for c in a.clauses}
        self._plans: dict[tuple[Label, Flow], _Plan] = {}
        self._now: datetime | None = None
        self._in_force: tuple[bool, ...] | None = None

    def _set_now(self, now: datetime) -> None:
        in_force = tuple(a.is_valid_at(now) for a in self._linking)
        if in_force != self._in_force:
            self._plans.clear()
            self._in_force = in_force
        self._now = now

    def _plan(self, label: Label, flow: Flow) -> _Plan:
        node, partner = self.node, self.partner
        if partner == node:
            return _Plan(_deny_self(partner))
        if partner not in label.releasable_to:
            return _Plan(_deny_not_releasable(label, partner))
        if label.orcon and label.originator != node:
            return _Plan(_deny_orcon(label, node))
        assert self._in_force is not None
        in_force = [a for a, ok in zip(self._linking, self._in_force, strict=True) if ok]
        if not in_force:
            return _Plan(_deny_no_agreement(node, partner, self._linking))
        entries: list[_Check | str] = []
        for agreement in in_force:
            for clause in agreement.clauses:
                miss = _label_miss(clause, flow, label)
                if miss is None:
                    entries.append(_Check(agreement, clause))
                else:
                    entries.append(f"{agreement.id}/{clause.id}: {miss}")
        if all(isinstance(entry, str) for entry in entries):
            return _Plan(_deny_no_clause([str(entry) for entry in entries]))
        return _Plan(None, tuple(entries))

    def _plan_at(self, label: Label, flow: Flow, now: datetime) -> _Plan:
        if now != self._now:
            self._set_now(now)
        key = (label, flow)
        plan = self._plans.get(key)
        if plan is None:
            if len(self._plans) >= MAX_PLANS:
                self._plans.clear()
            plan = self._plans[key] = self._plan(label, flow)
        return plan

    def fixed_decision(self, label: Label, flow: Flow, now: datetime) -> Decision | None:
        """The decision every record under ``label`` and ``flow`` gets at ``now`` when it
        does not depend on the record (rules 1 to 3, no agreement in force, no clause for
        the label), else None: lets a release scan skip reading such records."""
        return self._plan_at(label, flow, now).fixed

    def still_covers(self, decision: Decision, lat: float | None, lon: float | None) -> bool:
        """Whether the clause a release or hold names covers the record at ``lat``/``lon``
        too (where sanitising moved it): inside its area, or it has none. The record goes
        sanitised by that clause, so that clause, not another, must cover what goes."""
        clause = self._clauses.get((decision.agreement or "", decision.clause or ""))
        if clause is None:
            return False
        if clause.area is None:
            return True
        return lat is not None and lon is not None and clause.area.contains(lat, lon)

    def decide(self, candidate: Candidate, now: datetime) -> Decision:
        """The decision ``decide`` gives for ``candidate`` at ``now``."""
        plan = self._plan_at(candidate.label, candidate.flow, now)
        if plan.fixed is not None:
            return plan.fixed
        lat, lon, observed_at = candidate.lat, candidate.lon, candidate.observed_at
        soonest: tuple[datetime, _Check] | None = None
        for entry in plan.entries:
            if entry.__class__ is str:
                continue
            assert isinstance(entry, _Check)
            box = entry.box
            if box is not None:
                if lat is None or lon is None or not box[1] <= lat <= box[3]:
                    continue
                if entry.crosses:
                    if not (lon >= box[0] or lon <= box[2]):
                        continue
                elif not box[0] <= lon <= box[2]:
                    continue
                if entry.geometry is not None and not _inside(entry.geometry, lon, lat):
                    continue
            if observed_at is None:
                if entry.delay:
                    continue
                return entry.release
            not_before = observed_at + entry.delay
            if not_before <= now:
                return entry.release
            if soonest is None or not_before < soonest[0]:
                soonest = (not_before, entry)
        if soonest is not None:
            return _hold(soonest[1].agreement, soonest[1].clause, soonest[0])
        return _deny_no_clause(self._misses(plan, candidate))

    @staticmethod
    def _misses(plan: _Plan, candidate: Candidate) -> list[str]:
        """The per-clause reasons of a rule-5 denial (the slow path: denials only)."""
        misses: list[str] = []
        for entry in plan.entries:
            if isinstance(entry, str):
                misses.append(entry)
                continue
            clause = entry.clause
            if clause.area is not None and (candidate.lat is None or candidate.lon is None):
                miss = _no_position(clause)
            elif clause.area is not None and not clause.area.contains(
                candidate.lat,  # type: ignore[arg-type]
                candidate.lon,  # type: ignore[arg-type]
            ):
                miss = _outside(clause)
            else:
                miss = _no_time(clause)
            misses.append(f"{entry.agreement.id}/{clause.id}: {miss}")
        return misses


def _inside(geometry: object, lon: float, lat: float) -> bool:
    return bool(shapely.intersects_xy(geometry, lon, lat))
