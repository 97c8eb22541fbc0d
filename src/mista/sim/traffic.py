"""Background traffic: plans of ordinary vessels by type, built as timelines.

Merchant ships sail port to port on sea lanes with port calls of 2-12 h; fishing vessels
steam to a ground and trawl at 3-5 kn; ferries shuttle between two ports; tugs work
around their harbour; pleasure craft make day trips and cruise slowly (2.5-4 kn).
Nothing in the background stops at sea: stops far from port are what behaviours inject.
Plans start before the scenario (vessels are already at sea or in port at its start) and
run past its end.
"""

from __future__ import annotations

import numpy as np

from mista.geo import LandMask, destination, haversine_m
from mista.sim.kinematics import (
    STATUS_FISHING,
    STATUS_MOORED,
    STATUS_UNDER_WAY,
    Timeline,
)
from mista.sim.routes import Lanes, Path, offset_path, path_length_m

__all__ = ["Planner"]

H = 3600.0
KN = 1852.0 / 3600.0
#: How far a call's berth or anchorage spot may lie from the port's first sea point, and
#: from the port itself (inside the 3 km a port visit starts at).
HARBOUR_SPREAD_M = 1_500.0
HARBOUR_RADIUS_M = 2_200.0
#: Speed in harbour (knots) at most, between a berth and the lane.
HARBOUR_KN = 6.0


