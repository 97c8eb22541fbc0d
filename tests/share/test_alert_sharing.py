"""Alerts shared under agreements exactly as reports are (docs/sharing.md, "Alerts").

Two nodes in-process over real stores (as tests/share/test_exchange.py): IND releases its
alerts to USA; what arrives, with which label, what never does, revisions, withdrawals,
re-sends and hostile batches. Then the law, over random labels, partners, agreements and
times: an alert change is queued to go now exactly when DESIGN.md rule 1 holds (re-stated
in tests/share/test_release_properties.py, not taken from mista.share.release). Every test
over stores runs on both backends (``node_stores``, conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.labels import Label, Level
from mista.model import Alert, AlertStatus, content_id
from mista.share.agreements import Agreement, Clause, Flow, Sanitise
from mista.share.alerts import ALERT_REMOVALS, alert_items, alert_of, sanitise_alert
from mista.share.area import bbox_area
from mista.share.audit import compare_with_export, export_for, received_batches
from mista.share.outbox import ItemReader
from mista.share.release import Candidate, Releaser
from mista.store.embedded_exchange import AlertChange, Given
from mista.store.exchange_tables import exchange_tables
from mista.wire.batch import Batch, new_nonce, seal
from mista.wire.records import RecordItem, WireRecord, WithdrawItem
from tests.share.agreements_builders import release_cases
from tests.share.conftest import NodeStores, run_sql
from tests.share.test_exchange import (
    KEYS,
    NOW,
    Node,
    agreement,
    deliver,
    label,
    observe,
    open_node,
)
from tests.share.test_release_properties import covers, releasing_clauses

AREA = (60.0, 0.0, 100.0, 30.0)


def alert_clause(
    *,
    delay: timedelta = timedelta(0),
    precision: int | None = 3,
    remove: Sequence[str] = ("receiver",),
) -> Clause:
    return Clause(
        id="picture",
        flows=frozenset({Flow.REPORTS, Flow.ALERTS}),
        categories=frozenset({"white-shipping"}),
        max_level=Level.RESTRICTED,
        area=bbox_area(list(AREA)),
        sanitise=Sanitise(delay=delay, precision=precision, remove=frozenset(remove)),
    )


def alert_id(name: str, originator: str = "IND") -> str:
    return content_id("alert", originator, name)


def an_alert(
    name: str,
    lab: Label,
    *,
    status: AlertStatus = AlertStatus.OPEN,
    end: datetime = NOW - timedelta(hours=1),
    lat: float = 12.345678,
    lon: float = 72.987654,
    evidence: str = '{"distance_m": 212.5, "reports": ["' + "ab" * 16 + '"]}',
) -> Alert:
    return Alert(
        id=alert_id(name, lab.originator),
        kind="encounter",
        status=status,
        start=end - timedelta(hours=3),
        end=end,
        lat=lat,
        lon=lon,
        label=lab,
        mmsis=(419000001, 419000002),
        tracks=("ais:419000001", "ais:419000002"),
        evidence=evidence,
    )


def held(node: Node, *names: str) -> dict[str, Alert]:
    """The alerts ``node`` holds of those named (originated by IND)."""
    found = exchange_tables(node.store).held_alerts([alert_id(name) for name in names])
    return {name: found[alert_id(name)] for name in names if alert_id(name) in found}


def alert_changes(node: Node) -> int:
    rows = run_sql(node.store, "SELECT count(*) FROM alert_changes")
    return int(rows[0][0])


def audit_details(node: Node, kind: str) -> list[dict[str, Any]]:
    lines = node.audit_path.read_text().splitlines() if node.audit_path.exists() else []
    entries = [json.loads(line) for line in lines]
    return [entry["detail"] for entry in entries if entry["kind"] == kind]


@pytest.fixture
def pair(tmp_path: Path, node_stores: NodeStores) -> Iterator[tuple[Node, Node]]:
    agreements = [agreement(clauses=[alert_clause()])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    usa = open_node(tmp_path / "usa", "USA", ["IND"], agreements, stores=node_stores)
    yield ind, usa
    ind.close()
    usa.close()


# -- the story -----------------------------------------------------------------------


def test_releasable_alerts_arrive_with_their_labels_and_the_rest_never_do(
    pair: tuple[Node, Node],
) -> None:
    ind, usa = pair
    shared = label(to=["USA"], level=Level.RESTRICTED)
    jpn_orcon = Label(Level.UNCLASSIFIED, "JPN", frozenset({"IND", "USA"}), shared.categories, True)
    ind.store.write_alerts(
        [
            an_alert("shared", shared),
            an_alert("ind-only", label(to=[])),
            an_alert("secret", label(to=["USA"], level=Level.SECRET)),
            an_alert("outside", shared, lat=-20.0),
            an_alert("radar", label(to=["USA"], categories=["white-shipping", "sensor:radar"])),
            an_alert("jpn", jpn_orcon),  # IND may not pass on JPN's ORCON alert
        ]
    )
    result = ind.exchange.scan("USA", now=NOW)
    assert result.alerts is not None
    assert (result.alerts.scanned, result.alerts.released, result.alerts.held) == (6, 1, 0)
    assert result.alerts.denied == {"rule 2": 1, "rule 5": 3, "rule 3": 1}
    assert [r.status for r in deliver(ind, usa)] == [200]
    got = exchange_tables(usa.store).held_alerts(
        [alert_id(n) for n in ("shared", "ind-only", "secret", "outside", "radar")]
        + [alert_id("jpn", "JPN")]
    )
    assert list(got) == [alert_id("shared")]
    alert = got[alert_id("shared")]
    assert alert.label == shared  # never changed on the way
    assert (alert.lat, alert.lon) == (12.346, 72.988)  # precision 3
    assert alert.mmsis == (419000001, 419000002)
    assert alert.tracks == ()  # the clause removes receiver: track ids may name radars
    assert alert.evidence == "{}"  # any removal drops the free-form evidence
    assert (alert.kind, alert.status) == ("encounter", AlertStatus.OPEN)
    assert alert.end == NOW - timedelta(hours=1)
    assert audit_details(ind, "release")[0]["alerts"] == 1
    assert audit_details(usa, "receive")[0]["alerts"] == 1


def test_revisions_and_a_withdrawal_reach_the_partner_once(pair: tuple[Node, Node]) -> None:
    ind, usa = pair
    shared = label(to=["USA"])
    ind.store.write_alerts([an_alert("a", shared), an_alert("never", label(to=[]))])
    deliver(ind, usa)
    assert alert_changes(usa) == 1
    later = NOW - timedelta(minutes=20)
    ind.store.write_alerts([an_alert("a", shared, end=later, lat=12.5)])
    deliver(ind, usa)
    assert held(usa, "a")["a"].end == later
    assert held(usa, "a")["a"].lat == 12.5
    assert deliver(ind, usa) == []  # nothing new: nothing sent again
    # Withdrawn under a label USA may not hold: the withdrawal carries nothing of it.
    withdrawn = an_alert("a", label(to=[]), status=AlertStatus.WITHDRAWN, end=later, lat=1.0)
    ind.store.write_alerts(
        [withdrawn, an_alert("never", label(to=[]), status=AlertStatus.WITHDRAWN)]
    )
    result = ind.exchange.scan("USA", now=NOW)
    assert result.alerts is not None
    assert (result.alerts.withdrawn, result.alerts.denied) == (1, {"never sent": 1})
    assert [r.status for r in deliver(ind, usa)] == [200]
    alert = held(usa, "a")["a"]
    assert alert.status is AlertStatus.WITHDRAWN
    assert (alert.label, alert.lat, alert.end) == (shared, 12.5, later)  # as last released
    assert held(usa, "never") == {}
    assert alert_changes(usa) == 3
    assert audit_details(ind, "amend") == [
        {"kind": "withdraw", "record": alert_id("a"), "partners": ["USA"]}
    ]
    assert audit_details(usa, "amend") == [
        {"kind": "withdraw", "record": alert_id("a"), "partners": ["IND"]}
    ]
    assert ind.exchange.outbox_counts("USA") == {
        "queued": 0,
        "in-flight": 0,
        "sent": 3,
        "dropped": 0,
    }
    # The partner's check of the sender's audit log holds with alerts in the batches.
    report = compare_with_export(
        export_for(ind.audit_path, "USA"),
        KEYS["IND"].public_key(),
        received_batch_hashes=received_batches(usa.audit_path, "IND"),
        me="USA",
        allow_unsigned_tail=True,
    )
    assert report.ok, report.problems


def test_a_batch_mixes_reports_and_alerts_and_a_resend_stores_nothing_twice(
    pair: tuple[Node, Node],
) -> None:
    ind, usa = pair
    shared = label(to=["USA"])
    observe(ind, shared, [(10.0, 70.0), (10.1, 70.1)])
    ind.store.write_alerts([an_alert("a", shared)])
    ind.exchange.scan("USA", now=NOW)
    first = ind.exchange.next_batch("USA", now=NOW)
    assert first is not None
    assert len(first.record_ids) == 3
    receipt = usa.exchange.receive(first.data, peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.stored) == (200, 3)
    # No acknowledgement (the sender died): the same batch again, a duplicate.
    again = ind.exchange.next_batch("USA", now=NOW)
    assert again is not None
    assert again.record_ids == first.record_ids
    receipt = usa.exchange.receive(again.data, peer_nation="IND", now=NOW)
    assert (receipt.reason, receipt.stored) == ("duplicate", 0)
    # The receiver lost its record of the batch: stored again, changing nothing.
    run_sql(usa.store, "DELETE FROM share_inbound")
    resent = ind.exchange.next_batch("USA", now=NOW)
    assert resent is not None
    receipt = usa.exchange.receive(resent.data, peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.stored) == (200, 0)
    ind.exchange.acknowledge("USA", resent)
    assert usa.store.counts()["reports"] == 2
    assert alert_changes(usa) == 1
    assert ind.exchange.scan("USA", now=NOW).alerts == ind.exchange.scan_alerts("USA", now=NOW)


def test_held_revisions_go_in_order_after_the_delay(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    agreements = [agreement(clauses=[alert_clause(delay=timedelta(minutes=30))])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    usa = open_node(tmp_path / "usa", "USA", ["IND"], agreements, stores=node_stores)
    shared = label(to=["USA"])
    ind.store.write_alerts([an_alert("a", shared, end=NOW - timedelta(minutes=10))])
    result = ind.exchange.scan("USA", now=NOW)
    assert result.alerts is not None
    assert result.alerts.held == 1
    # A revision that moves the end earlier may go now on its own, but not before the
    # revision queued before it.
    ind.store.write_alerts([an_alert("a", shared, end=NOW - timedelta(hours=2))])
    assert deliver(ind, usa) == []
    assert [r.status for r in deliver(ind, usa, now=NOW + timedelta(minutes=21))] == [200]
    assert held(usa, "a")["a"].end == NOW - timedelta(hours=2)  # the latest revision
    ind.close()
    usa.close()


def test_an_alert_the_wire_format_refuses_is_dropped_not_sent(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    # Evidence is kept only under a clause that removes nothing.
    agreements = [agreement(clauses=[alert_clause(remove=())])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    usa = open_node(tmp_path / "usa", "USA", ["IND"], agreements, stores=node_stores)
    shared = label(to=["USA"])
    huge = json.dumps({"reports": ["ab" * 16] * 400})  # over MAX_EVIDENCE_CHARS
    ind.store.write_alerts([an_alert("huge", shared, evidence=huge), an_alert("ok", shared)])
    receipts = deliver(ind, usa)
    assert [(r.status, r.stored) for r in receipts] == [(200, 1)]
    assert list(held(usa, "huge", "ok")) == ["ok"]
    assert json.loads(held(usa, "ok")["ok"].evidence)["distance_m"] == 212.5
    counts = ind.exchange.outbox_counts("USA")
    assert (counts["sent"], counts["dropped"]) == (1, 1)
    reason = run_sql(ind.store, "SELECT dropped FROM share_outbox WHERE dropped IS NOT NULL")[0][0]
    assert "evidence" in reason
    ind.close()
    usa.close()


def test_a_record_goes_sanitised_by_the_clause_that_covers_it_or_not_at_all(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    """Rounding moves the record out of clause A's box into clause B's, which removes the
    MMSI: it may not go under B with A's sanitising (keeping the MMSI), nor under A."""
    flows = frozenset({Flow.REPORTS, Flow.ALERTS})
    coarse = Clause(
        "coarse",
        flows,
        frozenset({"white-shipping"}),
        Level.SECRET,
        bbox_area([70.5, 9.6, 70.9, 10.4]),
        Sanitise(timedelta(0), 0, frozenset()),
    )
    strict = Clause(
        "strict",
        flows,
        frozenset({"white-shipping"}),
        Level.SECRET,
        bbox_area([70.9, 9.9, 71.1, 10.1]),
        Sanitise(timedelta(0), None, frozenset({"mmsi"})),
    )
    ind = open_node(
        tmp_path / "ind", "IND", ["USA"], [agreement(clauses=[coarse, strict])], stores=node_stores
    )
    shared = label(to=["USA"])
    ind.store.write_alerts([an_alert("a", shared, lat=10.3, lon=70.6)])  # rounds to (10, 71)
    observe(ind, shared, [(10.3, 70.6)])
    result = ind.exchange.scan("USA", now=NOW)
    assert result.alerts is not None
    assert (result.released, result.alerts.released) == (0, 0)
    assert result.denied == result.alerts.denied == {"sanitised rule 5": 1}
    ind.close()


