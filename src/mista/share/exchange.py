"""The exchange between nodes, store side: release scanning, outbox, batches and receipt.

``Exchange`` is what the node's pushers and its HTTPS receiver call (docs/sharing.md §4):

- ``scan`` decides every report after a partner's cursor and queues releases and holds in
  the partner's durable outbox, in the same transaction as the cursor move, then does the
  same for alert changes (``scan_alerts``, with a cursor of its own; docs/sharing.md,
  "Alerts");
- ``next_batch`` seals the due items in order as the partner's next batch (or the batch
  given out before and never acknowledged, again, with a fresh nonce), re-deciding each
  item at send time so nothing leaves under an agreement that has since ended, and audits
  the release; ``acknowledge`` marks its items sent after the partner's 2xx;
- ``receive`` checks and stores a batch from a partner (reports through the store's
  ingest path, alerts with ``write_alerts``), answering with a ``Receipt`` (status code,
  reason, records stored);
- ``amend`` queues a withdrawal or a correction of a released record to every partner it
  was queued for.

The store is either backend: its exchange tables come from
``mista.store.exchange_tables.exchange_tables`` (DuckDB SQL on the file's one connection, or
PostgreSQL's, one transaction and advisory lock per write). Every store access happens under
``lock``, which the node also holds for its own ingest writes: on a DuckDB file the
exchange shares the store's one connection.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from mista.errors import AgreementError, ConfigError, InputError, StoreError
from mista.labels import Label
from mista.model import Alert, AlertStatus
from mista.share.agreements import Agreement, Flow, Sanitise
from mista.share.alerts import alert_candidate, alert_items, alert_of, sanitise_alert
from mista.share.audit import AuditLog
from mista.share.inbound import candidate_of, ingest_batch, refusal
from mista.share.keys import Identity
from mista.share.outbox import (
    ItemReader,
    ScanResult,
    denial_rule,
    record_text,
    release_items,
    wire_item_text,
    wire_item_text_list,
)
from mista.share.release import Candidate, Outcome, Releaser, sanitise_record
from mista.store.embedded import DuckDBStore
from mista.store.embedded_exchange import InboundBatch, OutboxItem, OutboxRow
from mista.store.exchange_tables import exchange_tables
from mista.store.postgres import PostgresStore
from mista.wire.batch import (
    MAX_BATCH_BYTES,
    Batch,
    new_nonce,
    open_sealed,
    seal_texts,
    sealed_items_hash,
)
from mista.wire.canonical import WireError, sha256_hex
from mista.wire.records import (
    CorrectItem,
    Item,
    RecordItem,
    WireRecord,
    WithdrawItem,
)

__all__ = ["Exchange", "Outgoing", "Partner", "Receipt", "ScanResult"]

_ALERTS = Flow.ALERTS.value

#: HTTP status of each ``WireError`` reason (anything else is a 400).
_WIRE_STATUS = {"bad-signature": 401, "unknown-sender": 401, "too-large": 413}


@dataclass(frozen=True, slots=True)
class Partner:
    """A partner node as the config names it: nation, where to push, what to pin."""

    nation: str
    endpoint: str
    certificate: Path
    public_key: Ed25519PublicKey


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One sealed batch for a partner, ready to POST."""

    partner: str
    seq: int
    data: bytes
    hash: str
    record_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Receipt:
    """The receiver's answer to one batch: an HTTP status and a reason code."""

    status: int
    reason: str
    stored: int = 0  # reports stored and alerts changed
    duplicate: bool = False
    batch_hash: str | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class _RefusedError(Exception):
    """A batch refused by ``receive`` (carries the receipt)."""

    def __init__(self, status: int, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.status, self.reason, self.detail = status, reason, detail


class Exchange:
    """Release to and receipt from partners over one store (see the module docstring)."""

    def __init__(
        self,
        store: DuckDBStore | PostgresStore,
        *,
        node: str,
        identity: Identity,
        partners: Mapping[str, Partner],
        agreements: Sequence[Agreement],
        audit: AuditLog,
        lock: threading.RLock | None = None,
        clock_window: timedelta = timedelta(minutes=10),
        max_batch_bytes: int = MAX_BATCH_BYTES,
    ) -> None:
        if identity.nation != node:
            raise ConfigError(
                f"the identity is {identity.nation}'s but this node is {node} "
                "(load the keys of this node's nation)"
            )
        for nation, partner in partners.items():
            if partner.nation != nation or nation == node:
                raise ConfigError(
                    f"partner entry {nation!r} names {partner.nation} (each partner is keyed "
                    f"by its own nation, and {node} cannot be its own partner)"
                )
        self.store = store
        self.node = node
        self.identity = identity
        self.partners = dict(partners)
        self.agreements = tuple(agreements)
        self.audit = audit
        self.lock = lock if lock is not None else threading.RLock()
        self.clock_window = clock_window
        self.max_batch_bytes = max_batch_bytes
        self._tables = exchange_tables(store)
        self._releasers = {name: Releaser(node, name, self.agreements) for name in self.partners}
        self._labels: dict[int, Label] = {}
        self._inbound_releasers: dict[str, Releaser] = {}
        self._keys = {name: partner.public_key for name, partner in self.partners.items()}

    # -- helpers -------------------------------------------------------------------------

    def _partner(self, partner: str) -> Releaser:
        releaser = self._releasers.get(partner)
        if releaser is None:
            known = ", ".join(sorted(self.partners)) or "none are configured"
            raise InputError(f"{partner!r} is not a partner of {self.node} (partners: {known})")
        return releaser

    def _inbound(self, sender: str) -> Releaser:
        """``decide`` from ``sender``'s side, with this node's copy of the agreements."""
        releaser = self._inbound_releasers.get(sender)
        if releaser is None:
            releaser = self._inbound_releasers[sender] = Releaser(
                sender, self.node, self.agreements
            )
        return releaser

    def _label(self, number: int) -> Label | None:
        label = self._labels.get(number)
        if label is None:
            self._labels = self._tables.labels()
            label = self._labels.get(number)
        return label

    # -- release -------------------------------------------------------------------------

    def scan(self, partner: str, *, now: datetime, limit: int = 10_000) -> ScanResult:
        """Decide up to ``limit`` reports after ``partner``'s cursor; queue releases and
        holds, move the cursor past all of them, in one transaction. Then the same for up
        to ``limit`` alert changes (``scan_alerts``; its result is the result's ``alerts``)."""
        reports = self._scan_reports(partner, now=now, limit=limit)
        return replace(reports, alerts=self.scan_alerts(partner, now=now, limit=limit))

    def scan_alerts(self, partner: str, *, now: datetime, limit: int = 10_000) -> ScanResult:
        """Decide up to ``limit`` alert changes after ``partner``'s alert cursor; queue
        releases, holds and withdrawals (``mista.share.alerts.alert_items``), move the
        cursor past all of them, in one transaction; audit each withdrawal queued."""
        releaser = self._partner(partner)
        with self.lock:
            cursor = self._tables.alert_cursor(partner)
            changes = self._tables.alert_changes_after(cursor, limit)
            if not changes:
                return ScanResult(partner, 0, 0, 0, {}, cursor)
            last = changes[-1].seq
            given = self._tables.given(partner, [change.id for change in changes])
            scan = alert_items(changes, self._label, releaser, given, now=now)
            self._tables.commit_alert_scan(partner, last, scan.items)
            for alert_id in scan.withdrawn:
                self.audit.append(
                    "amend",
                    partner=partner,
                    detail={"kind": "withdraw", "record": alert_id, "partners": [partner]},
                    at=now,
                )
        return ScanResult(
            partner,
            len(changes),
            scan.released,
            scan.held,
            dict(scan.denied),
            last,
            withdrawn=len(scan.withdrawn),
        )

    def _scan_reports(self, partner: str, *, now: datetime, limit: int) -> ScanResult:
        releaser = self._partner(partner)
        with self.lock:
            cursor = self._tables.cursor(partner).scanned_seq
            marks = self._tables.report_labels_after(cursor, limit)
            if marks.num_rows == 0:
                return ScanResult(partner, 0, 0, 0, {}, cursor)
            last = int(marks.column("seq")[-1].as_py())
            # Labels whose every record is denied (rules 1-3, no agreement or clause for
            # them) are counted without reading their records.
            denied: Counter[str] = Counter()
            wanted: list[int] = []
            for entry in pc.value_counts(marks.column("label_no")).to_pylist():
                number, count = entry["values"], entry["counts"]
                label = None if number is None else self._label(number)
                if label is None:
                    denied["no label"] += count
                    continue
                fixed = releaser.fixed_decision(label, Flow.REPORTS, now)
                if fixed is not None and fixed.outcome is Outcome.DENY:
                    denied[denial_rule(fixed)] += count
                else:
                    wanted.append(number)
            items: list[OutboxItem] = []
            released = held = 0
            if wanted:
                reports = self._tables.reports_after(cursor, limit, label_nos=wanted, through=last)
                items, released, held, more = release_items(
                    _report_rows(reports), self._label, releaser, now=now
                )
                denied.update(more)
            self._tables.commit_scan(partner, last, items)
        return ScanResult(partner, marks.num_rows, released, held, dict(denied), last)

    def _recheck(
        self, partner: str, rows: Sequence[OutboxRow], now: datetime
    ) -> tuple[
        list[tuple[OutboxRow, Item, str]], list[tuple[int, str]], list[tuple[int, datetime]]
    ]:
        """Items of ``rows`` that may go now (with their canonical texts), those to drop
        (with why), those not yet due."""
        releaser = self._partner(partner)
        sendable: list[tuple[OutboxRow, Item, str]] = []
        dropped: list[tuple[int, str]] = []
        later: list[tuple[int, datetime]] = []
        reader = ItemReader()
        for row in rows:
            try:
                item, text = reader.item_and_text(row.item)
            except WireError as exc:
                dropped.append((row.order_no, f"unreadable item: {exc}"))
                continue
            if isinstance(item, RecordItem | CorrectItem):
                decision = releaser.decide(candidate_of(item.record), now)
                if decision.outcome is Outcome.DENY:
                    dropped.append((row.order_no, decision.reason))
                    continue
                if decision.outcome is Outcome.HOLD:
                    assert decision.not_before is not None
                    later.append((row.order_no, decision.not_before))
                    continue
            sendable.append((row, item, text))
        return sendable, dropped, later

    def next_batch(self, partner: str, *, now: datetime, max_items: int = 1000) -> Outgoing | None:
        """The partner's next sealed batch, or None when nothing is due.

        A batch given out before and not acknowledged comes back first, with the same seq
        and items and a fresh nonce, so the partner can tell a resend from a replay. Items
        are decided again at ``now``: one no longer allowed is dropped (never sent), and an
        unacknowledged batch holding one is given up and its other items queued again.
        """
        self._partner(partner)
        with self.lock:
            pending = self._tables.pending(partner)
            if pending is not None:
                seq, rows = pending
                sendable, dropped, later = self._recheck(partner, rows, now)
                if not dropped and not later:
                    return self._seal(partner, seq, sendable, now)
                self._tables.assign_batch(
                    partner, [], dropped, deferred=later, release_pending=True
                )
            while True:
                rows = self._tables.due(partner, now, max_items)
                if not rows:
                    return None
                sendable, dropped, later = self._recheck(partner, rows, now)
                given = self._tables.assign_batch(
                    partner, [row.order_no for row, _, _ in sendable], dropped, deferred=later
                )
                if given is not None:
                    return self._seal(partner, given, sendable, now)

    def _seal(
        self, partner: str, seq: int, items: Sequence[tuple[OutboxRow, Item, str]], now: datetime
    ) -> Outgoing:
        # The items' canonical texts put together: seal(Batch(...)) byte for byte.
        data = seal_texts(
            sender=self.node,
            receiver=partner,
            seq=seq,
            created_at=now,
            nonce=new_nonce(),
            item_texts=[text for _, _, text in items],
            signing_key=self.identity.signing_key,
        )
        digest = sha256_hex(data)
        # The agreement clauses the records and corrections went out under.
        clauses = sorted(
            {
                f"{row.agreement}/{row.clause}"
                for row, item, _ in items
                if isinstance(item, RecordItem | CorrectItem)
            }
        )
        detail: dict[str, Any] = {
            "batch": digest,
            "seq": seq,
            "records": len(items),
            "clauses": clauses,
        }
        alerts = sum(
            1
            for _, item, _ in items
            if isinstance(item, RecordItem | CorrectItem) and item.record.flow == _ALERTS
        )
        if alerts:
            detail["alerts"] = alerts  # of the records, how many are alerts
        self.audit.append("release", partner=partner, detail=detail, at=now)
        return Outgoing(
            partner=partner,
            seq=seq,
            data=data,
            hash=digest,
            record_ids=tuple(row.record_id for row, _, _ in items),
        )

    def acknowledge(self, partner: str, outgoing: Outgoing, *, now: datetime | None = None) -> None:
        """Mark the items of ``outgoing`` sent (the partner answered 2xx), durably."""
        if outgoing.partner != partner:
            raise InputError(
                f"batch {outgoing.seq} was sealed for {outgoing.partner}, not {partner}"
            )
        with self.lock:
            self._tables.mark_sent(partner, outgoing.seq, now or _utc_now())

    def outbox_counts(self, partner: str) -> dict[str, int]:
        """The partner's outbox items by state (queued, in-flight, sent, dropped)."""
        self._partner(partner)
        with self.lock:
            return self._tables.outbox_counts(partner)

    # -- amendments ----------------------------------------------------------------------

    def amend(
        self,
        record_id: str,
        kind: Literal["withdraw", "correct"],
        *,
        reason: str,
        fields: Mapping[str, object] | None = None,
        now: datetime,
    ) -> list[str]:
        """Queue a withdrawal or a correction of a released record to every partner it was
        queued for; returns those partners.

        A correction's ``fields`` replace the record's fields and are sanitised by the
        clause that released it to each partner; should the corrected record no longer be
        releasable to a partner, that partner is sent a withdrawal instead.
        """
        if kind not in ("withdraw", "correct"):
            raise InputError(f"amendment kind {kind!r} is not withdraw or correct")
        if kind == "correct" and not fields:
            raise InputError("a correction needs the corrected fields (fields={...})")
        with self.lock:
            given = self._tables.partners_given(record_id)
            partners = [name for name in given if name in self.partners]
            for partner in partners:
                item = self._amendment(partner, record_id, kind, reason, fields, given, now)
                not_before = max(now, self._tables.latest_not_before(partner, record_id) or now)
                self._tables.enqueue(
                    partner,
                    [
                        OutboxItem(
                            record_id=record_id,
                            kind="correct" if isinstance(item, CorrectItem) else "withdraw",
                            not_before=not_before,
                            agreement=given[partner][0],
                            clause=given[partner][1],
                            item=wire_item_text(item),
                        )
                    ],
                )
            self.audit.append(
                "amend",
                partner=None,
                detail={"kind": kind, "record": record_id, "partners": partners},
                at=now,
            )
        return partners

    def _amendment(
        self,
        partner: str,
        record_id: str,
        kind: str,
        reason: str,
        fields: Mapping[str, object] | None,
        given: Mapping[str, tuple[str | None, str | None]],
        now: datetime,
    ) -> Item:
        withdraw = WithdrawItem(record_id, reason)
        if kind == "withdraw" or fields is None:
            return withdraw
        text = self._tables.latest_item(partner, record_id)
        if text is None:
            raise StoreError(f"record {record_id} has no queued item for {partner}")
        previous = ItemReader().item(text)
        if not isinstance(previous, RecordItem | CorrectItem):
            return withdraw
        sanitise = self._sanitise_of(*given[partner])
        if previous.record.flow == _ALERTS:
            merged = {**previous.record.fields, **sanitise_alert(fields, sanitise)}
        else:
            merged = {**previous.record.fields, **sanitise_record(fields, sanitise)}
        merged = {key: value for key, value in merged.items() if value is not None}
        try:
            record = WireRecord(record_id, previous.record.flow, previous.record.label, merged)
        except WireError as exc:
            raise InputError(f"correction of {record_id}: {exc}") from None
        decision = self._partner(partner).decide(candidate_of(record), now)
        if decision.outcome is Outcome.DENY:
            return WithdrawItem(
                record_id, f"{reason} (the corrected record may not be released: withdrawn)"
            )
        return CorrectItem(record, reason)

    def _sanitise_of(self, agreement_id: str | None, clause_id: str | None) -> Sanitise:
        for agreement in self.agreements:
            if agreement.id != agreement_id:
                continue
            for clause in agreement.clauses:
                if clause.id == clause_id:
                    return clause.sanitise
        raise AgreementError(
            f"agreement {agreement_id} clause {clause_id}, which released the record, is no "
            "longer configured: withdraw the record instead of correcting it"
        )

    # -- receipt -------------------------------------------------------------------------

    def receive(self, data: bytes, *, peer_nation: str | None, now: datetime) -> Receipt:
        """Check and store one sealed batch from a partner (see docs/sharing.md §4).

        ``peer_nation`` is the owner of the TLS client certificate (None: no certificate).
        Any refusal stores nothing and is audited as ``reject``.
        """
        with self.lock:
            batch_hash: str | None = None
            try:
                batch, batch_hash = self._open(data, peer_nation)
                return self._accept(data, batch, batch_hash, peer_nation, now)
            except _RefusedError as refused:
                self.audit.append(
                    "reject",
                    partner=peer_nation if peer_nation in self.partners else None,
                    detail={
                        "batch": batch_hash,
                        "reason": refused.reason,
                        "detail": refused.detail,
                    },
                    at=now,
                )
                return Receipt(
                    refused.status,
                    refused.reason,
                    batch_hash=batch_hash,
                    detail=refused.detail,
                )

    def _open(self, data: bytes, peer_nation: str | None) -> tuple[Batch, str]:
        if peer_nation is None:
            raise _RefusedError(403, "no-certificate", "the sender presented no client certificate")
        if peer_nation not in self.partners:
            raise _RefusedError(
                403, "unknown-peer", f"{peer_nation!r:.40} is not a partner of {self.node}"
            )
        try:
            return open_sealed(
                data, self._keys, expected_receiver=self.node, max_bytes=self.max_batch_bytes
            )
        except WireError as exc:
            raise _RefusedError(_WIRE_STATUS.get(exc.reason, 400), exc.reason, exc.detail) from None

    def _accept(
        self, data: bytes, batch: Batch, batch_hash: str, peer: str | None, now: datetime
    ) -> Receipt:
        sender = batch.sender
        if sender != peer:
            raise _RefusedError(
                403,
                "wrong-sender",
                f"certificate of {peer} used to send as {sender}",
            )
        skew = abs(batch.created_at - now)
        if skew > self.clock_window:
            raise _RefusedError(
                400,
                "stale",
                f"batch created at {batch.created_at.isoformat()}, {skew} away from this "
                f"node's clock (window {self.clock_window}): check both clocks",
            )
        if self._tables.nonce_seen(sender, batch.nonce):
            raise _RefusedError(409, "replay", f"nonce {batch.nonce} of {sender} was seen before")
        # What the items say, not how this copy was sealed (nonce, time): equal for a resend.
        items_hash = sealed_items_hash(data)
        inbound = InboundBatch(
            sender, batch.seq, batch_hash, items_hash, batch.nonce, now, len(batch.items)
        )
        previous = self._tables.inbound(sender, batch.seq)
        forget = now - 2 * self.clock_window
        if previous is not None:
            # Batches accepted before items hashes were taken over the canonical bytes
            # were hashed over the items' sorted JSON: a resend of one is still a resend.
            legacy = sha256_hex(wire_item_text_list(batch.items).encode("utf-8"))
            if items_hash != previous.items_hash != legacy:
                raise _RefusedError(
                    409,
                    "seq-reused",
                    f"batch {batch.seq} of {sender} was accepted before with other items",
                )
            self._tables.record_inbound(inbound, duplicate=True, forget_nonces_before=forget)
            # Audited as received, so the partner's release of this copy is matched.
            self.audit.append(
                "receive",
                partner=sender,
                detail={
                    "batch": batch_hash,
                    "seq": batch.seq,
                    "records": 0,
                    "sender": sender,
                    "duplicate": True,
                },
                at=now,
            )
            return Receipt(200, "duplicate", 0, True, batch_hash)
        found = refusal(
            batch.items, sender=sender, node=self.node, releaser=self._inbound(sender), now=now
        )
        if found is not None:
            raise _RefusedError(403, *found)
        # This node's own records coming back (a partner relaying them) are not stored
        # again: the node holds the originals, and a partner's copy must never stand in
        # for (or pre-empt the id of) what this node observed itself.
        records = [
            item.record
            for item in batch.items
            if isinstance(item, RecordItem)
            and item.record.flow != _ALERTS
            and not self._is_own(item.record)
        ]
        alerts, withdrawn = self._received_alerts(sender, batch.items, now)
        stored = 0
        try:
            if records:
                stored = self.store.write(ingest_batch(sender, records)).reports
            if alerts:
                stored += self.store.write_alerts(alerts)
            amendments = self._amendments(sender, batch.items, {r.id for r in records})
            self._tables.record_inbound(
                inbound, duplicate=False, amendments=amendments, forget_nonces_before=forget
            )
        except StoreError as exc:
            raise _RefusedError(500, "store-failed", str(exc)) from None
        detail: dict[str, Any] = {
            "batch": batch_hash,
            "seq": batch.seq,
            "records": len(records) + len(alerts),
            "sender": sender,
        }
        if alerts:
            detail["alerts"] = len(alerts)  # of the records, how many are alerts
        self.audit.append("receive", partner=sender, detail=detail, at=now)
        for alert_id in withdrawn:
            self.audit.append(
                "amend",
                partner=sender,
                detail={"kind": "withdraw", "record": alert_id, "partners": [sender]},
                at=now,
            )
        for record_id, kind, _, _ in amendments:
            self.audit.append(
                "amend",
                partner=sender,
                detail={"kind": kind, "record": record_id, "partners": [sender]},
                at=now,
            )
        return Receipt(200, "accepted", stored, False, batch_hash)

    def _received_alerts(
        self, sender: str, items: Sequence[Item], now: datetime
    ) -> tuple[list[Alert], list[str]]:
        """The alert states a batch sets (the last per alert, in order) and the alerts it
        withdraws.

        An alert this node originated is never replaced by a partner's copy; an alert id
        this node holds under another originator is a conflict that refuses the batch (ids
        name their originator, so only a forged or broken record has one). A withdrawal
        applies to an alert this node holds from another node, when the sender originated
        it or could send it now (a relay); any other withdrawal is left to the report
        amendments (or is of nothing held)."""
        wanted = [
            item.record.id
            if isinstance(item, RecordItem | CorrectItem)
            else item.id  # a withdrawal: of an alert or of a report
            for item in items
            if not isinstance(item, RecordItem | CorrectItem) or item.record.flow == _ALERTS
        ]
        if not wanted:
            return [], []
        held = self._tables.held_alerts(wanted)
        states: dict[str, Alert] = {}
        withdrawn: list[str] = []
        for item in items:
            if isinstance(item, WithdrawItem):
                current = states.get(item.id) or held.get(item.id)
                if current is None or current.label.originator == self.node:
                    continue
                if current.label.originator != sender:
                    relayed = self._inbound(sender).decide(_alert_candidate(current), now)
                    if relayed.outcome is Outcome.DENY:
                        continue
                states.pop(item.id, None)
                states[item.id] = replace(current, status=AlertStatus.WITHDRAWN)
                withdrawn.append(item.id)
                continue
            record = item.record
            if record.flow != _ALERTS or self._is_own(record):
                continue
            stored = held.get(record.id)
            if stored is not None and stored.label.originator != record.label.originator:
                raise _RefusedError(
                    409,
                    "conflicting-alert",
                    f"alert {record.id} is held as {stored.label.originator}'s, and the batch "
                    f"names {record.label.originator} as its originator",
                )
            states.pop(record.id, None)
            states[record.id] = alert_of(record)
        return list(states.values()), withdrawn

    def _is_own(self, record: WireRecord) -> bool:
        return self.node in (record.label.originator, record.fields.get("originator"))

    def _amendments(
        self, sender: str, items: Sequence[Item], in_batch: set[str]
    ) -> list[tuple[str, str, str, str | None]]:
        """Withdrawals and corrections of records this node holds from ``sender``."""
        wanted = [
            item.id if isinstance(item, WithdrawItem) else item.record.id
            for item in items
            if isinstance(item, WithdrawItem | CorrectItem)
        ]
        if not wanted:
            return []
        held = self._tables.received_from(sender, wanted) | in_batch
        amendments: list[tuple[str, str, str, str | None]] = []
        for item in items:
            if isinstance(item, CorrectItem) and self._is_own(item.record):
                continue
            if isinstance(item, WithdrawItem) and item.id in held:
                amendments.append((item.id, "withdraw", item.reason, None))
            elif isinstance(item, CorrectItem) and item.record.id in held:
                text = record_text(item.record)
                amendments.append((item.record.id, "correct", item.reason, text))
        return amendments


def _report_rows(reports: pa.Table) -> list[dict[str, Any]]:
    """The rows of ``reports`` as dicts, without the columns that are null in every row
    (most AIS position reports have no static fields): a missing key reads as null."""
    names = [
        name for name in reports.column_names if reports.column(name).null_count < reports.num_rows
    ]
    columns = [reports.column(name).to_pylist() for name in names]
    return [dict(zip(names, values, strict=True)) for values in zip(*columns, strict=True)]


def _alert_candidate(alert: Alert) -> Candidate:
    """The release candidate of a held alert (its time is ``end``)."""
    return alert_candidate(alert.label, {"end": alert.end, "lat": alert.lat, "lon": alert.lon})


def _utc_now() -> datetime:
    return datetime.now(UTC)
