"""Bit packing for the AIS encoder: checked integer columns in, armoured payloads out.

A message is a list of ``(offset, width, values)`` fields (bit 0 is the first bit of the
type field, as in the ITU-R M.1371-5 tables). :func:`armour` ORs every field into the
six-bit groups it overlaps, one numpy operation per (field, group) pair over all messages,
and maps the groups to the armouring characters of ITU-R M.1371-5 Annex 8 in one lookup.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from mista.errors import InputError

__all__ = [
    "Bits",
    "armour",
    "broadcast_ints",
    "six_bit_text",
    "text_fields",
]

#: One field of a message: first bit, width in bits, values (int64, one per message).
Bits = tuple[int, int, npt.NDArray[np.int64]]

# sextet 0-39 -> '0'-'W' (48-87), 40-63 -> '`'-'w' (96-119)
_ARMOUR = np.array([v + 48 if v < 40 else v + 56 for v in range(64)], dtype=np.uint8)


def broadcast_ints(name: str, values: object, n: int, lo: int, hi: int) -> npt.NDArray[np.int64]:
    """``values`` (a scalar or n values) as int64, each checked to lie in ``lo..hi``.

    Floats are accepted when they hold whole numbers; NaN, fractions and values outside
    the range raise :class:`InputError` naming the field and the first bad value.
    """
    arr = np.asarray(values)
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != n):
        raise InputError(f"{name}: expected a scalar or {n} values, got shape {arr.shape}")
    if arr.dtype.kind == "b":
        arr = arr.astype(np.int64)
    elif arr.dtype.kind == "f":
        bad = ~np.isfinite(arr) | (arr != np.trunc(np.nan_to_num(arr)))
        if bad.any():
            raise InputError(f"{name}: {arr.flat[int(np.argmax(bad))]!r} is not a whole number")
    elif arr.dtype.kind not in "iu":
        raise InputError(f"{name}: expected integers, got {arr.dtype}")
    # checked before the cast, so that no float or uint64 can wrap around in int64
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        value = arr.flat[int(np.argmax(bad))].item()
        raise InputError(f"{name}: {value!r} is outside {lo}..{hi}")
    return np.broadcast_to(arr.astype(np.int64), (n,))


def six_bit_text(name: str, values: object, n: int, chars: int) -> npt.NDArray[np.int64]:
    """Strings as six-bit ASCII codes, shape ``(n, chars)``, padded with ``@`` (code 0).

    Lower-case letters are sent as capitals (AIS has none); every other character outside
    the six-bit set (``A-Z[\\]^_``, space, ``!"#$%&'()*+,-./0-9:;<=>?``), including
    non-ASCII, is sent as ``?``, and so are ``@`` and NUL (they end the text for decoders;
    numpy drops trailing NULs, so those are not sent at all). A string
    longer than ``chars`` raises :class:`InputError` (no silent truncation).
    """
    arr = np.asarray(values, dtype=np.str_)
    if arr.ndim > 1 or (arr.ndim == 1 and len(arr) != n):
        raise InputError(f"{name}: expected a string or {n} strings, got shape {arr.shape}")
    width = arr.dtype.itemsize // 4
    if width > chars:
        lengths = np.char.str_len(arr)
        i = int(np.argmax(lengths)) if arr.ndim else 0
        longest = str(arr.flat[i])
        raise InputError(f"{name}: {longest!r} is longer than {chars} characters")
    padded = np.zeros((n, chars), dtype=np.uint32)
    length = np.zeros((n, 1), dtype=np.int64)
    if width:
        strings = np.broadcast_to(arr, (n,)).astype(f"U{width}")
        padded[:, :width] = strings.view(np.uint32).reshape(n, width)
        length[:, 0] = np.char.str_len(strings)
    upper = np.where((padded >= 97) & (padded <= 122), padded - 32, padded)
    # the NULs numpy leaves after a short string are sent as '@' (padding); any character
    # of the string itself outside the set is sent as '?', and so are NUL and a literal
    # '@', which decoders would read as the end of the text
    padding = np.arange(chars) >= length
    valid = padding | ((upper >= 32) & (upper <= 95) & (upper != 64))
    return np.where(valid, upper & 63, 63).astype(np.int64)


def text_fields(offset: int, codes: npt.NDArray[np.int64]) -> Iterable[Bits]:
    """The characters of a six-bit text column as fields of 6 bits from ``offset`` on."""
    for k in range(codes.shape[1]):
        yield offset + 6 * k, 6, codes[:, k]


def armour(n: int, n_bits: int, fields: Sequence[Bits] | Iterable[Bits]) -> list[str]:
    """Armoured payloads of ``n_bits`` bits (zero fill bits added up to a whole character)."""
    n_chars = -(-n_bits // 6)
    groups = np.zeros((n_chars, n), dtype=np.int64)
    for offset, width, values in fields:
        end = offset + width
        v: npt.NDArray[Any] = values & ((1 << width) - 1)  # two's complement for negatives
        for j in range(offset // 6, (end - 1) // 6 + 1):
            lo, hi = max(offset, 6 * j), min(end, 6 * j + 6)
            part = v >> (end - hi) if end > hi else v
            if hi - lo < width:
                part = part & ((1 << (hi - lo)) - 1)
            groups[j] |= part << (6 * j + 6 - hi)
    text = _ARMOUR[groups.T].tobytes().decode("ascii")
    return [text[i : i + n_chars] for i in range(0, n * n_chars, n_chars)]
