"""Scenarios the simulator tests share: written once per session (they take seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mista.sim import simulate

#: Long enough for every behaviour (an AIS gap needs 14.5 h), small enough to be quick.
FULL = {"hours": 16.0, "vessels": 120, "seed": 3}
#: The quick one: two hours, sixty vessels.
SMALL = {"hours": 2.0, "vessels": 60, "seed": 11}


@pytest.fixture(scope="session")
def full_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("full")
    simulate(out, **FULL)  # type: ignore[arg-type]
    return out


@pytest.fixture(scope="session")
def small_scenario(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("small")
    simulate(out, **SMALL)  # type: ignore[arg-type]
    return out
