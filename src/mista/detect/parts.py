"""Fusion parts: the detectors shared out between fusion processes.

Fusion and detection is one pass over the store's reports, and most of its time is
detection (on the standard scenario, about 2.0 s of 4.7 s of CPU). Splitting the vessels
between processes by MMSI would change what is found: radar association, encounters, close
approaches, MMSI-change links and shore reception all look at every vessel at once. So a
node splits the *detectors* instead. Every part fuses every report (the fuser is
deterministic, and fast: about 300,000 reports/s), runs only its own detectors and writes
their alerts; part 0 also writes the tracks and track points. Each part keeps its own
cursors and checkpoint in the store and runs in its own process (``mista serve --role
fuse --part K``), so the picture is the one a single process makes, and a part that dies
is taken over from its checkpoint like a whole fuser.

node.toml::

    [detect]
    parts = [["ais-gap", "close-approach", "dark-vessel"],
             ["encounter", "identity-change", "loitering", "port-visit", "shared-mmsi",
              "spoofing", "zone-entry"]]

Every kind is in exactly one part. ``spoofing`` and ``shared-mmsi`` share a part: the
spoofing detector hands the other the second transmitters it finds.

**Fusion by partition** (``[detect] partitions``) splits the *vessels* as well, for what
goes vessel by vessel. Part 0 reads every report and runs the detectors that span vessels
(``SPANNING``) and radar association, and writes the dark tracks and the radar contacts'
points; parts 1 to K each take some of the bus's partitions (a hash of the MMSI,
``mista.partitions``), fuse only those vessels' reports, run the per-vessel detectors
(``PER_VESSEL``) and write those vessels' tracks and points. Every part's fuser links an
MMSI change only within one partition, so all of them build the same AIS tracks.

node.toml::

    [detect]
    partitions = [[0, 1, 2, 3], [4, 5, 6, 7]]   # part 1 and part 2; part 0 spans vessels
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from mista.detect.base import REGISTRY
from mista.detect.pipeline import TrackWrites
from mista.errors import ConfigError
from mista.partitions import VesselPartitions
from mista.store.embedded_fusion import MAX_PARTS

__all__ = [
    "COUPLED",
    "MAX_PARTS",
    "PER_VESSEL",
    "SPANNING",
    "PartitionPart",
    "Parts",
    "all_kinds",
    "check_part",
    "one_part",
    "parse_partitions",
    "parse_parts",
    "partition_part",
    "partition_parts",
]

#: Kinds that must run in one process: the first hands the second what it found.
COUPLED: tuple[tuple[str, str], ...] = (("spoofing", "shared-mmsi"),)

#: A node's parts: the detector kinds of each, in part order.
Parts = tuple[tuple[str, ...], ...]

#: Detectors that look at one vessel (one MMSI) at a time: with fusion by partition they
#: run in the partition parts.
PER_VESSEL = ("loitering", "port-visit", "shared-mmsi", "spoofing", "zone-entry")
#: Detectors that pair vessels (encounters, close approaches, dark vessels against AIS
#: tracks), link two MMSIs (identity-change) or judge reception from every vessel heard
#: near a silent one (ais-gap): part 0 runs them over every report.
SPANNING = ("ais-gap", "close-approach", "dark-vessel", "encounter", "identity-change")


def all_kinds() -> tuple[str, ...]:
    """Every registered detector kind, sorted."""
    return tuple(sorted(REGISTRY))


def one_part() -> Parts:
    """The default: one part running every detector."""
    return (all_kinds(),)


def parse_parts(value: Any, where: str = "detect.parts") -> Parts:
    """Check ``[detect] parts`` (a list of lists of kinds) and return it as tuples.

    Raises ``ConfigError`` naming what is wrong: not a list of lists of names, an unknown
    kind, a kind in two parts or in none, an empty part, coupled kinds split, too many.
    """
    example = f'{where} = [["ais-gap", "close-approach"], ["loitering", ...]]'
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a non-empty list of lists of behaviours ({example})")
    if len(value) > MAX_PARTS:
        raise ConfigError(f"{where}: {len(value)} parts, at most {MAX_PARTS}")
    known = set(all_kinds())
    parts: list[tuple[str, ...]] = []
    seen: dict[str, int] = {}
    for number, part in enumerate(value):
        if not isinstance(part, list) or not part:
            raise ConfigError(f"{where}[{number}] must be a non-empty list of behaviours")
        kinds: list[str] = []
        for raw in part:
            if not isinstance(raw, str):
                raise ConfigError(f"{where}[{number}]: {raw!r} is not a behaviour name")
            kind = raw.replace("_", "-")
            if kind not in known:
                raise ConfigError(
                    f"{where}[{number}]: unknown behaviour {raw!r} "
                    f"(known: {', '.join(sorted(known))})"
                )
            if kind in seen:
                raise ConfigError(
                    f"{where}: {kind} is in part {seen[kind]} and part {number} (one part each)"
                )
            seen[kind] = number
            kinds.append(kind)
        parts.append(tuple(sorted(kinds)))
    missing = sorted(known - seen.keys())
    if missing:
        raise ConfigError(f"{where}: {', '.join(missing)} in no part (every behaviour in one)")
    for first, second in COUPLED:
        if seen[first] != seen[second]:
            raise ConfigError(
                f"{where}: {first} and {second} must be in one part ({first} hands "
                f"{second} what it finds)"
            )
    return tuple(parts)


def check_part(parts: Sequence[Sequence[str]], part: int) -> None:
    """Raise ``ConfigError`` unless ``part`` is one of ``parts``' numbers."""
    if not 0 <= part < len(parts):
        raise ConfigError(
            f"fusion part {part} is not configured (the node has parts 0-{len(parts) - 1}; "
            "[detect] parts in node.toml)"
        )


