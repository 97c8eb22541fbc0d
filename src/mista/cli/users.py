"""User commands: who may read this node's store, and at what clearance.

Users live in the store (``mista.store``); a query run with ``--user NAME`` sees only what
that user may see (DESIGN.md rule 1). Roles say what a user does, never what they read.
"""

from __future__ import annotations

import click

from mista.cli import main
from mista.cli._options import emit, example, format_option, store_option
from mista.labels import Level
from mista.model import Role

_LEVELS = [level.name for level in Level]
_ROLES = [role.value for role in Role]


@main.group(
    epilog=example(
        "mista users add liaison.usa --nation USA --clearance RESTRICTED --role liaison",
        "mista users list",
        "mista users remove liaison.usa",
    )
)
def users() -> None:
    """Add, list and remove the users queries can run as (--user NAME or MISTA_USER)."""


@users.command(
    epilog=example("mista users add liaison.usa --nation USA --clearance RESTRICTED --role liaison")
)
@click.argument("name")
@click.option("--nation", required=True, help="The user's nation (ISO 3166-1 alpha-3, e.g. USA).")
@click.option(
    "--clearance",
    required=True,
    type=click.Choice(_LEVELS, case_sensitive=False),
    help="The highest level the user may see.",
)
@click.option(
    "--role",
    "roles",
    required=True,
    multiple=True,
    type=click.Choice(_ROLES),
    help="What the user does (repeat for several).",
)
@store_option
def add(name: str, nation: str, clearance: str, roles: tuple[str, ...], store: str) -> None:
    """Add user NAME (lowercase letters, digits, '.', '_', '-'), who will see a record iff
    their clearance is at least its level and their nation is in its releasability."""
    from mista.model import User
    from mista.node import add_user

    user = User(
        name=name,
        nation=nation,
        clearance=Level[clearance.upper()],
        roles=frozenset(Role(role) for role in roles),
    )
    add_user(store, user)
    click.echo(f"added user {user.name} ({user.nation}, {user.clearance.name})", err=True)


@users.command(name="list", epilog=example("mista users list --format csv"))
@format_option
@store_option
def list_(fmt: str, store: str) -> None:
    """Every user: name, nation, clearance and roles."""
    import pyarrow as pa

    from mista.node import list_users

    found = list_users(store)
    emit(
        pa.table(
            {
                "name": pa.array([u.name for u in found], pa.string()),
                "nation": pa.array([u.nation for u in found], pa.string()),
                "clearance": pa.array([u.clearance.name for u in found], pa.string()),
                "roles": pa.array(
                    [",".join(sorted(r.value for r in u.roles)) for u in found], pa.string()
                ),
            }
        ),
        fmt,
    )


@users.command(epilog=example("mista users remove liaison.usa"))
@click.argument("name")
@store_option
def remove(name: str, store: str) -> None:
    """Remove user NAME."""
    from mista.errors import InputError
    from mista.node import remove_user

    if not remove_user(store, name):
        raise InputError(f"no user {name!r} in {store} (see them with: mista users list)")
    click.echo(f"removed user {name}", err=True)


@users.command(
    epilog=example(
        "mista users token watch.ind",
        "mista users token liaison.usa --expires-days 30",
        "mista users token liaison.usa --revoke",
    )
)
@click.argument("name")
@click.option(
    "--expires-days",
    type=int,
    default=None,
    help="Days until the token stops working (default: until revoked).",
)
@click.option("--revoke", is_flag=True, help="Revoke every token of NAME instead.")
@store_option
def token(name: str, expires_days: int | None, revoke: bool, store: str) -> None:
    """Issue an API token for user NAME and print it (only its hash is kept: it cannot be
    shown again). The API and web map take it as ``Authorization: Bearer TOKEN``."""
    from mista.node import issue_token, revoke_tokens

    if revoke:
        count = revoke_tokens(store, name)
        click.echo(f"revoked {count} token(s) of {name}", err=True)
        return
    click.echo(issue_token(store, name, expires_days=expires_days))
    ending = f"expires in {expires_days} day(s)" if expires_days else "valid until revoked"
    click.echo(f"issued a token for {name} ({ending})", err=True)
