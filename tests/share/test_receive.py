"""The receiver refuses what it must, audits every refusal, and stores nothing of it.

Each hostile batch is built the way an attacker or a misconfigured partner would: bytes
changed, the wrong key, a batch played twice, a record its label or the agreements do not
let reach this node, a certificate of one partner used to send as another. Every test that
touches a store runs on both backends (``node_stores``, conftest.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mista.ingest.batch import label_id
from mista.labels import Level
from mista.share.exchange import Receipt
from mista.share.inbound import ingest_batch, record_texts
from mista.share.outbox import record_text, wire_item_text_list
from mista.store.exchange_tables import exchange_tables
from mista.wire.batch import Batch, new_nonce, seal
from mista.wire.canonical import sha256_hex
from mista.wire.records import RecordItem, WireRecord, WithdrawItem
from tests.share.conftest import DUCKDB_ONLY, NodeStores, run_sql
from tests.share.test_exchange import (
    KEYS,
    NOW,
    Node,
    agreement,
    clause,
    deliver,
    label,
    observe,
    open_node,
)
from tests.wire.wire_strategies import wire_records

AGREEMENTS = [agreement("quad", ["IND", "USA", "JPN"])]


@pytest.fixture
def nodes(tmp_path: Path, node_stores: NodeStores) -> Iterator[dict[str, Node]]:
    made = {
        nation: open_node(
            tmp_path / nation,
            nation,
            [p for p in ("IND", "USA", "JPN") if p != nation],
            AGREEMENTS,
            stores=node_stores,
        )
        for nation in ("IND", "USA", "JPN")
    }
    yield made
    for node in made.values():
        node.close()


def record(record_id: str = "0" * 31 + "1", **overrides: object) -> WireRecord:
    fields = {
        "originator": "IND",
        "source_kind": "ais-terrestrial",
        "observed_at": NOW - timedelta(hours=1),
        "mmsi": 366000001,
        "lat": 10.0,
        "lon": 70.0,
    }
    lab = overrides.pop("label", label(to=["USA"]))
    fields.update(overrides)
    return WireRecord(record_id, "reports", lab, fields)  # type: ignore[arg-type]


def sealed(
    *records: WireRecord,
    sender: str = "IND",
    receiver: str = "USA",
    seq: int = 1,
    key: Ed25519PrivateKey | None = None,
    created_at_shift: timedelta = timedelta(0),
) -> bytes:
    batch = Batch(
        sender=sender,
        receiver=receiver,
        seq=seq,
        created_at=NOW + created_at_shift,
        nonce=new_nonce(),
        items=tuple(RecordItem(r) for r in records),
    )
    return seal(batch, key or KEYS[sender])


def refused(node: Node, receipt: Receipt, status: int, reason: str) -> None:
    """The receipt refuses with ``status``/``reason``, nothing is stored, and the refusal
    is the node's last audit entry."""
    assert (receipt.status, receipt.reason) == (status, reason), receipt
    assert receipt.stored == 0
    assert node.store.counts()["reports"] == 0
    entries = [json.loads(line) for line in node.audit_path.read_text().splitlines()]
    entries = [entry for entry in entries if entry["kind"] != "checkpoint"]
    assert [entry["kind"] for entry in entries] == ["reject"] * len(entries)
    assert entries[-1]["detail"]["reason"] == reason
    assert entries[-1]["partner"] in (None, "IND", "JPN")


