"""The fusion checkpoint and read cursor, the same on both backends."""

from __future__ import annotations

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mista.detect.pipeline import POINT_SCHEMA
from mista.errors import StoreError
from tests.store.conftest import AnyStore, Backend

_NO_POINTS = pa.table({"seq": [], "track_id": [], "flags": []}, schema=POINT_SCHEMA)


def test_a_new_store_has_no_checkpoint_and_reads_from_zero(any_store: AnyStore) -> None:
    assert any_store.fusion_state() is None
    assert any_store.fusion_cursor() == any_store.fusion_read() == 0


def test_a_step_keeps_how_far_it_read_and_never_less_than_its_cursor(
    any_store: AnyStore,
) -> None:
    any_store.write_fusion(cursor=5, tracks=[], points=_NO_POINTS, alerts=[], read=9)
    assert (any_store.fusion_cursor(), any_store.fusion_read()) == (5, 9)
    any_store.write_fusion(cursor=7, tracks=[], points=_NO_POINTS, alerts=[])
    assert (any_store.fusion_cursor(), any_store.fusion_read()) == (7, 7)
    any_store.write_fusion(cursor=8, tracks=[], points=_NO_POINTS, alerts=[], read=3)
    assert any_store.fusion_read() == 8


def test_one_checkpoint_is_kept_replaced_and_cleared(any_store: AnyStore) -> None:
    any_store.save_fusion_state(4, b"first")
    any_store.save_fusion_state(6, b"\x00second\xff" * 1000)
    assert any_store.fusion_state() == (6, b"\x00second\xff" * 1000)
    any_store.clear_fusion_state()
    assert any_store.fusion_state() is None


def test_a_read_only_store_refuses_to_save_a_checkpoint(backend: Backend) -> None:
    where = backend.location()
    writer = backend.open(where)
    writer.save_fusion_state(1, b"x")
    writer.close()
    reader = backend.open(where, read_only=True)
    with pytest.raises(StoreError):
        reader.save_fusion_state(2, b"y")
    assert reader.fusion_state() == (1, b"x")


@settings(max_examples=25, deadline=None)
@given(blob=st.binary(max_size=4096), read=st.integers(min_value=0, max_value=2**62))
def test_any_bytes_come_back_as_they_were_saved(
    module_store: AnyStore, blob: bytes, read: int
) -> None:
    module_store.save_fusion_state(read, blob)
    assert module_store.fusion_state() == (read, blob)
