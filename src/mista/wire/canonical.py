"""Canonical JSON (RFC 8785), strict JSON parsing, hashes and wire times.

Signed bytes must be the same on every node, so everything that is signed or hashed is
written with :func:`canonical_json`. What comes in is parsed with :func:`parse_json`, which
refuses what a lenient parser lets through (duplicate keys, NaN, huge numbers, deep nesting)
with a :class:`WireError` instead of a surprise.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from datetime import UTC, datetime
from typing import Any, Final, Literal

import rfc8785

from mista.errors import InputError

__all__ = [
    "MAX_SAFE_INT",
    "REASONS",
    "WireError",
    "WireReason",
    "canonical_json",
    "check_nesting",
    "parse_canonical",
    "parse_json",
    "sha256_hex",
    "time_from_wire",
    "time_to_wire",
]

#: Why a batch was refused. ``malformed``: not the shape this module writes;
#: ``bad-signature``: the signature does not verify with the sender's key;
#: ``unknown-sender``: no key is configured for the sender; ``wrong-receiver``: the batch is
#: addressed to another node; ``too-large``: over the size limit.
WireReason = Literal["malformed", "bad-signature", "unknown-sender", "wrong-receiver", "too-large"]
REASONS: Final[tuple[WireReason, ...]] = (
    "malformed",
    "bad-signature",
    "unknown-sender",
    "wrong-receiver",
    "too-large",
)

#: Integers beyond +-(2**53 - 1) have no exact JSON (IEEE 754 double) form; RFC 8785 refuses them.
MAX_SAFE_INT: Final = 2**53 - 1
_MAX_INT_DIGITS: Final = 309
#: Deepest nesting a wire document may have (a batch needs 6).
MAX_DEPTH: Final = 16


class WireError(InputError):
    """A batch or record that is not what the wire format allows.

    ``reason`` is one of :data:`REASONS`, for counting and for the answer to the sender.
    """

    def __init__(self, reason: WireReason, message: str) -> None:
        super().__init__(f"{reason}: {message}")
        self.reason: WireReason = reason
        self.detail = message


def canonical_json(obj: Any) -> bytes:
    """The RFC 8785 bytes of ``obj`` (sorted keys, no spaces, shortest numbers).

    Floats must be finite and integers within +-(2**53 - 1); times are strings written by
    :func:`time_to_wire`. Anything else raises ``WireError('malformed', ...)``.

    The rfc8785 package is the reference. Values that the standard library's C JSON
    encoder spells byte for byte the same way (the common case: plain dicts, lists,
    strings, integers, floats between 1e-4 and 1e16) take that path, several times faster;
    the rest go through rfc8785. tests/wire/test_canonical.py holds the two equal.
    """
    try:
        try:
            return _encode_plain(_plain(obj, 0)).encode("utf-8")
        except _NeedsReferenceError:
            return bytes(rfc8785.dumps(obj))
    except (rfc8785.CanonicalizationError, TypeError, ValueError, RecursionError) as exc:
        # UnicodeEncodeError (a lone surrogate) is a ValueError too.
        raise WireError("malformed", f"value cannot be written as canonical JSON: {exc}") from None


class _NeedsReferenceError(Exception):
    """A value the standard encoder would not spell as RFC 8785 does."""


_encode_plain = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode
#: Python's repr of a float equals ECMAScript's Number-to-String (RFC 8785 section 3.2.2.3)
#: for non-integral magnitudes in [1e-4, 1e16): both use the shortest round-trip digits in
#: plain notation there. Integral floats up to 2**53 are written as the (exact) integer;
#: above it ECMAScript pads the shortest digits with zeros, which rfc8785 does.
_PLAIN_FLOAT_LOW, _PLAIN_FLOAT_HIGH, _INTEGRAL_FLOAT_HIGH = 1e-4, 1e16, 2.0**53
_MAX_PLAIN_DEPTH = 64


def _plain(value: Any, depth: int) -> Any:
    """``value`` with integral floats as integers; ``_NeedsReferenceError`` for anything
    the standard encoder might spell differently from RFC 8785."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            return value
        raise _NeedsReferenceError
    if kind is float:
        if value.is_integer():
            if abs(value) <= _INTEGRAL_FLOAT_HIGH:
                return int(value)
        elif _PLAIN_FLOAT_LOW <= abs(value) < _PLAIN_FLOAT_HIGH:
            return value
        raise _NeedsReferenceError
    if depth > _MAX_PLAIN_DEPTH:
        raise _NeedsReferenceError
    if kind is list or kind is tuple:
        return [_plain(item, depth + 1) for item in value]
    if kind is dict:
        plain = {}
        for key, item in value.items():
            # Python sorts keys by code point, RFC 8785 by UTF-16 unit: the same order
            # unless a key holds a character beyond the Basic Multilingual Plane.
            if type(key) is not str or (not key.isascii() and max(key) > "\uffff"):
                raise _NeedsReferenceError
            plain[key] = _plain(item, depth + 1)
        return plain
    raise _NeedsReferenceError


def sha256_hex(data: bytes) -> str:
    """The SHA-256 of ``data`` as 64 lower-case hex digits."""
    return hashlib.sha256(data).hexdigest()


def _reject_constant(name: str) -> Any:
    raise WireError("malformed", f"JSON constant {name} is not allowed (numbers must be finite)")


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise WireError("malformed", f"number {text[:40]!r} is out of range")
    return value


def _parse_int(text: str) -> int | float:
    # Refuse long digit strings before int() spends time on them (doubles end near 1e308).
    if len(text.lstrip("-")) > _MAX_INT_DIGITS:
        raise WireError("malformed", f"integer {text[:40]!r}... is out of range")
    value = int(text)
    if abs(value) <= MAX_SAFE_INT:
        return value
    # JSON numbers are doubles: RFC 8785 writes 1e20 as 100000000000000000000.
    return _parse_float(text)


