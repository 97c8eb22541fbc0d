"""Two nodes exchanging in-process: release, seal, receive, resend, amend (no network).

Each node is a real store with a real ``Exchange`` and ``AuditLog``: a DuckDB file, and,
for the tests that take ``node_stores`` (``tests/share/conftest.py``), a PostgreSQL
database too (each such test runs on both). The HTTP transport is D2's (tests/serve).
Builders here are shared by test_receive, test_outbox and test_alert_sharing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import ConfigError
from mista.ingest.batch import IngestBatch
from mista.ingest.nmea import nmea_batches
from mista.ingest.positions import position_batches
from mista.ingest.rows import SourceContext
from mista.labels import Label, Level
from mista.model import SourceKind
from mista.share.agreements import Agreement, Clause, Flow, Sanitise
from mista.share.area import bbox_area
from mista.share.audit import AuditLog
from mista.share.exchange import Exchange, Partner
from mista.share.keys import Identity
from mista.share.release import Candidate, Outcome, decide
from mista.store.embedded import DuckDBStore
from mista.store.exchange_tables import exchange_tables
from mista.store.postgres import PostgresStore
from tests.ingest.nmea_lines import position, tagged
from tests.share.conftest import NodeStores, run_sql
from tests.strategies import CATEGORIES, NATIONS

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
KEYS = {nation: Ed25519PrivateKey.generate() for nation in NATIONS}


def clause(
    clause_id: str = "reports",
    *,
    categories: Sequence[str] = ("white-shipping",),
    max_level: Level = Level.RESTRICTED,
    area: tuple[float, float, float, float] | None = None,
    delay: timedelta = timedelta(0),
    precision: int | None = None,
    remove: Sequence[str] = (),
) -> Clause:
    return Clause(
        id=clause_id,
        flows=frozenset({Flow.REPORTS}),
        categories=frozenset(categories),
        max_level=max_level,
        area=bbox_area(list(area)) if area is not None else None,
        sanitise=Sanitise(delay=delay, precision=precision, remove=frozenset(remove)),
    )


def agreement(
    agreement_id: str = "ind-usa",
    parties: Sequence[str] = ("IND", "USA"),
    *,
    clauses: Sequence[Clause] = (),
    senders: Sequence[str] | None = None,
    valid_from: datetime = NOW - timedelta(days=1),
    valid_until: datetime = NOW + timedelta(days=365),
) -> Agreement:
    senders = parties if senders is None else senders
    return Agreement(
        id=agreement_id,
        version=1,
        parties=frozenset(parties),
        senders=frozenset(senders),
        receivers=frozenset(parties) - (frozenset(senders) if len(senders) == 1 else frozenset()),
        valid_from=valid_from,
        valid_until=valid_until,
        clauses=tuple(clauses) or (clause(),),
        path=Path(f"{agreement_id}.toml"),
    )


def label(
    originator: str = "IND",
    to: Sequence[str] = ("USA",),
    *,
    level: Level = Level.UNCLASSIFIED,
    categories: Sequence[str] = ("white-shipping",),
    orcon: bool = False,
) -> Label:
    return Label(level, originator, frozenset(to), frozenset(categories), orcon)


@dataclass
class Node:
    nation: str
    store: DuckDBStore | PostgresStore
    exchange: Exchange
    audit_path: Path

    def close(self) -> None:
        self.store.close()
        self.exchange.audit.close()

    def audit_kinds(self) -> list[str]:
        import json

        lines = self.audit_path.read_text().splitlines() if self.audit_path.exists() else []
        kinds = [json.loads(line)["kind"] for line in lines]
        return [kind for kind in kinds if kind != "checkpoint"]

    def stored(self) -> dict[str, tuple[Label, dict[str, Any]]]:
        """Every report the node holds: id -> (label, fields)."""
        tables = exchange_tables(self.store)
        labels = tables.labels()
        rows = tables.reports_after(0, 10**9).to_pylist()
        return {
            row["id"]: (
                labels[row["label_no"]],
                {k: v for k, v in row.items() if k not in ("id", "seq", "label_no")},
            )
            for row in rows
        }


def identity(nation: str) -> Identity:
    key = KEYS[nation]
    return Identity(nation, key, key.public_key(), Path("tls.crt"), Path("tls.key"))


def partner(nation: str, key: Ed25519PrivateKey | None = None) -> Partner:
    public = (key or KEYS[nation]).public_key()
    return Partner(nation, "https://127.0.0.1:9", Path(f"{nation}.crt"), public)


def open_node(
    directory: Path,
    nation: str,
    partners: Sequence[str],
    agreements: Sequence[Agreement],
    *,
    keys: dict[str, Ed25519PrivateKey] | None = None,
    stores: NodeStores | None = None,
) -> Node:
    """A node in ``directory``: its store (a DuckDB file there, or of ``stores``' backend;
    the same store when opened again), audit log and exchange."""
    directory.mkdir(parents=True, exist_ok=True)
    store = (
        DuckDBStore(directory / f"{nation}.duckdb")
        if stores is None
        else stores.open(directory, nation)
    )
    audit_path = directory / f"{nation}-audit.jsonl"
    audit = AuditLog(audit_path, nation=nation, signing_key=KEYS[nation])
    keys = keys or {}
    exchange = Exchange(
        store,
        node=nation,
        identity=identity(nation),
        partners={name: partner(name, keys.get(name)) for name in partners},
        agreements=agreements,
        audit=audit,
    )
    return Node(nation, store, exchange, audit_path)


_counter = iter(range(10**9))


def report_batches(
    lab: Label,
    positions: Sequence[tuple[float, float]],
    *,
    at: datetime = NOW - timedelta(hours=1),
    receiver: str | None = None,
) -> list[IngestBatch]:
    """One report per position, observed a second apart from ``at``, under ``lab``: AIS
    sentences heard by ``receiver`` when one is named, else a position file."""
    ctx = SourceContext(
        source=f"feed-{next(_counter)}",
        originator=lab.originator,
        label=lab,
        kind=SourceKind.AIS_TERRESTRIAL if receiver else SourceKind.POSITION_FILE,
    )
    lines = [] if receiver else ["mmsi,timestamp,lat,lon"]
    for offset_s, (lat, lon) in enumerate(positions):
        moment = at + timedelta(seconds=offset_s)
        mmsi = 366000000 + next(_counter) % 100_000
        if receiver:
            sentence = position(mmsi, lat, lon)
            lines.append(tagged(sentence, epoch_s=int(moment.timestamp()), receiver=receiver))
        else:
            lines.append(f"{mmsi},{moment.strftime('%Y-%m-%dT%H:%M:%SZ')},{lat},{lon}")
    data = [("\n".join(lines) + "\n").encode()]
    batches = list(nmea_batches(data, ctx) if receiver else position_batches(data, ctx))
    for batch in batches:
        assert batch.rejected.num_rows == 0, batch.rejected.to_pylist()
    return batches


def observe(
    node: Node,
    lab: Label,
    positions: Sequence[tuple[float, float]],
    *,
    at: datetime = NOW - timedelta(hours=1),
    receiver: str | None = None,
    write: bool = True,
) -> list[IngestBatch]:
    """Store ``report_batches(lab, positions, ...)`` in the node's store (unless not
    ``write``); the batches."""
    batches = report_batches(lab, positions, at=at, receiver=receiver)
    if write:
        for batch in batches:
            node.store.write(batch)
    return batches


def observe_all(
    node: Node, groups: Sequence[tuple[Label, Sequence[tuple[float, float]], datetime]]
) -> None:
    """Several ``observe`` calls stored as one batch (each store write costs a commit)."""
    batches = [
        batch
        for lab, positions, at in groups
        for batch in observe(node, lab, positions, at=at, write=False)
    ]
    node.store.write(
        IngestBatch(
            source="feeds",
            messages=pa.concat_tables([batch.messages for batch in batches]),
            rejected=pa.concat_tables([batch.rejected for batch in batches]),
            labels=tuple(dict.fromkeys(lab for batch in batches for lab in batch.labels)),
            lines=sum(batch.lines for batch in batches),
        )
    )


def deliver(sender: Node, receiver: Node, *, now: datetime = NOW) -> list[Any]:
    """Scan, then push every due batch to ``receiver`` and acknowledge it on a 2xx."""
    sender.exchange.scan(receiver.nation, now=now)
    receipts = []
    while (outgoing := sender.exchange.next_batch(receiver.nation, now=now)) is not None:
        receipt = receiver.exchange.receive(outgoing.data, peer_nation=sender.nation, now=now)
        receipts.append(receipt)
        if not receipt.ok:
            break
        sender.exchange.acknowledge(receiver.nation, outgoing)
    return receipts


@pytest.fixture
def pair(tmp_path: Path, node_stores: NodeStores) -> Iterator[tuple[Node, Node]]:
    agreements = [agreement(clauses=[clause(remove=["receiver"], precision=3)])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    usa = open_node(tmp_path / "usa", "USA", ["IND"], agreements, stores=node_stores)
    yield ind, usa
    ind.close()
    usa.close()


# -- the story -----------------------------------------------------------------------


def test_released_records_arrive_with_labels_intact_and_fields_sanitised(
    pair: tuple[Node, Node],
) -> None:
    ind, usa = pair
    shared = label(to=["USA"], level=Level.RESTRICTED)
    observe(ind, shared, [(12.34567, 72.98765), (12.5, 73.1)], receiver="rx-mumbai")
    observe(ind, label(to=[]), [(13.0, 74.0)])  # IND eyes only
    observe(ind, label(to=["USA"], level=Level.SECRET), [(13.0, 74.0)])  # above max_level
    observe(ind, label(to=["USA"], categories=["sensor:radar"]), [(13.0, 74.0)])  # no clause
    receipts = deliver(ind, usa)
    assert [r.status for r in receipts] == [200]
    sent = ind.stored()
    got = usa.stored()
    released = {rid for rid, (lab, _) in sent.items() if lab == shared}
    assert set(got) == released
    for rid, (lab, fields) in got.items():
        assert lab == shared  # the label is never changed on the way
        original = sent[rid][1]
        assert fields["lat"] == round(original["lat"], 3)
        assert fields["lon"] == round(original["lon"], 3)
        assert original["receiver"] == "rx-mumbai"
        assert fields["receiver"] is None  # removed by the clause
        assert fields["originator"] == "IND"
        assert fields["observed_at"] == original["observed_at"]
    assert ind.audit_kinds() == ["release"]
    assert usa.audit_kinds() == ["receive"]
    assert ind.exchange.outbox_counts("USA") == {
        "queued": 0,
        "in-flight": 0,
        "sent": 2,
        "dropped": 0,
    }


def test_a_partner_down_then_back_gets_everything_once(pair: tuple[Node, Node]) -> None:
    ind, usa = pair
    shared = label()
    observe(ind, shared, [(10.0, 70.0 + i / 100) for i in range(30)])
    ind.exchange.scan("USA", now=NOW)
    # The partner is down: batches are sealed but never answered, so never acknowledged.
    for _ in range(3):
        outgoing = ind.exchange.next_batch("USA", now=NOW, max_items=10)
        assert outgoing is not None
        assert outgoing.seq == 1  # the same batch again until it is acknowledged
    observe(ind, shared, [(11.0, 70.0 + i / 100) for i in range(5)])  # more while down
    receipts = []
    later = NOW + timedelta(minutes=5)
    ind.exchange.scan("USA", now=later)
    while (outgoing := ind.exchange.next_batch("USA", now=later, max_items=10)) is not None:
        receipt = usa.exchange.receive(outgoing.data, peer_nation="IND", now=later)
        receipts.append(receipt)
        assert receipt.ok
        ind.exchange.acknowledge("USA", outgoing)
    assert [r.stored for r in receipts] == [10, 10, 10, 5]
    assert set(usa.stored()) == set(ind.stored())
    assert usa.store.counts()["reports"] == 35


def test_a_crash_before_the_acknowledgement_resends_and_stores_once(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    agreements = [agreement()]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    usa = open_node(tmp_path / "usa", "USA", ["IND"], agreements, stores=node_stores)
    observe(ind, label(), [(10.0, 70.0), (10.1, 70.1), (10.2, 70.2)])
    ind.exchange.scan("USA", now=NOW)
    first = ind.exchange.next_batch("USA", now=NOW)
    assert first is not None
    assert usa.exchange.receive(first.data, peer_nation="IND", now=NOW).stored == 3
    # The sender dies before it hears the 200: no acknowledge. It restarts on its store.
    ind.close()
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    ind.exchange.scan("USA", now=NOW)  # nothing new to scan: the cursor was durable
    again = ind.exchange.next_batch("USA", now=NOW)
    assert again is not None
    assert (again.seq, again.record_ids) == (first.seq, first.record_ids)
    assert again.data != first.data  # a fresh nonce: a resend, not a replay
    receipt = usa.exchange.receive(again.data, peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.reason, receipt.duplicate, receipt.stored) == (
        200,
        "duplicate",
        True,
        0,
    )
    ind.exchange.acknowledge("USA", again)
    assert ind.exchange.next_batch("USA", now=NOW) is None
    assert usa.store.counts()["reports"] == 3
    # A crash on the receiver's side between storing and recording the batch: the resend
    # is then not known as a duplicate, and the store's ids keep it stored once.
    observe(ind, label(), [(10.3, 70.3)])
    ind.exchange.scan("USA", now=NOW)
    third = ind.exchange.next_batch("USA", now=NOW)
    assert third is not None
    assert usa.exchange.receive(third.data, peer_nation="IND", now=NOW).stored == 1
    run_sql(usa.store, "DELETE FROM share_inbound WHERE seq = $s", {"s": third.seq})
    resent = ind.exchange.next_batch("USA", now=NOW)
    assert resent is not None
    receipt = usa.exchange.receive(resent.data, peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.stored) == (200, 0)
    assert usa.store.counts()["reports"] == 4
    assert usa.store.counts()["receptions"] == 4
    ind.close()
    usa.close()


def test_holds_wait_for_the_delay_and_release_in_order(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    agreements = [agreement(clauses=[clause(delay=timedelta(minutes=30))])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    usa = open_node(tmp_path / "usa", "USA", ["IND"], agreements, stores=node_stores)
    observe(ind, label(), [(10.0, 70.0)], at=NOW - timedelta(hours=1))
    observe(ind, label(), [(10.5, 70.5)], at=NOW - timedelta(minutes=10))
    result = ind.exchange.scan("USA", now=NOW)
    assert (result.released, result.held) == (1, 1)
    assert [r.stored for r in deliver(ind, usa)] == [1]
    assert deliver(ind, usa, now=NOW + timedelta(minutes=19)) == []
    assert [r.stored for r in deliver(ind, usa, now=NOW + timedelta(minutes=21))] == [1]
    assert len(usa.stored()) == 2
    ind.close()
    usa.close()


def test_an_agreement_that_ends_before_a_hold_is_due_releases_nothing(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    ends = NOW + timedelta(minutes=10)
    agreements = [agreement(clauses=[clause(delay=timedelta(minutes=30))], valid_until=ends)]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    observe(ind, label(), [(10.0, 70.0)], at=NOW - timedelta(minutes=5))
    assert ind.exchange.scan("USA", now=NOW).held == 1
    assert ind.exchange.next_batch("USA", now=NOW + timedelta(minutes=26)) is None
    assert ind.exchange.outbox_counts("USA")["dropped"] == 1
    assert ind.audit_kinds() == []
    ind.close()


def test_a_rounded_position_outside_the_area_is_not_released(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    area_clause = clause(area=(70.0, 10.0, 71.0, 11.0), precision=0)
    ind = open_node(
        tmp_path / "ind", "IND", ["USA"], [agreement(clauses=[area_clause])], stores=node_stores
    )
    observe(ind, label(), [(10.4, 70.4), (10.6, 70.6)])  # the second rounds to (11, 71)
    result = ind.exchange.scan("USA", now=NOW)
    assert result.released == 2  # (11, 71) is on the box's edge, still inside
    observe(ind, label(), [(10.2, 70.6)])  # rounds to (10, 71): inside
    observe(ind, label(), [(9.6, 70.4)])  # observed outside: rule 5
    result = ind.exchange.scan("USA", now=NOW)
    assert result.released == 1
    assert result.denied == {"rule 5": 1}
    ind.close()


def test_sanitising_that_leaves_the_area_is_denied_before_sending(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    area_clause = clause(area=(70.0, 10.0, 70.9, 10.9), precision=0)
    ind = open_node(
        tmp_path / "ind", "IND", ["USA"], [agreement(clauses=[area_clause])], stores=node_stores
    )
    observe(ind, label(), [(10.8, 70.2)])  # inside, but rounds to (11, 70): outside
    result = ind.exchange.scan("USA", now=NOW)
    assert (result.released, result.denied) == (0, {"sanitised rule 5": 1})
    ind.close()


# -- amendments ----------------------------------------------------------------------


def test_amendments_reach_every_partner_that_got_the_record_and_only_them(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    nations = ["IND", "USA", "JPN", "FRA"]
    agreements = [agreement("quad", nations)]
    nodes = {
        n: open_node(
            tmp_path / n, n, [p for p in nations if p != n], agreements, stores=node_stores
        )
        for n in nations
    }
    ind = nodes["IND"]
    wide = label(to=["USA", "JPN"])
    observe(ind, wide, [(10.0, 70.0), (10.1, 70.1)])
    observe(ind, label(to=["FRA"]), [(10.2, 70.2)])
    for nation in ("USA", "JPN", "FRA"):
        deliver(ind, nodes[nation])
    wide_ids = sorted(rid for rid, (lab, _) in ind.stored().items() if lab == wide)
    withdrawn, corrected = wide_ids
    assert ind.exchange.amend(withdrawn, "withdraw", reason="wrong vessel", now=NOW) == [
        "JPN",
        "USA",
    ]
    assert ind.exchange.amend(
        corrected, "correct", reason="position fix", fields={"lat": 10.15}, now=NOW
    ) == ["JPN", "USA"]
    for nation in ("USA", "JPN", "FRA"):
        deliver(ind, nodes[nation])
    for nation in ("USA", "JPN"):
        amendments = exchange_tables(nodes[nation].store).amendments().to_pylist()
        assert [(a["record_id"], a["kind"], a["sender"]) for a in amendments] == [
            (withdrawn, "withdraw", "IND"),
            (corrected, "correct", "IND"),
        ]
        assert '"lat":10.15' in amendments[1]["record"]
        assert nodes[nation].audit_kinds().count("amend") == 2
    assert exchange_tables(nodes["FRA"].store).amendments().num_rows == 0
    assert ind.audit_kinds().count("amend") == 2
    # A record never released to anyone has no one to amend it for.
    fra_only = next(rid for rid, (lab, _) in ind.stored().items() if lab != wide)
    assert ind.exchange.amend(fra_only, "withdraw", reason="x", now=NOW) == ["FRA"]
    for node in nodes.values():
        node.close()


def test_a_withdrawal_of_a_record_still_on_hold_goes_after_it(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    agreements = [agreement(clauses=[clause(delay=timedelta(minutes=30))])]
    ind = open_node(tmp_path / "ind", "IND", ["USA"], agreements, stores=node_stores)
    usa = open_node(tmp_path / "usa", "USA", ["IND"], agreements, stores=node_stores)
    observe(ind, label(), [(10.0, 70.0)], at=NOW - timedelta(minutes=10))
    ind.exchange.scan("USA", now=NOW)
    (record_id,) = ind.stored()
    assert ind.exchange.amend(record_id, "withdraw", reason="wrong", now=NOW) == ["USA"]
    assert ind.exchange.next_batch("USA", now=NOW) is None  # not before the record
    receipts = deliver(ind, usa, now=NOW + timedelta(minutes=21))
    assert [r.status for r in receipts] == [200]
    amendments = exchange_tables(usa.store).amendments().to_pylist()
    assert [(a["record_id"], a["kind"]) for a in amendments] == [(record_id, "withdraw")]
    ind.close()
    usa.close()


# -- the law: what the receiver stores is exactly what decide releases ---------------


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    sender, receiver = draw(st.lists(st.sampled_from(NATIONS), min_size=2, max_size=2, unique=True))
    clauses = [
        clause(
            f"c{i}",
            categories=draw(st.sets(st.sampled_from(CATEGORIES), min_size=1, max_size=3)),
            max_level=draw(st.sampled_from(list(Level))),
            area=draw(st.sampled_from([None, (60.0, 0.0, 80.0, 20.0)])),
            delay=draw(st.sampled_from([timedelta(0), timedelta(minutes=45)])),
        )
        for i in range(draw(st.integers(1, 2)))
    ]
    parties = [sender, receiver, *draw(st.sets(st.sampled_from(NATIONS), max_size=2))]
    ends = draw(st.sampled_from([NOW + timedelta(days=1), NOW - timedelta(minutes=1)]))
    one_way_from = draw(st.sampled_from([None, sender, receiver]))
    agreements = [
        agreement(
            "a",
            sorted(set(parties)),
            clauses=clauses,
            senders=[one_way_from] if one_way_from else None,
            valid_until=ends,
        )
    ]
    labels = draw(
        st.lists(
            st.builds(
                Label,
                st.sampled_from(list(Level)),
                st.sampled_from([sender, sender, *NATIONS]),
                st.frozensets(st.sampled_from(NATIONS), max_size=4),
                st.frozensets(st.sampled_from(CATEGORIES), max_size=2),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
        )
    )
    positions = draw(
        st.lists(
            st.tuples(st.floats(-5, 25), st.floats(55, 85)).map(
                lambda p: (round(p[0], 4), round(p[1], 4))
            ),
            min_size=1,
            max_size=3,
        )
    )
    ages = draw(st.lists(st.sampled_from([5, 30, 90]), min_size=1, max_size=2))
    return {
        "sender": sender,
        "receiver": receiver,
        "agreements": agreements,
        "labels": labels,
        "positions": positions,
        "ages": ages,
    }


@pytest.fixture(scope="module")
def stores(
    tmp_path_factory: pytest.TempPathFactory, module_node_stores: NodeStores
) -> Iterator[dict[str, Node]]:
    """One store and audit log per nation, kept across the examples of the property (each
    example adds reports of its own and looks only at those: opening stores is slow), on
    each backend in turn."""
    root = tmp_path_factory.mktemp("nations")
    nodes = {
        nation: open_node(root / nation, nation, [], [], stores=module_node_stores)
        for nation in NATIONS
    }
    yield nodes
    for node in nodes.values():
        node.close()


def _exchange(node: Node, partner_nation: str, agreements: Sequence[Agreement]) -> Node:
    """The node with a fresh exchange for this example's partner and agreements, its
    release cursor for the partner past every report stored so far: earlier examples stored
    reports too (as senders and as receivers), and only this example's may be released."""
    tables = exchange_tables(node.store)
    rows = run_sql(node.store, "SELECT coalesce(max(seq), 0) FROM reports")
    if int(rows[0][0]) > tables.cursor(partner_nation).scanned_seq:
        tables.commit_scan(partner_nation, int(rows[0][0]), [])
    exchange = Exchange(
        node.store,
        node=node.nation,
        identity=identity(node.nation),
        partners={partner_nation: partner(partner_nation)},
        agreements=agreements,
        audit=node.exchange.audit,
    )
    return Node(node.nation, node.store, exchange, node.audit_path)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenario=scenarios())
