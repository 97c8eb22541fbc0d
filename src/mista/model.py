"""The core records every part of mista speaks: Report, Vessel, Rejected, and User.

Ids are hashes of content, so ingesting the same thing twice stores it once (DESIGN.md).
A report's id deliberately leaves out who heard it (receiver) and how it was written down
(the raw line): the same AIS transmission heard by several receivers within
``DEDUPE_WINDOW_S`` is one observation with several receptions.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from mista.errors import InputError
from mista.labels import NATION_CODE, Label, Level, may_see

__all__ = [
    "DEDUPE_WINDOW_S",
    "Alert",
    "AlertStatus",
    "Rejected",
    "Report",
    "Role",
    "SourceKind",
    "Track",
    "User",
    "Vessel",
    "content_id",
    "report_id",
    "time_bucket",
]

#: Identical payloads from one originator within this window are one transmission. Class A
#: vessels repeat an identical payload at the earliest every 3 minutes (at anchor, ITU-R
#: M.1371-5 Table 1), static data every 6 minutes, so 60 s cannot merge two transmissions.
DEDUPE_WINDOW_S = 60


class SourceKind(StrEnum):
    """How an observation was made."""

    AIS_TERRESTRIAL = "ais-terrestrial"
    AIS_SATELLITE = "ais-satellite"
    RADAR = "radar"
    VISUAL = "visual"
    POSITION_FILE = "position-file"


def content_id(*parts: object) -> str:
    """A stable 128-bit hex id of the given parts (BLAKE2b over their ``repr``-free text)."""
    text = "\x1f".join("" if part is None else str(part) for part in parts)
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def time_bucket(observed_at: datetime | None) -> int | None:
    """The dedupe bucket of an observation time (``None`` for untimed input)."""
    if observed_at is None:
        return None
    return math.floor(observed_at.timestamp() / DEDUPE_WINDOW_S)


def report_id(originator: str, content_key: str, observed_at: datetime | None) -> str:
    """The id of an observation: who originated it, what was heard, and roughly when.

    ``content_key`` is what was heard, independent of the receiver: for AIS the armoured
    payload and its fill bits (``"15Di=4002i<chWiba2`rPpD:04;`,0"``), for a position file
    the canonical row. Untimed input (logs without timestamps) has no bucket, so identical
    payloads in untimed logs are one observation.
    """
    return content_id(originator, content_key, time_bucket(observed_at))


@dataclass(frozen=True, slots=True)
class Report:
    """One observation of a vessel or contact."""

    originator: str
    label: Label
    source_kind: SourceKind
    content_key: str
    raw: str
    observed_at: datetime | None = None
    receiver: str | None = None
    msg_type: int | None = None
    mmsi: int | None = None
    lat: float | None = None
    lon: float | None = None
    speed_kn: float | None = None
    course_deg: float | None = None
    heading_deg: float | None = None
    nav_status: int | None = None
    imo: int | None = None
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None

    def __post_init__(self) -> None:
        if self.observed_at is not None and self.observed_at.tzinfo is None:
            raise ValueError("Report.observed_at must be timezone-aware UTC")

    @property
    def id(self) -> str:
        return report_id(self.originator, self.content_key, self.observed_at)


@dataclass(frozen=True, slots=True)
class Vessel:
    """Identity of a vessel at one moment (static and voyage data)."""

    mmsi: int
    updated_at: datetime | None = None
    imo: int | None = None
    name: str | None = None
    callsign: str | None = None
    ship_type: int | None = None
    destination: str | None = None
    draught_m: float | None = None
    to_bow_m: int | None = None
    to_stern_m: int | None = None
    to_port_m: int | None = None
    to_starboard_m: int | None = None


@dataclass(frozen=True, slots=True)
class Rejected:
    """Input that could not be used, kept aside with the reason (DESIGN.md rule 2)."""

    reason: str
    detail: str
    raw: str
    source: str = ""
    line_no: int | None = None


class AlertStatus(StrEnum):
    """Where an alert stands. Late or out-of-order data may revise or withdraw an alert."""

    OPEN = "open"  # the behaviour is still going on (``end`` is the latest evidence)
    CLOSED = "closed"  # the behaviour ended at ``end``
    WITHDRAWN = "withdrawn"  # later data showed it did not happen (kept, never deleted)


@dataclass(frozen=True, slots=True)
class Alert:
    """A detected behaviour: what, who, when, where, why (evidence), and its label.

    ``id`` is stable across revisions: a revision of an alert (a later end, more evidence,
    a withdrawal) has the same id and replaces the previous state. ``label`` combines the
    labels of every report the evidence rests on (``mista.labels.combine``).
    """

    id: str
    kind: str
    status: AlertStatus
    start: datetime
    end: datetime
    lat: float
    lon: float
    label: Label
    mmsis: tuple[int, ...] = ()
    tracks: tuple[str, ...] = ()
    evidence: str = "{}"  # a JSON object: thresholds, measured values, report ids

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Alert.start and Alert.end must be timezone-aware UTC")
        if self.end < self.start:
            raise ValueError(f"alert {self.id}: end {self.end} is before start {self.start}")


@dataclass(frozen=True, slots=True)
class Track:
    """A vessel's (or an unidentified contact's) fused positions, as they stand.

    ``kind`` is ``"ais"`` (identified by MMSI) or ``"dark"`` (radar contacts no AIS track
    explains). ``label`` combines the labels of every report on the track.
    """

    id: str
    kind: str
    first_at: datetime
    last_at: datetime
    lat: float
    lon: float
    points: int
    label: Label
    mmsi: int | None = None
    name: str | None = None
    linked_from: str | None = None


class Role(StrEnum):
    """What a user does at a node. Roles never widen what a user sees: the label rule does."""

    ANALYST = "analyst"
    LIAISON = "liaison"
    ADMIN = "admin"


_USER_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True, slots=True)
class User:
    """Who reads: a name, the nation they belong to, their clearance and their roles.

    A user sees a record iff ``may_see`` says so (DESIGN.md rule 1); roles say what else they
    may do (e.g. ``admin`` manages users), never what they may read.
    """

    name: str
    nation: str
    clearance: Level
    roles: frozenset[Role] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _USER_NAME.fullmatch(self.name):
            raise InputError(
                f"user name {self.name!r} must be 1-64 lowercase letters, digits, '.', '_' or "
                "'-', starting with a letter or digit (e.g. liaison.usa)"
            )
        if not isinstance(self.nation, str) or not NATION_CODE.fullmatch(self.nation):
            raise InputError(
                f"user {self.name}: nation {self.nation!r} is not an ISO 3166-1 alpha-3 code "
                "(three capitals, e.g. USA)"
            )
        try:
            clearance = Level(self.clearance)
        except ValueError:
            known = ", ".join(level.name for level in Level)
            raise InputError(
                f"user {self.name}: clearance {self.clearance!r} is not a level ({known})"
            ) from None
        object.__setattr__(self, "clearance", clearance)
        try:
            roles = frozenset(Role(role) for role in self.roles)
        except ValueError:
            known = ", ".join(role.value for role in Role)
            raise InputError(
                f"user {self.name}: roles {sorted(map(str, self.roles))} include one that is "
                f"not a role ({known})"
            ) from None
        object.__setattr__(self, "roles", roles)

    def may_see(self, label: Label) -> bool:
        """DESIGN.md rule 1 for this user (``mista.labels.may_see``)."""
        return may_see(label, self.nation, self.clearance)
