"""Watch lists: a user's vessels of interest, and where alerts about them are POSTed.

A list has a name, the MMSIs it watches and an optional webhook (an ``http://`` or
``https://`` URL). ``WatchlistBody`` is what a client sends (validated: a request that
breaks a rule answers 400 ``bad-parameter`` in the API's one error shape); ``Watchlist`` is
a stored list as the API answers it. Lists belong to the user who made them: nobody else
reads, changes or is notified through them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, field_validator

from mista.api.events import iso_time

__all__ = [
    "MAX_MMSIS",
    "MAX_NAME_CHARS",
    "MAX_URL_CHARS",
    "Watchlist",
    "WatchlistBody",
    "new_watchlist_id",
    "watchlists_from_table",
]

#: The most vessels one list watches.
MAX_MMSIS = 10_000
MAX_NAME_CHARS = 200
MAX_URL_CHARS = 2048
#: An MMSI is nine digits (ITU-R M.585); shorter numbers are read with leading zeros.
_MAX_MMSI = 999_999_999


def new_watchlist_id() -> str:
    """A new list id: ``wl_`` and 16 url-safe random characters."""
    return "wl_" + secrets.token_urlsafe(12)


class WatchlistBody(BaseModel):
    """A watch list as a client sends it (POST creates, PUT replaces)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(
        min_length=1,
        max_length=MAX_NAME_CHARS,
        description="What the list is for, e.g. 'tankers off Kochi'.",
    )
    mmsis: list[int] = Field(
        max_length=MAX_MMSIS,
        description="The watched vessels' MMSIs (1 to 999999999, each once).",
    )
    webhook: str | None = Field(
        default=None,
        max_length=MAX_URL_CHARS,
        description="http(s) URL that alerts involving a watched vessel are POSTed to.",
    )

    @field_validator("name")
    @classmethod
    def _name_has_text(cls, name: str) -> str:
        name = name.strip()
        if not name:
            raise ValueError("name is blank: give the list a name")
        if any(ord(char) < 0x20 for char in name):
            raise ValueError("name has control characters (line breaks, tabs...): remove them")
        return name

    @field_validator("mmsis")
    @classmethod
    def _mmsis_are_mmsis(cls, mmsis: list[int]) -> list[int]:
        bad = [mmsi for mmsi in mmsis if not 1 <= mmsi <= _MAX_MMSI]
        if bad:
            raise ValueError(f"{bad[0]} is not an MMSI (a number from 1 to {_MAX_MMSI})")
        if len(set(mmsis)) != len(mmsis):
            repeated = sorted({mmsi for mmsi in mmsis if mmsis.count(mmsi) > 1})[:5]
            raise ValueError(f"MMSI {', '.join(map(str, repeated))} listed more than once")
        return mmsis

    @field_validator("webhook")
    @classmethod
    def _webhook_is_http(cls, webhook: str | None) -> str | None:
        if webhook is None:
            return None
        parts = urlsplit(webhook)
        try:
            parts.port  # noqa: B018 (reading it checks the port)
        except ValueError:
            raise ValueError(f"webhook {webhook!r} has a port that is not 0-65535") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"webhook {webhook!r} is not an http:// or https:// URL with a host "
                "(e.g. https://ops.example/hooks/mista)"
            )
        if any(ord(char) <= 0x20 for char in webhook):
            raise ValueError("webhook has spaces or control characters: encode them")
        return webhook


@dataclass(frozen=True, slots=True)
class Watchlist:
    """A stored watch list."""

    id: str
    owner: str
    name: str
    mmsis: tuple[int, ...]
    webhook: str | None
    created_at: datetime
    updated_at: datetime

    def watches(self, mmsis: Iterable[int]) -> bool:
        """Whether the list watches any of ``mmsis``."""
        return not set(self.mmsis).isdisjoint(mmsis)

    def to_json(self) -> dict[str, Any]:
        """As the API answers it (the owner is the caller, so it is left out)."""
        return {
            "id": self.id,
            "name": self.name,
            "mmsis": list(self.mmsis),
            "webhook": self.webhook,
            "created_at": iso_time(self.created_at),
            "updated_at": iso_time(self.updated_at),
        }

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Watchlist:
        return cls(
            id=row["id"],
            owner=row["owner"],
            name=row["name"],
            mmsis=tuple(row["mmsis"] or ()),
            webhook=row["webhook"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )


def watchlists_from_table(table: pa.Table) -> list[Watchlist]:
    """The lists of a ``store.watchlists`` table."""
    return [Watchlist.from_row(row) for row in table.to_pylist()]
