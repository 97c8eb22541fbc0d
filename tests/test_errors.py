"""The exception tree: one root, every name ends in Error, drawn in the module docstring."""

from __future__ import annotations

import inspect

import mista.errors as errors


def _error_classes() -> list[type[BaseException]]:
    return [
        obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == errors.__name__
    ]


def test_every_error_descends_from_mista_error_and_ends_in_error() -> None:
    classes = _error_classes()
    assert len(classes) >= 7
    for cls in classes:
        assert issubclass(cls, errors.MistaError), cls
        assert cls.__name__.endswith("Error"), cls


def test_every_error_is_exported_and_drawn_in_the_tree() -> None:
    doc = errors.__doc__ or ""
    for cls in _error_classes():
        assert cls.__name__ in errors.__all__
        assert cls.__name__ in doc, f"{cls.__name__} missing from the tree in the docstring"
