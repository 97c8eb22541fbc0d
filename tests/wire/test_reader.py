"""The fast paths of the wire format equal their references (the plain code that defines them).

- ``ItemReader`` against ``item_from_wire`` (and ``WireRecord`` for outbox texts, where a
  null field is left out), on generated items and on hostile edits of them;
- its canonical texts and ``seal_texts`` against ``canonical_json`` and ``seal``;
- ``parse_canonical`` against ``parse_json`` + ``canonical_json``;
- ``open_sealed`` against ``open_sealed_reference``, on sealed batches, tampered ones and
  garbage: the same batch and hash, or the same refusal.
"""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.wire import (
    Batch,
    Item,
    ItemReader,
    RecordItem,
    WireError,
    WireRecord,
    canonical_json,
    item_from_wire,
    item_to_wire,
    open_sealed,
    open_sealed_reference,
    parse_canonical,
    parse_json,
    seal,
    seal_texts,
    sealed_items_hash,
    sha256_hex,
)
from mista.wire.records import label_from_wire
from tests.wire.test_batch import KEYS, PUBLIC, a_batch
from tests.wire.test_records import BAD_RECORDS, _edit, a_record
from tests.wire.wire_strategies import batches, items

_FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(read: Any, obj: Any) -> Any:
    """What ``read(obj)`` gives: its value, or the WireError's reason and message."""
    try:
        return ("ok", read(obj))
    except WireError as exc:
        return ("refused", exc.reason, exc.detail)


def _reference_outbox_item(obj: Any) -> Item:
    """How the outbox's texts were read before the fast reader: ``WireRecord`` leaves null
    fields out; anything else is ``item_from_wire``."""
    if isinstance(obj, dict) and obj.get("kind") == "record" and set(obj) == {"kind", "record"}:
        record = obj["record"]
        if isinstance(record, dict) and set(record) == {"id", "flow", "label", "fields"}:
            label = label_from_wire(record["label"])
            return RecordItem(WireRecord(record["id"], record["flow"], label, record["fields"]))
    return item_from_wire(obj)


# -- items and their canonical texts ---------------------------------------------------


@_FAST
@given(items)
def test_items_read_and_written_as_the_reference_does(item: Item) -> None:
    canonical = canonical_json(item_to_wire(item))
    reader = ItemReader()
    fast, text = reader.item_and_text(json.loads(canonical))
    assert fast == item_from_wire(json.loads(canonical)) == item
    assert text.encode() == canonical
    # Read again: now the label and time come from the reader's caches.
    assert reader.item_and_text(json.loads(canonical)) == (fast, text)


