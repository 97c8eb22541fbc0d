"""Sealed batches: what one node sends another, signed with the sender's Ed25519 key.

On the wire a sealed batch is the canonical JSON (RFC 8785) of::

    {"batch": {"format": "mista-batch/1", "sender": "IND", "receiver": "USA", "seq": 7,
               "created_at": "2024-06-01T12:00:00Z", "nonce": "<32 hex>",
               "items": [{"kind": "record", "record": {...}}, ...]},
     "signature": "<base64 Ed25519 signature of the canonical bytes of 'batch'>"}

:func:`open_sealed` accepts only bytes that :func:`seal` could have written: the size is
checked first, then strict JSON, then that the bytes are canonical (one spelling per batch,
so its hash names it), the sender's key, the signature, every item, and last the receiver.
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from mista.labels import NATION_CODE
from mista.wire.canonical import (
    MAX_SAFE_INT,
    WireError,
    canonical_json,
    check_nesting,
    parse_canonical,
    parse_json,
    sha256_hex,
    time_from_wire,
    time_to_wire,
)
from mista.wire.reader import ItemReader
from mista.wire.records import Item, item_from_wire, item_to_wire

__all__ = [
    "FORMAT",
    "MAX_BATCH_BYTES",
    "Batch",
    "WireError",
    "batch_from_wire",
    "batch_to_wire",
    "new_nonce",
    "open_sealed",
    "open_sealed_reference",
    "seal",
    "seal_texts",
    "sealed_items_hash",
]

#: The format name inside every batch; a node refuses formats it does not know.
FORMAT: Final = "mista-batch/1"
#: Default size limit of one sealed batch.
MAX_BATCH_BYTES: Final = 16 * 1024 * 1024

# \Z, not $: "$" also matches before a final newline.
_NONCE = re.compile(r"^[0-9a-f]{32}\Z")
_SIGNATURE_BYTES = 64
_BATCH_PREFIX = b'{"batch":'
_SIGNATURE_KEY = b',"signature":'


def new_nonce() -> str:
    """128 random bits as 32 hex digits: makes every batch unique, so replays are seen."""
    return secrets.token_hex(16)


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch from ``sender`` to ``receiver``: ``seq`` counts batches per receiver."""

    sender: str
    receiver: str
    seq: int
    created_at: datetime
    nonce: str
    items: tuple[Item, ...]

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))
        _check_header(self.sender, self.receiver, self.seq, self.nonce)
        if self.created_at.tzinfo is None:
            raise WireError("malformed", "batch created_at must be timezone-aware UTC")


def _check_header(sender: Any, receiver: Any, seq: Any, nonce: Any) -> None:
    for what, nation in (("sender", sender), ("receiver", receiver)):
        if not isinstance(nation, str) or not NATION_CODE.fullmatch(nation):
            raise WireError(
                "malformed", f"batch {what} {nation!r:.60} is not a nation code like IND"
            )
    if sender == receiver:
        raise WireError("malformed", f"batch sender and receiver are both {sender}")
    if not isinstance(seq, int) or isinstance(seq, bool) or not 0 <= seq <= MAX_SAFE_INT:
        raise WireError("malformed", f"batch seq {seq!r:.60} is not an integer >= 0")
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise WireError("malformed", f"batch nonce {nonce!r:.60} is not 32 lower-case hex digits")


def batch_to_wire(batch: Batch) -> dict[str, Any]:
    """The ``batch`` object of a sealed batch (what the signature covers)."""
    return {
        "format": FORMAT,
        "sender": batch.sender,
        "receiver": batch.receiver,
        "seq": batch.seq,
        "created_at": time_to_wire(batch.created_at),
        "nonce": batch.nonce,
        "items": [item_to_wire(item) for item in batch.items],
    }


_BATCH_KEYS = frozenset({"format", "sender", "receiver", "seq", "created_at", "nonce", "items"})


