"""The pipeline hands static data to the identity detectors: real AIS sentences ingested
into a real store, fused and detected."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mista.ais.encode import (
    STATIC_VOYAGE_FILL_BITS,
    encode_position_reports,
    encode_static_voyage,
    nmea_lines,
)
from mista.detect.pipeline import Pipeline
from mista.ingest.sources import SourceConfig
from mista.ingest.streams import open_source
from mista.labels import Label, Level
from mista.node import read_batches
from mista.store.embedded import DuckDBStore
from tests.detect.builders import HOUR, MINUTE, SEA, T0

MMSI = 419_000_001
IMO = 9_074_729  # a valid IMO number


def vessel(
    mmsi: int, t: np.ndarray, lon0: float, names: list[tuple[float, str]]
) -> tuple[list[str], list[float], list[int]]:
    """Payloads, times and fill bits: positions every ``t`` at 10 kn east along SEA's
    latitude from ``lon0``, and type 5 static data ``(time, name)`` with one IMO number."""
    n = t.shape[0]
    lon = lon0 + (t - t[0]) * (10 * 1852 / 3600) / 111_195.0
    positions = encode_position_reports(
        np.ones(n, np.int64),
        np.full(n, mmsi),
        np.zeros(n, np.int64),
        np.zeros(n, np.int64),
        np.full(n, 10.0),
        lon,
        np.full(n, SEA[0]),
        np.full(n, 90.0),
        np.full(n, 90),
        (t % 60).astype(np.int64),
    )
    k = len(names)
    statics = encode_static_voyage(
        np.full(k, mmsi),
        np.full(k, IMO),
        ["AB12"] * k,
        [name for _, name in names],
        np.full(k, 70),
        np.full(k, 100),
        np.full(k, 20),
        np.full(k, 10),
        np.full(k, 10),
        np.ones(k, np.int64),
        np.ones(k, np.int64),
        np.zeros(k, np.int64),
        np.zeros(k, np.int64),
        np.full(k, 8.0),
        ["SINGAPORE"] * k,
    )
    times = [*t.tolist(), *(at for at, _ in names)]
    fills = [0] * n + [STATIC_VOYAGE_FILL_BITS] * k
    return [*positions, *statics], times, fills


def ingested_and_fused(
    tmp_path: Path, *vessels: tuple[list[str], list[float], list[int]]
) -> list[tuple[float, float, list[int], dict[str, object]]]:
    """The vessels' sentences ingested into a store and fused; the identity-change alerts."""
    payloads = [p for v in vessels for p in v[0]]
    times = np.array([t for v in vessels for t in v[1]])
    fills = np.array([f for v in vessels for f in v[2]])
    order = np.argsort(times, kind="stable").tolist()
    lines = nmea_lines(
        [payloads[i] for i in order], fills[order], "IND-ais-test", times[order].astype(np.int64)
    )
    feed = tmp_path / "feed.nmea"
    feed.write_text("\n".join(lines) + "\n", encoding="ascii")
    config = SourceConfig(
        originator="IND", label=Label(Level.UNCLASSIFIED, "IND", frozenset({"IND"}))
    )
    with DuckDBStore(tmp_path / "store.duckdb") as store:
        for batch in read_batches(open_source(str(feed)), config):
            store.write(batch)
        pipeline = Pipeline(store, node="IND")
        pipeline.run()
        pipeline.finish()
        rows = store.connection.execute(
            "SELECT epoch(start_at), epoch(end_at), mmsis, evidence FROM alerts "
            "WHERE kind = 'identity-change' AND status <> 'withdrawn'"
        ).fetchall()
    return [(float(a), float(b), list(m), json.loads(e)) for a, b, m, e in rows]


def test_a_name_change_alert_spans_from_the_last_statement_of_the_old_name(
    tmp_path: Path,
) -> None:
    # Heard every minute for 3 h; named SEA STAR at 10 min and 2 h, OCEAN STAR from 2.5 h.
    names = [(T0 + 10 * MINUTE, "SEA STAR"), (T0 + 2 * HOUR, "SEA STAR")]
    names += [(T0 + 150 * MINUTE, "OCEAN STAR"), (T0 + 170 * MINUTE, "OCEAN STAR")]
    t = T0 + np.arange(0, 3 * HOUR, MINUTE)
    [(start, end, mmsis, evidence)] = ingested_and_fused(tmp_path, vessel(MMSI, t, SEA[1], names))
    assert (start, end) == (T0 + 2 * HOUR, T0 + 150 * MINUTE)
    assert mmsis == [MMSI]
    assert evidence["after"] == "OCEAN STAR"


def test_an_mmsi_change_beyond_the_fusers_window_is_linked_by_imo(tmp_path: Path) -> None:
    # MMSI 1 heard for an hour; MMSI 2 from 7 h later, 70 nm on (10 kn), with the same IMO
    # number in its static data: the fuser's 6-hour window is past, the IMO links them.
    first_t = T0 + np.arange(0, HOUR + 1, MINUTE)
    second_t = T0 + 8 * HOUR + np.arange(0, HOUR, MINUTE)
    second_lon = SEA[1] + (8 * HOUR) * (10 * 1852 / 3600) / 111_195.0
    first = vessel(MMSI, first_t, SEA[1], [(T0 + 5 * MINUTE, "SEA STAR")])
    second = vessel(MMSI + 1, second_t, second_lon, [(T0 + 8.5 * HOUR, "SEA STAR")])
    [(start, end, mmsis, evidence)] = ingested_and_fused(tmp_path, first, second)
    assert (start, end) == (T0 + HOUR, T0 + 8 * HOUR)
    assert sorted(mmsis) == [MMSI, MMSI + 1]
    assert evidence["imo"] == IMO
    assert (evidence["before"], evidence["after"]) == (str(MMSI), str(MMSI + 1))
