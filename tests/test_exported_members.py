"""The public surface is explicit: sorted ``__all__`` lists, every name importable."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = ("mista.ais", "mista.errors", "mista.labels", "mista.model")


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported, key=str.casefold) or exported == sorted(exported)
    for member in exported:
        assert getattr(module, member) is not None, f"{name}.{member}"


def test_the_ais_package_exports_both_paths() -> None:
    import mista.ais as ais

    assert {"Framer", "decode_payloads", "decode_payload", "decode_chunks"} <= set(ais.__all__)


def test_every_ais_export_has_a_home_module() -> None:
    import mista.ais as ais

    assert sorted(ais._HOME) == sorted(ais.__all__)
