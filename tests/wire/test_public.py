"""mista.wire's public surface is explicit, and the layer stays pure (no I/O imports)."""

from __future__ import annotations

import ast
from pathlib import Path

import mista.wire as wire

ALLOWED_ROOTS = {
    "__future__",
    "mista",
    "cryptography",
    "rfc8785",
    "base64",
    "binascii",
    "collections",
    "dataclasses",
    "datetime",
    "hashlib",
    "json",
    "math",
    "re",
    "secrets",
    "typing",
}
ALLOWED_MISTA = {"mista.errors", "mista.labels", "mista.model", "mista.wire"}


def _isort_key(name: str) -> tuple[int, str]:
    # ruff's RUF022 order: CONSTANTS, then Classes, then functions.
    return (0 if name.isupper() else 1 if name[0].isupper() else 2, name)


def test_all_is_sorted_and_every_name_exists() -> None:
    assert list(wire.__all__) == sorted(wire.__all__, key=_isort_key)
    for name in wire.__all__:
        assert getattr(wire, name) is not None, name


def test_wire_error_is_an_input_error_with_a_reason() -> None:
    from mista.errors import InputError

    error = wire.WireError("too-large", "17 MiB")
    assert isinstance(error, InputError)
    assert error.reason == "too-large"
    assert str(error) == "too-large: 17 MiB"
    assert set(wire.REASONS) == {
        "malformed",
        "bad-signature",
        "unknown-sender",
        "wrong-receiver",
        "too-large",
    }


def test_the_wire_layer_imports_no_io() -> None:
    for source in Path(wire.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                root = name.split(".")[0]
                assert root in ALLOWED_ROOTS, f"{source.name} imports {name}"
                if root == "mista":
                    assert any(name == m or name.startswith(m + ".") for m in ALLOWED_MISTA), (
                        f"{source.name} imports {name}"
                    )