# -- the receiver ------------------------------------------------------------------------


def sealed_items(*items: Any, sender: str = "IND", receiver: str = "USA", seq: int = 1) -> bytes:
    batch = Batch(sender, receiver, seq, NOW, new_nonce(), tuple(items))
    return seal(batch, KEYS[sender])


def alert_record(alert: Alert, revision: int = 1, **fields: Any) -> WireRecord:
    wire = {
        "kind": alert.kind,
        "status": alert.status.value,
        "start": alert.start,
        "end": alert.end,
        "lat": alert.lat,
        "lon": alert.lon,
        "revision": revision,
        "mmsis": alert.mmsis,
        "evidence": alert.evidence,
        **fields,
    }
    return WireRecord(alert.id, "alerts", alert.label, wire)


@pytest.fixture
def three(tmp_path: Path, node_stores: NodeStores) -> Iterator[dict[str, Node]]:
    agreements = [agreement("quad", ["IND", "USA", "JPN"], clauses=[alert_clause()])]
    nodes = {
        nation: open_node(
            tmp_path / nation,
            nation,
            [p for p in ("IND", "USA", "JPN") if p != nation],
            agreements,
            stores=node_stores,
        )
        for nation in ("IND", "USA", "JPN")
    }
    yield nodes
    for node in nodes.values():
        node.close()


