"""Injected behaviours: the plans and transmitter settings that make them happen.

Each injection picks vessels of a fitting type, gives them a plan (a timeline) or
changes what their transmitter sends, and records what was meant (:class:`Injected`).
The truth is computed afterwards from the true trajectories (``mista.sim.truth``); the
injected records only mark which truth records were made on purpose.

What each kind does (times in scenario seconds):

- ``ais-gap``: transmitter off 13-20 h while under way at sea, far from port.
- ``encounter``: two vessels meet at a point at sea 20 km or more from any port; the
  first arrives 10-30 min before the second, they drift together (0.3-0.8 kn, 100-300 m
  apart) for 2.5-4 h, then part and sail on.
- ``loitering``: one vessel drifts at 0.2-1 kn 25 nm or more from shore for 1.5-5 h.
- ``spoofing``: for 20-90 min the reports carry a false position: ``jump`` (displaced
  50-500 km), ``land`` (inland) or ``circle`` (a 1-5 km circle 50-300 km away).
- ``identity-change``: a new name in the static data, or a new MMSI (the old one stops,
  the new one starts 2-8 min later where the ship then is).
- ``shared-mmsi``: a second vessel, 100 km or more away all along, transmits the same
  MMSI for the whole scenario (paired in :func:`pair_shared_mmsi`, after motion).
- ``zone-entry``: a vessel detours through a zone.
- ``dark-vessel``: fishing vessels that never transmit, working within a coastal
  radar's range; a quarter as many again work out of sight of every sensor (not counted
  as injected: nothing could see them).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt
from shapely.geometry import Point, Polygon

from mista.geo import LandMask, destination, haversine_m
from mista.sim.fleet import FLAG_MIDS, Fleet, new_mmsi, new_name
from mista.sim.kinematics import Timeline, Trajectories
from mista.sim.places import INLAND_POINTS, RADARS, ZONES
from mista.sim.traffic import Planner

__all__ = [
    "BEHAVIOUR_KINDS",
    "Injected",
    "Spoof",
    "Transmitter",
    "align_gaps",
    "align_spoofs",
    "injection_counts",
    "pair_shared_mmsi",
    "plan_behaviours",
]

H = 3600.0
#: Injected behaviours per 2,000 vessels (each ≥ 25 in the standard scenario).
PER_2000 = 28
#: More of the kinds a node's sensors see least of (AIS gaps in open ocean with few others
#: heard; encounters and zone visits between satellite passes; identity changes without
#: static reports on both sides), so the standard scenario has 20 or more of each seen.
_MORE = {"ais-gap": 1.5, "encounter": 1.5, "zone-entry": 2.0, "identity-change": 2.0}
BEHAVIOUR_KINDS = (
    "ais-gap",
    "encounter",
    "loitering",
    "spoofing",
    "identity-change",
    "shared-mmsi",
    "zone-entry",
    "dark-vessel",
)
#: The shortest scenario (hours) each kind fits in.
_MIN_HOURS = {
    "ais-gap": 14.5,
    "encounter": 3.5,
    "loitering": 2.5,
    "spoofing": 1.0,
    "identity-change": 1.0,
    "shared-mmsi": 3.0,
    "zone-entry": 1.0,
    "dark-vessel": 0.5,
}


@dataclass(frozen=True, slots=True)
class Spoof:
    """A window of false positions (``mode``: jump | land | circle)."""

    start_s: float
    end_s: float
    mode: str
    lat: float  # circle: centre; land: inland point
    lon: float
    bearing_deg: float = 0.0  # jump: direction of the displacement
    distance_m: float = 0.0  # jump: displacement; circle: radius
    period_s: float = 0.0  # circle: one turn
    centre_m: float = 0.0  # circle: how far the centre is from the ship at the start


@dataclass(slots=True)
class Transmitter:
    """What one vessel's AIS unit sends: off spans, MMSI and name over time, spoofing."""

    mmsi: list[tuple[float, int]]  # (from_s, mmsi), first from -inf
    name: list[tuple[float, str]]
    off: list[tuple[float, float]] = field(default_factory=list)
    spoofs: list[Spoof] = field(default_factory=list)
    dark: bool = False


@dataclass(frozen=True, slots=True)
class Injected:
    kind: str
    vessels: tuple[int, ...]
    start_s: float
    end_s: float
    lat: float
    lon: float
    detail: dict[str, Any]


def injection_counts(vessels: int, hours: float) -> dict[str, int]:
    """How many of each behaviour a scenario gets (≥ 1 each from 100 vessels, when the
    scenario is long enough for it)."""
    floor = 1 if vessels >= 40 else 0
    return {
        kind: (
            max(floor, round(PER_2000 * _MORE.get(kind, 1.0) * vessels / 2000))
            if hours >= _MIN_HOURS[kind]
            else 0
        )
        for kind in BEHAVIOUR_KINDS
    }


