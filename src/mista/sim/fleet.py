"""The simulated fleet: who each vessel is (type, flag, MMSI, IMO, name, call sign, size).

MMSIs are ``MID`` + six digits (ITU-R M.585: the first three digits are the flag's
Maritime Identification Digits); IMO numbers are seven digits whose last is the check
digit (IMO resolution A.1117(30)). Class B units (pleasure craft) have no IMO number.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "FLAG_MIDS",
    "TYPE_PROFILES",
    "Fleet",
    "TypeProfile",
    "imo_check_digit",
    "is_valid_imo",
    "make_fleet",
]

#: Maritime Identification Digits (ITU MID table) of the flags the fleet flies.
FLAG_MIDS: dict[str, tuple[int, ...]] = {
    "IND": (419,),
    "USA": (366, 367, 368, 369, 338),
    "JPN": (431, 432),
    "AUS": (503,),
    "SGP": (563, 564, 565, 566),
    "CHN": (412, 413, 414),
    "PAN": (351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373),
    "LBR": (636,),
    "MHL": (538,),
    "MYS": (533,),
    "IDN": (525,),
    "LKA": (417,),
    "PHL": (548,),
    "VNM": (574,),
    "THA": (567,),
}

#: Call-sign prefixes by flag (ITU allocation of international call sign series).
_CALLSIGN_PREFIX: dict[str, tuple[str, ...]] = {
    "IND": ("AT", "VT", "VU"),
    "USA": ("K", "W"),
    "JPN": ("JA", "JD", "JL"),
    "AUS": ("VH", "VJ"),
    "SGP": ("9V", "S6"),
    "CHN": ("BO", "BP"),
    "PAN": ("3E", "H3", "HO"),
    "LBR": ("A8", "D5"),
    "MHL": ("V7",),
    "MYS": ("9M", "9W"),
    "IDN": ("PK", "YB"),
    "LKA": ("4R",),
    "PHL": ("DU", "4D"),
    "VNM": ("XV", "3W"),
    "THA": ("HS",),
}


@dataclass(frozen=True, slots=True)
class TypeProfile:
    """One kind of vessel: AIS ship type codes, class, flags, speeds and size."""

    kind: str
    ship_types: tuple[int, ...]
    ais_class: str
    share: float
    speed_kn: tuple[float, float]
    length_m: tuple[float, float]
    flags: tuple[str, ...]


#: The traffic mix. Speeds are service speeds (cargo 12-18 kn, tanker 10-15 ...).
TYPE_PROFILES: tuple[TypeProfile, ...] = (
    TypeProfile(
        "cargo",
        (70, 71, 72, 74, 79),
        "A",
        0.40,
        (12.0, 18.0),
        (120, 360),
        ("PAN", "LBR", "MHL", "SGP", "CHN", "IND", "JPN", "MYS", "USA"),
    ),
    TypeProfile(
        "tanker",
        (80, 81, 82, 84, 89),
        "A",
        0.20,
        (10.0, 15.0),
        (150, 330),
        ("PAN", "LBR", "MHL", "SGP", "IND", "CHN", "JPN"),
    ),
    TypeProfile(
        "fishing",
        (30,),
        "A",
        0.15,
        (8.0, 10.0),
        (20, 60),
        ("IND", "LKA", "IDN", "CHN", "MYS", "JPN", "THA", "VNM", "PHL", "AUS"),
    ),
    TypeProfile(
        "passenger",
        (60, 61, 69),
        "A",
        0.08,
        (15.0, 22.0),
        (60, 200),
        ("IND", "JPN", "IDN", "MYS", "SGP", "PHL", "AUS"),
    ),
    TypeProfile(
        "tug", (52,), "A", 0.07, (4.0, 10.0), (20, 40), ("IND", "SGP", "AUS", "JPN", "MYS", "USA")
    ),
    TypeProfile(
        "pleasure", (37,), "B", 0.10, (5.0, 20.0), (8, 25), ("AUS", "USA", "JPN", "SGP", "IND")
    ),
)

_NAME_FIRST = (
    "OCEAN", "PACIFIC", "INDIAN", "EASTERN", "GOLDEN", "SILVER", "BLUE", "GREAT", "ROYAL",
    "STAR", "SEA", "CORAL", "JADE", "PEARL", "MONSOON", "SAGAR", "KAIYO", "SOUTHERN", "NORTH",
    "BRIGHT", "LUCKY", "HARMONY", "VICTORY", "GLORY", "SUN", "MOON", "WIND", "TIDE", "DELTA",
)  # fmt: skip
_NAME_SECOND = (
    "PIONEER", "SPIRIT", "EXPRESS", "TRADER", "VOYAGER", "FORTUNE", "DAWN", "MARU", "PRIDE",
    "HORIZON", "WAVE", "GRACE", "DRAGON", "TIGER", "LOTUS", "ANCHOR", "CROWN", "BREEZE",
    "EAGLE", "FALCON", "CARRIER", "UNITY", "PROSPER", "SHINE", "QUEEN", "KING", "ARROW",
)  # fmt: skip


def imo_check_digit(six: int) -> int:
    """The check digit of an IMO number's first six digits (weights 7..2, sum mod 10)."""
    digits = [int(c) for c in f"{six:06d}"]
    return sum(d * w for d, w in zip(digits, range(7, 1, -1), strict=True)) % 10


