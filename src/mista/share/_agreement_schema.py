"""The agreement file schema as a table, and the checker that turns a file into an Agreement.

Every field is checked for its type and value; every problem found is kept (none stops
the check), each with the line of its key and the fix. The fields, their meaning and
their defaults are documented in docs/agreements.md; ``FIELDS`` and ``CLAUSE_FIELDS``
below are the source of that page's tables (held together by tests/share).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from mista.errors import ConfigError
from mista.labels import Level
from mista.share._agreement_source import KeyPath, Located, dotted, read_agreement_file
from mista.share.agreements import (
    REMOVABLE_FIELDS,
    Agreement,
    Clause,
    Flow,
    Problem,
    Sanitise,
)
from mista.share.area import Area, bbox_area, load_layer_area, short_repr
from mista.share.nations import is_nation

__all__ = ["CLAUSE_FIELDS", "FIELDS", "parse_agreement_file", "parse_delay"]

#: Top-level fields: name -> (required, what it holds).
FIELDS: dict[str, tuple[bool, str]] = {
    "id": (True, "the agreement's name, unique across the directory"),
    "version": (True, "a whole number >= 1, raised on every amendment"),
    "title": (False, "free text for people"),
    "parties": (True, "the nations (ISO 3166-1 alpha-3) bound by it, at least two"),
    "direction": (True, '"mutual" (every party to every other) or "one-way"'),
    "from": (False, "with one-way: the one party that sends"),
    "valid_from": (True, "ISO 8601 UTC time it takes effect (inclusive)"),
    "valid_until": (True, "ISO 8601 UTC time it ends (exclusive)"),
    "clause": (True, "one table per permission, at least one"),
}
#: Clause fields: name -> (required, what it holds).
CLAUSE_FIELDS: dict[str, tuple[bool, str]] = {
    "id": (True, "the clause's name, unique within the agreement"),
    "flows": (True, "what it releases: reports, tracks, alerts, features"),
    "categories": (True, "label categories it covers; a record's must all be listed"),
    "max_level": (True, "the highest level it releases (UNCLASSIFIED .. SECRET)"),
    "area": (False, "bbox = [W, S, E, N], or layer = GeoJSON file + feature = name"),
    "delay": (False, 'time after the observation before release, e.g. "30m" (default "0s")'),
    "precision": (False, "decimal places kept in lat/lon, 0..6 (default: as observed)"),
    "remove": (False, "fields dropped from released records (docs/agreements.md)"),
}
AREA_FIELDS = ("bbox", "layer", "feature")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DELAY = re.compile(r"(?:(\d{1,6})d)?(?:(\d{1,6})h)?(?:(\d{1,6})m)?(?:(\d{1,6})s)?")
MAX_DELAY = timedelta(days=366)
MAX_PRECISION = 6
MAX_CLAUSES = 1000


def parse_delay(text: str) -> timedelta:
    """``"1h30m"`` -> 90 minutes; units d, h, m, s in that order. ``ValueError`` otherwise."""
    match = _DELAY.fullmatch(text.strip())
    if not text.strip() or match is None:
        raise ValueError(f"{text!r} is not a delay like 30m, 2h, 1h30m or 0s")
    days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
    delay = timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    if delay > MAX_DELAY:
        raise ValueError(f"{text!r} is longer than {MAX_DELAY.days} days")
    return delay


@dataclass
class _Checker:
    """Collects the problems of one file while reading its fields."""

    path: Path
    located: Located
    problems: list[Problem] = field(default_factory=list)

    def problem(self, key: KeyPath, message: str, fix: str) -> None:
        self.problems.append(Problem(self.path, self.located.line(key), dotted(key), message, fix))

    def unknown_keys(self, table: dict[str, object], known: Collection[str], at: KeyPath) -> None:
        names = ", ".join(known)
        for key in table:
            if key not in known:
                self.problem(
                    (*at, str(key)),
                    f"unknown field {_short(key)}",
                    f"remove it or use one of: {names}",
                )

    def text(
        self, table: dict[str, object], key: str, at: KeyPath, pattern: re.Pattern[str]
    ) -> str | None:
        value = table.get(key)
        if not isinstance(value, str) or not pattern.fullmatch(value):
            self.problem(
                (*at, key),
                f"{_short(value)} is not a valid name",
                "use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit",
            )
            return None
        return value

    def nation(self, value: object, key: KeyPath) -> str | None:
        if not is_nation(value):
            self.problem(
                key,
                f"{_short(value)} is not an ISO 3166-1 alpha-3 nation code",
                "use three capitals of an assigned code, e.g. IND, USA, JPN, AUS",
            )
            return None
        assert isinstance(value, str)
        return value

    def string_list(self, table: dict[str, object], key: str, at: KeyPath) -> list[str] | None:
        value = table.get(key)
        if not isinstance(value, list) or not value:
            self.problem(
                (*at, key), f"{_short(value)} is not a non-empty list", f'write {key} = ["..."]'
            )
            return None
        bad = [item for item in value if not isinstance(item, str) or not item.strip()]
        if bad:
            self.problem(
                (*at, key),
                f"{_short(bad[0])} is not a non-empty text",
                f"list {key} as quoted names",
            )
            return None
        return [str(item) for item in value]

    def moment(self, table: dict[str, object], key: str) -> datetime | None:
        value = table.get(key)
        moment: datetime | None = None
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, str):
            try:
                moment = datetime.fromisoformat(value.strip())
            except ValueError:
                moment = None
        elif isinstance(value, date):
            self.problem(
                (key,), f"{value} is a date without a time", "write e.g. 2026-01-01T00:00:00Z"
            )
            return None
        if moment is None:
            self.problem(
                (key,),
                f"{_short(value)} is not an ISO 8601 time",
                "write e.g. 2026-01-01T00:00:00Z",
            )
            return None
        if moment.tzinfo is None or moment.utcoffset() is None:
            self.problem(
                (key,),
                f"{value} has no time zone",
                "add Z (UTC) to the time, e.g. 2026-01-01T00:00:00Z",
            )
            return None
        return moment.astimezone(UTC)


_short = short_repr


def parse_agreement_file(
    path: Path, node: str | None
) -> tuple[Agreement | None, list[Problem], int]:
    """The agreement in ``path`` (``None`` if it has any problem), its problems, the line
    of its id (for problems found across files)."""
    located = read_agreement_file(path)
    checker = _Checker(path, located)
    for syntax in located.problems:
        checker.problems.append(
            Problem(path, syntax.line, syntax.field, syntax.message, syntax.fix)
        )
    if located.data is None and located.problems:
        return None, checker.problems, 1
    data = located.data
    if not isinstance(data, dict):
        checker.problem(
            (),
            f"the file holds {type(data).__name__}, not a table of fields",
            "start from the example in docs/agreements.md",
        )
        return None, checker.problems, 1
    agreement = _agreement(checker, data, node)
    if checker.problems:
        return None, checker.problems, located.line(("id",))
    return agreement, [], located.line(("id",))


def _agreement(checker: _Checker, data: dict[str, object], node: str | None) -> Agreement | None:
    checker.unknown_keys(data, FIELDS, ())
    for key, (required, what) in FIELDS.items():
        if required and key not in data:
            checker.problem((), f"required field {key!r} is missing", f"add {key}: {what}")
    agreement_id = checker.text(data, "id", (), _ID) if "id" in data else None
    version = data.get("version")
    if "version" in data and (
        isinstance(version, bool) or not isinstance(version, int) or version < 1
    ):
        checker.problem(
            ("version",), f"{_short(version)} is not a whole number >= 1", "write version = 1"
        )
        version = None
    if "title" in data and not isinstance(data["title"], str):
        checker.problem(("title",), "is not text", 'write title = "..."')
    parties = _parties(checker, data) if "parties" in data else None
    senders_receivers = _direction(checker, data, parties) if "direction" in data else None
    if node is not None and parties is not None and node not in parties:
        checker.problem(
            ("parties",),
            f"this node ({node}) is not a party",
            "move the file to the directory of a node it binds, or add the node to parties",
        )
    valid_from = checker.moment(data, "valid_from") if "valid_from" in data else None
    valid_until = checker.moment(data, "valid_until") if "valid_until" in data else None
    if valid_from is not None and valid_until is not None and valid_until <= valid_from:
        checker.problem(
            ("valid_until",),
            f"{valid_until.isoformat()} is not after valid_from {valid_from.isoformat()}",
            "make valid_until later than valid_from",
        )
    clauses = _clauses(checker, data) if "clause" in data else None
    if (
        checker.problems
        or agreement_id is None
        or not isinstance(version, int)
        or parties is None
        or senders_receivers is None
        or valid_from is None
        or valid_until is None
        or clauses is None
    ):
        return None
    senders, receivers = senders_receivers
    return Agreement(
        id=agreement_id,
        version=version,
        parties=parties,
        senders=senders,
        receivers=receivers,
        valid_from=valid_from,
        valid_until=valid_until,
        clauses=clauses,
        path=checker.path,
    )


def _parties(checker: _Checker, data: dict[str, object]) -> frozenset[str] | None:
    value = data["parties"]
    if not isinstance(value, list):
        checker.problem(
            ("parties",), f"{_short(value)} is not a list", 'write parties = ["IND", "USA"]'
        )
        return None
    nations = [checker.nation(item, ("parties",)) for item in value]
    if any(nation is None for nation in nations):
        return None
    unique = frozenset(n for n in nations if n is not None)
    if len(unique) != len(nations):
        checker.problem(("parties",), "a nation is listed twice", "list each party once")
        return None
    if len(unique) < 2:
        checker.problem(("parties",), "an agreement needs at least two parties", "add the partner")
        return None
    return unique


def _direction(
    checker: _Checker, data: dict[str, object], parties: frozenset[str] | None
) -> tuple[frozenset[str], frozenset[str]] | None:
    direction = data["direction"]
    sender = data.get("from")
    if direction == "mutual":
        if "from" in data:
            checker.problem(
                ("from",),
                "a mutual agreement has no single sender",
                'remove from, or make direction = "one-way"',
            )
            return None
        return (parties, parties) if parties is not None else None
    if direction != "one-way":
        checker.problem(
            ("direction",), f"{_short(direction)} is not a direction", 'write "mutual" or "one-way"'
        )
        return None
    if "from" not in data:
        checker.problem(
            ("direction",), "a one-way agreement needs from", 'add from = "IND" (the sender)'
        )
        return None
    nation = checker.nation(sender, ("from",))
    if nation is None or parties is None:
        return None
    if nation not in parties:
        checker.problem(("from",), f"{nation} is not one of the parties", "name a party as from")
        return None
    return frozenset({nation}), parties - {nation}


def _clauses(checker: _Checker, data: dict[str, object]) -> tuple[Clause, ...] | None:
    value = data["clause"]
    if not isinstance(value, list) or not value:
        checker.problem(
            ("clause",),
            "is not a list of clause tables",
            "add [[clause]] tables (see docs/agreements.md)",
        )
        return None
    if len(value) > MAX_CLAUSES:
        checker.problem(("clause",), f"{len(value)} clauses", f"keep at most {MAX_CLAUSES}")
        return None
    clauses: list[Clause] = []
    seen: set[str] = set()
    for index, table in enumerate(value):
        at: KeyPath = ("clause", index)
        if not isinstance(table, dict):
            checker.problem(
                at, f"{_short(table)} is not a clause table", "write [[clause]] and its fields"
            )
            continue
        clause = _clause(checker, table, at)
        if clause is None:
            continue
        if clause.id in seen:
            checker.problem(
                (*at, "id"),
                f"clause id {clause.id!r} is used twice",
                "give every clause its own id",
            )
            continue
        seen.add(clause.id)
        clauses.append(clause)
    return tuple(clauses) if len(clauses) == len(value) else None


def _clause(checker: _Checker, table: dict[str, object], at: KeyPath) -> Clause | None:
    before = len(checker.problems)
    checker.unknown_keys(table, CLAUSE_FIELDS, at)
    for key, (required, what) in CLAUSE_FIELDS.items():
        if required and key not in table:
            checker.problem(at, f"required field {key!r} is missing", f"add {key}: {what}")
    clause_id = checker.text(table, "id", at, _ID) if "id" in table else None
    flows = _flows(checker, table, at) if "flows" in table else None
    categories = checker.string_list(table, "categories", at) if "categories" in table else None
    max_level = _level(checker, table, at) if "max_level" in table else None
    area = _area(checker, table["area"], (*at, "area")) if "area" in table else None
    sanitise = _sanitise(checker, table, at)
    if (
        len(checker.problems) > before
        or clause_id is None
        or flows is None
        or categories is None
        or max_level is None
        or sanitise is None
    ):
        return None
    return Clause(
        id=clause_id,
        flows=flows,
        categories=frozenset(categories),
        max_level=max_level,
        area=area,
        sanitise=sanitise,
    )


def _flows(checker: _Checker, table: dict[str, object], at: KeyPath) -> frozenset[Flow] | None:
    names = checker.string_list(table, "flows", at)
    if names is None:
        return None
    known = ", ".join(flow.value for flow in Flow)
    flows: set[Flow] = set()
    for name in names:
        try:
            flows.add(Flow(name))
        except ValueError:
            checker.problem(
                (*at, "flows"), f"{_short(name)} is not a flow", f"use some of: {known}"
            )
            return None
    return frozenset(flows)


def _level(checker: _Checker, table: dict[str, object], at: KeyPath) -> Level | None:
    value = table["max_level"]
    names = ", ".join(level.name for level in Level)
    if isinstance(value, str) and value in Level.__members__:
        return Level[value]
    checker.problem((*at, "max_level"), f"{_short(value)} is not a level", f"use one of: {names}")
    return None


def _area(checker: _Checker, value: object, at: KeyPath) -> Area | None:
    fix = 'write area = { bbox = [W, S, E, N] } or { layer = "zones.geojson", feature = "name" }'
    if not isinstance(value, dict):
        checker.problem(at, f"{_short(value)} is not a table", fix)
        return None
    checker.unknown_keys(value, AREA_FIELDS, at)
    if ("bbox" in value) == ("layer" in value or "feature" in value):
        checker.problem(at, "needs either bbox, or layer and feature", fix)
        return None
    if "bbox" in value:
        try:
            return bbox_area(value["bbox"])
        except ValueError as exc:
            checker.problem((*at, "bbox"), str(exc), "write bbox = [W, S, E, N] in degrees")
            return None
    layer, feature = value.get("layer"), value.get("feature")
    if not isinstance(layer, str) or not layer.strip():
        checker.problem((*at, "layer"), f"{_short(layer)} is not a file name", fix)
        return None
    if not isinstance(feature, str) or not feature:
        checker.problem((*at, "feature"), f"{_short(feature)} is not a feature name", fix)
        return None
    if Path(layer).is_absolute():
        checker.problem(
            (*at, "layer"), f"{layer} is an absolute path", "give the path relative to this file"
        )
        return None
    try:
        return load_layer_area(checker.path.parent / layer, feature)
    except ConfigError as exc:
        message = str(exc)
        about_file = message.startswith("GeoJSON layer") and "feature" not in message
        key = "layer" if about_file else "feature"
        checker.problem((*at, key), str(exc), "fix the layer file or the feature name")
        return None


def _sanitise(checker: _Checker, table: dict[str, object], at: KeyPath) -> Sanitise | None:
    ok = True
    delay = timedelta(0)
    if "delay" in table:
        value = table["delay"]
        try:
            if not isinstance(value, str):
                raise ValueError(f"{_short(value)} is not a quoted delay")
            delay = parse_delay(value)
        except ValueError as exc:
            checker.problem((*at, "delay"), str(exc), 'write e.g. delay = "30m" (d, h, m, s)')
            ok = False
    value = table.get("precision")
    precision = value if isinstance(value, int) and not isinstance(value, bool) else None
    if value is not None and (precision is None or not 0 <= precision <= MAX_PRECISION):
        checker.problem(
            (*at, "precision"),
            f"{_short(value)} is not a whole number 0..{MAX_PRECISION}",
            "write the decimal places kept, e.g. precision = 2 (about 1 km)",
        )
        ok = False
    remove: list[str] = []
    if "remove" in table:
        value = table["remove"]
        if not isinstance(value, list):
            checker.problem(
                (*at, "remove"), f"{_short(value)} is not a list", 'write remove = ["receiver"]'
            )
            ok = False
        else:
            for item in value:
                if not isinstance(item, str) or item not in REMOVABLE_FIELDS:
                    checker.problem(
                        (*at, "remove"),
                        f"{_short(item)} is not a removable field",
                        "use names from docs/agreements.md, e.g. receiver, raw, name, callsign",
                    )
                    ok = False
                    break
                remove.append(item)
    if not ok:
        return None
    return Sanitise(delay=delay, precision=precision, remove=frozenset(remove))
