"""The public surface is explicit: sorted ``__all__`` lists, every name importable."""

from __future__ import annotations

import importlib

import pytest

PUBLIC_MODULES = (
    "mista.ais",
    "mista.api",
    "mista.config",
    "mista.detect",
    "mista.errors",
    "mista.evaluate",
    "mista.fuse",
    "mista.geo",
    "mista.ingest.sources",
    "mista.labels",
    "mista.model",
    "mista.serve",
    "mista.share.agreements",
    "mista.share.audit",
    "mista.share.exchange",
    "mista.share.keys",
    "mista.share.push",
    "mista.share.release",
    "mista.sim",
    "mista.store",
    "mista.wire",
)


def _isort_style(name: str) -> tuple[int, str]:
    """Constants, then classes, then the rest: the order ruff's RUF022 keeps."""
    rank = 0 if name.isupper() else 1 if name[:1].isupper() else 2
    return rank, name


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_every_name_exists(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported in (
        sorted(exported, key=str.casefold),
        sorted(exported),
        sorted(exported, key=_isort_style),
    )
    for member in exported:
        assert getattr(module, member) is not None, f"{name}.{member}"


def test_the_ais_package_exports_both_paths() -> None:
    import mista.ais as ais

    assert {"Framer", "decode_payloads", "decode_payload", "decode_chunks"} <= set(ais.__all__)


def test_every_ais_export_has_a_home_module() -> None:
    import mista.ais as ais

    assert sorted(ais._HOME) == sorted(ais.__all__)


def test_who_may_see_what_is_public() -> None:
    import mista.labels as labels
    import mista.model as model

    assert {"check_groups", "expand_groups", "may_see", "parse_marking"} <= set(labels.__all__)
    assert {"Role", "User"} <= set(model.__all__)