class PartitionPart(NamedTuple):
    """What part ``K`` of fusion by partition runs: its detectors, its vessels (None:
    every report), what it writes, and every fuser's ``FuseConfig.mmsi_partitions``."""

    kinds: tuple[str, ...]
    partitions: VesselPartitions | None
    writes: TrackWrites
    mmsi_partitions: int


def partition_part(part: int, split: Sequence[VesselPartitions]) -> PartitionPart:
    """Part ``part`` of fusion by partition with partition parts ``split`` (part 0 spans
    vessels; part K takes ``split[K - 1]``)."""
    count = split[0].count
    if part == 0:
        return PartitionPart(SPANNING, None, TrackWrites.RADAR, count)
    return PartitionPart(PER_VESSEL, split[part - 1], TrackWrites.AIS, count)


def partition_parts(count: int) -> Parts:
    """The parts of fusion by partition with ``count`` partition parts: part 0 the
    detectors that span vessels, then the per-vessel ones in each partition part."""
    return (SPANNING, *([PER_VESSEL] * count))


def parse_partitions(value: Any, where: str = "detect.partitions") -> tuple[VesselPartitions, ...]:
    """Check ``[detect] partitions`` (a list of lists of bus partition numbers, one list
    per partition part) and return each part's partitions.

    Raises ``ConfigError`` naming what is wrong: not a list of lists of whole numbers, a
    number in two parts, numbers that are not exactly 0 to N-1 (every partition of the bus
    in one part), too many parts.
    """
    example = f"{where} = [[0, 1, 2, 3], [4, 5, 6, 7]]"
    if not isinstance(value, list) or not value:
        raise ConfigError(f"{where} must be a non-empty list of lists of partitions ({example})")
    if len(value) > MAX_PARTS - 1:
        raise ConfigError(f"{where}: {len(value)} partition parts, at most {MAX_PARTS - 1}")
    owner: dict[int, int] = {}
    for number, members in enumerate(value, start=1):
        if not isinstance(members, list) or not members:
            raise ConfigError(f"{where}[{number - 1}] must be a non-empty list of partitions")
        for item in members:
            if isinstance(item, bool) or not isinstance(item, int) or item < 0:
                raise ConfigError(
                    f"{where}[{number - 1}]: {item!r} is not a partition number (0, 1, ...)"
                )
            if item in owner:
                raise ConfigError(
                    f"{where}: partition {item} is in part {owner[item]} and part {number} "
                    "(one part each)"
                )
            owner[item] = number
    count = max(owner) + 1
    missing = sorted(set(range(count)) - owner.keys())
    if missing:
        raise ConfigError(
            f"{where}: the partitions must be 0 to {max(owner)} (the bus's), each in one part; "
            f"{', '.join(map(str, missing))} in none"
        )
    return tuple(
        VesselPartitions(count, frozenset(p for p, n in owner.items() if n == number))
        for number in range(1, len(value) + 1)
    )
