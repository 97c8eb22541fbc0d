"""Alerts across the exchange: which alert changes a partner is sent, and as what.

An alert is released exactly as a report is (``mista.share.release``, DESIGN.md rule 1):
its flow is ``alerts``, its label is the combined label of the reports it rests on, its
position is ``lat``/``lon`` and its time is ``end`` (the latest evidence), so a clause's
delay holds each revision until ``end + delay``. ``alert_items`` is the pure middle of an
alert scan (``Exchange.scan_alerts`` reads the changes and commits the items with the
cursor move):

- a change that is not a withdrawal is decided as a record; a release or a hold becomes an
  outbox record item (the alert's state as of that change, sanitised by the clause), queued
  no earlier than anything queued before for the same alert, so revisions arrive in order;
- a withdrawal is never decided: it carries no information beyond "withdrawn", and it goes
  (as a withdraw item) to every partner an earlier revision was queued for and not dropped.
  A partner that was never given the alert is sent nothing.

Sanitising (``sanitise_alert``): ``precision`` rounds ``lat``/``lon``. ``remove`` names
report fields (docs/agreements.md); an alert has none of them by those names, so each is
mapped to the alert fields that can hold it (:data:`ALERT_REMOVALS`): ``mmsi`` drops
``mmsis``; ``mmsi``, ``receiver`` or ``source`` drop ``tracks`` (a track id names an MMSI
or a radar); and any removal at all drops ``evidence``, a free-form JSON object that may
hold any field (measured speeds, names, receivers, report ids).
"""

from __future__ import annotations

import contextlib
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from mista.labels import Label
from mista.model import Alert, AlertStatus
from mista.share.agreements import Flow, Sanitise
from mista.share.outbox import denial_rule, wire_item_text
from mista.share.release import Candidate, Outcome, Releaser
from mista.store.embedded_exchange import AlertChange, Given, OutboxItem
from mista.wire.canonical import time_to_wire
from mista.wire.records import WireRecord, WithdrawItem, label_to_wire

__all__ = [
    "ALERTS",
    "ALERT_REMOVALS",
    "AlertScan",
    "alert_candidate",
    "alert_items",
    "alert_of",
    "sanitise_alert",
]

ALERTS: Final = Flow.ALERTS
#: Alert field -> the removable report fields (``Sanitise.remove``) any of which drops it.
#: ``evidence`` is dropped by any removal (see the module docstring).
ALERT_REMOVALS: Final[Mapping[str, frozenset[str]]] = {
    "mmsis": frozenset({"mmsi"}),
    "tracks": frozenset({"mmsi", "receiver", "source"}),
}
_STATUSES = {status.value: status for status in AlertStatus}


@dataclass(slots=True)
class AlertScan:
    """What deciding a run of alert changes for one partner gave."""

    items: list[OutboxItem] = field(default_factory=list)
    released: int = 0
    held: int = 0
    #: Withdrawals queued (to a partner an earlier revision was queued for).
    withdrawn: list[str] = field(default_factory=list)
    denied: Counter[str] = field(default_factory=Counter)


def alert_candidate(label: Label, fields: Mapping[str, Any]) -> Candidate:
    """The release candidate of an alert state: flow ``alerts``, its label, ``end`` as the
    time its delay runs from, its position."""
    lat, lon, end = fields.get("lat"), fields.get("lon"), fields.get("end")
    return Candidate(
        ALERTS,
        label,
        end if isinstance(end, datetime) else None,
        float(lat) if isinstance(lat, float | int) else None,
        float(lon) if isinstance(lon, float | int) else None,
    )


def sanitise_alert(fields: Mapping[str, Any], sanitise: Sanitise) -> dict[str, Any]:
    """An alert's fields as a clause releases them: ``lat``/``lon`` rounded to
    ``precision``, and the fields :data:`ALERT_REMOVALS` maps ``remove`` to dropped (any
    removal drops ``evidence``). The label is not a field: it is never touched."""
    out = dict(fields)
    remove = sanitise.remove
    if remove:
        out.pop("evidence", None)
        for name, removed_by in ALERT_REMOVALS.items():
            if remove & removed_by:
                out.pop(name, None)
    if sanitise.precision is not None:
        for key in ("lat", "lon"):
            value = out.get(key)
            if isinstance(value, float | int) and not isinstance(value, bool):
                out[key] = round(float(value), sanitise.precision)
    return out


