"""MMSI and IMO number checks (ITU-R M.585 MMSI formats; IMO check digit).

Ship stations have 9-digit MMSIs whose first three digits, the MID (Maritime
Identification Digits, ITU-R M.585 Annex 1), are 201-775. Other formats are not ships:
``00MIDxxxx`` coast stations, ``111MIDxxx`` SAR aircraft, ``970``-``974`` SART, MOB and
EPIRB devices, ``98MIDxxxx`` craft associated with a parent ship, ``99MIDxxxx`` aids to
navigation. Devices and associated craft send ship position messages legitimately.
"""

from __future__ import annotations

__all__ = ["is_valid_imo", "is_valid_ship_mmsi", "mid", "mmsi_kind"]

_MID_FIRST, _MID_LAST = 201, 775


def mid(mmsi: int) -> int | None:
    """The MID of a 9-digit ship MMSI (its first three digits), else ``None``."""
    if 100_000_000 <= mmsi <= 999_999_999:
        return mmsi // 1_000_000
    return None


def mmsi_kind(mmsi: int) -> str:
    """What an MMSI identifies: ship, coast-station, sar-aircraft, device, craft,
    aid-to-navigation, or invalid."""
    if not 0 < mmsi <= 999_999_999:
        return "invalid"
    text = f"{mmsi:09d}"
    mid_ok = _MID_FIRST <= int(text[:3]) <= _MID_LAST
    if text.startswith("00") and 200 <= int(text[2:5]) <= _MID_LAST:
        return "coast-station"
    if text.startswith("111") and _MID_FIRST <= int(text[3:6]) <= _MID_LAST:
        return "sar-aircraft"
    if "970" <= text[:3] <= "974":
        return "device"
    if text.startswith("98") and _MID_FIRST <= int(text[2:5]) <= _MID_LAST:
        return "craft"
    if text.startswith("99") and _MID_FIRST <= int(text[2:5]) <= _MID_LAST:
        return "aid-to-navigation"
    if text[0] != "0" and mid_ok:
        return "ship"
    return "invalid"


def is_valid_ship_mmsi(mmsi: int) -> bool:
    """True for an MMSI a vessel may send ship position and static reports under."""
    return mmsi_kind(mmsi) in ("ship", "device", "craft")


def is_valid_imo(imo: int) -> bool:
    """True for a 7-digit IMO number whose last digit is its check digit: the first six
    digits weighted 7, 6, 5, 4, 3, 2, summed, mod 10."""
    if not 1_000_000 <= imo <= 9_999_999:
        return False
    digits = [int(c) for c in str(imo)]
    check = sum(d * w for d, w in zip(digits[:6], range(7, 1, -1), strict=True)) % 10
    return check == digits[6]