def batch_from_wire(obj: Any, read_item: Callable[[Any], Item] = item_from_wire) -> Batch:
    """Read the ``batch`` object strictly (no signature check: see :func:`open_sealed`);
    ``read_item`` reads each item (``item_from_wire`` or a faster equal one)."""
    if not isinstance(obj, dict) or set(obj) != _BATCH_KEYS:
        keys = sorted(obj)[:10] if isinstance(obj, dict) else type(obj).__name__
        raise WireError("malformed", f"batch must have exactly {sorted(_BATCH_KEYS)}, has {keys}")
    if obj["format"] != FORMAT:
        raise WireError("malformed", f"batch format {obj['format']!r:.60} is not {FORMAT}")
    if not isinstance(obj["items"], list):
        raise WireError("malformed", "batch items must be a list")
    _check_header(obj["sender"], obj["receiver"], obj["seq"], obj["nonce"])
    return Batch(
        sender=obj["sender"],
        receiver=obj["receiver"],
        seq=obj["seq"],
        created_at=time_from_wire(obj["created_at"], "batch created_at"),
        nonce=obj["nonce"],
        items=tuple(read_item(item) for item in obj["items"]),
    )


def seal(batch: Batch, signing_key: Ed25519PrivateKey) -> bytes:
    """The canonical bytes of ``{"batch": ..., "signature": ...}``, signed by the sender."""
    signed = canonical_json(batch_to_wire(batch))
    signature = base64.b64encode(signing_key.sign(signed))
    # The canonical form of {"batch": body, "signature": text}: "batch" sorts first and
    # base64 needs no escaping, so the bytes are put together rather than encoded again.
    return _BATCH_PREFIX + signed + _SIGNATURE_KEY + b'"' + signature + b'"}'


def seal_texts(
    *,
    sender: str,
    receiver: str,
    seq: int,
    created_at: datetime,
    nonce: str,
    item_texts: Sequence[str],
    signing_key: Ed25519PrivateKey,
) -> bytes:
    """``seal(Batch(sender, receiver, seq, created_at, nonce, items), signing_key)`` from the
    items' canonical JSON texts (``canonical_json(item_to_wire(item))``, as
    ``ItemReader.item_and_text`` gives them): the batch's keys sort created_at, format,
    items, nonce, receiver, sender, seq, so its canonical bytes are put together around
    the items rather than written again. tests/wire/test_reader.py holds it equal to
    ``seal``."""
    _check_header(sender, receiver, seq, nonce)
    if created_at.tzinfo is None:
        raise WireError("malformed", "batch created_at must be timezone-aware UTC")
    head = canonical_json({"created_at": time_to_wire(created_at), "format": FORMAT})
    tail = canonical_json({"nonce": nonce, "receiver": receiver, "sender": sender, "seq": seq})
    try:
        items = ",".join(item_texts).encode("utf-8")
    except UnicodeEncodeError as exc:
        raise WireError("malformed", f"an item cannot be written as UTF-8: {exc}") from None
    signed = head[:-1] + b',"items":[' + items + b"]," + tail[1:]
    signature = base64.b64encode(signing_key.sign(signed))
    return _BATCH_PREFIX + signed + _SIGNATURE_KEY + b'"' + signature + b'"}'


def sealed_items_hash(data: bytes) -> str:
    """The SHA-256 hex of the canonical bytes of the ``items`` list of a sealed batch that
    :func:`open_sealed` accepted: what the items say, the same for every sealing of them
    (a resend has a fresh nonce and time, so its batch hash differs)."""
    raw = bytes(data)
    signed_end = raw.rindex(_SIGNATURE_KEY)
    # Canonical: "items" follows created_at (a time) and format, and "nonce" follows it.
    start = raw.index(_ITEMS_KEY) + len(_ITEMS_KEY)
    end = raw.rindex(_NONCE_KEY, start, signed_end)
    return sha256_hex(raw[start:end])


_ITEMS_KEY = b',"items":'
_NONCE_KEY = b',"nonce":"'


