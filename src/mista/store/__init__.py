"""Persistence: the ``Store`` protocol every backend implements, and what it returns.

The embedded default is ``mista.store.embedded.DuckDBStore`` (one DuckDB file); only the
composition root (``mista.node``) picks a backend. Query results are Arrow tables so every
face (CLI, API, web) formats them the same way (``mista.store.export``).

Every query takes the ``viewer`` (``mista.model.User``) it answers for and returns only rows
whose label that viewer may see (DESIGN.md rule 1, ``mista.labels.may_see``), filtered by
the backend itself. The only reads without a viewer are for the node's own workers, never
for a user: ``report_feed`` (fusion reads every report) and ``alert_changes_after``
(sharing decides per partner what may leave).
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

import pyarrow as pa

from mista.errors import InputError
from mista.ingest.batch import IngestBatch
from mista.labels import Label
from mista.model import Alert, Track, User
from mista.partitions import VesselPartitions

__all__ = ["BBox", "Store", "WriteResult"]


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What one committed batch added to the store."""

    reports: int
    receptions: int
    rejected: int


@dataclass(frozen=True, slots=True)
class BBox:
    """A longitude/latitude box; ``west > east`` crosses the antimeridian."""

    west_deg: float
    south_deg: float
    east_deg: float
    north_deg: float

    def __post_init__(self) -> None:
        if not (-90 <= self.south_deg <= self.north_deg <= 90):
            raise InputError(
                f"bbox south {self.south_deg} / north {self.north_deg}: need "
                "-90 <= south <= north <= 90 (order is W,S,E,N)"
            )
        if not (-180 <= self.west_deg <= 180 and -180 <= self.east_deg <= 180):
            raise InputError(
                f"bbox west {self.west_deg} / east {self.east_deg}: need -180..180 "
                "(order is W,S,E,N)"
            )

    @classmethod
    def parse(cls, text: str) -> BBox:
        """From ``W,S,E,N`` in degrees, e.g. ``-74.3,40.4,-73.7,40.9``."""
        try:
            west, south, east, north = (float(part) for part in text.split(","))
        except ValueError:
            raise InputError(
                f"bbox {text!r} is not four numbers W,S,E,N (e.g. -74.3,40.4,-73.7,40.9)"
            ) from None
        return cls(west, south, east, north)


