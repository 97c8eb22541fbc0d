"""pyarrow looks for ``dateutil`` whenever a compute function is given a Python value; with
it missing, every such call searched the import path again under the import lock all
threads share (180 us each, and the API's worker threads queued on it). mista depends on
python-dateutil so that probe is answered from ``sys.modules``."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from types import ModuleType

import pyarrow as pa
import pyarrow.compute as pc


class _Counter:
    def __init__(self) -> None:
        self.names: list[str] = []

    def find_spec(
        self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        self.names.append(name)
        return None


def test_compute_with_python_values_imports_nothing() -> None:
    values = pa.array([1.0, 2.0, 3.0])
    pc.greater_equal(values, 2.0)  # anything imported once, on first use, is done now
    counter = _Counter()
    sys.meta_path.insert(0, counter)
    try:
        for _ in range(3):
            pc.and_(pc.greater_equal(values, 2.0), pc.less_equal(values, 3.0))
            pa.scalar(1.5)
    finally:
        sys.meta_path.remove(counter)
    assert counter.names == []
