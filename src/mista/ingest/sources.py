"""Source configuration: what a source is, who originates its reports and their default label.

A source config is a small TOML file::

    name = "mumbai-shore"                 # how receptions and quarantine name the source
    kind = "ais-terrestrial"              # ais-terrestrial | ais-satellite | position-file | radar
    originator = "IND"                    # ISO 3166-1 alpha-3 nation that originates reports

    [label]                               # the default label of every report from it
    level = "RESTRICTED"                  # UNCLASSIFIED | RESTRICTED | CONFIDENTIAL | SECRET
    releasable_to = ["IND", "USA"]        # the originator is always added
    categories = ["white-shipping"]
    orcon = false

or, the same label as one marking (``mista.labels.parse_marking``; names in ``REL TO`` that
are not nations are the node's groups, e.g. ``QUAD``)::

    label = "RESTRICTED//REL TO QUAD//white-shipping"

Without one, a source is UNCLASSIFIED and releasable to the node's own nation only.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mista.errors import ConfigError, LabelError
from mista.labels import Label, Level, parse_marking
from mista.model import SourceKind

__all__ = ["SOURCE_KINDS", "SourceConfig", "load_source_config", "source_config_from"]

#: The kinds a source config may declare (the ingestible subset of SourceKind).
SOURCE_KINDS: tuple[SourceKind, ...] = (
    SourceKind.AIS_TERRESTRIAL,
    SourceKind.AIS_SATELLITE,
    SourceKind.POSITION_FILE,
    SourceKind.RADAR,
)

_KEYS = {"name", "kind", "originator", "label"}
_LABEL_KEYS = {"level", "releasable_to", "categories", "orcon"}


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """How to label and name what one source delivers.

    ``kind`` is ``None`` when it is not configured: then it follows the input (AIS
    sentences are terrestrial, CSV rows are a position file, JSON lines are radar contacts).
    """

    originator: str
    label: Label
    name: str | None = None
    kind: SourceKind | None = None

    @classmethod
    def default(cls, nation: str) -> SourceConfig:
        """UNCLASSIFIED, releasable to the node's own nation (``MISTA_NATION``)."""
        try:
            return cls(originator=nation, label=Label.default_for(nation))
        except LabelError as exc:
            raise ConfigError(f"MISTA_NATION: {exc}") from None

    def named(self, name: str) -> SourceConfig:
        """This config with a name, unless it already has one."""
        return self if self.name else replace(self, name=name)


def _fail(path: Path, message: str) -> ConfigError:
    return ConfigError(f"source config {path}: {message}")


def _strings(path: Path, key: str, value: Any) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail(path, f"label.{key} must be a list of strings, got {value!r}")
    return frozenset(value)


def _table_label(path: Path, table: Any, originator: str) -> Label:
    """The label of a ``[label]`` table."""
    if not isinstance(table, dict):
        raise _fail(path, "[label] must be a table or a marking string")
    unknown = set(table) - _LABEL_KEYS
    if unknown:
        raise _fail(path, f"unknown label keys {sorted(unknown)} (known: {sorted(_LABEL_KEYS)})")
    orcon = table.get("orcon", False)
    if not isinstance(orcon, bool):
        raise _fail(path, f"label.orcon must be true or false, got {orcon!r}")
    level_name = table.get("level", "UNCLASSIFIED")
    if not isinstance(level_name, str):
        raise _fail(path, f"label.level must be a string, got {level_name!r}")
    try:
        return Label(
            level=Level.from_name(level_name),
            originator=originator,
            releasable_to=_strings(path, "releasable_to", table.get("releasable_to", [])),
            categories=_strings(path, "categories", table.get("categories", [])),
            orcon=orcon,
        )
    except LabelError as exc:
        raise _fail(path, str(exc)) from None


def load_source_config(
    path: Path, nation: str, groups: Mapping[str, Iterable[str]] | None = None
) -> SourceConfig:
    """Read a source config TOML file; ``nation`` is the node's own nation (the default),
    ``groups`` the node's nation groups a marking's ``REL TO`` may name."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _fail(path, "no such file (check the path given to --source-config)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(path, f"cannot be read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise _fail(path, f"is not valid TOML: {exc}") from None
    return source_config_from(data, path, nation, groups)


def source_config_from(
    data: Mapping[str, Any],
    path: Path,
    nation: str,
    groups: Mapping[str, Iterable[str]] | None = None,
) -> SourceConfig:
    """A source config from an already-read table (a node's ``sources/*.toml`` holds more
    keys, which its reader takes out first); ``path`` names it in errors."""
    unknown = set(data) - _KEYS
    if unknown:
        raise _fail(path, f"unknown keys {sorted(unknown)} (known: {sorted(_KEYS)})")
    originator = data.get("originator", nation)
    name = data.get("name")
    if not isinstance(originator, str) or (name is not None and not isinstance(name, str)):
        raise _fail(path, "name and originator must be strings")
    kind: SourceKind | None = None
    if "kind" in data:
        known = ", ".join(k.value for k in SOURCE_KINDS)
        try:
            kind = SourceKind(data["kind"])
        except ValueError:
            raise _fail(path, f"kind {data['kind']!r} is not one of {known}") from None
        if kind not in SOURCE_KINDS:
            raise _fail(path, f"kind {kind.value!r} cannot be ingested (use one of {known})")
    given = data.get("label", {})
    if isinstance(given, str):
        try:
            label = parse_marking(given, originator, groups)
        except LabelError as exc:
            raise _fail(path, f"label: {exc}") from None
    else:
        label = _table_label(path, given, originator)
    return SourceConfig(originator=originator, label=label, name=name, kind=kind)
