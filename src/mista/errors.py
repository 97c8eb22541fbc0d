"""One exception tree for mista. Every error a user can meet is a ``MistaError``.

::

    MistaError
     ├── InputError            bad input from a file, a stream or the command line
     │    ├── DecodeError      an AIS sentence or payload that cannot be decoded
     │    └── LabelError       a security label or marking that is not well formed
     ├── ConfigError           a setting, source config or agreement file that is wrong
     ├── StoreError            the store cannot be opened, read or written
     ├── AgreementError        an agreement that is invalid or does not allow a release
     └── PeerError             a partner node that cannot be reached or answers wrongly

Messages name the thing, the value and the way out, e.g.
``line 4127 of feed.nmea: checksum 3A does not match 2F (kept in quarantine; --strict stops
at the first error)``.
"""

from __future__ import annotations

__all__ = [
    "AgreementError",
    "ConfigError",
    "DecodeError",
    "InputError",
    "LabelError",
    "MistaError",
    "PeerError",
    "StoreError",
]


class MistaError(Exception):
    """The root of every error mista raises on purpose."""


class InputError(MistaError):
    """Input (a file, a stream, an argument) that cannot be used as given."""


class DecodeError(InputError):
    """An AIS sentence or payload that cannot be decoded."""


class LabelError(InputError):
    """A security label or marking that is not well formed."""


class ConfigError(MistaError):
    """A setting, source configuration or agreement file that is wrong."""


class StoreError(MistaError):
    """The store cannot be opened, read or written."""


class AgreementError(MistaError):
    """An agreement that is invalid, or that does not allow what was asked."""


class PeerError(MistaError):
    """A partner node that cannot be reached, or that answers wrongly."""
