"""``mista demo``: four partner nodes on loopback, fed by a simulated scenario."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from mista.cli import main
from mista.cli._options import example


@main.command(epilog=example("mista demo", "mista demo --base-port 9400 --dir demo --vessels 1000"))
@click.option(
    "--base-port", type=int, default=8400, show_default=True,
    help="First of the 8 loopback ports: node i listens for partners on BASE+2i and serves "
    "its API and map on BASE+2i+1.",
)  # fmt: skip
@click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
    help="Keep the nodes' directories here (new or empty). Default: a temporary directory, "
    "removed at exit.",
)  # fmt: skip
@click.option(
    "--vessels", type=click.IntRange(1, 50_000), default=400, show_default=True,
    help="Vessels in the simulated scenario.",
)  # fmt: skip
@click.option(
    "--hours", type=click.FloatRange(0, 336, min_open=True), default=6.0, show_default=True,
    help="Hours of traffic; the scenario ends 30 min after the start, played live.",
)  # fmt: skip
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed of the scenario.")
def demo(base_port: int, directory: Path | None, vessels: int, hours: float, seed: int) -> None:
    """Run four nodes, IND, USA, JPN and AUS, on 127.0.0.1, each ingesting its own
    simulated sensors and sharing under agreements with the others; print the IND map's
    URL for a watch officer and for a USA liaison officer, and stop everything on Ctrl-C.

    What is set up, and how to look around, is in docs/demo.md.
    """
    from mista.serve.demo import DemoSettings, run_demo

    settings = DemoSettings(
        base_port=base_port, directory=directory, vessels=vessels, hours=hours, seed=seed
    )

    def echo(line: str) -> None:
        click.echo(line)
        sys.stdout.flush()

    def progress(line: str) -> None:
        click.echo(line, err=True)

    sys.exit(run_demo(settings, echo, progress))
