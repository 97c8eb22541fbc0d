from __future__ import annotations

import inspect

import mista.sim


def test_the_public_surface() -> None:
    assert mista.sim.__all__ == [
        "BEHAVIOUR_KINDS",
        "DEFAULT_START",
        "FORMAT",
        "ScenarioSummary",
        "injection_counts",
        "simulate",
    ]
    params = inspect.signature(mista.sim.simulate).parameters
    assert list(params) == [
        "out_dir", "hours", "vessels", "seed", "start", "forward_interval_s", "progress",
    ]  # fmt: skip
    assert all(params[p].kind is inspect.Parameter.KEYWORD_ONLY for p in list(params)[1:])
    assert mista.sim.FORMAT == "mista-scenario/1"
