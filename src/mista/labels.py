"""Security labels: what a record is, who may see it, and how labels combine.

A label carries a classification ``level``, the nations the record is releasable to
(``releasable_to``, ISO 3166-1 alpha-3 codes, always containing the ``originator``), the
``categories`` it belongs to (``white-shipping``, ``geospatial``, ``sensor:radar`` ...) and
``orcon`` (originator-controlled: a recipient may not pass it on). See DESIGN.md, "Core
records" and "Rules that never bend".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import IntEnum

from mista.errors import LabelError

__all__ = ["Label", "Level", "combine", "may_see"]


class Level(IntEnum):
    """Classification levels, ordered (DESIGN.md: UNCLASSIFIED < RESTRICTED < ... < SECRET)."""

    UNCLASSIFIED = 0
    RESTRICTED = 1
    CONFIDENTIAL = 2
    SECRET = 3

    @classmethod
    def from_name(cls, name: str) -> Level:
        try:
            return cls[name.strip().upper()]
        except KeyError:
            known = ", ".join(level.name for level in cls)
            raise LabelError(f"unknown classification level {name!r} (known: {known})") from None


_NATION = re.compile(r"^[A-Z]{3}$")


def _check_nation(code: str, what: str) -> str:
    if not _NATION.match(code):
        raise LabelError(
            f"{what} {code!r} is not an ISO 3166-1 alpha-3 nation code (three capitals, e.g. IND)"
        )
    return code


@dataclass(frozen=True, slots=True)
class Label:
    """A security label. ``releasable_to`` always contains ``originator`` (added if missing)."""

    level: Level
    originator: str
    releasable_to: frozenset[str] = field(default_factory=frozenset)
    categories: frozenset[str] = field(default_factory=frozenset)
    orcon: bool = False

    def __post_init__(self) -> None:
        _check_nation(self.originator, "originator")
        for nation in self.releasable_to:
            _check_nation(nation, "releasable nation")
        if not isinstance(self.level, Level):
            object.__setattr__(self, "level", Level(self.level))
        object.__setattr__(self, "releasable_to", frozenset(self.releasable_to) | {self.originator})
        object.__setattr__(self, "categories", frozenset(self.categories))

    def dominates(self, other: Label) -> bool:
        """True when this label is at least as restrictive as ``other`` in every respect."""
        return (
            self.level >= other.level
            and self.releasable_to <= other.releasable_to
            and self.categories >= other.categories
            and (self.orcon or not other.orcon)
        )

    def to_marking(self) -> str:
        """A compact human marking, e.g. ``RESTRICTED//REL TO IND,USA//white-shipping``."""
        parts = [self.level.name, "REL TO " + ",".join(sorted(self.releasable_to))]
        if self.categories:
            parts.append(",".join(sorted(self.categories)))
        if self.orcon:
            parts.append("ORCON")
        return "//".join(parts)

    @classmethod
    def default_for(cls, nation: str) -> Label:
        """The default label of a source: UNCLASSIFIED, releasable to the node's own nation."""
        return cls(level=Level.UNCLASSIFIED, originator=nation, releasable_to=frozenset({nation}))


def combine(labels: Iterable[Label], originator: str) -> Label:
    """The label of a record built from several (a fused track, an alert).

    Highest level, intersection of releasability, union of categories, orcon if any input
    is. ``originator`` is the node that combines; it must be allowed to see every input.
    """
    inputs = list(labels)
    if not inputs:
        raise LabelError("cannot combine an empty set of labels: a record needs at least one input")
    for label in inputs:
        if originator not in label.releasable_to:
            raise LabelError(
                f"{originator} may not combine a record marked {label.to_marking()}: "
                f"it is not releasable to {originator}"
            )
    releasable = frozenset.intersection(*(label.releasable_to for label in inputs))
    return Label(
        level=max(label.level for label in inputs),
        originator=originator,
        releasable_to=releasable,
        categories=frozenset().union(*(label.categories for label in inputs)),
        orcon=any(label.orcon for label in inputs),
    )


def may_see(label: Label, nation: str, clearance: Level) -> bool:
    """DESIGN.md rule 1: a user sees a record iff clearance >= level and nation is releasable."""
    return clearance >= label.level and nation in label.releasable_to