class Store(Protocol):
    """What every store backend does. Writes are batches; reads return Arrow tables."""

    def write(self, batch: IngestBatch) -> WriteResult:
        """Store one batch durably (committed before returning), idempotently."""
        ...

    def vessels(self, *, viewer: User) -> pa.Table:
        """Per vessel, the newest position and identity among the labels ``viewer`` may see:
        mmsi, name, callsign, imo, ship_type, destination, observed_at, lat, lon, speed_kn,
        course_deg, heading_deg, nav_status, msg_type, source_kind, originator (of the
        position's label), label (its marking), report_id."""
        ...

    def track(
        self,
        mmsi: int,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
    ) -> pa.Table:
        """One vessel's positions ``viewer`` may see, in time order,
        ``since <= observed_at < until``."""
        ...

    def positions(
        self,
        bbox: BBox,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
    ) -> pa.Table:
        """Every position inside ``bbox`` that ``viewer`` may see, in time order,
        ``since <= observed_at < until``. Radar contacts are positions too: rows with
        ``source_kind`` ``radar`` and a null ``mmsi`` (what a radar saw there); vessels and
        latest state never include them."""
        ...

    def rejected(self, limit: int | None = None, *, viewer: User) -> pa.Table:
        """The quarantine: lines that could not be used, with source, line, reason and the
        label of their source; only those ``viewer`` may see."""
        ...

    def report_feed(
        self, after_seq: int, limit: int, *, partitions: VesselPartitions | None = None
    ) -> pa.Table:
        """Reports with seq above ``after_seq``, in seq order, at most ``limit``, EVERY
        label (for fusion, never for a user). With ``partitions``, only the reports whose
        MMSI hashes into them (``mista.partitions.mmsi_partition``, computed in SQL; no
        radar contact, having no MMSI): the next ``limit`` of those. Columns: seq int64,
        id string, label_no int32, originator, source_kind string, observed_at
        timestamp[us, UTC], msg_type int16, mmsi int32, lat, lon, speed_kn, course_deg,
        heading_deg float64, nav_status int16, imo int32, name, callsign string, ship_type
        int16, destination string, draught_m float64, to_bow_m, to_stern_m, to_port_m,
        to_starboard_m int16, receiver string (the radar that saw a radar contact; null for
        other reports)."""
        ...

    def labels(self) -> dict[int, Label]:
        """Every stored label by its number (the ``label_no`` of the feed)."""
        ...

    def fusion_cursor(self, part: int = 0) -> int:
        """The seq of the last report fusion part ``part`` fused (0 before any). Each part
        (``mista.detect.parts``: a share of the detectors, one process each) keeps its own
        cursors and checkpoint; part 0 also writes tracks and track points."""
        ...

    def fusion_read(self, part: int = 0) -> int:
        """The seq of the last report the part had read at its last step (at least its
        fusion cursor: the reports between waited in its reorder buffer)."""
        ...

    def fusion_state(self, part: int = 0) -> tuple[int, bytes] | None:
        """The part's saved fusion checkpoint, if any: the read seq it was taken at, and
        its bytes (``mista.detect.checkpoint``)."""
        ...

    def save_fusion_state(self, read: int, state: bytes, part: int = 0) -> None:
        """Replace the part's fusion checkpoint with ``state``, taken when it had read up
        to ``read`` and written every step up to it."""
        ...

    def clear_fusion_state(self, part: int = 0) -> None:
        """Drop the part's fusion checkpoint (it then resumes after its cursor, fresh)."""
        ...

    def write_fusion(
        self,
        *,
        cursor: int,
        tracks: Sequence[Track],
        points: pa.Table,
        alerts: Sequence[Alert],
        read: int | None = None,
        part: int = 0,
    ) -> None:
        """One fusion step in ONE transaction: append ``points`` (seq int64, track_id
        string, flags uint16), upsert ``tracks`` and ``alerts`` by id (a changed alert's
        revision goes up by one and it takes the next alert_seq; an unchanged one is left
        as it is), and move fusion part ``part``'s cursor to ``cursor`` and its read cursor
        to ``read`` (``cursor`` when None). All or nothing."""
        ...

    def write_alerts(self, alerts: Sequence[Alert]) -> int:
        """Upsert alerts by id (e.g. received from partners); returns how many changed."""
        ...

    def alerts(
        self,
        *,
        viewer: User,
        since: datetime | None = None,
        until: datetime | None = None,
        kinds: Sequence[str] | None = None,
        include_withdrawn: bool = False,
        limit: int | None = None,
    ) -> pa.Table:
        """Alerts ``viewer`` may see overlapping ``[since, until)``, ordered by start then
        id. Columns: id, kind, status, start, end, lat, lon, mmsis list<int32>, tracks
        list<string>, evidence (JSON text), revision, label (its marking)."""
        ...

    def tracks(self, *, viewer: User, kind: str | None = None) -> pa.Table:
        """Tracks ``viewer`` may see, ordered by first time then id. Columns: id, kind,
        mmsi, name, first_at, last_at, lat, lon, points, linked_from, label."""
        ...

    def alert_changes_after(self, seq: int, limit: int) -> list[tuple[int, Alert]]:
        """Alert changes after ``seq`` in alert_seq order, EVERY label (for sharing)."""
        ...

    def add_user(self, user: User) -> None:
        """Add a user (``InputError`` if one of that name exists)."""
        ...

    def remove_user(self, name: str) -> bool:
        """Remove a user; False when there was none of that name."""
        ...

    def users(self) -> list[User]:
        """Every user, by name."""
        ...

    def user(self, name: str) -> User | None:
        """The user of that name, if there is one."""
        ...

    def add_token(
        self, name: str, token_hash: str, *, created_at: datetime, expires_at: datetime | None
    ) -> None:
        """Keep an API token's SHA-256 (hex) for user ``name`` (InputError if no such user);
        the token itself is never stored."""
        ...

    def user_for_token(self, token_hash: str, *, now: datetime) -> User | None:
        """The user whose token has this SHA-256 (hex), unless unknown or expired at ``now``."""
        ...

    def revoke_tokens(self, name: str) -> int:
        """Forget every token of user ``name``; returns how many there were."""
        ...

    def reading(self) -> AbstractContextManager[None]:
        """Within this block, this thread's reads may run beside other threads' reads and
        writes, each seeing the store as last committed (writes still need the caller's
        lock)."""
        ...

    def counts(self) -> dict[str, int]:
        """Row counts of the main tables (reports, receptions, vessels, quarantine...)."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    # -- watch lists, webhook deliveries, live feeds (mista.api live parts) ---------------

    def add_watchlist(
        self,
        watchlist_id: str,
        *,
        owner: str,
        name: str,
        mmsis: Sequence[int],
        webhook: str | None,
        now: datetime,
    ) -> None:
        """Create a watch list of user ``owner``; a StoreError if that id is taken."""
        ...

    def update_watchlist(
        self,
        watchlist_id: str,
        *,
        owner: str,
        name: str,
        mmsis: Sequence[int],
        webhook: str | None,
        now: datetime,
    ) -> bool:
        """Replace ``owner``'s list's name, MMSIs and webhook; False when ``owner`` has no
        list of that id (another user's list counts as none)."""
        ...

    def remove_watchlist(self, watchlist_id: str, *, owner: str) -> bool:
        """Delete ``owner``'s list and its delivery records; False when there is none."""
        ...

    def watchlists(self, *, owner: str | None = None, watchlist_id: str | None = None) -> pa.Table:
        """Watch lists (of ``owner`` / of that id when given), by owner, creation time, id.
        Columns: id, owner, name, mmsis list<int32>, webhook, created_at, updated_at."""
        ...

    def webhook_delivered(self, watchlist_id: str, alert_id: str, revision: int) -> bool:
        """Whether this revision of the alert was delivered to the list's webhook."""
        ...

    def record_webhook_attempt(
        self,
        watchlist_id: str,
        alert_id: str,
        revision: int,
        *,
        delivered_at: datetime | None,
        error: str | None,
    ) -> int:
        """Count one POST of this revision to the list's webhook (``delivered_at`` when it
        succeeded, else the ``error``); returns the attempts so far."""
        ...

    def webhook_deliveries(self, watchlist_id: str | None = None) -> pa.Table:
        """Delivery records: watchlist_id, alert_id, revision, delivered_at, attempts,
        last_error."""
        ...

    def alert_change_seqs(self, keys: Sequence[tuple[str, int]]) -> dict[tuple[str, int], int]:
        """The alert_seq of each stored change among ``keys`` (alert id, revision); keys of
        no stored change are left out (where a webhook sender resumes)."""
        ...

    def alert_seq_at(self, moment: datetime) -> int:
        """The last alert_seq stored at or before ``moment`` (0 if none was)."""
        ...

    def feed_ends(self, after_seq: int = 0, after_alert_seq: int = 0) -> tuple[int, int]:
        """(last report seq, last alert_seq) stored now, where live readers start; only
        what is above the ends a reader already knows is looked at."""
        ...

    def alert_revisions(self, alert_seqs: Sequence[int]) -> dict[int, int]:
        """The revision each alert change (by alert_seq) made; unknown ones left out."""
        ...

    # -- reads for the API's data and admin routes (mista.api) ---------------------------

    def positions_page(
        self,
        bbox: BBox,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        viewer: User,
        limit: int,
    ) -> pa.Table:
        """``positions`` (same columns, same order), at most ``limit`` rows."""
        ...

    def releases(self, partner: str | None = None, *, limit: int) -> pa.Table:
        """The share outbox (of ``partner``, or every partner), newest first, at most
        ``limit``. Columns: order_no, partner, record_id, kind (record, correct, withdraw),
        agreement, clause, not_before, sent_at, batch (the batch seq, null while queued),
        dropped (why it will never be sent, or null). For admins, never filtered by a
        viewer."""
        ...

    def partners_released_to(self) -> list[str]:
        """Every partner the share outbox holds items for, by code."""
        ...

    def released_vessels(self, partner: str) -> pa.Table:
        """Per MMSI, the latest state ``partner`` received, from the sanitised records as
        sent (not withdrawn since): the columns of ``vessels``, ``label`` being the marking
        each was sent under. For admins ("view as partner"), never filtered by a viewer."""
        ...
