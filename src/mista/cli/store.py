"""Store commands: migrate a store's schema, move a node from one DuckDB file up to
PostgreSQL + PostGIS (docs/postgres.md), and reconcile a store with the bus that feeds it
(docs/bus.md)."""

from __future__ import annotations

import logging
from pathlib import Path

import click

from mista.cli import main
from mista.cli._options import example


@main.group(
    epilog=example(
        "mista store migrate --store postgresql://mista@db.example/mista",
        "mista store copy --from mista.duckdb --to postgresql://mista@db.example/mista",
        "mista store verify --bus nats://127.0.0.1:4222 --store postgresql://mista@db/mista",
    )
)
def store() -> None:
    """Migrate a store's schema, copy a DuckDB store into PostgreSQL, or check that a
    store holds everything on the bus."""


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

    # One line per migration applied: some rebuild indexes and take minutes on a big store.
    logging.basicConfig(level=logging.INFO, format="%(message)s")
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


@store.command(
    epilog=example(
        "mista store verify --bus nats://127.0.0.1:4222 --store mista.duckdb",
        "mista store verify --bus 'nats://127.0.0.1:4222?stream=MISTA' "
        "--store postgresql://mista@localhost/mista",
    )
)
@click.option(
    "--bus",
    "bus_url",
    required=True,
    envvar="MISTA_BUS",
    show_envvar=True,
    help="nats://HOST:PORT[?stream=NAME&partitions=N]: the stream whose messages to check.",
)
@click.option(
    "--store",
    "location",
    default="mista.duckdb",
    envvar="MISTA_STORE",
    show_default=True,
    show_envvar=True,
    help="The store: a DuckDB file, or a postgresql:// URL.",
)
@click.option(
    "--show",
    type=click.IntRange(min=0),
    default=10,
    show_default=True,
    help="How many ids of each difference to list.",
)
def verify(bus_url: str, location: str, show: int) -> None:
    """Check that every report on the bus's stream is in the store, by report id (content
    id), and say what differs. Exit code 0 when nothing on the bus is missing from the
    store, 1 otherwise. Reads the stream without moving any consumer group; the store is
    opened read-only."""
    from mista.bus.jetstream import JetStreamBus
    from mista.bus.verify import reconcile
    from mista.node import open_store
    from mista.store.postgres import is_postgres_url, redacted

    where = redacted(location) if is_postgres_url(location) else location
    with (
        JetStreamBus.from_url(bus_url, max_lag=None, existing_only=True) as bus,
        open_store(location, read_only=True) as db,
    ):
        found = reconcile(bus, db, show=show)
        stream = bus.stream
    click.echo(
        f"bus {stream}: {found.bus_messages:,} messages, {found.bus_rows:,} rows, "
        f"{found.bus_ids:,} distinct reports"
        + (f" ({found.unreadable:,} messages not mista batches)" if found.unreadable else "")
    )
    click.echo(f"store {where}: {found.store_ids:,} reports")
    click.echo(f"  on the bus, not in the store: {found.missing:,}")
    for report_id in found.missing_ids:
        click.echo(f"    {report_id}")
    if found.merged:
        click.echo(
            f"  on the bus, kept under another report of the same transmission: "
            f"{found.merged:,} (not a loss)"
        )
    click.echo(
        f"  in the store, not on the bus: {found.store_only:,}"
        + (
            " (normal for reports ingested directly, or older than the stream keeps)"
            if found.store_only
            else ""
        )
    )
    for report_id in found.store_only_ids:
        click.echo(f"    {report_id}")
    if not found.complete:
        click.echo(
            f"mista: {found.missing:,} reports on the bus are not in the store "
            "(lost, or its writers are behind: see mista bus write)",
            err=True,
        )
        raise SystemExit(1)
    click.echo("verified: every report on the bus is in the store")