def alert_of(record: WireRecord) -> Alert:
    """The ``Alert`` a received alert record holds (its label intact; fields a clause
    removed are empty: no subjects, evidence ``{}``)."""
    fields = record.fields
    return Alert(
        id=record.id,
        kind=fields["kind"],
        status=_STATUSES[fields["status"]],
        start=fields["start"],
        end=fields["end"],
        lat=float(fields["lat"]),
        lon=float(fields["lon"]),
        label=record.label,
        mmsis=tuple(fields.get("mmsis", ())),
        tracks=tuple(fields.get("tracks", ())),
        evidence=fields.get("evidence", "{}"),
    )


def _record_text(record_id: str, label: Mapping[str, Any], fields: Mapping[str, Any]) -> str:
    """The outbox text of an alert record (what ``wire_item_text`` writes for its
    ``RecordItem``), built without checking the fields, as report items are
    (``mista.share.outbox``): the send path reads each item back with the wire format's
    checks and drops (never sends) one it refuses, with the reason. Evidence that is not
    JSON is written as the text it is, so that check refuses it."""
    wire: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, datetime):
            value = time_to_wire(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif name == "evidence" and isinstance(value, str):
            with contextlib.suppress(ValueError):
                value = json.loads(value)
        wire[name] = value
    record = {"id": record_id, "flow": ALERTS.value, "label": label, "fields": wire}
    return _json_text({"kind": "record", "record": record})


_json_text = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode


def withdrawal_reason(node: str, revision: int) -> str:
    """Why a withdrawn alert is withdrawn, as the withdraw item says it."""
    return f"withdrawn by {node} at revision {revision}: later data showed it did not happen"


def alert_items(
    changes: Iterable[AlertChange],
    labels: Callable[[int], Label | None],
    releaser: Releaser,
    given: Mapping[str, Given],
    *,
    now: datetime,
) -> AlertScan:
    """Outbox items for ``changes`` (in ``alert_seq`` order) to the releaser's partner.

    ``given`` holds the alerts already queued for the partner (and not dropped); alerts
    queued by these changes are added as they are, so a withdrawal in the same run follows
    its alert."""
    scan = AlertScan()
    queued = dict(given)
    decide = releaser.decide
    wire_labels: dict[Label, dict[str, Any]] = {}
    for change in changes:
        prior = queued.get(change.id)
        if change.fields["status"] == AlertStatus.WITHDRAWN.value:
            if prior is None:
                scan.denied["never sent"] += 1
                continue
            not_before = max(now, prior.not_before)
            reason = withdrawal_reason(releaser.node, change.revision)
            scan.items.append(
                OutboxItem(
                    record_id=change.id,
                    kind="withdraw",
                    not_before=not_before,
                    agreement=prior.agreement,
                    clause=prior.clause,
                    item=wire_item_text(WithdrawItem(change.id, reason)),
                )
            )
            scan.withdrawn.append(change.id)
            queued[change.id] = Given(prior.agreement, prior.clause, not_before)
            continue
        label = labels(change.label_no)
        if label is None:
            scan.denied["no label"] += 1
            continue
        fields = {**change.fields, "revision": change.revision}
        candidate = alert_candidate(label, fields)
        decision = decide(candidate, now)
        if decision.outcome is Outcome.DENY:
            scan.denied[denial_rule(decision)] += 1
            continue
        assert decision.sanitise is not None
        fields = sanitise_alert(fields, decision.sanitise)
        # The clause that sanitised it must cover what goes (the partner checks it).
        moved = (fields["lat"], fields["lon"]) != (candidate.lat, candidate.lon)
        if moved and not releaser.still_covers(decision, fields["lat"], fields["lon"]):
            scan.denied["sanitised rule 5"] += 1
            continue
        wire_label = wire_labels.get(label)
        if wire_label is None:
            wire_label = wire_labels[label] = label_to_wire(label)
        if decision.outcome is Outcome.RELEASE:
            scan.released += 1
            not_before = now
        else:
            scan.held += 1
            assert decision.not_before is not None
            not_before = decision.not_before
        if prior is not None:
            not_before = max(not_before, prior.not_before)  # revisions arrive in order
        scan.items.append(
            OutboxItem(
                record_id=change.id,
                kind="record",
                not_before=not_before,
                agreement=decision.agreement,
                clause=decision.clause,
                item=_record_text(change.id, wire_label, fields),
            )
        )
        if prior is None:
            queued[change.id] = Given(decision.agreement, decision.clause, not_before)
        else:
            queued[change.id] = Given(prior.agreement, prior.clause, not_before)
    return scan