def test_the_receiver_refuses_alerts_it_may_not_hold_and_keeps_its_own(
    three: dict[str, Node],
) -> None:
    usa = three["USA"]
    shared = label(to=["USA", "JPN"])
    # Not releasable to USA, or sent before the agreed delay: the whole batch is refused.
    not_for_usa = alert_record(an_alert("x", label(to=["JPN"])))
    receipt = usa.exchange.receive(
        sealed_items(RecordItem(not_for_usa)), peer_nation="IND", now=NOW
    )
    assert (receipt.status, receipt.reason) == (403, "not-releasable")
    # USA's own alert, sent back by a partner under USA's id: kept as USA stored it.
    own = an_alert("mine", label("USA", ["IND"]))
    usa.store.write_alerts([own])
    forged = alert_record(replace(own, lat=11.0, label=label("USA", ["IND"])))
    receipt = usa.exchange.receive(
        sealed_items(RecordItem(forged), seq=2), peer_nation="IND", now=NOW
    )
    assert (receipt.status, receipt.stored) == (200, 0)
    assert exchange_tables(usa.store).held_alerts([own.id])[own.id] == own
    # IND's alert, then JPN naming itself the originator of the same id: a conflict.
    ind_alert = an_alert("a", shared)
    receipt = usa.exchange.receive(
        sealed_items(RecordItem(alert_record(ind_alert)), seq=3), peer_nation="IND", now=NOW
    )
    assert (receipt.status, receipt.stored) == (200, 1)
    hijack = alert_record(replace(ind_alert, label=label("JPN", ["USA"]), lat=11.0))
    receipt = usa.exchange.receive(
        sealed_items(RecordItem(hijack), sender="JPN"), peer_nation="JPN", now=NOW
    )
    assert (receipt.status, receipt.reason) == (409, "conflicting-alert")
    assert held(usa, "a")["a"] == alert_of(alert_record(ind_alert))  # IND's, untouched
    # A withdrawal from a node that neither originated it nor could relay it: ignored.
    orcon = an_alert(
        "orcon",
        Label(Level.UNCLASSIFIED, "IND", frozenset({"USA", "JPN"}), shared.categories, True),
    )
    usa.exchange.receive(
        sealed_items(RecordItem(alert_record(orcon)), seq=4), peer_nation="IND", now=NOW
    )
    receipt = usa.exchange.receive(
        sealed_items(WithdrawItem(orcon.id, "not so"), sender="JPN", seq=2),
        peer_nation="JPN",
        now=NOW,
    )
    assert receipt.status == 200
    assert held(usa, "orcon")["orcon"].status is AlertStatus.OPEN
    # ... and from the originator: applied.
    receipt = usa.exchange.receive(
        sealed_items(WithdrawItem(orcon.id, "not so"), seq=5), peer_nation="IND", now=NOW
    )
    assert (receipt.status, receipt.stored) == (200, 1)
    assert held(usa, "orcon")["orcon"].status is AlertStatus.WITHDRAWN


