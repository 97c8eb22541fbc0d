"""Sealed batches: round trips, and every tampering, forgery or garbage is a WireError."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.labels import Label, Level
from mista.wire import (
    Batch,
    RecordItem,
    WireError,
    WireRecord,
    canonical_json,
    new_nonce,
    open_sealed,
    seal,
    sha256_hex,
)
from tests.wire.wire_strategies import NATIONS, batches

_LABEL = Label(Level.RESTRICTED, "IND", frozenset({"USA"}), frozenset({"white-shipping"}))
#: One key per nation, made once (key generation is the slow part).
KEYS = {nation: Ed25519PrivateKey.generate() for nation in NATIONS}
PUBLIC: dict[str, Ed25519PublicKey] = {nation: key.public_key() for nation, key in KEYS.items()}


def a_batch(**changes: Any) -> Batch:
    record = WireRecord(
        "cd" * 16,
        "reports",
        _LABEL,
        {"lat": 13.0, "lon": 80.25, "mmsi": 419000001, "originator": "IND", "source_kind": "radar"},
    )
    values: dict[str, Any] = {
        "sender": "IND",
        "receiver": "USA",
        "seq": 3,
        "created_at": datetime(2024, 6, 1, 12, 0, tzinfo=UTC),
        "nonce": "0f" * 16,
        "items": (RecordItem(record),),
    }
    values.update(changes)
    return Batch(**values)


def reason_of(data: bytes, receiver: str = "USA", keys: Any = None) -> str:
    with pytest.raises(WireError) as info:
        open_sealed(data, PUBLIC if keys is None else keys, expected_receiver=receiver)
    return info.value.reason


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches())
def test_sealed_batches_open_to_themselves_with_their_hash(batch: Batch) -> None:
    data = seal(batch, KEYS[batch.sender])
    opened, digest = open_sealed(data, PUBLIC, expected_receiver=batch.receiver)
    assert opened == batch
    assert digest == sha256_hex(data)
    assert canonical_json(json.loads(data)) == data


def test_the_sealed_shape_is_documented_one() -> None:
    data = seal(a_batch(), KEYS["IND"])
    document = json.loads(data)
    assert set(document) == {"batch", "signature"}
    assert document["batch"]["format"] == "mista-batch/1"
    assert document["batch"]["created_at"] == "2024-06-01T12:00:00Z"
    signature = base64.b64decode(document["signature"])
    PUBLIC["IND"].verify(signature, canonical_json(document["batch"]))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_single_byte_change_is_refused(data: st.DataObject) -> None:
    sealed = seal(a_batch(), KEYS["IND"])
    where = data.draw(st.integers(0, len(sealed) - 1), label="where")
    byte = data.draw(st.integers(0, 255).filter(lambda b: b != sealed[where]), label="byte")
    changed = sealed[:where] + bytes([byte]) + sealed[where + 1 :]
    with pytest.raises(WireError):
        open_sealed(changed, PUBLIC, expected_receiver="USA")


def test_every_signature_byte_matters() -> None:
    sealed = seal(a_batch(), KEYS["IND"])
    start = sealed.index(b'"signature":"') + len(b'"signature":"')
    for where in range(start, sealed.index(b'"', start)):
        for byte in b"AQgw+/":
            if byte != sealed[where]:
                changed = sealed[:where] + bytes([byte]) + sealed[where + 1 :]
                with pytest.raises(WireError):
                    open_sealed(changed, PUBLIC, expected_receiver="USA")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(max_items=2), st.sampled_from(NATIONS))
def test_a_batch_signed_by_another_key_is_a_bad_signature(batch: Batch, signer: str) -> None:
    if signer == batch.sender:
        signer = next(n for n in NATIONS if n != batch.sender)
    sealed = seal(batch, KEYS[signer])
    assert reason_of(sealed, batch.receiver) == "bad-signature"


def test_reason_codes() -> None:
    sealed = seal(a_batch(), KEYS["IND"])
    assert reason_of(sealed, receiver="JPN") == "wrong-receiver"
    assert reason_of(sealed, keys={"USA": PUBLIC["USA"]}) == "unknown-sender"
    with pytest.raises(WireError) as info:
        open_sealed(sealed, PUBLIC, expected_receiver="USA", max_bytes=len(sealed) - 1)
    assert info.value.reason == "too-large"
    assert open_sealed(sealed, PUBLIC, expected_receiver="USA", max_bytes=len(sealed))[0]


def test_a_forged_sender_cannot_borrow_a_signature() -> None:
    # Replace the sender after signing: the signature no longer covers the batch.
    document = json.loads(seal(a_batch(), KEYS["IND"]))
    document["batch"]["sender"] = "JPN"
    assert reason_of(canonical_json(document)) == "bad-signature"


def _resealed(edit: Any) -> bytes:
    """A batch edited after building and signed properly: only shape checks can refuse it."""
    document = json.loads(seal(a_batch(), KEYS["IND"]))
    edit(document["batch"])
    body = canonical_json(document["batch"])
    signature = base64.b64encode(KEYS["IND"].sign(body)).decode()
    return canonical_json({"batch": document["batch"], "signature": signature})


@pytest.mark.parametrize(
    "edit",
    [
        lambda b: b.update(format="mista-batch/2"),
        lambda b: b.update(seq=-1),
        lambda b: b.update(seq=1.5),
        lambda b: b.update(seq=True),
        lambda b: b.update(nonce="xyz"),
        lambda b: b.update(created_at="2024-06-01T12:00:00+00:00"),
        lambda b: b.update(receiver="IND"),
        lambda b: b.update(receiver="usa"),
        lambda b: b.update(items={}),
        lambda b: b.update(extra=1),
        lambda b: b.pop("nonce"),
        lambda b: b["items"].append({"kind": "record"}),
        lambda b: b["items"][0]["record"]["fields"].update(lat=91),
        lambda b: b["items"][0]["record"]["label"].update(releasable_to=["USA"]),
    ],
)
def test_signed_but_malformed_batches_are_refused(edit: Any) -> None:
    assert reason_of(_resealed(edit)) == "malformed"


def test_the_untouched_reseal_opens() -> None:
    # So the refusals above come from the edits.
    assert open_sealed(_resealed(lambda b: None), PUBLIC, expected_receiver="USA")[0] == a_batch()


def test_non_canonical_spellings_are_refused() -> None:
    sealed = seal(a_batch(), KEYS["IND"])
    document = json.loads(sealed)
    spaced = json.dumps(document).encode()
    assert reason_of(spaced) == "malformed"
    assert reason_of(sealed + b"\n") == "malformed"
    assert reason_of(b" " + sealed) == "malformed"


HOSTILE = [
    b"",
    b"null",
    b"[]",
    b'{"batch": {}, "signature": ""}',
    b'{"batch":1,"signature":"' + b"A" * 86 + b'=="}',
    b'{"batch":{"sender":"IND"},"batch":{"sender":"IND"},"signature":"x"}',
    b'{"batch":{"sender":NaN},"signature":"x"}',
    b'{"batch":{"seq":1' + b"0" * 400 + b'},"signature":"x"}',
    b'{"batch":' + b"[" * 50_000 + b"]" * 50_000 + b',"signature":"x"}',
    b"\xef\xbb\xbf{}",
    b"\x00" * 100,
    b'{"batch":{"sender":"\\ud800"},"signature":"x"}',
    b'{"batch":{"sender":"IND","items":[' + b"{}," * 100_000 + b'{}]},"signature":"x"}',
]


@pytest.mark.parametrize("data", HOSTILE)
def test_hostile_input_is_malformed(data: bytes) -> None:
    assert reason_of(data) == "malformed"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_truncations_and_garbage_raise_only_wire_error(data: st.DataObject) -> None:
    sealed = seal(a_batch(), KEYS["IND"])
    cut = data.draw(st.integers(0, len(sealed) - 1))
    junk = data.draw(st.binary(max_size=50))
    for candidate in (sealed[:cut], sealed[:cut] + junk, junk):
        with pytest.raises(WireError):
            open_sealed(candidate, PUBLIC, expected_receiver="USA")


def test_nonces_are_128_random_bits() -> None:
    nonces = {new_nonce() for _ in range(1000)}
    assert len(nonces) == 1000
    assert all(len(n) == 32 and int(n, 16) >= 0 for n in nonces)


def test_a_batch_checks_its_header_when_built() -> None:
    with pytest.raises(WireError):
        a_batch(sender="IND", receiver="IND")
    with pytest.raises(WireError):
        a_batch(created_at=datetime(2024, 6, 1))
    with pytest.raises(WireError):
        a_batch(nonce="short")
