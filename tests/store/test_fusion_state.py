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


# -- fusion parts (mista.detect.parts): each keeps its own cursors and checkpoint ------------


def test_each_fusion_part_keeps_its_own_cursors(any_store: AnyStore) -> None:
    any_store.write_fusion(cursor=5, tracks=[], points=_NO_POINTS, alerts=[], read=9)
    assert (any_store.fusion_cursor(1), any_store.fusion_read(1)) == (0, 0)
    any_store.write_fusion(cursor=3, tracks=[], points=_NO_POINTS, alerts=[], read=4, part=1)
    any_store.write_fusion(cursor=2, tracks=[], points=_NO_POINTS, alerts=[], part=2)
    assert [any_store.fusion_cursor(part) for part in range(4)] == [5, 3, 2, 0]
    assert [any_store.fusion_read(part) for part in range(4)] == [9, 4, 2, 0]
    any_store.write_fusion(cursor=6, tracks=[], points=_NO_POINTS, alerts=[], part=1)
    assert (any_store.fusion_cursor(1), any_store.fusion_read(1)) == (6, 6)
    assert (any_store.fusion_cursor(), any_store.fusion_read()) == (5, 9)


def test_a_fusion_part_cursor_never_moves_back(any_store: AnyStore) -> None:
    any_store.write_fusion(cursor=7, tracks=[], points=_NO_POINTS, alerts=[], part=3)
    with pytest.raises(StoreError, match="move back"):
        any_store.write_fusion(cursor=6, tracks=[], points=_NO_POINTS, alerts=[], part=3)
    # A cursor of part 0 behind part 3's is no conflict: they are separate fusers.
    any_store.write_fusion(cursor=1, tracks=[], points=_NO_POINTS, alerts=[])
    assert any_store.fusion_cursor(3) == 7


def test_each_fusion_part_keeps_its_own_checkpoint(any_store: AnyStore) -> None:
    any_store.save_fusion_state(4, b"zero")
    any_store.save_fusion_state(5, b"one", part=1)
    any_store.save_fusion_state(6, b"one again", part=1)
    assert any_store.fusion_state() == (4, b"zero")
    assert any_store.fusion_state(1) == (6, b"one again")
    assert any_store.fusion_state(2) is None
    any_store.clear_fusion_state(1)
    assert any_store.fusion_state(1) is None
    assert any_store.fusion_state() == (4, b"zero")


@pytest.mark.parametrize("part", [-1, 16, 2**40])
def test_a_part_out_of_range_is_refused(any_store: AnyStore, part: int) -> None:
    with pytest.raises(StoreError, match="fusion part"):
        any_store.fusion_cursor(part)
    with pytest.raises(StoreError, match="fusion part"):
        any_store.write_fusion(cursor=1, tracks=[], points=_NO_POINTS, alerts=[], part=part)
    with pytest.raises(StoreError, match="fusion part"):
        any_store.save_fusion_state(1, b"x", part=part)
