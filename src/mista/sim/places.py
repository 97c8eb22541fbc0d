"""Fixed places of the scenario: the region, sensor sites, zones and inland points.

Coordinates are those of the real places (harbours, headlands, islands), rounded to two
decimals; zones are drawn off the main sea lanes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "COASTAL_RECEIVERS",
    "INLAND_POINTS",
    "RADARS",
    "REGION",
    "ZONES",
    "Site",
    "ZoneSpec",
]

#: (west, south, east, north) of the simulated region: Arabian Sea to the Philippine Sea.
REGION = (45.0, -30.0, 150.0, 36.0)


@dataclass(frozen=True, slots=True)
class Site:
    nation: str
    place: str
    lat: float
    lon: float


#: Shore AIS receivers (one source each: ``<nation>-ais-<place>``).
COASTAL_RECEIVERS: tuple[Site, ...] = (
    Site("IND", "kandla", 23.00, 70.22),
    Site("IND", "mumbai", 18.94, 72.84),
    Site("IND", "goa", 15.41, 73.80),
    Site("IND", "mangalore", 12.92, 74.80),
    Site("IND", "kochi", 9.97, 76.24),
    Site("IND", "kavaratti", 10.56, 72.64),
    Site("IND", "tuticorin", 8.76, 78.19),
    Site("IND", "chennai", 13.10, 80.30),
    Site("IND", "visakhapatnam", 17.69, 83.30),
    Site("IND", "paradip", 20.26, 86.68),
    Site("IND", "haldia", 22.03, 88.06),
    Site("IND", "portblair", 11.67, 92.74),
    Site("IND", "campbellbay", 7.00, 93.93),
    Site("USA", "diegogarcia", -7.32, 72.42),
    Site("USA", "guam", 13.44, 144.65),
    Site("USA", "saipan", 15.21, 145.72),
    Site("JPN", "naha", 26.21, 127.68),
    Site("JPN", "ishigaki", 24.34, 124.16),
    Site("JPN", "miyako", 24.80, 125.28),
    Site("JPN", "kagoshima", 31.59, 130.56),
    Site("JPN", "chichijima", 27.09, 142.19),
    Site("AUS", "darwin", -12.46, 130.84),
    Site("AUS", "gove", -12.20, 136.70),
    Site("AUS", "weipa", -12.67, 141.87),
    Site("AUS", "thursdayisland", -10.58, 142.22),
    Site("AUS", "broome", -17.96, 122.24),
    Site("AUS", "porthedland", -20.31, 118.58),
    Site("AUS", "dampier", -20.66, 116.71),
    Site("AUS", "exmouth", -21.93, 114.13),
    Site("AUS", "christmasisland", -10.42, 105.68),
    Site("AUS", "cocos", -12.19, 96.83),
)

#: Coastal surveillance radars (``<nation>-radar-<place>``).
RADARS: tuple[Site, ...] = (
    Site("IND", "mumbai", 18.92, 72.82),
    Site("IND", "kochi", 9.96, 76.23),
    Site("IND", "chennai", 13.08, 80.30),
    Site("IND", "visakhapatnam", 17.68, 83.29),
    Site("IND", "portblair", 11.66, 92.75),
    Site("AUS", "darwin", -12.44, 130.82),
    Site("AUS", "porthedland", -20.30, 118.60),
    Site("AUS", "dampier", -20.64, 116.74),
    Site("JPN", "naha", 26.22, 127.66),
    Site("JPN", "ishigaki", 24.33, 124.15),
)


@dataclass(frozen=True, slots=True)
class ZoneSpec:
    id: str
    name: str
    marking: str
    ring: tuple[tuple[float, float], ...]  # (lon, lat), closed by the writer


def _box(w: float, s: float, e: float, n: float) -> tuple[tuple[float, float], ...]:
    return ((w, s), (e, s), (e, n), (w, n))


_QUAD = "IND,USA,JPN,AUS"
#: Labelled zones, off the main lanes (exercise, protected and restricted areas).
ZONES: tuple[ZoneSpec, ...] = (
    ZoneSpec(
        "ind-exa-west",
        "Arabian Sea exercise area W-14",
        f"RESTRICTED//REL TO {_QUAD}",
        _box(70.6, 14.1, 71.4, 14.8),
    ),
    ZoneSpec(
        "ind-mpa-mannar",
        "Gulf of Mannar marine national park",
        f"UNCLASSIFIED//REL TO {_QUAD}",
        ((78.20, 8.85), (78.75, 8.95), (79.20, 9.15), (79.15, 9.30), (78.60, 9.20)),
    ),
    ZoneSpec(
        "ind-ra-barren",
        "Barren Island restricted area",
        "CONFIDENTIAL//REL TO IND,USA",
        ((93.70, 12.12), (94.02, 12.12), (94.05, 12.30), (93.98, 12.44), (93.72, 12.42)),
    ),
    ZoneSpec(
        "ind-exa-bay",
        "Bay of Bengal exercise area E-7",
        f"RESTRICTED//REL TO {_QUAD}",
        _box(88.5, 16.5, 89.3, 17.2),
    ),
    ZoneSpec(
        "aus-mpa-rowley",
        "Rowley Shoals marine park",
        f"UNCLASSIFIED//REL TO {_QUAD}",
        _box(118.85, -17.65, 119.45, -17.00),
    ),
    ZoneSpec(
        "jpn-ra-okinotori",
        "Okinotorishima restricted area",
        "RESTRICTED//REL TO JPN,USA,AUS,IND",
        _box(135.80, 20.15, 136.40, 20.70),
    ),
)

#: Points well inland (for spoofed positions "on land").
INLAND_POINTS: tuple[tuple[float, float], ...] = (
    (21.15, 79.09),  # Nagpur
    (17.39, 78.49),  # Hyderabad
    (12.97, 77.59),  # Bengaluru
    (18.52, 73.86),  # Pune
    (-23.70, 133.88),  # Alice Springs
    (-20.73, 139.49),  # Mount Isa
    (21.96, 96.09),  # Mandalay
    (18.79, 98.98),  # Chiang Mai
    (16.43, 102.83),  # Khon Kaen
    (1.00, 114.00),  # central Borneo
    (7.29, 80.63),  # Kandy
    (26.85, 80.95),  # Lucknow
)
