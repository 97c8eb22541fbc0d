"""Store commands: migrate a store's schema, and move a node from one DuckDB file up to
PostgreSQL + PostGIS (docs/postgres.md)."""

from __future__ import annotations

from pathlib import Path

import click

from mista.cli import main
from mista.cli._options import example


@main.group(
    epilog=example(
        "mista store migrate --store postgresql://mista@db.example/mista",
        "mista store copy --from mista.duckdb --to postgresql://mista@db.example/mista",
    )
)
def store() -> None:
    """Migrate a store's schema, or copy a DuckDB store into PostgreSQL."""


@store.command(epilog=example("mista store migrate --store postgresql://mista@localhost/mista"))
@click.option(
    "--store",
    "location",
    default="mista.duckdb",
    envvar="MISTA_STORE",
    show_default=True,
    show_envvar=True,
    help="The store: a DuckDB file, or a postgresql:// URL.",
)
def migrate(location: str) -> None:
    """Apply the schema migrations this mista has and the store lacks (each once, in order,
    in its own transaction). Safe to run again; several nodes starting at once migrate once."""
    from mista.store.postgres import is_postgres_url, redacted
    from mista.store.postgres_admin import migrate as run

    before, after = run(location)
    where = redacted(location) if is_postgres_url(location) else location
    if before == after:
        click.echo(f"{where}: schema version {after}, up to date", err=True)
    else:
        click.echo(f"{where}: schema version {before} -> {after}", err=True)


@store.command(
    epilog=example("mista store copy --from mista.duckdb --to postgresql://mista@localhost/mista")
)
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The DuckDB store file to copy.",
)
@click.option(
    "--to",
    "target",
    required=True,
    help="The empty PostgreSQL database: postgresql://USER[:PASSWORD]@HOST[:PORT]/DB.",
)
def copy(source: Path, target: str) -> None:
    """Copy every report, reception, label, source, quarantined line, user, API token and
    the latest state from a DuckDB store into an empty PostgreSQL database, in one
    transaction, then verify row counts and content ids on both sides."""
    from mista.errors import StoreError
    from mista.store.postgres_admin import copy_to_postgres

    report = copy_to_postgres(source, target)
    click.echo(f"copied {report.source} -> {report.target} in {report.seconds:.1f} s")
    width = max(len(table) for table in report.counts)
    for table, (file_rows, db_rows) in report.counts.items():
        mark = "ok" if file_rows == db_rows else "DIFFERS"
        click.echo(f"  {table:<{width}}  {file_rows:>12,} -> {db_rows:>12,}  {mark}")
    for table, (file_digest, db_digest) in report.digests.items():
        mark = "ok" if file_digest == db_digest else "DIFFER"
        click.echo(f"  content ids of {table}: {mark}")
    if report.left_behind:
        parts = ", ".join(f"{table} {rows:,}" for table, rows in report.left_behind.items())
        click.echo(f"  not copied (not yet on PostgreSQL, see docs/postgres.md): {parts}", err=True)
    if report.differences:
        raise StoreError("the copy differs from the file: " + "; ".join(report.differences))
    click.echo("verified: every count and content id matches")
