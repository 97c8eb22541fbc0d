"""Security labels: what a record is, who may see it, and how labels combine.

A label carries a classification ``level``, the nations the record is releasable to
(``releasable_to``, ISO 3166-1 alpha-3 codes, always containing the ``originator``), the
``categories`` it belongs to (``white-shipping``, ``geospatial``, ``sensor:radar`` ...) and
``orcon`` (originator-controlled: a recipient may not pass it on). See DESIGN.md, "Core
records" and "Rules that never bend".
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum

from mista.errors import LabelError

__all__ = [
    "NATION_CODE",
    "Label",
    "Level",
    "check_groups",
    "combine",
    "expand_groups",
    "may_see",
    "parse_marking",
]


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


#: An ISO 3166-1 alpha-3 nation code (three capitals); use ``fullmatch``. Every module
#: that checks a nation code uses this one pattern.
NATION_CODE = re.compile(r"[A-Z]{3}")
#: A community of nations named in ``REL TO`` (``QUAD``, ``FVEY``): capitals, digits, ``_``
#: and ``-``, never exactly three letters (those are nations).
_GROUP = re.compile(r"[A-Z][A-Z0-9_-]{1,31}")
#: Categories are lowercase words (``white-shipping``, ``sensor:radar``); no ``,`` or ``/``,
#: so a marking lists them unambiguously and two labels never share a marking.
_CATEGORY = re.compile(r"[a-z0-9][a-z0-9:._-]{0,63}")
#: Longer input is refused before it is parsed (a marking is a few dozen characters).
_MAX_MARKING_CHARS = 4096
_REL_TO = "REL TO "
_ORCON = "ORCON"


def _check_nation(code: str, what: str) -> str:
    if not NATION_CODE.fullmatch(code):
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
        for category in self.categories:
            if not isinstance(category, str) or not _CATEGORY.fullmatch(category):
                raise LabelError(
                    f"category {category!r} is not a lowercase word of letters, digits and "
                    "':._-' (at most 64, e.g. white-shipping or sensor:radar)"
                )
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


def _is_group_name(name: str) -> bool:
    return bool(_GROUP.fullmatch(name)) and not NATION_CODE.fullmatch(name)


def check_groups(groups: Mapping[str, Iterable[str]] | None) -> dict[str, frozenset[str]]:
    """Validated nation groups (``{"QUAD": {"AUS", "IND", "JPN", "USA"}}``) from a config.

    A group name is capitals, digits, ``_`` or ``-`` (2 to 32, not exactly three letters,
    which would be a nation); its members are nations (no nested groups), at least one.
    """
    checked: dict[str, frozenset[str]] = {}
    for name, members in (groups or {}).items():
        if not isinstance(name, str) or not _is_group_name(name):
            raise LabelError(
                f"group name {name!r} is not 2-32 capitals, digits, '_' or '-' (and not three "
                "letters, which is a nation code): e.g. QUAD or FVEY"
            )
        if isinstance(members, str):
            raise LabelError(
                f'group {name} must list its nations, e.g. {name} = ["IND", "USA"], '
                f"not a string {members!r}"
            )
        listed = list(members)
        if not listed:
            raise LabelError(f"group {name} has no nations: list at least one")
        for member in listed:
            if not isinstance(member, str) or not NATION_CODE.fullmatch(member):
                raise LabelError(
                    f"group {name}: member {member!r} is not a nation code (three capitals, "
                    "e.g. IND; groups cannot contain groups)"
                )
        checked[name] = frozenset(listed)
    return checked


def expand_groups(
    names: Iterable[str], groups: Mapping[str, Iterable[str]] | None = None
) -> frozenset[str]:
    """Nations named directly or through groups (``["QUAD", "FRA"]`` -> the five nations)."""
    known = check_groups(groups)
    nations: set[str] = set()
    for name in names:
        if NATION_CODE.fullmatch(name):
            nations.add(name)
        elif _is_group_name(name):
            if name not in known:
                listed = ", ".join(sorted(known)) or "none are configured"
                raise LabelError(
                    f"REL TO names group {name}, which is not defined (known groups: {listed}); "
                    "define it under [groups] in the node config or list the nations"
                )
            nations |= known[name]
        elif name.upper() != name and NATION_CODE.fullmatch(name.upper()):
            raise LabelError(
                f"REL TO names {name!r}: nation codes are three capitals, write {name.upper()}"
            )
        else:
            raise LabelError(
                f"REL TO names {name!r}, which is neither a nation code (three capitals, e.g. "
                "IND) nor a group name (capitals, digits, '_' or '-', e.g. QUAD)"
            )
    return frozenset(nations)


def _names(part: str, text: str, what: str) -> list[str]:
    """The comma-separated names of one marking part; no blanks, no repeats."""
    if not text:
        raise LabelError(f"marking part {part!r}: the {what} list is empty (list at least one)")
    names = text.split(",")
    for name in names:
        if not name:
            raise LabelError(
                f"marking part {part!r}: an empty {what} between commas (remove the extra comma)"
            )
        if name != name.strip() or " " in name:
            raise LabelError(
                f"marking part {part!r}: {what} {name!r} has spaces (write names separated by "
                "commas only, e.g. REL TO IND,USA)"
            )
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise LabelError(
            f"marking part {part!r}: {', '.join(repeated)} listed more than once (list each once)"
        )
    return names


def parse_marking(
    text: str, originator: str, groups: Mapping[str, Iterable[str]] | None = None
) -> Label:
    """The label a compact marking describes: ``LEVEL[//REL TO A,B][//cat,...][//ORCON]``.

    The inverse of ``Label.to_marking`` (e.g. ``RESTRICTED//REL TO IND,USA//white-shipping``).
    Names in ``REL TO`` that are not three capitals are groups, expanded from ``groups``.
    Without ``REL TO`` the record is releasable to ``originator`` only. Surrounding
    whitespace is ignored; any other deviation is a ``LabelError`` saying what to fix.
    """
    if not isinstance(text, str):
        raise LabelError(f"a marking must be text, got {type(text).__name__}")
    if len(text) > _MAX_MARKING_CHARS:
        raise LabelError(
            f"marking of {len(text)} characters is too long (at most {_MAX_MARKING_CHARS})"
        )
    marking = text.strip()
    if not marking:
        raise LabelError("empty marking: start with a level, e.g. RESTRICTED//REL TO IND,USA")
    level_part, *rest = marking.split("//")
    if level_part not in Level.__members__:
        known = ", ".join(level.name for level in Level)
        raise LabelError(
            f"marking {marking!r} starts with {level_part!r}, not a level (one of {known}, "
            "in capitals, followed by // and the next part)"
        )
    releasable: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    orcon = False
    # Parts come in the order to_marking writes them; each at most once.
    stage = 0
    for part in rest:
        if part.startswith(_REL_TO) or part.rstrip() == _REL_TO.rstrip():
            if stage >= 1:
                raise LabelError(
                    f"marking {marking!r}: REL TO appears twice or after the categories "
                    "(order: LEVEL//REL TO ...//categories//ORCON)"
                )
            releasable = expand_groups(_names(part, part[len(_REL_TO) :], "nation"), groups)
            stage = 1
        elif part == _ORCON:
            if stage >= 3:
                raise LabelError(f"marking {marking!r}: ORCON appears twice (write it once)")
            orcon, stage = True, 3
        elif not part:
            raise LabelError(
                f"marking {marking!r} has an empty part (a doubled or trailing //): remove it"
            )
        else:
            if stage >= 2:
                raise LabelError(
                    f"marking {marking!r}: part {part!r} comes after the categories or ORCON "
                    "(order: LEVEL//REL TO ...//categories//ORCON, each at most once)"
                )
            names = _names(part, part, "category")
            for name in names:
                if not _CATEGORY.fullmatch(name):
                    raise LabelError(
                        f"marking part {part!r}: {name!r} is not a category (lowercase letters, "
                        "digits and ':._-', e.g. white-shipping), nor REL TO ... or ORCON"
                    )
            categories, stage = frozenset(names), 2
    return Label(
        level=Level[level_part],
        originator=originator,
        releasable_to=releasable,
        categories=categories,
        orcon=orcon,
    )