def is_valid_imo(imo: int) -> bool:
    """Seven digits whose last is the check digit of the first six."""
    return 1_000_000 <= imo <= 9_999_999 and imo_check_digit(imo // 10) == imo % 10


@dataclass(frozen=True, slots=True)
class Fleet:
    """Per-vessel identity columns, index = vessel number."""

    kind: list[str]
    ship_type: npt.NDArray[np.int64]
    ais_class: list[str]
    class_b_cs: npt.NDArray[np.bool_]  # class B carrier-sense (CS) rather than SOTDMA (SO)
    flag: list[str]
    mmsi: npt.NDArray[np.int64]
    imo: npt.NDArray[np.int64]  # 0 for class B
    name: list[str]
    callsign: list[str]
    length_m: npt.NDArray[np.int64]
    beam_m: npt.NDArray[np.int64]
    draught_m: npt.NDArray[np.float64]
    speed_kn: npt.NDArray[np.float64]  # service speed

    def __len__(self) -> int:
        return len(self.kind)


def _unique_ints(rng: np.random.Generator, n: int, make: object, taken: set[int]) -> list[int]:
    out: list[int] = []
    while len(out) < n:
        value = int(make())  # type: ignore[operator]
        if value not in taken:
            taken.add(value)
            out.append(value)
    return out


def new_mmsi(rng: np.random.Generator, flag: str, taken: set[int]) -> int:
    """A fresh MMSI of a flag (MID + six digits, not in ``taken``; added to it)."""
    mids = FLAG_MIDS[flag]
    while True:
        value = int(mids[int(rng.integers(len(mids)))]) * 1_000_000 + int(
            rng.integers(1_000, 1_000_000)
        )
        if value not in taken:
            taken.add(value)
            return value


def new_name(rng: np.random.Generator) -> str:
    first = _NAME_FIRST[int(rng.integers(len(_NAME_FIRST)))]
    second = _NAME_SECOND[int(rng.integers(len(_NAME_SECOND)))]
    number = int(rng.integers(1, 30))
    return f"{first} {second}" + (f" {number}" if number < 12 else "")


def make_fleet(rng: np.random.Generator, n: int, taken_mmsis: set[int]) -> Fleet:
    """``n`` vessels drawn from :data:`TYPE_PROFILES` by share; ``taken_mmsis`` collects
    every MMSI handed out (later identity changes draw fresh ones from it)."""
    shares = np.array([p.share for p in TYPE_PROFILES])
    which = rng.choice(len(TYPE_PROFILES), size=n, p=shares / shares.sum())
    kinds: list[str] = []
    ship_type = np.zeros(n, np.int64)
    classes: list[str] = []
    flags: list[str] = []
    mmsi = np.zeros(n, np.int64)
    imo = np.zeros(n, np.int64)
    names: list[str] = []
    callsigns: list[str] = []
    length = np.zeros(n, np.int64)
    speed = np.zeros(n, np.float64)
    taken_imo: set[int] = set()
    for i, k in enumerate(which.tolist()):
        p = TYPE_PROFILES[k]
        kinds.append(p.kind)
        ship_type[i] = p.ship_types[int(rng.integers(len(p.ship_types)))]
        classes.append(p.ais_class)
        flag = p.flags[int(rng.integers(len(p.flags)))]
        flags.append(flag)
        mmsi[i] = new_mmsi(rng, flag, taken_mmsis)
        if p.ais_class == "A":
            six = _unique_ints(rng, 1, lambda: rng.integers(100_000, 1_000_000), taken_imo)[0]
            imo[i] = six * 10 + imo_check_digit(six)
        names.append(new_name(rng))
        prefix = _CALLSIGN_PREFIX[flag][int(rng.integers(len(_CALLSIGN_PREFIX[flag])))]
        suffix = "".join(chr(65 + int(c)) for c in rng.integers(0, 26, 6 - len(prefix)))
        callsigns.append(prefix + suffix)
        length[i] = int(rng.uniform(*p.length_m))
        speed[i] = rng.uniform(*p.speed_kn)
    beam = np.maximum(3, (length / rng.uniform(5.5, 7.5, n)).astype(np.int64))
    draught = np.round(np.clip(length / 22.0, 1.0, 22.0) * rng.uniform(0.7, 1.0, n), 1)
    return Fleet(
        kind=kinds,
        ship_type=ship_type,
        ais_class=classes,
        class_b_cs=rng.random(n) < 0.7,
        flag=flags,
        mmsi=mmsi,
        imo=imo,
        name=names,
        callsign=callsigns,
        length_m=length,
        beam_m=beam,
        draught_m=draught,
        speed_kn=speed,
    )
