"""``mista fuse``: fuse the store's new reports into tracks and detect behaviours."""

from __future__ import annotations

import sys
import time

import click

from mista.cli import main
from mista.cli._options import example, store_option


@main.command(
    epilog=example(
        "mista ingest feed.nmea && mista fuse && mista alerts",
        "mista fuse --zones zones.geojson --end",
    )
)
@click.option(
    "--zones",
    type=click.Path(exists=True, dir_okay=False),
    help="GeoJSON layer of zones (features with id, name and an optional marking).",
)
@click.option(
    "--end",
    is_flag=True,
    help="The input is complete: close what is still open (gaps run to the last report).",
)
@store_option
def fuse(zones: str | None, end: bool, store: str) -> None:
    """Fuse the reports stored since the last run into tracks (dedupe, implausible
    points flagged, identity over time, radar association) and detect behaviours (AIS gaps,
    encounters, loitering, port visits, spoofing, zone entries, dark vessels, close
    approaches, identity changes). Alerts are kept in the store: see mista alerts."""
    from mista.detect.pipeline import Pipeline, StepResult
    from mista.geo import Zones
    from mista.node import node_nation, open_node_store

    nation = node_nation()
    layer = (
        Zones.from_geojson(
            zones,
            originator=nation,
        )
        if zones is not None
        else None
    )
    started = time.perf_counter()

    def progress(total: StepResult) -> None:
        rate = total.reports / max(time.perf_counter() - started, 1e-9)
        print(
            f"\rmista fuse: {total.reports:,} reports, {total.alerts:,} alert changes "
            f"({rate:,.0f} reports/s)",
            end="",
            file=sys.stderr,
        )

    with open_node_store(store) as db:
        if db.fusion_cursor(1):
            raise click.ClickException(
                "this store is fused in parts ([detect] parts: mista serve --role fuse "
                "--part K); mista fuse runs every detector as one and would state part 1's "
                "alerts again"
            )
        pipeline = Pipeline(db, node=nation, zones=layer)
        total = pipeline.run(progress=progress)
        if end:
            total.add(pipeline.finish())  # saves its checkpoint too
        else:
            pipeline.checkpoint()  # the next mista fuse goes on with what this one held
    print(file=sys.stderr)
    kinds = ", ".join(f"{kind} {count:,}" for kind, count in sorted(total.kinds.items()))
    click.echo(
        f"fused {total.reports:,} reports in {time.perf_counter() - started:.1f} s; "
        f"alert changes: {kinds or 'none'}",
        err=True,
    )
