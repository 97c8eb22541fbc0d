"""Fusion by partition: an MMSI change stays within a partition (``mmsi_partitions``), so a
fuser given one partition's reports places each on the AIS track one given them all does
(its watermark moves with its own reports only, so LATE flags may differ: not compared)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mista.detect.checkpoint import dump_state, load_state
from mista.errors import ConfigError
from mista.fuse import FuseConfig, Fuser
from mista.fuse.chunk import IdentityKind, TrackKind
from mista.node import ingest_paths
from mista.partitions import mmsi_partition
from mista.store.embedded import DuckDBStore

from .builders import NO_LAND, T0, feed, numbered, sail

OLD = 419_000_001


def _pick(apart: int, together: int) -> int:
    """An MMSI after ``OLD`` in another of ``apart`` partitions, the same of ``together``."""
    for mmsi in range(OLD + 1, OLD + 1000):
        if int(mmsi_partition(mmsi, apart)) != int(mmsi_partition(OLD, apart)) and int(
            mmsi_partition(mmsi, together)
        ) == int(mmsi_partition(OLD, together)):
            return mmsi
    raise AssertionError("no such MMSI")


def _handover(new: int) -> list[dict[str, Any]]:
    """A vessel on ``OLD`` for 40 min, silent 2 min, then on ``new`` where it would be."""
    start = T0 + 39 * 60 + 120
    moved_deg = 12 * 1852 / 3600 * (start - T0) / (111_195.0 * math.cos(math.radians(10.0)))
    return sail(OLD, count=40) + sail(new, count=40, start_t=start, lon=70.0 + moved_deg)


def _handed_over(
    new: int, partitions: int, *, alone: bool = False
) -> tuple[bool, dict[str, str | None]]:
    """Whether a fuser reports the change from ``OLD`` to ``new``, and its tracks (the
    id each is linked from, by id); ``alone``: the fuser is given only ``new``'s
    reports (a partition part)."""
    fuser = Fuser(FuseConfig(mmsi_partitions=partitions), land=NO_LAND)
    rows = [row for row in _handover(new) if not alone or row["mmsi"] == new]
    rows = numbered(sorted(rows, key=lambda r: r["t"]))
    chunks = [fuser.push(feed(rows[k : k + 40])) for k in range(0, len(rows), 40)]
    chunks.append(fuser.flush())
    changes = [e for c in chunks for e in c.identity if e.kind == IdentityKind.MMSI_CHANGE]
    if changes:
        assert [(e.before, e.after) for e in changes] == [(str(OLD), str(new))]
    return bool(changes), {info.id: info.linked_from for info in fuser.tracks().values()}


def test_an_mmsi_change_continues_a_track_only_within_a_partition() -> None:
    new = _pick(apart=8, together=2)
    assert _handed_over(new, 0) == (True, {f"ais:{OLD}": None})  # no partitions: as before
    assert _handed_over(new, 2) == (True, {f"ais:{OLD}": None})  # one partition of 2
    # Two partitions of 8: the change is reported, the new MMSI starts a track of its own,
    # linked to the old one; a fuser given only the new MMSI's partition makes that track.
    linked = {f"ais:{OLD}": None, f"ais:{new}": f"ais:{OLD}"}
    assert _handed_over(new, 8) == (True, linked)
    assert _handed_over(new, 8, alone=True) == (False, {f"ais:{new}": None})


@pytest.mark.parametrize("value", [-1, 2.5, True, "8"])
def test_mmsi_partitions_must_be_a_whole_number_from_zero(value: object) -> None:
    with pytest.raises(ConfigError, match="mmsi_partitions"):
        FuseConfig(mmsi_partitions=value)  # type: ignore[arg-type]


#: Real logs: one day on the US coasts (1,185 vessels), one week in New York harbour (the
#: week evicts tracks silent for two days).
_LOGS = (
    Path("positions") / "marinecadastre_uscoastal_2020-06-30_tracks.csv.gz",
    Path("positions") / "marinecadastre_nyharbor_2020-12-01_07_tracks.csv.gz",
)
_PARTITIONS = 8
_BATCH = 5000

#: Each AIS report placed, by seq: the id of its track.
Picture = dict[int, str]


def _fuse(reports: pa.Table, partition: int | None) -> Picture:
    """Where a fuser given every batch of ``reports``, or only ``partition``'s share of
    each, places each AIS report (what the pipeline writes as track points)."""
    fuser = Fuser(FuseConfig(mmsi_partitions=_PARTITIONS), land=NO_LAND)
    chunks = []
    for start in range(0, reports.num_rows, _BATCH):
        batch = reports.slice(start, _BATCH)
        if partition is not None:
            mmsi = pc.fill_null(batch.column("mmsi"), -1).to_numpy(zero_copy_only=False)
            batch = batch.filter(
                pa.array((mmsi >= 0) & (mmsi_partition(mmsi, _PARTITIONS) == partition))
            )
        chunks.append(fuser.push(batch))
    chunks.append(fuser.flush())
    out: Picture = {}
    for chunk in chunks:
        ids = {
            number: info.id for number, info in chunk.tracks.items() if info.kind == TrackKind.AIS
        }
        for seq, number in zip(chunk.points.seq.tolist(), chunk.points.track.tolist(), strict=True):
            if number in ids:
                out[seq] = ids[number]
    return out


@pytest.mark.shared_data
@pytest.mark.parametrize("log", _LOGS, ids=lambda p: p.name.split("_")[1])
def test_a_partition_alone_fuses_the_tracks_all_reports_fuse_for_it(
    log: Path, shared_data: Path, tmp_path: Path
) -> None:
    ingest_paths([shared_data / log], store=tmp_path / "s.duckdb", nation="IND")
    with DuckDBStore(tmp_path / "s.duckdb") as store:
        reports = store.report_feed(0, 10**9)
    whole = _fuse(reports, None)
    owner = {
        seq: int(mmsi_partition(int(track_id.split(":")[1].split("/")[0]), _PARTITIONS))
        for seq, track_id in whole.items()
    }
    assert len(set(owner.values())) == _PARTITIONS
    for partition in range(_PARTITIONS):
        expected = {k: v for k, v in whole.items() if owner[k] == partition}
        assert _fuse(reports, partition) == expected, partition


@pytest.mark.parametrize("shared", [False, True])
def test_mmsi_partitions_survives_a_checkpoint(shared: bool) -> None:
    """The pipeline pickles the fuser with its config (or names the config it was given,
    ``shared``): the restored fuser still links within partitions only. A checkpoint of
    older code (a config pickled without the field) is never unpickled: the code digest in
    its header differs (``test_a_checkpoint_from_other_code_or_damaged_is_not_loaded``)."""
    config = FuseConfig(mmsi_partitions=8)
    parts = {"fuse_config": config if shared else None}
    new = _pick(apart=8, together=2)
    rows = numbered(sorted(_handover(new), key=lambda r: r["t"]))
    fuser = Fuser(config, land=NO_LAND)
    fuser.push(feed(rows[:40]))
    restored = load_state(dump_state(fuser, parts), parts)
    assert isinstance(restored, Fuser)
    assert restored.config.mmsi_partitions == 8
    assert (restored.config is config) == shared
    restored.push(feed(rows[40:]))  # the rest of OLD and all of new
    restored.flush()
    assert {info.id for info in restored.tracks().values()} == {f"ais:{OLD}", f"ais:{new}"}