class _Pools:
    """Unassigned vessels by kind, handed out in a seeded random order."""

    def __init__(self, rng: np.random.Generator, fleet: Fleet) -> None:
        order: list[int] = [int(v) for v in rng.permutation(len(fleet))]
        self.kind = fleet.kind
        self.free = order
        self.taken: set[int] = set()

    def take(self, kinds: tuple[str, ...]) -> int | None:
        for i, v in enumerate(self.free):
            if self.kind[v] in kinds:
                del self.free[i]
                self.taken.add(v)
                return v
        return None


def _moved(p: tuple[float, float], bearing: float, distance_m: float) -> tuple[float, float]:
    la, lo = destination(p[0], p[1], bearing, distance_m)
    return float(la), float(lo)


def _offshore_point(
    planner: Planner, rng: np.random.Generator, min_port_m: float, min_shore_m: float
) -> tuple[float, float] | None:
    lanes = planner.lanes
    for _ in range(60):
        a = planner.random_port(rng)
        b = lanes.destinations(rng, a, 800e3, 5000e3)
        path = None if b is None else lanes.route(a, b)
        if path is None or len(path[0]) < 3:
            continue
        k = int(rng.integers(1, len(path[0]) - 1))
        lat0, lon0 = float(path[0][k]), float(path[1][k])
        la, lo = destination(lat0, lon0, float(rng.uniform(0, 360)), float(rng.uniform(10e3, 60e3)))
        la, lo = float(la), float(lo)
        if bool(np.asarray(planner.land.on_land(np.array([lo]), np.array([la])))[0]):
            continue
        if float(np.min(haversine_m(lanes.lat, lanes.lon, la, lo))) < min_port_m:
            continue
        if min_shore_m > 0:
            shore = float(
                np.asarray(planner.land.distance_to_shore_m(np.array([lo]), np.array([la])))[0]
            )
            if shore < min_shore_m:
                continue
        return la, lo
    return None


def _point_in_zone(
    rng: np.random.Generator, ring: tuple[tuple[float, float], ...], land: LandMask
) -> tuple[float, float]:
    """A point at sea inside the zone, 0.05 degrees or more from its edge."""
    poly = Polygon(ring)
    w, s, e, n = poly.bounds
    centre = poly.representative_point()
    for _ in range(100):
        lon, lat = float(rng.uniform(w, e)), float(rng.uniform(s, n))
        # At least ~5 km inside, so a ship passing through is inside for many minutes.
        point = Point(lon, lat)
        near = poly.contains(point) and poly.exterior.distance(point) >= 0.05
        if near and not bool(np.asarray(land.on_land(np.array([lon]), np.array([lat])))[0]):
            return lat, lon
    return float(centre.y), float(centre.x)