def test_the_receiver_stores_exactly_what_decide_releases(
    stores: dict[str, Node], scenario: dict[str, Any]
) -> None:
    sender_nation, receiver_nation = scenario["sender"], scenario["receiver"]
    agreements = scenario["agreements"]
    sender = _exchange(stores[sender_nation], receiver_nation, agreements)
    receiver = _exchange(stores[receiver_nation], sender_nation, agreements)
    sent_before, got_before = set(sender.stored()), set(receiver.stored())
    observe_all(
        sender,
        [
            (lab, scenario["positions"], NOW - timedelta(minutes=age))
            for lab in scenario["labels"]
            for age in scenario["ages"]
        ],
    )
    receipts = deliver(sender, receiver)
    assert all(r.status == 200 for r in receipts), receipts
    expected = set()
    sent = sender.stored()
    for rid, (lab, fields) in sent.items():
        if rid in sent_before:
            continue
        candidate = Candidate(
            Flow.REPORTS, lab, fields["observed_at"], fields["lat"], fields["lon"]
        )
        decision = decide(
            candidate,
            node=sender_nation,
            partner=receiver_nation,
            agreements=agreements,
            now=NOW,
        )
        # The receiver keeps its own records, not a partner's copy of them.
        if decision.outcome is Outcome.RELEASE and lab.originator != receiver_nation:
            expected.add(rid)
    got = receiver.stored()
    assert set(got) - got_before == expected
    for rid in expected:
        assert got[rid][0] == sent[rid][0]
        assert receiver_nation in got[rid][0].releasable_to


