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
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mista.detect.base import REGISTRY
from mista.errors import ConfigError
from mista.store.embedded_fusion import MAX_PARTS

__all__ = ["COUPLED", "MAX_PARTS", "Parts", "all_kinds", "check_part", "one_part", "parse_parts"]

#: Kinds that must run in one process: the first hands the second what it found.
COUPLED: tuple[tuple[str, str], ...] = (("spoofing", "shared-mmsi"),)

#: A node's parts: the detector kinds of each, in part order.
Parts = tuple[tuple[str, ...], ...]


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
