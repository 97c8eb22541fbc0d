"""Agreement commands: check a directory of agreements, explain what they would release."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mista.cli import main
from mista.cli._options import emit, example, parse_time, store_option
from mista.errors import InputError

if TYPE_CHECKING:
    import pyarrow as pa

    from mista.share.explain import Explained


@main.group(
    epilog=example(
        "mista agreements check agreements/",
        "mista agreements explain agreements/ --to USA --input feed.nmea",
    )
)
def agreements() -> None:
    """Sharing agreements: check their files, explain what they release (docs/agreements.md)."""


@agreements.command(epilog=example("mista agreements check agreements/ --node IND"))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--node", help="This node's nation: agreements it is not a party to are problems.")
def check(directory: Path, node: str | None) -> None:
    """Check every agreement file in DIRECTORY; print each problem as FILE:LINE: FIELD:
    message (fix: ...) and exit 2 if there is any."""
    from mista.share.agreements import check_agreements, load_agreements

    problems = check_agreements(directory, node=node)
    if problems:
        for problem in problems:
            click.echo(str(problem))
        click.echo(f"{len(problems)} problem(s)", err=True)
        sys.exit(2)
    loaded = load_agreements(directory, node=node)
    clauses = sum(len(agreement.clauses) for agreement in loaded)
    click.echo(f"{directory}: {len(loaded)} agreement(s), {clauses} clause(s), no problems")


@agreements.command(
    epilog=example(
        "mista agreements explain agreements/ --to USA --input feed.nmea --now 2026-03-01T12:00Z"
    )
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--to", "partner", required=True, help="The partner nation (e.g. USA).")
@click.option("--input", "input_path", help="Explain the records of this AIS or CSV file.")
@click.option(
    "--source-config",
    type=click.Path(dir_okay=False),
    help="With --input: the source's TOML (originator, default label), as for mista ingest.",
)
@click.option("--since", help="Explain the store's reports from this UTC time on (ISO 8601).")
@click.option("--node", help="This node's nation (default: MISTA_NATION or IND).")
@click.option("--now", help="Decide as at this UTC time (ISO 8601; default: the clock).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(("table", "jsonl")),
    default="table",
    show_default=True,
    help="Output format.",
)
@store_option
def explain(
    directory: Path,
    partner: str,
    input_path: str | None,
    source_config: str | None,
    since: str | None,
    node: str | None,
    now: str | None,
    fmt: str,
    store: str,
) -> None:
    """Dry run: for each record (from --input, or the store --since a time), whether it
    would be released to the partner, held or denied, and the clause or rule why.
    Nothing is sent or stored."""
    import pyarrow as pa

    from mista.node import node_nation
    from mista.share.agreements import load_agreements
    from mista.share.explain import explain as run
    from mista.share.release import Releaser

    if (input_path is None) == (since is None):
        raise InputError(
            "give exactly one of --input FILE or --since TIME (the records to explain)"
        )
    own = (node or node_nation()).strip().upper()
    moment = parse_time(now, "--now") or datetime.now(UTC)
    releaser = Releaser(own, partner.strip().upper(), load_agreements(directory, node=own))
    tables = [
        run(records, releaser, moment)
        for records in _records(input_path, source_config, since, store, own)
    ]
    emit(pa.concat_tables(tables) if tables else _empty(), fmt)


def _records(
    input_path: str | None, source_config: str | None, since: str | None, store: str, own: str
) -> Iterator[Iterator[Explained]]:
    """Batches of records to explain, from a file (decoded, not stored) or the store."""
    from mista.share.explain import from_messages, from_query_rows

    if input_path is not None:
        from mista.ingest.sources import SourceConfig, load_source_config
        from mista.ingest.streams import open_source
        from mista.node import read_batches

        config = (
            load_source_config(Path(source_config), own)
            if source_config is not None
            else SourceConfig.default(own)
        )
        for batch in read_batches(open_source(input_path), config, name=input_path):
            yield from_messages(batch.messages, batch.labels)
        return
    from mista.node import operator_user, positions
    from mista.store import BBox

    everywhere = BBox(-180.0, -90.0, 180.0, 90.0)
    table = positions(
        store, everywhere, parse_time(since, "--since"), None, viewer=operator_user(own)
    )
    yield from_query_rows(table)


def _empty() -> pa.Table:
    from mista.share.explain import EXPLAIN_SCHEMA

    return EXPLAIN_SCHEMA.empty_table()
