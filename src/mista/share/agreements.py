"""Sharing agreements: who may send what to whom, when, where, and sanitised how.

One agreement per file (TOML ``.toml`` or YAML ``.yaml``/``.yml``) in a directory; the
format, every field and the decision rules are in docs/agreements.md. ``load_agreements``
returns them or raises ``AgreementError`` listing every problem; ``check_agreements``
returns the problems, each naming the file, line, field and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from mista.errors import AgreementError
from mista.labels import Level
from mista.share.area import Area

__all__ = [
    "AGREEMENT_SUFFIXES",
    "NO_SANITISE",
    "REMOVABLE_FIELDS",
    "Agreement",
    "Clause",
    "Flow",
    "Problem",
    "Sanitise",
    "agreement_files",
    "check_agreements",
    "format_delay",
    "load_agreements",
]

AGREEMENT_SUFFIXES = (".toml", ".yaml", ".yml")


class Flow(StrEnum):
    """The kinds of record a clause may release (DESIGN.md, "Core records")."""

    REPORTS = "reports"
    TRACKS = "tracks"
    ALERTS = "alerts"
    FEATURES = "features"


#: Fields of a released record a clause may drop (``remove``), and what each holds. The
#: record's id, label, time and position are never removable: position is coarsened with
#: ``precision`` and restricted with ``area``, time with ``delay``. Names are those of the
#: report columns (``mista.ingest.batch.MESSAGE_SCHEMA``).
REMOVABLE_FIELDS: dict[str, str] = {
    "receiver": "who heard it (a station name or id)",
    "source": "the feed or file it came from",
    "raw": "the raw input line(s)",
    "line_no": "the line of the source file",
    "received_at": "when the receiver heard it",
    "source_kind": "how it was observed (AIS terrestrial, satellite, radar, ...)",
    "content_key": "the AIS payload it was decoded from",
    "msg_type": "the AIS message type",
    "mmsi": "the vessel's MMSI",
    "imo": "the vessel's IMO number",
    "name": "the vessel's name",
    "callsign": "the vessel's call sign",
    "ship_type": "the AIS ship and cargo type",
    "destination": "the declared destination",
    "draught_m": "the declared draught",
    "to_bow_m": "antenna to bow",
    "to_stern_m": "antenna to stern",
    "to_port_m": "antenna to port side",
    "to_starboard_m": "antenna to starboard side",
    "evidence": "an alert's evidence (measured values, thresholds, report ids)",
    "speed_kn": "speed over ground",
    "course_deg": "course over ground",
    "heading_deg": "true heading",
    "nav_status": "navigational status",
}


@dataclass(frozen=True, slots=True)
class Sanitise:
    """What a clause does to a record it releases: hold it ``delay`` after its observation,
    keep ``precision`` decimal places of lat/lon (``None``: as observed), drop ``remove``."""

    delay: timedelta
    precision: int | None
    remove: frozenset[str]


NO_SANITISE = Sanitise(delay=timedelta(0), precision=None, remove=frozenset())


@dataclass(frozen=True, slots=True)
class Clause:
    """One permission of an agreement: these flows, categories, levels, area; sanitised so."""

    id: str
    flows: frozenset[Flow]
    categories: frozenset[str]
    max_level: Level
    area: Area | None
    sanitise: Sanitise


@dataclass(frozen=True, slots=True)
class Agreement:
    """A signed-off arrangement between parties, as read from ``path``.

    ``senders`` may send to ``receivers`` (a mutual agreement: every party to every other;
    one-way: ``from`` to the other parties), from ``valid_from`` (inclusive) until
    ``valid_until`` (exclusive).
    """

    id: str
    version: int
    parties: frozenset[str]
    senders: frozenset[str]
    receivers: frozenset[str]
    valid_from: datetime
    valid_until: datetime
    clauses: tuple[Clause, ...]
    path: Path

    def allows(self, sender: str, receiver: str) -> bool:
        """True when this agreement lets ``sender`` send to ``receiver`` (not itself)."""
        return sender != receiver and sender in self.senders and receiver in self.receivers

    def is_valid_at(self, now: datetime) -> bool:
        return self.valid_from <= now < self.valid_until


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong in an agreement file: where, which field, what, and the way out."""

    path: Path
    line: int
    field: str
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message} (fix: {self.fix})"


def format_delay(delay: timedelta) -> str:
    """``timedelta(hours=1, minutes=30)`` -> ``1h30m``; zero -> ``0s``."""
    seconds = int(delay.total_seconds())
    if seconds == 0:
        return "0s"
    text = ""
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            text += f"{count}{unit}"
    return text


def agreement_files(directory: Path) -> list[Path]:
    """The agreement files of a directory, in name order (the order clauses are tried)."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix in AGREEMENT_SUFFIXES and path.is_file() and not path.name.startswith(".")
    )


def check_agreements(directory: Path, *, node: str | None = None) -> list[Problem]:
    """Every problem of the agreement files in ``directory`` (empty when all are good).

    With ``node``, an agreement this node is not a party to is a problem too (a node's
    directory holds its own agreements).
    """
    return _load(directory, node)[1]


def load_agreements(directory: Path, *, node: str | None = None) -> list[Agreement]:
    """The agreements of ``directory`` in file-name order.

    Raises ``AgreementError`` listing every problem of every file, one per line.
    """
    agreements, problems = _load(directory, node)
    if problems:
        listed = "\n".join(str(problem) for problem in problems)
        raise AgreementError(
            f"{len(problems)} problem(s) in the agreements of {directory} "
            f"(check them with: mista agreements check {directory}):\n{listed}"
        )
    return agreements


def _load(directory: Path, node: str | None) -> tuple[list[Agreement], list[Problem]]:
    from mista.share._agreement_schema import parse_agreement_file

    if not directory.is_dir():
        return [], [
            Problem(
                directory,
                0,
                "directory",
                "is not a directory",
                "give the directory that holds the agreement files",
            )
        ]
    try:
        paths = agreement_files(directory)
    except OSError as exc:
        return [], [Problem(directory, 0, "directory", f"cannot be listed: {exc}", "check it")]
    agreements: list[Agreement] = []
    problems: list[Problem] = []
    first_file: dict[str, Path] = {}
    for path in paths:
        agreement, found, id_line = parse_agreement_file(path, node)
        problems.extend(found)
        if agreement is None:
            continue
        earlier = first_file.get(agreement.id)
        if earlier is not None:
            problems.append(
                Problem(
                    path,
                    id_line,
                    "id",
                    f"agreement id {agreement.id!r} is also the id of {earlier.name}",
                    "give each agreement its own id (a new version keeps the id in one file: "
                    "raise its version)",
                )
            )
            continue
        first_file[agreement.id] = path
        agreements.append(agreement)
    problems.sort(key=lambda problem: (str(problem.path), problem.line))
    return agreements, problems
