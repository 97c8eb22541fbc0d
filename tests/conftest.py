"""Shared fixtures. Tests that read ../shared/data skip with a message when it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Speed is measured in bench/, not asserted in tests: on a loaded two-core machine one
# generated example may outlast hypothesis's 200 ms deadline, or generating examples its
# "too slow" health check; neither says anything of the code under test (both failed
# property tests here while other processes shared the cores).
settings.register_profile("mista", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("mista")

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