def test_a_good_batch_is_accepted(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    receipt = usa.exchange.receive(sealed(record()), peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.reason, receipt.stored) == (200, "accepted", 1)
    (stored_id,) = usa.stored()
    assert stored_id == "0" * 31 + "1"


@DUCKDB_ONLY
def test_a_tampered_batch_is_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    data = sealed(record())
    tampered = data.replace(b'"lat":10', b'"lat":11')
    assert tampered != data
    refused(usa, usa.exchange.receive(tampered, peer_nation="IND", now=NOW), 401, "bad-signature")


@DUCKDB_ONLY
def test_a_batch_signed_with_the_wrong_key_is_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    data = sealed(record(), key=Ed25519PrivateKey.generate())
    refused(usa, usa.exchange.receive(data, peer_nation="IND", now=NOW), 401, "bad-signature")


@DUCKDB_ONLY
def test_garbage_and_truncated_batches_are_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    data = sealed(record())
    for hostile in (b"", b"{", b"\xff\xfe", data[: len(data) // 2], b"[]" * 10, b"null"):
        refused(usa, usa.exchange.receive(hostile, peer_nation="IND", now=NOW), 400, "malformed")


def test_a_replayed_batch_is_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    data = sealed(record())
    assert usa.exchange.receive(data, peer_nation="IND", now=NOW).status == 200
    again = usa.exchange.receive(data, peer_nation="IND", now=NOW + timedelta(seconds=5))
    assert (again.status, again.reason) == (409, "replay")
    assert usa.store.counts()["reports"] == 1
    assert usa.audit_kinds()[-1] == "reject"


@DUCKDB_ONLY
def test_a_batch_outside_the_clock_window_is_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    for shift in (timedelta(minutes=-11), timedelta(minutes=11)):
        data = sealed(record(), created_at_shift=shift)
        refused(usa, usa.exchange.receive(data, peer_nation="IND", now=NOW), 400, "stale")


def test_a_record_not_releasable_to_the_receiver_refuses_the_whole_batch(
    nodes: dict[str, Node],
) -> None:
    usa = nodes["USA"]
    good = record("0" * 31 + "1")
    for_japan_only = record("0" * 31 + "2", label=label(to=["JPN"]))
    data = sealed(good, for_japan_only)
    refused(usa, usa.exchange.receive(data, peer_nation="IND", now=NOW), 403, "not-releasable")


def test_records_the_agreement_does_not_cover_are_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    cases = [
        record(label=label(to=["USA"], level=Level.SECRET)),  # above max_level
        record(label=label(to=["USA"], categories=["sensor:radar"])),  # no clause
        record(label=label("JPN", to=["USA", "IND"], orcon=True), originator="JPN"),  # ORCON
    ]
    for seq, bad in enumerate(cases, start=1):
        data = sealed(bad, seq=seq)
        refused(usa, usa.exchange.receive(data, peer_nation="IND", now=NOW), 403, "not-releasable")


def test_an_expired_agreement_refuses_records(tmp_path: Path, node_stores: NodeStores) -> None:
    expired = [agreement(valid_until=NOW - timedelta(minutes=1))]
    usa = open_node(tmp_path / "usa", "USA", ["IND"], expired, stores=node_stores)
    data = sealed(record())
    refused(usa, usa.exchange.receive(data, peer_nation="IND", now=NOW), 403, "not-releasable")
    usa.close()


def test_a_record_released_before_its_delay_is_refused(
    tmp_path: Path, node_stores: NodeStores
) -> None:
    delayed = [agreement(clauses=[clause(delay=timedelta(hours=2))])]
    usa = open_node(tmp_path / "usa", "USA", ["IND"], delayed, stores=node_stores)
    data = sealed(record())  # observed an hour ago
    refused(usa, usa.exchange.receive(data, peer_nation="IND", now=NOW), 403, "released-early")
    usa.close()


@DUCKDB_ONLY
def test_a_certificate_of_one_partner_cannot_send_as_another(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    data = sealed(record(), sender="IND")
    receipt = usa.exchange.receive(data, peer_nation="JPN", now=NOW)
    refused(usa, receipt, 403, "wrong-sender")
    assert "certificate of JPN used to send as IND" in receipt.detail


@DUCKDB_ONLY
def test_no_certificate_or_an_unknown_one_is_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    data = sealed(record())
    refused(usa, usa.exchange.receive(data, peer_nation=None, now=NOW), 403, "no-certificate")
    refused(usa, usa.exchange.receive(data, peer_nation="FRA", now=NOW), 403, "unknown-peer")


@DUCKDB_ONLY
def test_a_batch_for_another_node_is_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    data = sealed(record(label=label(to=["USA", "JPN"])), receiver="JPN")
    refused(usa, usa.exchange.receive(data, peer_nation="IND", now=NOW), 400, "wrong-receiver")


def test_a_reused_seq_with_other_items_is_refused(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    assert usa.exchange.receive(sealed(record()), peer_nation="IND", now=NOW).status == 200
    other = sealed(record("0" * 31 + "9"), seq=1)
    receipt = usa.exchange.receive(other, peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.reason) == (409, "seq-reused")
    assert usa.store.counts()["reports"] == 1


def test_a_withdrawal_of_a_record_the_sender_never_sent_changes_nothing(
    nodes: dict[str, Node],
) -> None:
    usa, jpn = nodes["USA"], nodes["JPN"]
    shared = label(to=["USA", "JPN"])
    observe(nodes["IND"], shared, [(10.0, 70.0)])
    deliver(nodes["IND"], usa)
    (record_id,) = usa.stored()
    # JPN never sent this record: its withdrawal of it must not touch IND's copy.
    batch = Batch("JPN", "USA", 1, NOW, new_nonce(), (WithdrawItem(record_id, "not yours"),))
    receipt = usa.exchange.receive(seal(batch, KEYS["JPN"]), peer_nation="JPN", now=NOW)
    assert receipt.status == 200
    assert exchange_tables(usa.store).amendments().num_rows == 0
    assert jpn.store.counts()["reports"] == 0


def test_its_own_records_coming_back_are_not_stored_again(nodes: dict[str, Node]) -> None:
    usa = nodes["USA"]
    own = record("0" * 31 + "5", label=label("USA", to=["IND"]), originator="USA")
    other = record("0" * 31 + "6")
    receipt = usa.exchange.receive(sealed(own, other), peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.stored) == (200, 1)
    assert set(usa.stored()) == {"0" * 31 + "6"}


@pytest.fixture(scope="module")
def usa_alone(
    tmp_path_factory: pytest.TempPathFactory, module_node_stores: NodeStores
) -> Iterator[Node]:
    node = open_node(
        tmp_path_factory.mktemp("usa"),
        "USA",
        ["IND", "JPN"],
        AGREEMENTS,
        stores=module_node_stores,
    )
    yield node
    node.close()


@settings(max_examples=30, deadline=None)
@given(data=st.binary(max_size=400))
def test_garbage_is_refused_without_an_exception(usa_alone: Node, data: bytes) -> None:
    receipt = usa_alone.exchange.receive(data, peer_nation="IND", now=NOW)
    assert receipt.status in (400, 401, 413)
    assert usa_alone.store.counts()["reports"] == 0


_GOOD = sealed(record())


@settings(max_examples=30, deadline=None)
@given(position=st.integers(0, len(_GOOD) - 1), value=st.integers(0, 255))
def test_any_changed_byte_is_refused(usa_alone: Node, position: int, value: int) -> None:
    changed = _GOOD[:position] + bytes([value]) + _GOOD[position + 1 :]
    assume(changed != _GOOD)
    receipt = usa_alone.exchange.receive(changed, peer_nation="IND", now=NOW)
    assert receipt.status in (400, 401)
    assert usa_alone.store.counts()["reports"] == 0


@settings(max_examples=60, deadline=None)
@given(st.lists(wire_records(), max_size=5), st.booleans())
def test_received_records_are_kept_as_record_text(records: list[WireRecord], again: bool) -> None:
    # record_texts writes each distinct label and time once; record_text is the reference.
    batch = records + records if again else records
    assert record_texts(batch) == [record_text(one) for one in batch]


def test_an_accepted_batch_is_stored_as_ingest_batch_would_row_by_row() -> None:
    records = [record(), record("0" * 31 + "2", name="SAGAR", lat=12.0)]
    table = ingest_batch("IND", records).messages
    assert table.num_rows == 2
    first = table.to_pylist()[1]
    assert first["content_key"] == "0" * 31 + "2"
    assert (first["id_hi"], first["id_lo"]) == (0, 2)
    assert first["lat"] == 12.0
    assert first["name"] == "SAGAR"
    assert first["source"] == "partner:IND"
    assert first["raw"] == record_text(records[1])
    assert first["received_at"] == records[1].fields["observed_at"]
    assert first["label_id"] == label_id(records[1].label)


def test_a_resend_of_a_batch_accepted_under_the_legacy_items_hash_is_a_duplicate(
    nodes: dict[str, Node],
) -> None:
    # Batches accepted before the items hash was taken over canonical bytes keep the old
    # hash (sorted JSON of the items); a resend of one after an upgrade must not stall.
    usa = nodes["USA"]
    one = record()
    assert usa.exchange.receive(sealed(one), peer_nation="IND", now=NOW).status == 200
    legacy = sha256_hex(wire_item_text_list([RecordItem(one)]).encode("utf-8"))
    run_sql(usa.store, "UPDATE share_inbound SET items_hash = $h", {"h": legacy})
    receipt = usa.exchange.receive(sealed(one), peer_nation="IND", now=NOW)
    assert (receipt.status, receipt.reason) == (200, "duplicate")
    other = sealed(record("0" * 31 + "9"))
    assert usa.exchange.receive(other, peer_nation="IND", now=NOW).reason == "seq-reused"
    assert usa.store.counts()["reports"] == 1
