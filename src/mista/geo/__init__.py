"""Geometry on the earth: distances, land and shore, ports, zones, and named seas.

Pure computation over shipped Natural Earth data (public domain, see ``data/README.md``);
the only file reads are the shipped data and GeoJSON files the caller names.
"""

from mista.geo.distance import (
    EARTH_RADIUS_M,
    KNOT_M_S,
    METRES_PER_DEGREE,
    bearing_deg,
    cpa_tcpa,
    destination,
    haversine_m,
)
from mista.geo.land import LandMask
from mista.geo.ports import Ports
from mista.geo.seas import Seas
from mista.geo.zones import Zone, Zones

__all__ = [
    "EARTH_RADIUS_M",
    "KNOT_M_S",
    "METRES_PER_DEGREE",
    "LandMask",
    "Ports",
    "Seas",
    "Zone",
    "Zones",
    "bearing_deg",
    "cpa_tcpa",
    "destination",
    "haversine_m",
]