def test_a_relayed_alert_and_its_withdrawal_pass_through_a_partner(
    three: dict[str, Node],
) -> None:
    ind, usa, jpn = three["IND"], three["USA"], three["JPN"]
    wide = label(to=["USA", "JPN"])
    ind.store.write_alerts([an_alert("a", wide)])
    deliver(ind, jpn)
    deliver(jpn, usa)  # JPN relays IND's alert (not ORCON, USA may hold it)
    assert held(usa, "a")["a"].label == wide
    ind.store.write_alerts([an_alert("a", wide, status=AlertStatus.WITHDRAWN)])
    deliver(ind, jpn)
    deliver(jpn, usa)
    assert held(usa, "a")["a"].status is AlertStatus.WITHDRAWN
    # Sent back to IND (as reports are), IND keeps its own alert as it stands.
    assert [r.stored for r in deliver(jpn, ind)] == [0]
    assert held(ind, "a")["a"] == an_alert("a", wide, status=AlertStatus.WITHDRAWN)


# -- the law -----------------------------------------------------------------------------


def _as_alert_case(
    case: tuple[Candidate, str, str, list[Agreement], datetime],
) -> tuple[Candidate, str, str, list[Agreement], datetime]:
    """A release case with its flow renamed to alerts (and ``alerts`` in each clause
    renamed to the case's flow): the same case, about an alert. Alerts always have a time
    and a position."""
    candidate, node, partner, agreements, now = case
    flow = candidate.flow

    def swap(flows: frozenset[Flow]) -> frozenset[Flow]:
        swapped = {Flow.ALERTS if f is flow else flow if f is Flow.ALERTS else f for f in flows}
        return frozenset(swapped)

    renamed = [
        replace(a, clauses=tuple(replace(c, flows=swap(c.flows)) for c in a.clauses))
        for a in agreements
    ]
    alert = Candidate(
        Flow.ALERTS,
        candidate.label,
        candidate.observed_at or now - timedelta(hours=1),
        candidate.lat if candidate.lat is not None else 1.5,
        candidate.lon if candidate.lon is not None else -2.25,
    )
    return alert, node, partner, renamed, now