def _signature(value: Any) -> bytes:
    if not isinstance(value, str):
        raise WireError("malformed", "signature must be a base64 string")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise WireError("malformed", "signature is not valid base64") from None
    # One spelling only: base64 leaves spare bits in the last character.
    if len(raw) != _SIGNATURE_BYTES or base64.b64encode(raw).decode() != value:
        raise WireError("malformed", "signature is not a canonical base64 Ed25519 signature")
    return raw


def open_sealed(
    data: bytes,
    sender_keys: Mapping[str, Ed25519PublicKey],
    *,
    expected_receiver: str,
    max_bytes: int = MAX_BATCH_BYTES,
) -> tuple[Batch, str]:
    """Check and read a sealed batch; return it and its hash (SHA-256 hex of ``data``).

    ``sender_keys`` maps each partner's nation to its configured public key. Every failure
    is a :class:`WireError` whose ``reason`` says which check refused it.

    The same checks as :func:`open_sealed_reference`, made cheaper: strict JSON and the
    canonical-bytes check in one pass (``parse_canonical``), and the items read by an
    ``ItemReader`` (each distinct label and time read once). tests/wire/test_reader.py
    holds the two equal (the nesting depth is walked only for a batch refused: one that
    opens has the batch's exact shape, 7 levels deep).
    """
    document = parse_canonical(data, max_bytes=max_bytes, what="sealed batch", check_depth=False)
    try:
        return _open(data, document, sender_keys, expected_receiver, ItemReader().item)
    except WireError:
        # The reference refuses deep nesting before any other check; a batch that opened
        # has the batch's shape, so only a refusal needs the walk to give the same reason.
        check_nesting(document, "sealed batch")
        raise


def open_sealed_reference(
    data: bytes,
    sender_keys: Mapping[str, Ed25519PublicKey],
    *,
    expected_receiver: str,
    max_bytes: int = MAX_BATCH_BYTES,
) -> tuple[Batch, str]:
    """:func:`open_sealed` in its plain form, kept as the test oracle of the fast one."""
    document = parse_json(data, max_bytes=max_bytes, what="sealed batch")
    _shape(document)
    if canonical_json(document) != bytes(data):
        raise WireError("malformed", "sealed batch is not canonical JSON (RFC 8785)")
    return _open(data, document, sender_keys, expected_receiver, item_from_wire)


def _shape(document: Any) -> tuple[dict[str, Any], bytes]:
    if not isinstance(document, dict) or set(document) != {"batch", "signature"}:
        raise WireError("malformed", 'a sealed batch is {"batch": {...}, "signature": "..."}')
    body, signature = document["batch"], _signature(document["signature"])
    if not isinstance(body, dict):
        raise WireError("malformed", "the batch must be a JSON object")
    return body, signature


def _open(
    data: bytes,
    document: Any,
    sender_keys: Mapping[str, Ed25519PublicKey],
    expected_receiver: str,
    read_item: Callable[[Any], Item],
) -> tuple[Batch, str]:
    """The checks after the canonical one: sender's key, signature, items, receiver."""
    body, signature = _shape(document)
    sender = body.get("sender")
    if not isinstance(sender, str) or not NATION_CODE.fullmatch(sender):
        raise WireError("malformed", f"batch sender {sender!r:.60} is not a nation code like IND")
    key = sender_keys.get(sender)
    if key is None:
        raise WireError(
            "unknown-sender",
            f"no public key is configured for {sender} (add it to the partner's settings)",
        )
    # The bytes are canonical, so the signed bytes of "batch" are the ones between
    # '{"batch":' and ',"signature":' (keys sort "batch" first; base64 has no quotes).
    signed = bytes(data)[len(_BATCH_PREFIX) : bytes(data).rindex(_SIGNATURE_KEY)]
    try:
        key.verify(signature, signed)
    except InvalidSignature:
        raise WireError(
            "bad-signature", f"the signature does not verify with {sender}'s configured key"
        ) from None
    batch = batch_from_wire(body, read_item)
    if batch.receiver != expected_receiver:
        raise WireError(
            "wrong-receiver",
            f"batch is addressed to {batch.receiver}, this node is {expected_receiver}",
        )
    return batch, sha256_hex(bytes(data))
