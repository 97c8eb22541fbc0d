"""``mista simulate``: write a synthetic scenario (traffic, sensor files and truth)."""

from __future__ import annotations

import sys
from typing import Any

import click

from mista.cli._options import example, parse_time

__all__ = ["simulate"]


@click.command(
    epilog=example(
        "mista simulate scen --hours 24 --vessels 2000 --seed 7",
        "mista ingest --source-config scen/sources/IND-ais-mumbai.toml "
        "scen/ais/IND-ais-mumbai/*.nmea",
    )
)
@click.argument("out_dir", type=click.Path(file_okay=False))
@click.option(
    "--hours", type=click.FloatRange(0, 336, min_open=True), default=24.0, show_default=True,
    help="Scenario length in hours.",
)  # fmt: skip
@click.option(
    "--vessels", type=click.IntRange(1, 50_000), default=2000, show_default=True,
    help="Number of simulated vessels (dark ones and clones included).",
)  # fmt: skip
@click.option("--seed", type=int, default=7, show_default=True, help="Random seed.")
@click.option(
    "--start", default="2026-01-01T00:00:00Z", show_default=True,
    help="UTC time the scenario starts (ISO 8601).",
)  # fmt: skip
@click.option(
    "--forward-interval", "forward_interval_s", type=click.FloatRange(0, 3600), default=60.0,
    show_default=True,
    help="Seconds: sensors forward at most one position per vessel per window (0: all).",
)  # fmt: skip
def simulate(
    out_dir: str, hours: float, vessels: int, seed: int, start: str, forward_interval_s: float
) -> None:
    """Simulate vessels of several types and flags on real sea lanes in the Indian Ocean
    and western Pacific, with injected behaviours (AIS gaps, encounters, loitering,
    spoofing, identity changes, shared MMSIs, zone incursions, dark vessels), and write
    OUT_DIR: shore and satellite AIS as tagged NMEA, radar plots as JSON lines, a source
    config per sensor, zones, scenario.json and the truth (truth/*.jsonl, *.parquet).

    The same arguments give byte-identical files. Ends with a summary on stderr."""
    from mista.sim import DEFAULT_START
    from mista.sim import simulate as run

    begin = parse_time(start, "--start") or DEFAULT_START

    bar: Any = None
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=6, desc="simulate", unit="step", leave=False)

    def progress(name: str, done: int, total: int) -> None:
        if bar is not None:
            bar.set_postfix_str(name)
            bar.update(done - bar.n)

    try:
        summary = run(
            out_dir, hours=hours, vessels=vessels, seed=seed, start=begin,
            forward_interval_s=forward_interval_s, progress=progress,
        )  # fmt: skip
    finally:
        if bar is not None:
            bar.close()
    lines = ", ".join(f"{k} {v:,}" for k, v in sorted(summary.lines_by_kind.items()))
    injected = ", ".join(f"{k} {v}" for k, v in summary.injected.items())
    truth = ", ".join(f"{k} {v}" for k, v in sorted(summary.truth.items()))
    click.echo(
        f"wrote {summary.out_dir}: {summary.vessels:,} vessels, {summary.hours:g} h, "
        f"{summary.files:,} files in {summary.seconds:.1f} s\n"
        f"lines: {lines}\ninjected: {injected}\ntruth: {truth}",
        err=True,
    )
