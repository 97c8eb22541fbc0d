"""Vessel partitions: which of the bus's partitions an MMSI belongs to.

The bus splits reports by a hash of the MMSI (``mista.bus``); fusion by partition
(``mista.detect.pipeline``) reads the store's reports of some partitions only, and the
fuser links a new MMSI to a silent track only within one partition. All three must agree
on the hash, so it lives here, below the bus, the store and fusion.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["GOLDEN", "VesselPartitions", "mmsi_partition"]

#: Fibonacci hashing: spreads consecutive MMSIs (one operator's fleet) over partitions.
GOLDEN = 0x9E3779B97F4A7C15


def mmsi_partition(keys: npt.ArrayLike, partitions: int) -> npt.NDArray[np.int64]:
    """The partition of each key (an MMSI; only its low 32 bits count): the high 32
    bits of ``key * GOLDEN`` modulo 2**64, modulo ``partitions``."""
    values = np.asarray(keys).astype(np.int64) & 0xFFFFFFFF
    with np.errstate(over="ignore"):
        mixed = values.astype(np.uint64) * np.uint64(GOLDEN)
    return ((mixed >> np.uint64(32)) % np.uint64(partitions)).astype(np.int64)


@dataclass(frozen=True, slots=True)
class VesselPartitions:
    """Some of the bus's ``count`` partitions: the reports of the vessels whose MMSI
    hashes into ``members`` (reports without an MMSI, radar contacts, belong to none)."""

    count: int
    members: frozenset[int]

    def __post_init__(self) -> None:
        if self.count < 1:
            raise ValueError(f"partitions: {self.count}, at least 1")
        if not self.members or not all(0 <= p < self.count for p in self.members):
            raise ValueError(
                f"partitions {sorted(self.members)}: give numbers from 0 to {self.count - 1}"
            )

    def holds(self, mmsi: npt.ArrayLike) -> npt.NDArray[np.bool_]:
        """Whether each MMSI's partition is one of these."""
        return np.isin(mmsi_partition(mmsi, self.count), sorted(self.members))

    def __str__(self) -> str:
        return f"partitions {','.join(map(str, sorted(self.members)))} of {self.count}"
