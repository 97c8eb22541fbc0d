"""Options and helpers every ``mista`` command module shares."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click

from mista.errors import ConfigError, InputError, MistaError

__all__ = [
    "FORMATS",
    "Group",
    "emit",
    "example",
    "format_option",
    "parse_time",
    "store_option",
    "window_options",
]

F = TypeVar("F", bound=Callable[..., Any])
FORMATS = ("table", "jsonl", "csv", "geojson")
#: Seconds between rate lines on stream sources.
RATE_EVERY_S = 10.0


class Group(click.Group):
    """Turns a MistaError into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MistaError as exc:
            click.echo(f"mista: {exc}", err=True)
            ctx.exit(2 if isinstance(exc, InputError | ConfigError) else 1)


def example(*lines: str) -> str:
    # \b keeps click from re-wrapping the example.
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in lines)


def store_option(func: F) -> F:
    return click.option(
        "--store",
        "store",
        default="mista.duckdb",
        envvar="MISTA_STORE",
        show_default=True,
        show_envvar=True,
        help="The store: a DuckDB file, or a postgresql:// URL (docs/postgres.md).",
    )(func)


def format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)


def parse_time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{name} {value!r} is not an ISO 8601 time (e.g. 2020-06-30T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def window_options(func: F) -> F:
    func = click.option("--until", help="Only before this UTC time (ISO 8601, exclusive).")(func)
    return click.option("--since", help="Only from this UTC time on (ISO 8601).")(func)


def emit(table: Any, fmt: str) -> None:
    from mista.store.export import write_table

    write_table(table, fmt, sys.stdout)