class Planner:
    """Builds timelines on the region's lanes for a scenario of ``duration_s``."""

    def __init__(self, lanes: Lanes, land: LandMask, duration_s: float) -> None:
        self.lanes = lanes
        self.land = land
        self.duration_s = duration_s
        self._knots: dict[int, tuple[float, float]] = {}

    # --- places ------------------------------------------------------------------------

    def berth(self, rng: np.random.Generator, port: int) -> tuple[float, float]:
        """A mooring place for one call at ``port``: a point at sea in the harbour area,
        up to ``HARBOUR_SPREAD_M`` from the port's first sea point, in a straight line from
        it and within ``HARBOUR_RADIUS_M`` of the port.

        Berths along quays and anchorage spots spread ships over kilometres; ships of one
        port share no single point (a radar resolves two ships a ship's length apart)."""
        lat0, lon0 = float(self.lanes.lat[port]), float(self.lanes.lon[port])
        knot = self._harbour_knot(port)
        # Two draws from the plan's generator per call, whatever the retries take, so the
        # rest of a scenario does not depend on how many spots were ashore.
        bearing, share = float(rng.uniform(0.0, 360.0)), float(rng.uniform(0.0, 1.0))
        retry = np.random.default_rng([port, int(bearing * 1e9), int(share * 1e15)])
        for _ in range(12):
            # sqrt: spots spread evenly over the area, not crowded at its centre.
            la, lo = destination(*knot, bearing, HARBOUR_SPREAD_M * float(np.sqrt(share)))
            spot = float(la), float(lo)
            if (
                float(haversine_m(lat0, lon0, *spot)) <= HARBOUR_RADIUS_M
                and self.lanes.is_clear(*knot, *spot)
                and not bool(np.asarray(self.land.on_land(np.array([lo]), np.array([la])))[0])
            ):
                return spot
            bearing, share = float(retry.uniform(0.0, 360.0)), float(retry.uniform(0.0, 1.0))
        la, lo = destination(*knot, bearing, 30.0 + 220.0 * share)
        return float(la), float(lo)

    def _harbour_knot(self, port: int) -> tuple[float, float]:
        """The port's first point at sea (400, 900 or 1,500 m out), found once."""
        if port not in self._knots:
            lat0, lon0 = float(self.lanes.lat[port]), float(self.lanes.lon[port])
            bearings = np.arange(0.0, 360.0, 30.0)
            found = (lat0, lon0)
            for dist in (400.0, 900.0, 1500.0):
                la, lo = destination(lat0, lon0, bearings, dist)
                wet = ~np.asarray(self.land.on_land(np.asarray(lo), np.asarray(la)), np.bool_)
                if wet.any():
                    k = int(np.argmax(wet))
                    found = (float(np.asarray(la)[k]), float(np.asarray(lo)[k]))
                    break
            self._knots[port] = found
        return self._knots[port]

    def sea_point_near(
        self,
        rng: np.random.Generator,
        lat: float,
        lon: float,
        min_m: float,
        max_m: float,
        *,
        tries: int = 30,
    ) -> tuple[float, float] | None:
        """A point at sea min_m..max_m from (lat, lon) reachable in a straight line."""
        for _ in range(tries):
            la, lo = destination(
                lat, lon, float(rng.uniform(0, 360)), float(rng.uniform(min_m, max_m))
            )
            la, lo = float(la), float(lo)
            if self.lanes.is_clear(lat, lon, la, lo):
                on = np.asarray(self.land.on_land(np.array([lo]), np.array([la])))
                if not bool(on[0]):
                    return la, lo
        return None

    def random_port(self, rng: np.random.Generator, *, hub: bool = False) -> int:
        if hub:
            return int(self.lanes.hubs[int(rng.integers(len(self.lanes.hubs)))])
        return int(rng.integers(len(self.lanes)))

    def lane(self, rng: np.random.Generator, a: int, b: int, offset_m: float) -> Path | None:
        path = self.lanes.route(a, b)
        if path is None:
            return None
        return offset_path(path, offset_m)

    # --- plans -------------------------------------------------------------------------

    def merchant(self, rng: np.random.Generator, speed_kn: float) -> Timeline:
        """Port-to-port voyages of 600-6,000 km with calls of 2-12 h."""
        offset = float(rng.uniform(500.0, 3000.0))
        for _ in range(20):
            a = self.random_port(rng, hub=True)
            b = self.lanes.destinations(rng, a, 600e3, 6000e3, hubs_only=True)
            if b is None:
                continue
            path = self.lane(rng, a, b, offset)
            if path is None:
                continue
            voyage_s = path_length_m(path) / (speed_kn * KN)
            depart = float(rng.uniform(-voyage_s, self.duration_s))
            tl = Timeline(min(depart, 0.0) - H, *self.berth(rng, a))
            tl.until(depart, STATUS_MOORED)
            self._sail(rng, tl, path, a, b, speed_kn)
            self._continue_calls(rng, tl, b, speed_kn, offset, 600e3, 6000e3)
            return tl
        return self.idle(rng)

    def _sail(
        self,
        rng: np.random.Generator,
        tl: Timeline,
        path: Path,
        origin: int,
        dest: int,
        speed_kn: float,
    ) -> None:
        """From a berth at ``origin`` along ``path`` to a berth at ``dest``. Out and in
        through the harbour's first sea point: a straight line between a berth and the
        port itself could cut across a mole or a spit."""
        self._leave_harbour(tl, origin, speed_kn)
        tl.go(path[0], path[1], speed_kn)
        self._moor(rng, tl, dest, speed_kn)

    def _leave_harbour(self, tl: Timeline, port: int, speed_kn: float) -> None:
        """From the berth to the harbour's first sea point, at harbour speed."""
        out = self._harbour_knot(port)
        tl.go(np.array([out[0]]), np.array([out[1]]), min(speed_kn, HARBOUR_KN))

    def _moor(self, rng: np.random.Generator, tl: Timeline, port: int, speed_kn: float) -> None:
        """Through the harbour's first sea point to a berth of this call, at harbour speed."""
        knot = self._harbour_knot(port)
        lat, lon = self.berth(rng, port)
        tl.go(np.array([knot[0], lat]), np.array([knot[1], lon]), min(speed_kn, HARBOUR_KN))

    def _continue_calls(
        self,
        rng: np.random.Generator,
        tl: Timeline,
        port: int,
        speed_kn: float,
        offset_m: float,
        min_m: float,
        max_m: float,
    ) -> None:
        end = self.duration_s + 2 * H
        while tl.now < end:
            tl.stay(float(rng.uniform(2.0, 12.0)) * H, STATUS_MOORED)
            if tl.now >= end:
                break
            nxt = self.lanes.destinations(rng, port, min_m, max_m, hubs_only=True)
            path = None if nxt is None else self.lane(rng, port, nxt, offset_m)
            if nxt is None or path is None:
                tl.until(end, STATUS_MOORED)
                break
            self._sail(rng, tl, path, port, nxt, speed_kn)
            port = nxt
        tl.until(end + H, STATUS_MOORED)

    def ferry(self, rng: np.random.Generator, speed_kn: float) -> Timeline:
        """A shuttle between two ports 80-600 km apart, 2-4 h alongside at each end."""
        offset = float(rng.uniform(500.0, 1500.0))
        for _ in range(20):
            a = self.random_port(rng)
            b = self.lanes.destinations(rng, a, 80e3, 600e3)
            if b is None:
                continue
            there = self.lane(rng, a, b, offset)
            back = self.lane(rng, b, a, offset)
            if there is None or back is None:
                continue
            cycle = 2 * path_length_m(there) / (speed_kn * KN) + 6 * H
            tl = Timeline(-float(rng.uniform(0.0, cycle)) - H, *self.berth(rng, a))
            tl.stay(float(rng.uniform(2.0, 4.0)) * H, STATUS_MOORED)
            while tl.now < self.duration_s + 2 * H:
                self._sail(rng, tl, there, a, b, speed_kn)
                tl.stay(float(rng.uniform(2.0, 4.0)) * H, STATUS_MOORED)
                self._sail(rng, tl, back, b, a, speed_kn)
                tl.stay(float(rng.uniform(2.0, 4.0)) * H, STATUS_MOORED)
            return tl
        return self.merchant(rng, speed_kn)

    def fishing_ground(self, rng: np.random.Generator, port: int) -> tuple[float, float] | None:
        return self.sea_point_near(
            rng, float(self.lanes.lat[port]), float(self.lanes.lon[port]), 25e3, 100e3
        )

    def fisher(
        self,
        rng: np.random.Generator,
        speed_kn: float,
        *,
        port: int | None = None,
        ground: tuple[float, float] | None = None,
    ) -> Timeline:
        """Trips from a home port to a ground, trawling there 6-14 h at 3-5 kn."""
        for _ in range(10):
            home = self.random_port(rng) if port is None else port
            spot = ground or self.fishing_ground(rng, home)
            if spot is None:
                continue
            berth = self.berth(rng, home)
            if not self.lanes.is_clear(*berth, *spot):
                spot = ground if ground is not None else None
                if spot is None:
                    continue
            trip = 2 * float(haversine_m(*berth, *spot)) / (speed_kn * KN) + 18 * H
            tl = Timeline(-float(rng.uniform(0.0, trip)) - H, *berth)
            while tl.now < self.duration_s + 2 * H:
                tl.go(np.array([spot[0]]), np.array([spot[1]]), speed_kn)
                self.trawl(rng, tl, spot, float(rng.uniform(6.0, 14.0)) * H)
                tl.go(np.array([berth[0]]), np.array([berth[1]]), speed_kn)
                tl.stay(float(rng.uniform(4.0, 12.0)) * H, STATUS_MOORED)
            return tl
        return self.merchant(rng, 12.0)

    def trawl(
        self,
        rng: np.random.Generator,
        tl: Timeline,
        centre: tuple[float, float],
        duration_s: float,
        radius_m: float = 8000.0,
    ) -> None:
        """Legs of 30-90 min at 3-5 kn around ``centre`` (never far from it, never ashore)."""
        end = tl.now + duration_s
        while tl.now < end:
            lat, lon = tl.here
            speed = float(rng.uniform(3.0, 5.0))
            leg_s = min(float(rng.uniform(30.0, 90.0)) * 60.0, max(end - tl.now, 60.0))
            dist = speed * KN * leg_s
            if float(haversine_m(lat, lon, *centre)) > radius_m * 0.6:
                to = centre
                bearing = None
            else:
                bearing = float(rng.uniform(0.0, 360.0))
                la, lo = destination(lat, lon, bearing, dist)
                to = (float(la), float(lo))
                if not self.lanes.is_clear(lat, lon, *to, steps=4):
                    to = centre
            tl.go(np.array([to[0]]), np.array([to[1]]), speed, STATUS_FISHING)
            if tl.now < end and to == (lat, lon):
                break

    def tug(self, rng: np.random.Generator) -> Timeline:
        """Harbour jobs within ~2.5 km of the berth, 1-4 h alongside between them."""
        home = self.random_port(rng)
        berth = self.berth(rng, home)
        tl = Timeline(-float(rng.uniform(0.0, 4.0)) * H - H, *berth)
        while tl.now < self.duration_s + 2 * H:
            tl.stay(float(rng.uniform(1.0, 4.0)) * H, STATUS_MOORED)
            job = self.sea_point_near(rng, *berth, 800.0, 2500.0, tries=5) or berth
            speed = float(rng.uniform(4.0, 8.0))
            tl.go(np.array([job[0]]), np.array([job[1]]), speed)
            tl.stay(float(rng.uniform(10.0, 40.0)) * 60.0, STATUS_UNDER_WAY)
            tl.go(np.array([berth[0]]), np.array([berth[1]]), speed)
        return tl

    def pleasure(self, rng: np.random.Generator, speed_kn: float) -> Timeline:
        """Day trips 8-30 km out, cruising slowly there, 2-12 h in the marina between."""
        for _ in range(10):
            home = self.random_port(rng)
            berth = self.berth(rng, home)
            spot = self.sea_point_near(rng, *berth, 8e3, 30e3, tries=10)
            if spot is None:
                continue
            tl = Timeline(-float(rng.uniform(0.0, 12.0)) * H - H, *berth)
            while tl.now < self.duration_s + 2 * H:
                tl.stay(float(rng.uniform(2.0, 12.0)) * H, STATUS_MOORED)
                tl.go(np.array([spot[0]]), np.array([spot[1]]), speed_kn)
                cruise_end = tl.now + float(rng.uniform(0.5, 2.0)) * H
                while tl.now < cruise_end:
                    nxt = self.sea_point_near(rng, *spot, 1000.0, 3000.0, tries=3) or spot
                    tl.go(np.array([nxt[0]]), np.array([nxt[1]]), float(rng.uniform(2.5, 4.0)))
                    if nxt == spot:
                        tl.stay(cruise_end - tl.now, STATUS_UNDER_WAY)
                tl.go(np.array([berth[0]]), np.array([berth[1]]), speed_kn)
            return tl
        return self.tug(rng)

    def idle(self, rng: np.random.Generator) -> Timeline:
        port = self.random_port(rng)
        tl = Timeline(-H, *self.berth(rng, port))
        tl.until(self.duration_s + 3 * H, STATUS_MOORED)
        return tl

    def background(self, rng: np.random.Generator, kind: str, speed_kn: float) -> Timeline:
        if kind in ("cargo", "tanker"):
            return self.merchant(rng, speed_kn)
        if kind == "fishing":
            return self.fisher(rng, speed_kn)
        if kind == "passenger":
            return self.ferry(rng, speed_kn)
        if kind == "tug":
            return self.tug(rng)
        return self.pleasure(rng, speed_kn)

    # --- building blocks for injected behaviours ---------------------------------------

    def through_sea(
        self,
        rng: np.random.Generator,
        speed_kn: float,
        at_sea_s: float,
    ) -> tuple[Timeline, float] | None:
        """A long voyage on which the vessel is under way from 0 for ``at_sea_s`` seconds
        (clear of port); returns the timeline and its departure time."""
        offset = float(rng.uniform(500.0, 3000.0))
        for _ in range(30):
            a = self.random_port(rng, hub=True)
            b = self.lanes.destinations(rng, a, 1500e3, 7000e3, hubs_only=True)
            if b is None:
                continue
            path = self.lane(rng, a, b, offset)
            if path is None:
                continue
            voyage_s = path_length_m(path) / (speed_kn * KN)
            slack = voyage_s - at_sea_s - 3 * H
            if slack <= 0:
                continue
            depart = -1.5 * H - float(rng.uniform(0.0, slack))
            tl = Timeline(depart - H, *self.berth(rng, a))
            tl.until(depart, STATUS_MOORED)
            self._sail(rng, tl, path, a, b, speed_kn)
            self._continue_calls(rng, tl, b, speed_kn, offset, 600e3, 6000e3)
            return tl, depart
        return None

    def via(
        self,
        rng: np.random.Generator,
        point: tuple[float, float],
        arrive_s: float,
        speed_kn: float,
        hold_s: float = 0.0,
        drift_to: tuple[float, float] | None = None,
    ) -> Timeline | None:
        """From a port to ``point`` on the lanes, arriving at ``arrive_s``; hold there
        ``hold_s`` (drifting to ``drift_to``), then on to another port."""
        d = np.asarray(haversine_m(self.lanes.lat, self.lanes.lon, point[0], point[1]))
        near = np.flatnonzero((d > 100e3) & (d < 1500e3))
        if len(near) < 2:
            return None
        # A few pairs of ports: a lane to or from the point may be refused (over land).
        for _ in range(8):
            a, b = rng.choice(near, 2, replace=False).tolist()
            to = self.lanes.route_points(float(self.lanes.lat[a]), float(self.lanes.lon[a]), *point)
            away = self.lanes.route_points(
                *point, float(self.lanes.lat[b]), float(self.lanes.lon[b])
            )
            if to is not None and away is not None:
                break
        else:
            return None
        offset = float(rng.uniform(500.0, 3000.0))
        to = offset_path(to, offset)
        away = offset_path(away, offset)
        start = self.berth(rng, a)
        out = self._harbour_knot(a)
        # Leave early enough for the way out of the harbour too.
        lead_s = float(haversine_m(*start, *out)) / (min(speed_kn, HARBOUR_KN) * KN) + (
            float(haversine_m(*out, float(to[0][0]), float(to[1][0]))) + path_length_m(to)
        ) / (speed_kn * KN)
        depart = arrive_s - lead_s
        tl = Timeline(min(depart, 0.0) - H, *start)
        tl.until(depart, STATUS_MOORED)
        self._leave_harbour(tl, a, speed_kn)
        tl.go(to[0], to[1], speed_kn)
        if hold_s > 0:
            tl.stay(hold_s, STATUS_UNDER_WAY, to=drift_to)
        tl.go(away[0][1:], away[1][1:], speed_kn)
        self._moor(rng, tl, b, speed_kn)
        self._continue_calls(rng, tl, b, speed_kn, offset, 600e3, 6000e3)
        return tl
