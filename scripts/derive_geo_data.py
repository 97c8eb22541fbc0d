"""Re-derive the shipped geo data in src/mista/geo/data/ from ../shared/data/geo/.

Run from the repository root: ``.venv/bin/python scripts/derive_geo_data.py [SOURCE_DIR]``.
Writes:
  ne_50m_land.wkb.gz            land polygons as one MultiPolygon, WKB, coordinates on a
                                1e-4 degree grid, gzip'd
  ne_10m_ports.json.gz          {"names": [...], "lon": [...], "lat": [...]}, gzip'd
  ne_50m_marine_region.json.gz  {"names": [...], "wkb": [hex, ...]} marine polygons clipped
                                to lon 30..160, lat -45..45, gzip'd
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import shapely

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "mista" / "geo" / "data"
REGION = (30.0, -45.0, 160.0, 45.0)  # lon min, lat min, lon max, lat max
GRID_DEG = 1e-4


def _features(path: Path) -> list[dict[str, Any]]:
    features: list[dict[str, Any]] = json.loads(path.read_text(encoding="utf-8"))["features"]
    return features


def _write(out: Path, name: str, payload: bytes) -> None:
    # mtime=0: the same input gives byte-identical output
    (out / name).write_bytes(gzip.compress(payload, compresslevel=9, mtime=0))
    print(f"{name}: {(out / name).stat().st_size:,} bytes")


def _polygons(geometry: Any) -> list[Any]:
    parts = shapely.get_parts(shapely.make_valid(geometry))
    return [p for p in parts if p.geom_type == "Polygon" and not p.is_empty]


def land(source: Path, out: Path) -> None:
    polygons = []
    for feature in _features(source / "ne_50m_land.geojson"):
        shape = shapely.geometry.shape(feature["geometry"])
        polygons += _polygons(shapely.set_precision(shape, GRID_DEG))
    _write(out, "ne_50m_land.wkb.gz", shapely.to_wkb(shapely.MultiPolygon(polygons)))


def ports(source: Path, out: Path) -> None:
    names, lons, lats = [], [], []
    for feature in _features(source / "ne_10m_ports.geojson"):
        lon, lat = feature["geometry"]["coordinates"][:2]
        names.append(str(feature["properties"].get("name") or ""))
        lons.append(round(float(lon), 5))
        lats.append(round(float(lat), 5))
    data = {"names": names, "lon": lons, "lat": lats}
    _write(out, "ne_10m_ports.json.gz", json.dumps(data, separators=(",", ":")).encode())


def _sea_name(raw: str) -> str:
    # oceans are in capitals in the source ("INDIAN OCEAN"); give them the seas' casing
    return raw.title() if raw.isupper() else raw


def seas(source: Path, out: Path) -> None:
    names, wkbs = [], []
    for feature in _features(source / "ne_50m_geography_marine_polys.geojson"):
        name = feature["properties"].get("name")
        shape = shapely.geometry.shape(feature["geometry"])
        clipped = shapely.clip_by_rect(shapely.make_valid(shape), *REGION)
        polygons = _polygons(shapely.set_precision(clipped, GRID_DEG))
        if not name or not polygons:
            continue
        merged = polygons[0] if len(polygons) == 1 else shapely.MultiPolygon(polygons)
        names.append(_sea_name(str(name)))
        wkbs.append(shapely.to_wkb(merged, hex=True))
    order = np.argsort(names, kind="stable")
    data = {"names": [names[i] for i in order], "wkb": [wkbs[i] for i in order]}
    _write(out, "ne_50m_marine_region.json.gz", json.dumps(data, separators=(",", ":")).encode())


def main_from(source: Path, out: Path = OUT) -> None:
    """Derive all shipped files from the GeoJSON files in ``source`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    land(source, out)
    ports(source, out)
    seas(source, out)


def main() -> None:
    main_from(Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "geo")


if __name__ == "__main__":
    main()
