"""``mista eval``: replay a simulated scenario and score the node against its truth."""

from __future__ import annotations

import json

import click

from mista.cli import main
from mista.cli._options import example


@main.command(
    name="eval",
    epilog=example(
        "mista simulate scenario --hours 6 --vessels 300 --seed 7",
        "mista eval scenario",
        "mista eval scenario --format json > score.json",
        "mista eval scenario --store s.duckdb; mista eval scenario --store s.duckdb --fusion-only",
    ),
)
@click.argument("scenario", type=click.Path(exists=True, file_okay=False))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)
@click.option(
    "--store",
    type=click.Path(dir_okay=False),
    help="Keep the replayed store in this (new) DuckDB file instead of a temporary one.",
)
@click.option(
    "--fusion-only",
    is_flag=True,
    help="Fuse and detect again over the reports of --store (filled by an earlier mista eval "
    "of the same scenario), skipping ingest: for tuning thresholds.",
)
@click.option(
    "--partitions",
    type=click.IntRange(min=0, max=15),
    default=0,
    show_default=True,
    help="Fuse by partition ([detect] partitions): part 0 over every report for what spans "
    "vessels, and one part per each of N bus partitions for its vessels (0: one pipeline).",
)
def evaluate(
    scenario: str, fmt: str, store: str | None, fusion_only: bool, partitions: int
) -> None:
    """Replay SCENARIO (a directory from mista simulate) through ingest, fusion and
    detection, then print precision and recall per behaviour against the scenario's
    ground truth, track continuity and radar association accuracy."""
    from mista.evaluate import evaluate as run
    from mista.evaluate import score_table

    def progress(message: str) -> None:
        click.echo(f"mista eval: {message}", err=True)

    result, summary = run(
        scenario,
        store=store,
        partitions=partitions,
        progress=progress,
        fusion_only=fusion_only,
    )
    if fmt == "json":
        click.echo(json.dumps(result.to_json(), indent=2, sort_keys=True))
    else:
        click.echo(score_table(result, summary))
