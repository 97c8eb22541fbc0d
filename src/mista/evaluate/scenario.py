"""A scenario directory as ``mista simulate`` writes it: the manifest and the truth files.

Read-only and strict: a missing or malformed file is an ``InputError`` that names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from mista.errors import InputError

__all__ = ["Scenario", "ScenarioFile", "TruthEvent", "load_scenario", "load_truth_events"]

FORMAT = "mista-scenario/1"


@dataclass(frozen=True, slots=True)
class ScenarioFile:
    """One sensor file, and when the node would have received it."""

    path: Path
    source: str
    kind: str
    delivered_at: datetime


@dataclass(frozen=True, slots=True)
class Scenario:
    directory: Path
    node: str
    start: datetime
    hours: float
    vessels: int
    seed: int
    files: tuple[ScenarioFile, ...]
    source_configs: dict[str, Path]
    zones: Path | None


@dataclass(frozen=True, slots=True)
class TruthEvent:
    """One true behaviour (``truth/behaviours.jsonl``)."""

    kind: str
    vessels: tuple[int, ...]
    mmsis: tuple[int, ...]
    start: float  # epoch seconds
    end: float
    lat: float
    lon: float
    injected: bool


def _time(value: Any, where: str) -> datetime:
    if not isinstance(value, str):
        raise InputError(f"{where}: expected an ISO 8601 time, got {value!r}")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise InputError(f"{where}: {value!r} has no time zone (write it in UTC, with Z)")
    return moment


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        kinds = kind if isinstance(kind, tuple) else (kind,)
        wanted = " or ".join(item.__name__ for item in kinds)
        raise InputError(f"{where}: field {key!r} is missing or not of type {wanted}")
    return value


def load_scenario(directory: str | Path) -> Scenario:
    """The manifest of a scenario directory (``scenario.json``)."""
    base = Path(directory)
    manifest = base / "scenario.json"
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{base} is not a scenario directory: it has no scenario.json "
            "(write one with: mista simulate DIR)"
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{manifest}: cannot read it: {exc}") from None
    where = str(manifest)
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise InputError(f"{where}: not a {FORMAT} manifest")
    sources = _field(data, "sources", dict, where)
    configs: dict[str, Path] = {}
    for name, entry in sources.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("config"), str):
            raise InputError(f"{where}: source {name!r} has no config file")
        configs[str(name)] = base / entry["config"]
    files: list[ScenarioFile] = []
    for index, entry in enumerate(_field(data, "files", list, where)):
        at = f"{where}: files[{index}]"
        if not isinstance(entry, dict):
            raise InputError(f"{at}: not an object")
        source = _field(entry, "source", str, at)
        if source not in configs:
            raise InputError(f"{at}: source {source!r} is not among the manifest's sources")
        files.append(
            ScenarioFile(
                path=base / _field(entry, "path", str, at),
                source=source,
                kind=_field(entry, "kind", str, at),
                delivered_at=_time(entry.get("delivered_at"), f"{at}: delivered_at"),
            )
        )
    files.sort(key=lambda item: (item.delivered_at, str(item.path)))
    zones = data.get("zones")
    return Scenario(
        directory=base,
        node=_field(data, "node", str, where),
        start=_time(data.get("start"), f"{where}: start"),
        hours=float(_field(data, "hours", (int, float), where)),
        vessels=int(_field(data, "vessels", int, where)),
        seed=int(_field(data, "seed", int, where)),
        files=tuple(files),
        source_configs=configs,
        zones=base / zones if isinstance(zones, str) else None,
    )


def load_truth_events(scenario: Scenario) -> list[TruthEvent]:
    """Every true behaviour of the scenario."""
    path = scenario.directory / "truth" / "behaviours.jsonl"
    events: list[TruthEvent] = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the truth file: {exc}") from None
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        at = f"{path}:{number}"
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{at}: not JSON: {exc}") from None
        if not isinstance(item, dict):
            raise InputError(f"{at}: not an object")
        events.append(
            TruthEvent(
                kind=_field(item, "kind", str, at),
                vessels=tuple(int(v) for v in _field(item, "vessels", list, at)),
                mmsis=tuple(int(m) for m in item.get("mmsis") or ()),
                start=_time(item.get("start"), f"{at}: start").timestamp(),
                end=_time(item.get("end"), f"{at}: end").timestamp(),
                lat=float(_field(item, "lat", (int, float), at)),
                lon=float(_field(item, "lon", (int, float), at)),
                injected=bool(item.get("injected", False)),
            )
        )
    return events


def read_truth_table(scenario: Scenario, name: str) -> pa.Table:
    """``truth/<name>.parquet`` (positions or radar)."""
    path = scenario.directory / "truth" / f"{name}.parquet"
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowInvalid) as exc:
        raise InputError(f"{path}: cannot read the truth table: {exc}") from None