@_FAST
@given(items)
def test_outbox_texts_with_whole_floats_give_the_canonical_text(item: Item) -> None:
    # The outbox keeps items as standard sorted JSON: 90.0 stays 90.0 there.
    wire = item_to_wire(item)
    outbox_text = json.dumps(wire, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    fast, text = ItemReader(nulls=True).item_and_text(json.loads(outbox_text))
    assert fast == item
    assert text.encode() == canonical_json(wire)


def test_a_whole_float_is_written_as_an_integer() -> None:
    wire = a_record(lat=13.0, course_deg=90.0)
    wire["fields"]["lat"] = 13.0
    _, text = ItemReader().item_and_text({"kind": "record", "record": wire})
    assert '"lat":13,' in text
    assert '"course_deg":90,' in text


def test_null_fields_are_refused_on_the_wire_and_left_out_of_outbox_texts() -> None:
    wire = a_record()
    wire["fields"]["name"] = None
    obj = {"kind": "record", "record": wire}
    with pytest.raises(WireError):
        ItemReader().item(copy.deepcopy(obj))
    item, text = ItemReader(nulls=True).item_and_text(copy.deepcopy(obj))
    assert isinstance(item, RecordItem)
    assert "name" not in item.record.fields
    assert text.encode() == canonical_json(item_to_wire(item))


_HOSTILE_VALUES = [
    None,
    True,
    0,
    -1,
    1.5,
    90.0,
    float("nan"),
    float("inf"),
    2**60,
    1e-7,
    "",
    "IND",
    "IND\n",
    "ab" * 16 + "\n",
    "2024-06-01T12:00:00Z\n",
    "2024-06-01T12:00:00.000000Z",
    "x" * 200,
    "a\x00b",
    [],
    ["IND"],
    {},
    {"IND": 1},
]
_PATHS = sorted({path for path, _ in BAD_RECORDS} | {("fields", "observed_at")})


@pytest.mark.parametrize(("path", "value"), [(p, v) for p, v in BAD_RECORDS])
def test_each_documented_bad_record_is_refused_with_the_reference_message(
    path: tuple[str, ...], value: Any
) -> None:
    obj = {"kind": "record", "record": _edit(path, value)}
    fast = _outcome(ItemReader().item, copy.deepcopy(obj))
    assert fast[0] == "refused"
    assert fast == _outcome(item_from_wire, copy.deepcopy(obj))


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(_PATHS), st.sampled_from(_HOSTILE_VALUES), st.booleans())
def test_hostile_edits_get_the_reference_answer(
    path: tuple[str, ...], value: Any, nulls: bool
) -> None:
    obj = {"kind": "record", "record": _edit(path, value)}
    reference = _reference_outbox_item if nulls else item_from_wire
    reader = ItemReader(nulls=nulls)
    # Twice: the second read may come from the caches, and must not differ.
    for _ in range(2):
        assert _outcome(reader.item, copy.deepcopy(obj)) == _outcome(reference, copy.deepcopy(obj))


@settings(max_examples=200, deadline=None)
@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=5),
        lambda inner: (
            st.lists(inner, max_size=3)
            | st.dictionaries(
                st.sampled_from(["kind", "record", "id", "reason", "x"]), inner, max_size=4
            )
        ),
        max_leaves=10,
    )
)
def test_any_json_value_gets_the_reference_answer(obj: Any) -> None:
    assert _outcome(ItemReader().item, copy.deepcopy(obj)) == _outcome(
        item_from_wire, copy.deepcopy(obj)
    )


# -- canonical parsing -----------------------------------------------------------------


def _parse_reference(data: bytes) -> Any:
    value = parse_json(data, max_bytes=10_000, what="document")
    if canonical_json(value) != data:
        raise WireError("malformed", "not canonical")
    return value


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**60), 2**60)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json_values, st.sampled_from(["canonical", "sorted", "spaced", "ascii"]))
def test_parse_canonical_accepts_exactly_what_the_reference_accepts(value: Any, how: str) -> None:
    try:
        canonical = canonical_json(value)
    except WireError:
        return
    if how == "canonical":
        data = canonical
    else:
        data = json.dumps(
            json.loads(canonical),
            sort_keys=True,
            ensure_ascii=how == "ascii",
            separators=(", ", ": ") if how == "spaced" else (",", ":"),
        ).encode()
    fast = _outcome(lambda d: parse_canonical(d, max_bytes=10_000), data)
    reference = _outcome(_parse_reference, data)
    assert fast[0] == reference[0]
    if fast[0] == "ok":
        assert fast == reference


@pytest.mark.parametrize(
    "data",
    [
        b"1.0",
        b"1e-7",
        b"1E+30",
        b"100000000000000000000",
        b"10000000000000000000000000",
        b'{"a":1,"a":1}',
        b'{"b":1,"a":2}',
        b'{"\xf0\x9f\x98\x80":1,"\xef\xbc\xa1":2}',
        b'{"\xef\xbc\xa1":2,"\xf0\x9f\x98\x80":1}',
        b'"\\ud800"',
        b'"\\u00e9"',
        b'"\xc3\xa9"',
        b"[" * 20 + b"]" * 20,
        b"-0",
        b"0.0001",
        b"0.00001",
    ],
)
def test_parse_canonical_on_the_spellings_the_standard_encoder_gets_wrong(data: bytes) -> None:
    fast = _outcome(lambda d: parse_canonical(d, max_bytes=10_000), data)
    reference = _outcome(_parse_reference, data)
    assert fast[0] == reference[0]
    if fast[0] == "ok":
        assert fast == reference


