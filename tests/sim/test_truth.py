"""Truth consistency: injected behaviours are in the truth, and the truth holds together."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from mista.sim import BEHAVIOUR_KINDS
from mista.sim.truth import runs
from tests.sim._read import jsonl, manifest

CONTRACT_KINDS = {
    "ais-gap", "encounter", "loitering", "port-visit", "spoofing", "zone-entry",
    "dark-vessel", "close-approach", "identity-change", "shared-mmsi",
}  # fmt: skip


def test_runs() -> None:
    mask = np.array([0, 1, 1, 0, 1, 0, 0, 1], bool)
    assert runs(mask) == [(1, 3), (4, 5), (7, 8)]
    assert runs(mask, bridge=1) == [(1, 5), (7, 8)]
    assert runs(np.zeros(4, bool)) == []


def test_every_injected_kind_is_in_the_truth(full_scenario: Path) -> None:
    m = manifest(full_scenario)
    truth = jsonl(full_scenario / "truth" / "behaviours.jsonl")
    assert {b["kind"] for b in truth} <= CONTRACT_KINDS
    injected = Counter(b["kind"] for b in truth if b["injected"])
    for kind in BEHAVIOUR_KINDS:
        assert m["injected"][kind] >= 1, kind
        assert injected[kind] >= m["injected"][kind], (kind, injected, m["injected"])
    kinds = Counter(b["kind"] for b in truth)
    # Incidental ones come too: port calls at voyage ends, at the least.
    assert kinds["port-visit"] > 10
    assert not any(b["injected"] for b in truth if b["kind"] == "port-visit")


def test_truth_records_match_the_definitions(full_scenario: Path) -> None:
    truth = jsonl(full_scenario / "truth" / "behaviours.jsonl")
    positions = pq.read_table(full_scenario / "truth" / "positions.parquet")
    vessel = positions.column("vessel").to_numpy()
    t = positions.column("t").cast("int64").to_numpy() // 1_000_000 - 1767225600
    sog = positions.column("sog").to_numpy()
    on = positions.column("ais_on").to_numpy(zero_copy_only=False)
    lat, lon = positions.column("lat").to_numpy(), positions.column("lon").to_numpy()

    def window(b: dict[str, object], v: int) -> np.ndarray:
        a = np.datetime64(str(b["start"]).rstrip("Z"), "s").astype(int) - 1767225600
        z = np.datetime64(str(b["end"]).rstrip("Z"), "s").astype(int) - 1767225600
        return np.flatnonzero((vessel == v) & (t >= a) & (t < z))

    seen = set()
    for b in truth:
        kind, vs = b["kind"], b["vessels"]
        assert b["start"] <= b["end"]
        if kind == "ais-gap":
            rows = window(b, vs[0])
            assert not on[rows].any()
            assert len(rows) >= 12 * 60
            assert b["detail"]["level"] == "gap"
        elif kind == "loitering":
            rows = window(b, vs[0])
            assert np.all(sog[rows] < 2.0)
            assert len(rows) >= 60
        elif kind == "encounter":
            ra, rb = window(b, vs[0]), window(b, vs[1])
            assert len(ra) == len(rb) >= 120
            d = np.hypot(lat[ra] - lat[rb], (lon[ra] - lon[rb]) * np.cos(np.radians(lat[ra])))
            assert np.median(d) * 111_000 <= 500
            assert np.median(sog[ra]) < 2
        elif kind == "dark-vessel":
            assert b["mmsis"] == []
            assert not on[window(b, vs[0])].any()
        elif kind == "shared-mmsi":
            assert len(vs) == 2
            assert len(b["mmsis"]) == 1
        elif kind == "identity-change":
            d = b["detail"]
            assert d["field"] in {"name", "mmsi"}
            assert d["old"] != d["new"]
            if d["field"] == "mmsi":
                assert b["mmsis"] == [d["old"], d["new"]]
        seen.add(kind)
    assert {"ais-gap", "loitering", "encounter", "dark-vessel"} <= seen


def test_dark_vessels_are_dark_all_along(full_scenario: Path) -> None:
    vessels = jsonl(full_scenario / "truth" / "vessels.jsonl")
    dark = [v["vessel"] for v in vessels if v["dark"]]
    assert dark
    positions = pq.read_table(full_scenario / "truth" / "positions.parquet")
    vessel = positions.column("vessel").to_numpy()
    mmsi = positions.column("mmsi").to_numpy()
    assert np.all(mmsi[np.isin(vessel, dark)] == -1)
    assert np.all(mmsi[~np.isin(vessel, dark)][:100] >= -1)
    radar = pq.read_table(full_scenario / "truth" / "radar.parquet")
    seen = set(radar.column("vessel").to_pylist())
    # Two in three dark vessels work inside a radar's range: the radars see some.
    assert seen & set(dark)
    assert -1 in seen  # false contacts
