"""Readable builders for fusion tests: FEED tables from lists, vessels on straight lines."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

# The store's own feed schema: what the fuser reads in production.
from mista.store.embedded_fusion import FEED_SCHEMA

#: 2026-01-01T00:00:00Z, the scenarios' start.
T0 = 1_767_225_600.0
M_PER_DEG = 111_195.0
KNOT_M_S = 1852.0 / 3600.0


class BoxLand:
    """Land is one lat/lon box (a stand-in coast for tests)."""

    def __init__(self, lat_min: float, lat_max: float, lon_min: float, lon_max: float) -> None:
        self.box = (lat_min, lat_max, lon_min, lon_max)

    def on_land(
        self, lon: npt.NDArray[np.float64], lat: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.bool_]:
        a, b, c, d = self.box
        out: npt.NDArray[np.bool_] = (lat >= a) & (lat <= b) & (lon >= c) & (lon <= d)
        return out


#: No land anywhere the tests sail (a box far away).
NO_LAND = BoxLand(-89.0, -88.0, 0.0, 1.0)


def feed(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """A FEED table from dicts: ``t`` (epoch s) becomes ``observed_at``; ``seq`` numbers
    rows from 1 unless given; AIS terrestrial type 1 unless said otherwise."""
    columns: dict[str, list[Any]] = {name: [] for name in FEED_SCHEMA.names}
    for n, row in enumerate(rows, start=1):
        values = dict(row)
        t = values.pop("t", None)
        values.setdefault("seq", n)
        values.setdefault("label_no", 1)
        values.setdefault("originator", "IND")
        values.setdefault("source_kind", "ais-terrestrial")
        if values["source_kind"] != "radar":
            values.setdefault("msg_type", 1)
        values.setdefault("id", f"r{values['seq']}")
        if t is not None and not (isinstance(t, float) and math.isnan(t)):
            values["observed_at"] = round(t * 1e6)
        for name in FEED_SCHEMA.names:
            columns[name].append(values.pop(name, None))
        if values:
            raise KeyError(f"not FEED columns: {sorted(values)}")
    arrays = []
    for field in FEED_SCHEMA:
        if field.name == "observed_at":
            arrays.append(pa.array(columns[field.name], pa.int64()).cast(field.type))
        else:
            arrays.append(pa.array(columns[field.name], field.type))
    return pa.Table.from_arrays(arrays, schema=FEED_SCHEMA)


def sail(
    mmsi: int,
    *,
    start_t: float = T0,
    lat: float = 10.0,
    lon: float = 70.0,
    speed_kn: float = 12.0,
    course_deg: float = 90.0,
    every_s: float = 60.0,
    count: int = 30,
    **extra: Any,
) -> list[dict[str, Any]]:
    """Position rows of a vessel on a straight line at constant speed."""
    out = []
    for k in range(count):
        t = start_t + k * every_s
        d = speed_kn * KNOT_M_S * k * every_s
        out.append(
            {
                "t": t,
                "mmsi": mmsi,
                "lat": lat + d * math.cos(math.radians(course_deg)) / M_PER_DEG,
                "lon": lon
                + d
                * math.sin(math.radians(course_deg))
                / (M_PER_DEG * math.cos(math.radians(lat))),
                "speed_kn": speed_kn,
                "course_deg": course_deg,
                **extra,
            }
        )
    return out


def numbered(rows: list[dict[str, Any]], first: int = 1) -> list[dict[str, Any]]:
    """The rows with ``seq`` set in list order."""
    return [{**row, "seq": first + i} for i, row in enumerate(rows)]