# -- sealing and opening ---------------------------------------------------------------


@_FAST
@given(batches())
def test_seal_texts_is_seal(batch: Batch) -> None:
    texts = [canonical_json(item_to_wire(item)).decode() for item in batch.items]
    data = seal_texts(
        sender=batch.sender,
        receiver=batch.receiver,
        seq=batch.seq,
        created_at=batch.created_at,
        nonce=batch.nonce,
        item_texts=texts,
        signing_key=KEYS[batch.sender],
    )
    assert data == seal(batch, KEYS[batch.sender])
    opened = open_sealed(data, PUBLIC, expected_receiver=batch.receiver)
    assert opened == open_sealed_reference(data, PUBLIC, expected_receiver=batch.receiver)
    assert opened == (batch, sha256_hex(data))
    items_wire = [item_to_wire(item) for item in batch.items]
    assert sealed_items_hash(data) == sha256_hex(canonical_json(items_wire))


def test_seal_texts_checks_the_header() -> None:
    with pytest.raises(WireError):
        seal_texts(
            sender="IND",
            receiver="IND",
            seq=1,
            created_at=datetime(2024, 6, 1, tzinfo=UTC),
            nonce="0f" * 16,
            item_texts=[],
            signing_key=KEYS["IND"],
        )


def _open_outcome(opener: Any, data: bytes, receiver: str = "USA") -> Any:
    try:
        return ("ok", opener(data, PUBLIC, expected_receiver=receiver))
    except WireError as exc:
        return ("refused", exc.reason)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_open_sealed_answers_as_the_reference_on_changed_bytes(data: st.DataObject) -> None:
    sealed = seal(a_batch(), KEYS["IND"])
    where = data.draw(st.integers(0, len(sealed) - 1))
    how = data.draw(st.sampled_from(["byte", "cut", "insert"]))
    if how == "byte":
        changed = sealed[:where] + bytes([data.draw(st.integers(0, 255))]) + sealed[where + 1 :]
    elif how == "cut":
        changed = sealed[:where]
    else:
        changed = sealed[:where] + data.draw(st.binary(min_size=1, max_size=8)) + sealed[where:]
    fast = _open_outcome(open_sealed, changed)
    assert fast == _open_outcome(open_sealed_reference, changed)
    if changed != sealed:
        assert fast[0] == "refused"


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(batches(max_items=3), st.sampled_from(["USA", "IND", "JPN"]))
def test_open_sealed_answers_as_the_reference_on_whole_batches(batch: Batch, to: str) -> None:
    sealed = seal(batch, KEYS[batch.sender])
    assert _open_outcome(open_sealed, sealed, to) == _open_outcome(
        open_sealed_reference, sealed, to
    )


@pytest.mark.parametrize("signed", [True, False])
@pytest.mark.parametrize("where", ["extra", "field", "label"])
def test_deep_nesting_is_malformed_before_any_signature_or_key_check(
    signed: bool, where: str
) -> None:
    deep: Any = 1
    for _ in range(20):
        deep = [deep]
    document = json.loads(seal(a_batch(), KEYS["IND"]))
    body = document["batch"]
    if where == "extra":
        body["extra"] = deep
    elif where == "field":
        body["items"][0]["record"]["fields"]["name"] = deep
    else:
        body["items"][0]["record"]["label"]["categories"] = deep
    key = KEYS["IND"] if signed else KEYS["JPN"]
    signature = base64.b64encode(key.sign(canonical_json(body))).decode()
    data = canonical_json({"batch": body, "signature": signature})
    fast = _open_outcome(open_sealed, data)
    assert fast == _open_outcome(open_sealed_reference, data) == ("refused", "malformed")