def _object_without_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise WireError("malformed", f"key {key[:40]!r} appears twice in one object")
        obj[key] = value
    return obj


def _nesting_depth(value: Any) -> int:
    """The deepest nesting of parsed JSON (objects and lists), walked level by level
    without recursion; counting stops past MAX_DEPTH + 1."""
    level = [value] if type(value) is dict or type(value) is list else []
    deepest = 0
    while level and deepest <= MAX_DEPTH:
        deepest += 1
        below: list[Any] = []
        for container in level:
            for child in container.values() if type(container) is dict else container:
                if type(child) is dict or type(child) is list:
                    below.append(child)
        level = below
    return deepest


def check_nesting(value: Any, what: str = "document") -> None:
    """``WireError('malformed', ...)`` when parsed JSON nests deeper than MAX_DEPTH."""
    if _nesting_depth(value) > MAX_DEPTH:
        raise WireError("malformed", f"{what} is nested deeper than {MAX_DEPTH} levels")


def parse_json(data: bytes, *, max_bytes: int, what: str = "document") -> Any:
    """Parse UTF-8 JSON strictly: size limit first, then no duplicate keys, no NaN or
    Infinity, integers within +-(2**53 - 1), nesting at most MAX_DEPTH deep.

    Every failure is a ``WireError`` (``too-large`` or ``malformed``); nothing else escapes.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("malformed", f"{what} must be bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise WireError(
            "too-large", f"{what} is {len(data):,} bytes, over the limit of {max_bytes:,}"
        )
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise WireError(
            "malformed", f"{what} is not UTF-8 ({exc.reason} at byte {exc.start})"
        ) from None
    try:
        value = json.loads(
            text,
            parse_constant=_reject_constant,
            parse_float=_parse_float,
            parse_int=_parse_int,
            object_pairs_hook=_object_without_duplicates,
        )
    except WireError:
        raise
    except RecursionError:
        # The C parser gives up on very deep nesting before using much memory.
        raise WireError("malformed", f"{what} is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise WireError("malformed", f"{what} is not valid JSON: {exc}") from None
    if _nesting_depth(value) > MAX_DEPTH:
        raise WireError("malformed", f"{what} is nested deeper than {MAX_DEPTH} levels")
    return value


#: A UTF-8 lead byte of a character beyond the Basic Multilingual Plane (see ``_plain``).
_NON_BMP_LEAD = re.compile(rb"[\xf0-\xf4]")


def parse_canonical(
    data: bytes, *, max_bytes: int, what: str = "document", check_depth: bool = True
) -> Any:
    """``parse_json(data)``, refusing (``malformed``) data that is not the canonical JSON
    of what it holds, that is ``canonical_json(value) != data``.

    The common case costs one C parse and one C encode: the standard encoder's bytes equal
    ``data`` and nothing in them is spelled differently by RFC 8785 (no integral or very
    large or small float, no key beyond the Basic Multilingual Plane; a repeated key
    cannot give equal bytes). Anything else is decided by ``parse_json`` and
    ``canonical_json``, the reference. tests/wire/test_reader.py holds the two equal.

    With ``check_depth=False`` the nesting depth of data that passes the fast way is left
    to the caller (:func:`check_nesting`), which may know the shape bounds it.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise WireError("malformed", f"{what} must be bytes, not {type(data).__name__}")
    if len(data) > max_bytes:
        raise WireError(
            "too-large", f"{what} is {len(data):,} bytes, over the limit of {max_bytes:,}"
        )
    raw = bytes(data)
    unusual: list[float] = []

    def parse_float(text: str) -> float:
        value = _parse_float(text)
        if value.is_integer() or not _PLAIN_FLOAT_LOW <= abs(value) < _PLAIN_FLOAT_HIGH:
            unusual.append(value)
        return value

    if not _NON_BMP_LEAD.search(raw):
        try:
            text = raw.decode("utf-8")
            value = json.loads(
                text,
                parse_constant=_reject_constant,
                parse_float=parse_float,
                parse_int=_parse_int,
            )
            if not unusual and _encode_plain(value) == text:
                if check_depth:
                    check_nesting(value, what)
                return value
        except (ValueError, RecursionError, TypeError):
            pass  # the reference below says what is wrong (a WireError is raised as is)
    value = parse_json(raw, max_bytes=max_bytes, what=what)
    if canonical_json(value) != raw:
        raise WireError("malformed", f"{what} is not canonical JSON (RFC 8785)")
    return value


_WIRE_TIME = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{6})?Z\Z")


def time_to_wire(moment: datetime) -> str:
    """A timezone-aware time as ISO 8601 UTC with ``Z``; microseconds only when not zero."""
    if moment.tzinfo is None:
        raise ValueError("wire times must be timezone-aware (UTC)")
    utc = moment.astimezone(UTC)
    pattern = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    return utc.strftime(pattern)


def time_from_wire(text: Any, what: str = "time") -> datetime:
    """Read a time written by :func:`time_to_wire`; any other spelling is malformed."""
    if not isinstance(text, str) or not _WIRE_TIME.match(text):
        shown = repr(text)[:60]
        raise WireError(
            "malformed", f"{what} {shown} is not an ISO 8601 UTC time like 2024-06-01T12:00:00Z"
        )
    try:
        moment = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
    except ValueError:
        raise WireError("malformed", f"{what} {text!r} is not a real date and time") from None
    if time_to_wire(moment) != text:
        # ".000000Z" is another spelling of a whole second: one spelling keeps hashes unique.
        raise WireError("malformed", f"{what} {text!r} is not written canonically")
    return moment
