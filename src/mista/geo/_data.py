"""Reading the shipped data files and user GeoJSON (the only I/O in ``mista.geo``)."""

from __future__ import annotations

import gzip
import json
from importlib import resources
from pathlib import Path
from typing import Any

from mista.errors import ConfigError


def packaged_bytes(name: str) -> bytes:
    """The gunzipped contents of ``mista/geo/data/<name>`` (shipped with the package)."""
    with resources.files("mista.geo").joinpath("data", name).open("rb") as raw:
        return gzip.decompress(raw.read())


def packaged_json(name: str) -> Any:
    return json.loads(packaged_bytes(name))


def read_features(path: str | Path) -> list[Any]:
    """The ``features`` list of a GeoJSON FeatureCollection file, or a ``ConfigError`` that
    names the file and what is wrong with it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read GeoJSON: {exc}") from exc
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise ConfigError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise ConfigError(f'{path}: expected a GeoJSON object with "type": "FeatureCollection"')
    features = document.get("features")
    if not isinstance(features, list):
        raise ConfigError(f'{path}: "features" must be a list')
    return features
