"""Detection speed on a synthetic stream: ``python -m tests.detect.speed [vessels] [hours]``.

2,000 vessels reporting every 60 s over the region (a quarter at anchor or drifting, some
of those beside ports, the rest under way), pushed through ``Detection`` (every detector,
shipped land and ports) in chunks of 10 minutes (about 20,000 points, the pipeline's batch).
Prints points per CPU second of ``Detection.update`` alone (process time, so other load on
the machine counts little) and each detector's share (wall time).
"""

from __future__ import annotations

import sys
import time

import numpy as np

from mista.detect import Detection
from mista.fuse.chunk import FusedChunk, TrackPoints
from mista.geo import LandMask, Ports
from tests.detect.builders import T0, Memory

KNOT = 1852.0 / 3600.0


def synthetic(vessels: int, hours: float, seed: int = 1) -> TrackPoints:
    rng = np.random.default_rng(seed)
    ports = Ports.default()
    lat0 = rng.uniform(-20, 25, vessels)
    lon0 = rng.uniform(50, 140, vessels)
    slow = rng.random(vessels) < 0.25
    beside_port = slow & (rng.random(vessels) < 0.5)
    pick = rng.integers(0, len(ports.names), vessels)
    lat0[beside_port] = ports.lat[pick[beside_port]] + rng.normal(0, 0.01, beside_port.sum())
    lon0[beside_port] = ports.lon[pick[beside_port]] + rng.normal(0, 0.01, beside_port.sum())
    sog = np.where(slow, rng.uniform(0, 1.5, vessels), rng.uniform(6, 18, vessels))
    cog = rng.uniform(0, 360, vessels)
    phase = rng.uniform(0, 60, vessels)
    steps = int(hours * 60)
    t = T0 + phase[None, :] + 60.0 * np.arange(steps)[:, None]
    dt = t - T0
    metres = sog[None, :] * KNOT * dt
    lat = lat0[None, :] + metres * np.cos(np.radians(cog))[None, :] / 111_195.0
    lon = lon0[None, :] + metres * np.sin(np.radians(cog))[None, :] / (
        111_195.0 * np.cos(np.radians(lat0))[None, :]
    )
    n = steps * vessels
    track = np.broadcast_to(np.arange(vessels, dtype=np.int64)[None, :], (steps, vessels))
    points = TrackPoints(
        track=track.ravel().copy(),
        seq=np.arange(n, dtype=np.int64),
        t=t.ravel(),
        lat=lat.ravel(),
        lon=lon.ravel(),
        sog=np.broadcast_to(sog[None, :], (steps, vessels)).ravel().copy(),
        cog=np.broadcast_to(cog[None, :], (steps, vessels)).ravel().copy(),
        mmsi=(419_000_000 + track.ravel()).astype(np.int64),
        label_no=np.ones(n, np.int32),
        source=np.zeros(n, np.uint8),
        flags=np.zeros(n, np.uint16),
    )
    return points.take(np.argsort(points.t, kind="stable"))


def main(vessels: int = 2000, hours: float = 3.0) -> None:
    points = synthetic(vessels, hours)
    land = LandMask.default()
    land.distance_to_shore_m(np.array([80.0]), np.array([10.0]))  # builds its shore index once
    detection = Detection(land=land)
    memory = Memory()
    chunk_s = 600.0
    spent = 0.0
    drafts = 0
    edge = T0
    while edge < points.t.max():
        here = points.take((points.t >= edge) & (points.t < edge + chunk_s))
        here = here.take(np.lexsort((here.t, here.track)))
        memory.add(here)
        chunk = FusedChunk(watermark=edge + chunk_s, points=here)
        started = time.process_time()
        drafts += len(detection.update(chunk, memory))
        spent += time.process_time() - started
        edge += chunk_s
    rate = len(points) / spent
    print(f"{len(points):,} points, {vessels:,} vessels, {hours} h: {spent:.2f} s CPU in update")
    print(f"{rate:,.0f} points/s; {drafts} drafts")
    for kind, seconds in sorted(detection.seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {kind:16} {seconds:6.2f} s")


if __name__ == "__main__":
    main(*(float(a) if "." in a else int(a) for a in sys.argv[1:]))  # type: ignore[arg-type]