def test_a_record_the_wire_format_refuses_is_dropped_not_sent(pair: tuple[Node, Node]) -> None:
    ind, usa = pair
    observe(ind, label(), [(10.0, 70.0), (10.1, 70.1)])
    # A value no wire record may carry (over 200 kn): stored by an older or broken reader.
    run_sql(ind.store, "UPDATE reports SET speed_kn = 500 WHERE lat = 10.0")
    receipts = deliver(ind, usa)
    assert [(r.status, r.stored) for r in receipts] == [(200, 1)]
    assert ind.exchange.outbox_counts("USA") == {
        "queued": 0,
        "in-flight": 0,
        "sent": 1,
        "dropped": 1,
    }


def test_a_node_config_that_does_not_fit_is_refused(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        audit = AuditLog(tmp_path / "audit.jsonl", nation="IND", signing_key=KEYS["IND"])
        try:
            with pytest.raises(ConfigError, match="identity is USA's"):
                Exchange(
                    store,
                    node="IND",
                    identity=identity("USA"),
                    partners={},
                    agreements=[],
                    audit=audit,
                )
            with pytest.raises(ConfigError, match="keyed by its own nation"):
                Exchange(
                    store,
                    node="IND",
                    identity=identity("IND"),
                    partners={"USA": partner("JPN")},
                    agreements=[],
                    audit=audit,
                )
        finally:
            audit.close()


def test_ingest_and_exchange_threads_share_the_store_safely(pair: tuple[Node, Node]) -> None:
    """The node writes its input under the exchange lock while a pusher thread scans,
    sends and acknowledges: every record arrives once."""
    ind, usa = pair
    done = threading.Event()
    failures: list[BaseException] = []

    def ingest() -> None:
        try:
            for round_no in range(6):
                batches = observe(
                    ind,
                    label(),
                    [(10.0 + round_no / 10, 70.0 + i / 100) for i in range(5)],
                    write=False,
                )
                for batch in batches:
                    with ind.exchange.lock:
                        ind.store.write(batch)
        except BaseException as exc:  # reported below: a thread cannot fail the test
            failures.append(exc)
        finally:
            done.set()

    def push() -> None:
        try:
            while True:
                finished = done.is_set()
                deliver(ind, usa)
                if finished:
                    return
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=ingest), threading.Thread(target=push)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not failures, failures
    assert usa.store.counts()["reports"] == ind.store.counts()["reports"] == 30
    assert ind.exchange.outbox_counts("USA")["sent"] == 30
