"""What every backend makes of a stored user row: one reading, one error."""

from __future__ import annotations

from typing import Any

from mista.errors import InputError, StoreError
from mista.labels import Level
from mista.model import Role, User

__all__ = ["user_from_row"]


def user_from_row(row: tuple[Any, ...], where: str) -> User:
    """A user from its stored (name, nation, clearance, roles); a StoreError naming the
    store ``where`` if the row is not a valid user."""
    name, nation, clearance, roles = row
    try:
        return User(
            name=name,
            nation=nation,
            clearance=Level[clearance],
            roles=frozenset(Role(role) for role in roles),
        )
    except (KeyError, ValueError, InputError) as exc:
        raise StoreError(
            f"store {where}: user {name!r} is stored wrongly ({exc}): remove and add it again"
        ) from None
