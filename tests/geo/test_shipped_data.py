"""The shipped data: small, attributed, loads fast, and matches its derivation script."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from pathlib import Path

import mista.geo
from mista.geo import LandMask, Ports, Seas

DATA = Path(mista.geo.__file__).parent / "data"
ROOT = Path(__file__).resolve().parents[2]


def test_data_is_small_and_attributed() -> None:
    files = sorted(p.name for p in DATA.iterdir())
    assert files == [
        "README.md",
        "ne_10m_ports.json.gz",
        "ne_50m_land.wkb.gz",
        "ne_50m_marine_region.json.gz",
    ]
    assert sum(p.stat().st_size for p in DATA.iterdir()) < 2_000_000
    readme = (DATA / "README.md").read_text()
    assert "public domain" in readme
    assert "scripts/derive_geo_data.py" in readme
    assert "shipping_lanes" not in " ".join(files)


def test_defaults_are_shared_singletons() -> None:
    assert LandMask.default() is LandMask.default()
    assert Ports.default() is Ports.default()
    assert Seas.default() is Seas.default()
    assert len(LandMask.default().polygons) > 1000
    assert len(Seas.default().names) > 30


def test_loading_takes_under_a_second() -> None:
    # a fresh interpreter, so the cached singletons of this process do not count; CPU time,
    # so other processes on a busy machine do not count either
    code = (
        "import time; import numpy, shapely, scipy.spatial, scipy.ndimage\n"
        "from mista.geo import LandMask, Ports, Seas\n"
        "t = time.process_time(); LandMask.default(); Ports.default(); Seas.default()\n"
        "print(time.process_time() - t)"
    )
    started = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert float(out.stdout) < 1.0, f"loading took {out.stdout.strip()} s"
    assert time.perf_counter() - started < 30


def test_derivation_reproduces_the_shipped_files(shared_data: Path, tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("derive", ROOT / "scripts" / "derive_geo_data.py")
    assert spec is not None
    assert spec.loader is not None
    derive = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(derive)
    derive.main_from(shared_data / "geo", tmp_path)
    for name in ("ne_10m_ports.json.gz", "ne_50m_land.wkb.gz", "ne_50m_marine_region.json.gz"):
        assert (tmp_path / name).read_bytes() == (DATA / name).read_bytes(), name
