"""The wire format between nodes: canonical JSON, labelled records, sealed batches.

A pure layer (no I/O): it imports only the vocabulary (``mista.errors``, ``mista.labels``,
``mista.model``) and the cryptography and rfc8785 libraries. See docs/sharing.md section 3.
"""

from __future__ import annotations

from mista.wire.batch import (
    FORMAT,
    MAX_BATCH_BYTES,
    Batch,
    batch_from_wire,
    batch_to_wire,
    new_nonce,
    open_sealed,
    open_sealed_reference,
    seal,
    seal_texts,
    sealed_items_hash,
)
from mista.wire.canonical import (
    REASONS,
    WireError,
    WireReason,
    canonical_json,
    parse_canonical,
    parse_json,
    sha256_hex,
    time_from_wire,
    time_to_wire,
)
from mista.wire.reader import ItemReader
from mista.wire.records import (
    FLOWS,
    REPORT_FIELDS,
    CorrectItem,
    Item,
    RecordItem,
    WireRecord,
    WithdrawItem,
    item_from_wire,
    item_to_wire,
    label_from_wire,
    label_to_wire,
    record_from_wire,
    record_to_wire,
)

__all__ = [
    "FLOWS",
    "FORMAT",
    "MAX_BATCH_BYTES",
    "REASONS",
    "REPORT_FIELDS",
    "Batch",
    "CorrectItem",
    "Item",
    "ItemReader",
    "RecordItem",
    "WireError",
    "WireReason",
    "WireRecord",
    "WithdrawItem",
    "batch_from_wire",
    "batch_to_wire",
    "canonical_json",
    "item_from_wire",
    "item_to_wire",
    "label_from_wire",
    "label_to_wire",
    "new_nonce",
    "open_sealed",
    "open_sealed_reference",
    "parse_canonical",
    "parse_json",
    "record_from_wire",
    "record_to_wire",
    "seal",
    "seal_texts",
    "sealed_items_hash",
    "sha256_hex",
    "time_from_wire",
    "time_to_wire",
]
