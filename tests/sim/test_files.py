"""The scenario directory: layout, manifest, schemas and determinism."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mista.ingest.sources import load_source_config
from mista.labels import parse_marking
from mista.sim import FORMAT, simulate
from tests.sim._read import jsonl, manifest

KINDS = {"ais-terrestrial", "ais-satellite", "radar"}


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    args = {"hours": 1.0, "vessels": 40}
    simulate(tmp_path / "a", seed=5, **args)  # type: ignore[arg-type]
    simulate(tmp_path / "b", seed=5, **args)  # type: ignore[arg-type]
    simulate(tmp_path / "c", seed=6, **args)  # type: ignore[arg-type]
    a, b, c = (_digest(tmp_path / x) for x in "abc")
    assert len(a) > 20
    assert a == b
    assert a["truth/positions.parquet"] != c["truth/positions.parquet"]


def test_manifest(small_scenario: Path) -> None:
    m = manifest(small_scenario)
    assert m["format"] == FORMAT
    assert (m["seed"], m["hours"], m["vessels"], m["node"]) == (11, 2.0, 60, "IND")
    assert m["start"] == "2026-01-01T00:00:00Z"
    assert m["zones"] == "zones.geojson"
    assert m["forward_interval_s"] == 60.0
    assert {s["kind"] for s in m["sources"].values()} == KINDS
    for name, s in m["sources"].items():
        assert s["nation"] in {"IND", "USA", "JPN", "AUS"}
        assert (small_scenario / s["config"]).is_file()
        assert name.startswith(s["nation"] + "-")
    delivered = [f["delivered_at"] for f in m["files"]]
    assert delivered == sorted(delivered)
    assert len(m["files"]) == len({f["path"] for f in m["files"]})
    for f in m["files"]:
        path = small_scenario / f["path"]
        assert path.is_file()
        assert len(path.read_bytes().splitlines()) == f["lines"] > 0
        assert f["kind"] == m["sources"][f["source"]]["kind"]
        assert re.fullmatch(r"(ais|radar)/[A-Za-z-]+/\d{8}T\d{4}\.(nmea|jsonl)", f["path"])
        assert datetime.fromisoformat(f["delivered_at"]).tzinfo is not None
    on_disk = {str(p.relative_to(small_scenario)) for p in small_scenario.rglob("*.nmea")}
    on_disk |= {str(p.relative_to(small_scenario)) for p in small_scenario.rglob("*.jsonl")}
    on_disk -= {"truth/behaviours.jsonl", "truth/vessels.jsonl"}
    assert on_disk == {f["path"] for f in m["files"]}
    assert set(m["injected"]) >= {"ais-gap", "encounter", "spoofing", "dark-vessel"}


def test_satellite_files_arrive_late(small_scenario: Path) -> None:
    m = manifest(small_scenario)
    sat = [f for f in m["files"] if f["kind"] == "ais-satellite"]
    assert sat
    for f in sat:
        first = (small_scenario / f["path"]).read_text().split("\n", 1)[0]
        heard = int(re.search(r"c:(\d+)", first).group(1))  # type: ignore[union-attr]
        delivered = datetime.fromisoformat(f["delivered_at"]).timestamp()
        assert delivered - heard >= 20 * 60


def test_source_configs_load_with_their_markings(small_scenario: Path) -> None:
    m = manifest(small_scenario)
    for name, s in m["sources"].items():
        config = load_source_config(small_scenario / s["config"], "IND")
        assert config.name == name
        assert config.kind is not None
        assert config.kind.value == s["kind"]
        assert config.originator == s["nation"]
        assert config.label == parse_marking(s["marking"], s["nation"])
    radar = next(s for s in m["sources"].values() if s["kind"] == "radar")
    assert "sensor:radar" in radar["marking"]
    assert radar["marking"].startswith("CONFIDENTIAL")


def test_zones(small_scenario: Path) -> None:
    zones = json.loads((small_scenario / "zones.geojson").read_text())
    assert zones["type"] == "FeatureCollection"
    assert len(zones["features"]) >= 6
    for feature in zones["features"]:
        props = feature["properties"]
        assert set(props) == {"id", "name", "marking"}
        parse_marking(props["marking"], "IND")
        ring = feature["geometry"]["coordinates"][0]
        assert ring[0] == ring[-1]
        assert len(ring) >= 4


def test_radar_lines(small_scenario: Path) -> None:
    files = sorted((small_scenario / "radar").rglob("*.jsonl"))
    assert files
    when = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
    for path in files:
        rows = jsonl(path)
        times = [r["time"] for r in rows]
        assert times == sorted(times)
        plots = [r["plot"] for r in rows]
        assert plots == sorted(plots)
        assert len(set(plots)) == len(plots)
        for raw, row in zip(path.read_text().splitlines(), rows, strict=True):
            assert set(row) == {
                "time",
                "radar",
                "plot",
                "lat",
                "lon",
                "range_m",
                "bearing_deg",
                "sigma_m",
            }
            assert when.fullmatch(row["time"])
            assert row["radar"] == path.parent.name
            assert re.search(r'"lat": -?\d+\.\d{6},', raw)
            assert 0 < row["range_m"] <= 45_000
            assert 50 <= row["sigma_m"] <= 150


def test_truth_tables(small_scenario: Path) -> None:
    positions = pq.read_table(small_scenario / "truth" / "positions.parquet")
    assert positions.schema.equals(
        pa.schema([("vessel", pa.int32()), ("t", pa.timestamp("us", tz="UTC")),
                   ("lat", pa.float64()), ("lon", pa.float64()), ("sog", pa.float64()),
                   ("cog", pa.float64()), ("mmsi", pa.int64()), ("ais_on", pa.bool_())]),
        check_metadata=False,
    )  # fmt: skip
    assert positions.num_rows == 60 * 120
    radar = pq.read_table(small_scenario / "truth" / "radar.parquet")
    assert radar.schema.equals(
        pa.schema([("source", pa.string()), ("t", pa.timestamp("us", tz="UTC")),
                   ("lat", pa.float64()), ("lon", pa.float64()), ("vessel", pa.int32())]),
        check_metadata=False,
    )  # fmt: skip
    lines = sum(len(jsonl(p)) for p in (small_scenario / "radar").rglob("*.jsonl"))
    assert radar.num_rows == lines
    vessels = jsonl(small_scenario / "truth" / "vessels.jsonl")
    assert [v["vessel"] for v in vessels] == list(range(60))
    for v in vessels:
        assert {"vessel", "mmsis", "name", "type", "flag", "class", "dark"} <= set(v)
        assert v["class"] in {"A", "B"}
        assert (v["mmsis"] == []) == v["dark"]
    for b in jsonl(small_scenario / "truth" / "behaviours.jsonl"):
        assert {
            "kind",
            "vessels",
            "mmsis",
            "start",
            "end",
            "lat",
            "lon",
            "injected",
            "detail",
        } <= set(b)
        assert b["start"] <= b["end"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"hours": 0.0}, "hours"),
        ({"vessels": 0}, "vessels"),
        ({"forward_interval_s": -1.0}, "forward"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict[str, float], message: str) -> None:
    from mista.errors import InputError

    with pytest.raises(InputError, match=message):
        simulate(tmp_path / "x", **kwargs)  # type: ignore[arg-type]


def test_radar_truth_holds_the_written_plots(small_scenario: Path) -> None:
    radar = pq.read_table(small_scenario / "truth" / "radar.parquet").to_pylist()
    written = []
    for path in sorted((small_scenario / "radar").rglob("*.jsonl")):
        written += [(r["radar"], r["time"], r["lat"], r["lon"]) for r in jsonl(path)]
    truth = [
        (r["source"], r["t"].strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z", r["lat"], r["lon"])
        for r in radar
    ]
    assert sorted(truth) == sorted(written)
