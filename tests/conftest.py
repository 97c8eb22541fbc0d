"""Shared fixtures. Tests that read ../shared/data skip with a message when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The shared real-data folder beside the checkout (``../shared/data``)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is absent: tests on real logs not run")
    return SHARED_DATA


def pytest_report_header() -> list[str]:
    import duckdb
    import numpy
    import pyarrow

    return [
        f"mista deps: duckdb {duckdb.__version__}, numpy {numpy.__version__}, "
        f"pyarrow {pyarrow.__version__}",
        f"shared data: {'present' if SHARED_DATA.is_dir() else 'ABSENT (real-log tests skip)'}",
    ]