def _change(candidate: Candidate, status: str = "open") -> AlertChange:
    assert candidate.observed_at is not None
    fields = {
        "kind": "loitering",
        "status": status,
        "start": candidate.observed_at - timedelta(hours=2),
        "end": candidate.observed_at,
        "lat": candidate.lat,
        "lon": candidate.lon,
        "mmsis": (419000001,),
        "tracks": ("ais:419000001",),
        "evidence": '{"speed_kn": 1.2}',
    }
    return AlertChange(1, "cd" * 16, 2, 7, fields)


@settings(max_examples=100, deadline=None)
@given(case=release_cases(), was_given=st.booleans())
def test_an_alert_goes_now_exactly_when_rule_one_holds(
    case: tuple[Candidate, str, str, list[Agreement], datetime], was_given: bool
) -> None:
    candidate, node, partner, agreements, now = _as_alert_case(case)
    releaser = Releaser(node, partner, agreements)
    labels = {7: candidate.label}.get
    scan = alert_items([_change(candidate)], labels, releaser, {}, now=now)
    allowed = releasing_clauses(candidate, node, partner, agreements, now)
    expected = bool(allowed)
    if allowed:
        # The first releasing clause sanitises, and must cover the rounded position too.
        clause = allowed[0][1]
        precision = clause.sanitise.precision
        if precision is not None:
            assert candidate.lat is not None
            assert candidate.lon is not None
            rounded = replace(
                candidate, lat=round(candidate.lat, precision), lon=round(candidate.lon, precision)
            )
            expected = covers(clause, rounded)
    released = [item for item in scan.items if item.not_before == now]
    assert bool(released) == expected, (scan, allowed)
    if released:
        assert (released[0].agreement, released[0].clause) == (allowed[0][0].id, allowed[0][1].id)
    for item in scan.items:
        record = ItemReader().item(item.item)
        assert isinstance(record, RecordItem)
        assert record.record.label == candidate.label  # never changed
        assert record.record.flow == "alerts"
        clause = next(
            c
            for a in agreements
            if a.id == item.agreement
            for c in a.clauses
            if c.id == item.clause
        )
        remove = clause.sanitise.remove
        fields = record.record.fields
        assert ("evidence" in fields) == (not remove)
        for name, removed_by in ALERT_REMOVALS.items():
            assert (name in fields) == (not remove & removed_by)
    # A withdrawal goes to a partner given the alert before, whatever the decision says.
    given = {"cd" * 16: Given("a0", "c0", now)} if was_given else {}
    scan = alert_items([_change(candidate, "withdrawn")], labels, releaser, given, now=now)
    kinds = [ItemReader().item(item.item) for item in scan.items]
    assert [type(k) for k in kinds] == ([WithdrawItem] if was_given else [])


def test_sanitising_an_alert_keeps_what_no_removal_names() -> None:
    fields = {"lat": 1.23456, "lon": 2.34567, "mmsis": (1,), "tracks": ("t",), "evidence": "{}"}
    keep = sanitise_alert(fields, Sanitise(timedelta(0), None, frozenset()))
    assert keep == fields
    out = sanitise_alert(fields, Sanitise(timedelta(0), 2, frozenset({"name"})))
    assert out == {"lat": 1.23, "lon": 2.35, "mmsis": (1,), "tracks": ("t",)}
    out = sanitise_alert(fields, Sanitise(timedelta(0), None, frozenset({"mmsi"})))
    assert out == {"lat": 1.23456, "lon": 2.34567}
