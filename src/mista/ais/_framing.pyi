"""Type stub of the compiled framing core (see _framing.pyx)."""

from typing import Any, TypeAlias

#: n, payload (bytes), then Blocks: payload offsets (int64), fill (uint8), line (int64),
#: time (float64), own ship (uint8), receiver data, offsets (int32), valid (uint8),
#: raw data, offsets, talker (2 bytes per row), channel data, offsets, valid; then
#: rejects, skipped, lines.
class Block:
    """A read-only buffer handed over by the core without copying."""

    def __buffer__(self, flags: int, /) -> memoryview: ...
    def __len__(self) -> int: ...

CoreBatch: TypeAlias = tuple[
    int, bytes, Block, Block, Block, Block, Block, Block, Block, Block, Block, Block,
    Block, Block, Block, Block, list[Any], dict[str, int], int,
]  # fmt: skip

REASONS: tuple[str, ...]
FIXED_KINDS: tuple[str, ...]
MAX_LINE_BYTES: int

class Core:
    def __init__(
        self, max_pending: int, reject_type: type[tuple[int, str, str, str]] = ...
    ) -> None: ...
    def feed(self, chunk: bytes | bytearray | memoryview) -> CoreBatch: ...
    def finish(self) -> CoreBatch: ...
