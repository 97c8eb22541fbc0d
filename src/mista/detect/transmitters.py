"""Second transmitters: tracks one detector found carrying another vessel's positions.

The spoofing detector tells a spoof (one excursion) from a second vessel sending the
same MMSI (flagged jumps that keep coming back along one plausible path). The latter is a
shared MMSI that the fuser may not have split (it needs both vessels heard interleaved);
the spoofing detector records it here and the shared-mmsi detector raises it.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SecondTransmitter", "SecondTransmitters"]


@dataclass(frozen=True, slots=True)
class SecondTransmitter:
    """Track ``track`` carried a second vessel's positions: at ``t``, at (lat, lon)."""

    track: int
    t: float
    lat: float
    lon: float
    label_nos: frozenset[int]


class SecondTransmitters:
    """Findings handed from one detector to another, each taken once."""

    def __init__(self) -> None:
        self._found: list[SecondTransmitter] = []

    def add(self, found: SecondTransmitter) -> None:
        self._found.append(found)

    def take(self) -> list[SecondTransmitter]:
        """The findings since the last call."""
        found, self._found = self._found, []
        return found