def plan_behaviours(
    planner: Planner,
    fleet: Fleet,
    rng: np.random.Generator,
    counts: dict[str, int],
    taken_mmsis: set[int],
) -> tuple[dict[int, Timeline], list[Transmitter], list[Injected], dict[int, str], list[int]]:
    """Timelines of the vessels with a planned behaviour, every vessel's transmitter,
    the injected records, each role-holder's role, and the vessels kept to clone MMSIs."""
    dur = planner.duration_s
    pools = _Pools(rng, fleet)
    tx = [
        Transmitter(mmsi=[(-math.inf, int(fleet.mmsi[v]))], name=[(-math.inf, fleet.name[v])])
        for v in range(len(fleet))
    ]
    plans: dict[int, Timeline] = {}
    injected: list[Injected] = []
    roles: dict[int, str] = {}
    merchant = ("cargo", "tanker")

    def through(v: int) -> Timeline | None:
        got = planner.through_sea(rng, float(fleet.speed_kn[v]), dur + H)
        return None if got is None else got[0]

    for _ in range(counts["ais-gap"]):
        v = pools.take(merchant)
        tl = None if v is None else through(v)
        if v is None or tl is None:
            continue
        length = float(rng.uniform(13.0, 20.0)) * H
        length = min(length, dur - 1.0 * H)
        start = float(rng.uniform(0.5 * H, max(dur - length - 0.5 * H, 0.5 * H + 1)))
        tx[v].off.append((start, start + length))
        plans[v], roles[v] = tl, "ais-gap"
        injected.append(
            Injected("ais-gap", (v,), start, start + length, tl.lat[-1], tl.lon[-1], {})
        )

    for _ in range(counts["encounter"]):
        a = pools.take(("tanker", "cargo", "fishing"))
        b = pools.take(("tanker", "cargo", "fishing"))
        if a is None or b is None:
            continue
        meet = _offshore_point(planner, rng, 20e3, 0.0)
        if meet is None:
            continue
        length = float(rng.uniform(2.5, 4.0)) * H
        t0 = float(rng.uniform(0.5 * H, max(dur - length - 0.5 * H, 0.5 * H + 1)))
        lead = float(rng.uniform(10.0, 30.0)) * 60.0
        drift_kn = float(rng.uniform(0.3, 0.8))
        course = float(rng.uniform(0.0, 360.0))
        mps = drift_kn * 1852.0 / 3600.0
        t1 = t0 + length
        late = float(rng.uniform(5.0, 15.0)) * 60.0

        gap_m = float(rng.uniform(100.0, 300.0))
        side = float(rng.uniform(0.0, 360.0))
        # Both drift with the same velocity from the first arrival (t0 - lead) on; the
        # second lies gap_m off the first on bearing ``side``.
        a_at_t0 = _moved(meet, course, mps * lead)
        a_at_t1 = _moved(meet, course, mps * (t1 - t0 + lead))
        b_from = _moved(a_at_t0, side, gap_m)
        b_to = _moved(_moved(meet, course, mps * (t1 + late - t0 + lead)), side, gap_m)
        tla = planner.via(rng, meet, t0 - lead, float(fleet.speed_kn[a]), t1 - (t0 - lead), a_at_t1)
        tlb = planner.via(
            rng,
            b_from,
            t0,
            float(fleet.speed_kn[b]),
            t1 + late - t0,
            b_to,
        )
        if tla is None or tlb is None:
            continue
        plans[a], plans[b] = tla, tlb
        roles[a] = roles[b] = "encounter"
        injected.append(
            Injected(
                "encounter", (a, b), t0, t1, meet[0], meet[1], {"drift_kn": round(drift_kn, 2)}
            )
        )

    for _ in range(counts["loitering"]):
        v = pools.take(("tanker", "cargo", "fishing"))
        if v is None:
            continue
        spot = _offshore_point(planner, rng, 20e3, 46_300.0)
        if spot is None:
            continue
        length = float(rng.uniform(1.5, 5.0)) * H
        length = min(length, dur - 1.0 * H)
        t0 = float(rng.uniform(0.5 * H, max(dur - length - 0.5 * H, 0.5 * H + 1)))
        drift_kn = float(rng.uniform(0.2, 1.0))
        la, lo = destination(
            spot[0], spot[1], float(rng.uniform(0, 360)), drift_kn * 1852.0 * length / 3600.0
        )
        tl = planner.via(rng, spot, t0, float(fleet.speed_kn[v]), length, (float(la), float(lo)))
        if tl is None:
            continue
        plans[v], roles[v] = tl, "loitering"
        injected.append(Injected("loitering", (v,), t0, t0 + length, spot[0], spot[1], {}))

    modes = ("jump", "land", "circle")
    for i in range(counts["spoofing"]):
        v = pools.take(merchant)
        tl = None if v is None else through(v)
        if v is None or tl is None:
            continue
        length = float(rng.uniform(20.0, 90.0)) * 60.0
        length = min(length, dur - 0.5 * H)
        start = float(rng.uniform(0.25 * H, max(dur - length - 0.25 * H, 0.25 * H + 1)))
        mode = modes[i % 3]
        if mode == "jump":
            spoof = Spoof(start, start + length, mode, 0.0, 0.0,
                          float(rng.uniform(0, 360)), float(rng.uniform(50e3, 500e3)))  # fmt: skip
        elif mode == "land":
            lat, lon = INLAND_POINTS[int(rng.integers(len(INLAND_POINTS)))]
            spoof = Spoof(start, start + length, mode, lat, lon)
        else:
            # The centre is placed from the ship's position once motion is known.
            spoof = Spoof(start, start + length, mode, math.nan, math.nan,
                          float(rng.uniform(0, 360)), float(rng.uniform(1e3, 5e3)),
                          float(rng.uniform(10.0, 30.0)) * 60.0,
                          float(rng.uniform(50e3, 300e3)))  # fmt: skip
        tx[v].spoofs.append(spoof)
        plans[v], roles[v] = tl, "spoofing"
        injected.append(
            Injected(
                "spoofing",
                (v,),
                start,
                start + length,
                0.0,
                0.0,
                {"reason": {"jump": "speed"}.get(mode, mode), "mode": mode},
            )
        )

    for i in range(counts["identity-change"]):
        v = pools.take(("cargo", "tanker", "fishing"))
        tl = None if v is None else through(v)
        if v is None or tl is None:
            continue
        at = float(rng.uniform(0.5 * H, dur - 0.5 * H))
        if i % 2 == 0:
            name = new_name(rng)
            tx[v].name.append((at, name))
            detail: dict[str, Any] = {"field": "name", "old": fleet.name[v], "new": name}
        else:
            flag = list(FLAG_MIDS)[int(rng.integers(len(FLAG_MIDS)))]
            mmsi = new_mmsi(rng, flag, taken_mmsis)
            pause = float(rng.uniform(2.0, 8.0)) * 60.0
            tx[v].off.append((at, at + pause))
            tx[v].mmsi.append((at + pause, mmsi))
            detail = {"field": "mmsi", "old": int(fleet.mmsi[v]), "new": mmsi}
        plans[v], roles[v] = tl, "identity-change"
        injected.append(Injected("identity-change", (v,), at, at, 0.0, 0.0, detail))

    for i in range(counts["zone-entry"]):
        v = pools.take(("cargo", "tanker", "fishing", "passenger"))
        if v is None:
            continue
        zone = ZONES[i % len(ZONES)]
        spot = _point_in_zone(rng, zone.ring, planner.land)
        t = float(rng.uniform(0.5 * H, dur - 0.5 * H))
        tl = planner.via(rng, spot, t, float(fleet.speed_kn[v]))
        if tl is None:
            continue
        plans[v], roles[v] = tl, "zone-entry"
        injected.append(Injected("zone-entry", (v,), t, t, spot[0], spot[1], {"zone": zone.id}))

    # Dark vessels: the injected ones work inside a radar's range (a radar track no AIS
    # explains); one more in four works out of any sensor's sight (never observable).
    n_dark = counts["dark-vessel"]
    for i in range(n_dark + (n_dark + 3) // 4):
        v = pools.take(("fishing",))
        if v is None:
            continue
        tl = None
        near_radar = i < n_dark
        for k in range(len(RADARS) if near_radar else 0):
            radar = RADARS[(i + k) % len(RADARS)]
            ground = planner.sea_point_near(rng, radar.lat, radar.lon, 10e3, 25e3, tries=10)
            if ground is not None:
                d = np.asarray(
                    haversine_m(planner.lanes.lat, planner.lanes.lon, radar.lat, radar.lon)
                )
                tl = planner.fisher(
                    rng, float(fleet.speed_kn[v]), port=int(np.argmin(d)), ground=ground
                )
                break
        if tl is None:
            near_radar = False
            tl = planner.fisher(rng, float(fleet.speed_kn[v]))
        tx[v].dark = True
        tx[v].off.append((-math.inf, math.inf))
        plans[v], roles[v] = tl, "dark-vessel"
        if near_radar:
            injected.append(Injected("dark-vessel", (v,), 0.0, dur, tl.lat[0], tl.lon[0], {}))

    clones: list[int] = []
    for _ in range(counts["shared-mmsi"]):
        v = pools.take(("cargo", "tanker", "fishing", "passenger"))
        if v is not None:
            clones.append(v)
            roles[v] = "shared-mmsi"
    return plans, tx, injected, roles, clones


def pair_shared_mmsi(
    traj: Trajectories,
    minute_lat: npt.NDArray[np.float64],
    minute_lon: npt.NDArray[np.float64],
    fleet: Fleet,
    tx: list[Transmitter],
    clones: list[int],
    roles: dict[int, str],
    rng: np.random.Generator,
    duration_s: float,
) -> list[Injected]:
    """Give each clone the MMSI of a class A vessel 100 km or more from it all along."""
    out: list[Injected] = []
    candidates = [
        v
        for v in rng.permutation(len(fleet)).tolist()
        if v not in roles and fleet.ais_class[v] == "A"
    ]
    used: set[int] = set()
    for c in clones:
        for v in candidates[:400]:
            if v in used:
                continue
            d = np.asarray(haversine_m(minute_lat[c], minute_lon[c], minute_lat[v], minute_lon[v]))
            if float(d.min()) >= 120e3:
                used.add(v)
                mmsi = int(fleet.mmsi[v])
                tx[c].mmsi = [(-math.inf, mmsi)]
                out.append(
                    Injected(
                        "shared-mmsi",
                        (v, c),
                        0.0,
                        duration_s,
                        float(minute_lat[c][0]),
                        float(minute_lon[c][0]),
                        {"mmsi": mmsi, "min_distance_m": round(float(d.min()))},
                    )
                )
                break
        else:
            continue
    return out


def align_spoofs(
    tx: list[Transmitter],
    injected: list[Injected],
    covered: Callable[[int, float, float], float],
    rng: np.random.Generator,
    duration_s: float,
) -> list[Injected]:
    """Move each spoofing window to a time some sensor hears the ship (a satellite pass
    or a shore receiver), so the false positions reach the picture; ``covered(vessel,
    start_s, end_s)`` gives the covered fraction of a window."""
    out: list[Injected] = []
    for item in injected:
        if item.kind != "spoofing":
            out.append(item)
            continue
        v = item.vessels[0]
        spoof = tx[v].spoofs[0]
        length = spoof.end_s - spoof.start_s
        best = (covered(v, spoof.start_s, spoof.end_s), spoof.start_s)
        for start in rng.uniform(0.0, max(duration_s - length, 1.0), 40).tolist():
            if best[0] >= 0.5:
                break
            best = max(best, (covered(v, start, start + length), start))
        start = best[1]
        tx[v].spoofs[0] = replace(spoof, start_s=start, end_s=start + length)
        out.append(replace(item, start_s=start, end_s=start + length))
    return out


#: A gap is placed where a node could see it: some sensor hears the ship for this many
#: minutes in the 3 hours before it and in the 3 hours after it (of what is left of the
#: scenario, when less); during it, for this many minutes, some sensor would hear the
#: ship and others are heard near it (reception was expected there, as GFW's and
#: Skylight's gap definitions ask); and the ship is this far from any port when it falls
#: silent and when it is heard again (GFW leaves out silences next to a port, where a
#: ship may lie switched off or report every 3 minutes).
_GAP_ENDS_S = 3 * H
_GAP_ENDS_MIN = 5.0
_GAP_EXPOSURE_MIN = 15
_GAP_PORT_M = 25 * 1852.0


def _heard_min(seen: _Seen, v: int, a: float, b: float) -> float:
    """Minutes from ``a`` to ``b`` some sensor would hear ``v`` (within the scenario)."""
    a, b = max(a, 0.0), min(b, seen.duration_s)
    return seen.covered_fraction(v, a, b) * (b - a) / 60.0 if b > a else 0.0


class _Seen(Protocol):
    duration_s: float

    def covered_fraction(self, v: int, a: float, b: float) -> float: ...
    def port_m(self, v: int, t: float) -> float: ...
    def exposure_min(self, v: int, a: float, b: float) -> int: ...


def align_gaps(
    tx: list[Transmitter],
    injected: list[Injected],
    seen: _Seen,
    rng: np.random.Generator,
    duration_s: float,
) -> list[Injected]:
    """Move each AIS gap (13-20 h long) to a time a node could see it: some sensor
    hears the ship just before it and just after it, would have heard it during it while
    hearing others near it, and it is away from ports (``seen``:
    :class:`mista.sim.observable.Observability`). A silence no node could tell from a
    hole in coverage is no gap any node can see. A gap with no such window among the
    ones tried keeps the best of them."""
    out: list[Injected] = []
    for item in injected:
        if item.kind != "ais-gap":
            out.append(item)
            continue
        v = item.vessels[0]
        k = tx[v].off.index((item.start_s, item.end_s))

        def merit(start: float, length: float, v: int = v) -> tuple[int, float]:
            end = min(start + length, duration_s)
            before = _heard_min(seen, v, start - _GAP_ENDS_S, start)
            after = (
                _heard_min(seen, v, end, end + _GAP_ENDS_S)
                if end < duration_s - 60.0
                else _GAP_ENDS_MIN
            )
            during = seen.exposure_min(v, start, end)
            away = min(seen.port_m(v, start), seen.port_m(v, end)) >= _GAP_PORT_M
            ends = min(before, after) >= _GAP_ENDS_MIN
            ok = away and ends and during >= _GAP_EXPOSURE_MIN
            return int(ok), (
                float(away)
                + min(min(before, after) / _GAP_ENDS_MIN, 1.0)
                + min(during / _GAP_EXPOSURE_MIN, 1.0)
            )

        length = item.end_s - item.start_s
        best = (merit(item.start_s, length), item.start_s, length)
        for _ in range(150):
            if best[0][0]:
                break
            cand = min(float(rng.uniform(13.0, 20.0)) * H, duration_s - 1.0 * H)
            start = float(rng.uniform(0.5 * H, max(duration_s - cand - 0.5 * H, 0.5 * H + 1)))
            best = max(best, (merit(start, cand), start, cand))
        _, start, length = best
        tx[v].off[k] = (start, start + length)
        out.append(replace(item, start_s=start, end_s=start + length))
    return out
