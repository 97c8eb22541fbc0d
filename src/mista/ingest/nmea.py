"""AIS NMEA input: framed and decoded messages (``mista.ais``) turned into message rows.

What each AIS message becomes (ITU-R M.1371-5 message types):

- every decoded message is a report (nothing decoded is dropped), with its type, MMSI and
  whatever common fields its type carries;
- positions: 1, 2, 3 (class A), 18, 19 (class B), 27 (long range), 9 (SAR aircraft),
  4 and 11 (base stations) and 21 (aids to navigation). Only vessel and SAR positions
  update a vessel's latest state (the store's ``POSITION_TYPES``); base stations and aids
  to navigation are fixed and are not vessels;
- identity (static and voyage data): 5, 19 and 24 (part A name, part B call sign, type,
  dimensions).

"Not available" values are null: latitude 91, longitude 181 (a report without a
position), speed 102.3 kn (63 for type 27), course 360 (511 for type 27), heading 511,
IMO 0, draught 0, empty text. The report id's content key is ``payload,fill_bits`` (see
``mista.model``); receiver, reception time and raw lines go to the reception columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from mista.ais.framing import FramedBatch, Framer
from mista.ais.payload import decode_payloads

from .batch import MESSAGE_SCHEMA, REJECTED_SCHEMA, IngestBatch
from .rows import SourceContext, build_messages, check_strict, epoch_us

__all__ = ["nmea_batches", "to_ingest_batch"]

_NULL_F64 = pa.scalar(None, pa.float64())


def _null_where(values: pa.Array, unavailable: pa.Array) -> pa.Array:
    return pc.if_else(pc.fill_null(unavailable, False), pa.scalar(None, values.type), values)


def _payload_strings(framed: FramedBatch) -> pa.Array:
    """The armoured payloads as a string array, without copying per message."""
    n = len(framed)
    offsets = np.asarray(framed.payload_offsets, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(
        n, pa.py_buffer(offsets.tobytes()), pa.py_buffer(framed.payload)
    ).cast(pa.string())


def _rejected(
    ctx: SourceContext, framed: FramedBatch, payload_rejects: list[tuple[int, str, str]]
) -> pa.Table:
    lines = [r.line_no for r in framed.rejected]
    reasons = [r.reason for r in framed.rejected]
    details = [r.detail for r in framed.rejected]
    raws = [r.raw for r in framed.rejected]
    if payload_rejects:
        rows = np.array([row for row, _, _ in payload_rejects], dtype=np.int64)
        lines += framed.line_no[rows].tolist()
        reasons += [reason for _, reason, _ in payload_rejects]
        details += [detail for _, _, detail in payload_rejects]
        raws += framed.raw.take(pa.array(rows)).to_pylist()
    n = len(lines)
    table = pa.Table.from_arrays(
        [
            pa.repeat(pa.scalar(ctx.source, pa.string()), n),
            pa.array(lines, pa.int64()),
            pa.array(reasons, pa.string()),
            pa.array(details, pa.string()),
            pa.array(raws, pa.string()),
        ],
        schema=REJECTED_SCHEMA,
    )
    # Framing and payload rejects arrive apart; keep input order (--strict names the first).
    return table.sort_by("line_no") if n > 1 else table


def to_ingest_batch(
    framed: FramedBatch, ctx: SourceContext, position_bytes: int | None = None
) -> IngestBatch:
    """Decode one framed batch and label it as rows for the store."""
    n_framed = len(framed)
    if n_framed == 0:
        return IngestBatch(
            source=ctx.source,
            messages=MESSAGE_SCHEMA.empty_table(),
            rejected=_rejected(ctx, framed, []),
            labels=(ctx.label,),
            lines=framed.lines,
            skipped=dict(framed.skipped),
            position_bytes=position_bytes,
        )
    decoded = decode_payloads(framed.payload, framed.payload_offsets, framed.fill_bits)
    common = decoded.common
    rows = common.column("row")
    n = len(rows)
    # Decoded rows are in input order; a mask drops the few that did not decode (a filter
    # copies runs, much cheaper than a gather), and nothing is copied when all decoded.
    keep: pa.Array | None = None
    if n != n_framed:
        mask = np.zeros(n_framed, dtype=bool)
        mask[rows.to_numpy()] = True
        keep = pa.array(mask)

    def pick(values: pa.Array) -> pa.Array:
        return values if keep is None else values.filter(keep)

    msg_type = common.column("type")
    payloads = pick(_payload_strings(framed))
    fills = pc.cast(pick(pa.array(framed.fill_bits)), pa.string())
    content_key = pc.binary_join_element_wise(payloads, fills, ",")
    observed_us = pick(epoch_us(framed.received_at))
    type27 = pc.equal(msg_type, 27)
    lat, lon = common.column("lat"), common.column("lon")
    no_position = pc.or_(
        pc.or_(pc.is_null(lat), pc.is_null(lon)),
        pc.or_(pc.greater(pc.abs(lat), 90.0), pc.greater(pc.abs(lon), 180.0)),
    )
    speed = common.column("speed")
    speed_na = pc.if_else(type27, pc.greater_equal(speed, 63.0), pc.greater_equal(speed, 102.25))
    course = common.column("course")
    course_na = pc.greater_equal(course, 360.0)
    heading = pc.cast(common.column("heading"), pa.float64())
    imo = common.column("imo")
    draught = common.column("draught")
    columns: dict[str, pa.Array] = {
        "msg_type": msg_type,
        "mmsi": common.column("mmsi"),
        "lat": _null_where(lat, no_position),
        "lon": _null_where(lon, no_position),
        "speed_kn": _null_where(speed, pc.or_(speed_na, pc.less(speed, 0.0))),
        "course_deg": _null_where(course, pc.or_(course_na, pc.less(course, 0.0))),
        "heading_deg": _null_where(heading, pc.greater_equal(heading, 360.0)),
        "nav_status": common.column("status"),
        "imo": _null_where(imo, pc.less_equal(imo, 0)),
        "name": common.column("shipname"),
        "callsign": common.column("callsign"),
        "ship_type": _null_where(common.column("shiptype"), pc.equal(common.column("shiptype"), 0)),
        "destination": common.column("destination"),
        "draught_m": _null_where(draught, pc.less_equal(draught, 0.0)),
        "to_bow_m": common.column("to_bow"),
        "to_stern_m": common.column("to_stern"),
        "to_port_m": common.column("to_port"),
        "to_starboard_m": common.column("to_starboard"),
        "content_key": content_key,
        "observed_us": observed_us,
        "receiver": pick(framed.receiver),
        "raw": pick(framed.raw),
        "line_no": pick(pa.array(framed.line_no)),
    }
    messages = build_messages(ctx, columns, n)
    payload_rejects = [(r.row, r.reason, r.detail) for r in decoded.rejected]
    return IngestBatch(
        source=ctx.source,
        messages=messages,
        rejected=_rejected(ctx, framed, payload_rejects),
        labels=(ctx.label,),
        lines=framed.lines,
        skipped=dict(framed.skipped),
        position_bytes=position_bytes,
    )


def nmea_batches(
    chunks: Iterable[bytes], ctx: SourceContext, position: Callable[[], int | None] | None = None
) -> Iterator[IngestBatch]:
    """Frame, decode and label AIS input chunk by chunk (one batch per chunk)."""
    framer = Framer()
    for chunk in chunks:
        batch = to_ingest_batch(framer.feed(chunk), ctx, position() if position else None)
        check_strict(batch, ctx.strict)
        yield batch
    batch = to_ingest_batch(framer.finish(), ctx, position() if position else None)
    check_strict(batch, ctx.strict)
    yield batch
