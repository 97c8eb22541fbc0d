"""FEED table (Arrow) to numpy columns: positions, radar contacts and static rows.

Rows that cannot be used (no time, no position, no MMSI on an AIS row) are counted, not
raised: a fuser never stops on one bad report.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Self

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from mista.errors import InputError

from .chunk import SourceCode

__all__ = ["REQUIRED_COLUMNS", "FeedSplit", "PositionRows", "Rows", "StaticRows", "split_feed"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
I32 = npt.NDArray[np.int32]
U8 = npt.NDArray[np.uint8]
Obj = npt.NDArray[np.object_]

REQUIRED_COLUMNS = ("seq", "source_kind", "observed_at", "mmsi", "lat", "lon")

#: AIS message types that report a vessel (others: base stations, SAR aircraft, aids to
#: navigation). Rows without a type (position files) count as vessels.
VESSEL_POSITION_TYPES = (1, 2, 3, 18, 19, 27)

_SOURCE_CODES = {
    "ais-terrestrial": SourceCode.AIS_TERRESTRIAL,
    "ais-satellite": SourceCode.AIS_SATELLITE,
    "radar": SourceCode.RADAR,
}


class Rows:
    """Columns of equal length with ``t``; slicing and concatenation by field."""

    t: F64
    seq: I64

    def __len__(self) -> int:
        return int(self.t.shape[0])

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_] | slice) -> Self:
        return type(self)(**{f.name: getattr(self, f.name)[index] for f in fields(self)})  # type: ignore[arg-type]

    @classmethod
    def concat(cls, parts: list[Self]) -> Self:
        if len(parts) == 1:
            return parts[0]
        return cls(
            **{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}  # type: ignore[arg-type]
        )


@dataclass(frozen=True, slots=True)
class PositionRows(Rows):
    """AIS positions (``mmsi`` set) or radar contacts (``mmsi`` -1, ``receiver`` set)."""

    seq: I64
    t: F64
    mmsi: I64
    lat: F64
    lon: F64
    sog: F64
    cog: F64
    label_no: I32
    source: U8
    receiver: Obj


@dataclass(frozen=True, slots=True)
class StaticRows(Rows):
    """Identity fields (type 5, 24, and any row with a name, call sign or IMO)."""

    seq: I64
    t: F64
    mmsi: I64
    msg_type: I64
    lat: F64
    lon: F64
    label_no: I32
    imo: I64
    name: Obj
    callsign: Obj


@dataclass(frozen=True, slots=True)
class FeedSplit:
    positions: PositionRows
    radar: PositionRows
    statics: StaticRows
    skipped: int  # rows with no usable time, position or MMSI
    not_vessel: int  # positions from base stations, SAR aircraft, aids to navigation


def _column(table: pa.Table, name: str) -> Any:
    if name in table.column_names:
        return table.column(name)
    return pa.nulls(table.num_rows)


def _floats(table: pa.Table, name: str) -> F64:
    column = _column(table, name)
    if pa.types.is_timestamp(column.type):
        column = pc.divide(column.cast(pa.timestamp("us")).cast(pa.int64()).cast(pa.float64()), 1e6)
    out: F64 = np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), np.float64)
    return out


def _ints(table: pa.Table, name: str, null: int) -> I64:
    column = pc.fill_null(_column(table, name).cast(pa.int64()), null)
    out: I64 = np.asarray(column.to_numpy(zero_copy_only=False), np.int64)
    return out


def _strings(table: pa.Table, name: str, index: npt.NDArray[np.intp]) -> Obj:
    column = _column(table, name).cast(pa.string())
    out: Obj = np.asarray(column.take(pa.array(index)).to_numpy(zero_copy_only=False), object)
    return out


def _source_codes(table: pa.Table) -> U8:
    kinds = _column(table, "source_kind").cast(pa.string())
    codes = np.full(table.num_rows, SourceCode.OTHER, np.uint8)
    for text, code in _SOURCE_CODES.items():
        hit = np.asarray(pc.fill_null(pc.equal(kinds, text), False).to_numpy(zero_copy_only=False))
        codes[hit] = code
    return codes


def split_feed(table: pa.Table) -> FeedSplit:
    """Split a FEED table into vessel positions, radar contacts and identity rows."""
    missing = [name for name in REQUIRED_COLUMNS if name not in table.column_names]
    if missing:
        raise InputError(
            f"report table lacks the FEED column(s) {', '.join(missing)} "
            f"(has {', '.join(table.column_names) or 'none'}; read it with Store.report_feed)"
        )
    n = table.num_rows
    t = _floats(table, "observed_at")
    lat = _floats(table, "lat")
    lon = _floats(table, "lon")
    mmsi = _ints(table, "mmsi", -1)
    msg_type = _ints(table, "msg_type", -1)
    source = _source_codes(table)
    seq = _ints(table, "seq", -1)
    label_no = _ints(table, "label_no", 0).astype(np.int32)
    imo = _ints(table, "imo", -1)
    sog = _floats(table, "speed_kn")
    cog = _floats(table, "course_deg")

    has_time = np.isfinite(t)
    has_position = np.isfinite(lat) & np.isfinite(lon) & (np.abs(lat) <= 90) & (np.abs(lon) <= 180)
    is_radar = source == SourceCode.RADAR
    radar_ok = is_radar & has_time & has_position
    ais = ~is_radar & has_time & (mmsi > 0)
    vessel_type = (msg_type < 0) | np.isin(msg_type, VESSEL_POSITION_TYPES)
    position_ok = ais & has_position & vessel_type
    not_vessel = ais & has_position & ~vessel_type
    names_given = [
        ~np.asarray(_column(table, c).is_null().to_numpy(zero_copy_only=False), np.bool_)
        for c in ("name", "callsign")
    ]
    static_ok = ais & (names_given[0] | names_given[1] | (imo > 0))
    used = radar_ok | position_ok | not_vessel | static_ok
    skipped = int(n - np.count_nonzero(used))

    def positions(mask: npt.NDArray[np.bool_]) -> PositionRows:
        index = np.flatnonzero(mask)
        receiver = _strings(table, "receiver", index) if mask is radar_ok else np.empty(0, object)
        if receiver.shape[0] != index.shape[0]:
            receiver = np.full(index.shape[0], None, object)
        return PositionRows(
            seq=seq[index],
            t=t[index],
            mmsi=mmsi[index],
            lat=lat[index],
            lon=lon[index],
            sog=sog[index],
            cog=cog[index],
            label_no=label_no[index],
            source=source[index],
            receiver=receiver,
        )

    static_index = np.flatnonzero(static_ok)
    statics = StaticRows(
        seq=seq[static_index],
        t=t[static_index],
        mmsi=mmsi[static_index],
        msg_type=msg_type[static_index],
        lat=lat[static_index],
        lon=lon[static_index],
        label_no=label_no[static_index],
        imo=imo[static_index],
        name=_strings(table, "name", static_index),
        callsign=_strings(table, "callsign", static_index),
    )
    return FeedSplit(
        positions=positions(position_ok),
        radar=positions(radar_ok),
        statics=statics,
        skipped=skipped,
        not_vessel=int(np.count_nonzero(not_vessel & ~static_ok)),
    )
