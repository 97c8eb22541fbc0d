"""Data commands: ingest, decode, and the queries over the store.

Queries answer for one user (``--user`` or ``MISTA_USER``, kept in the store by ``mista
users``) and show only what that user may see; without one they run as the node's
operator (its own nation, SECRET: ``mista.node.operator_user``).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mista.cli import main
from mista.cli._options import (
    emit,
    example,
    format_option,
    parse_time,
    store_option,
    window_options,
)

if TYPE_CHECKING:
    from mista.ingest.batch import IngestBatch
    from mista.ingest.streams import ByteSource
    from mista.model import User
    from mista.node import IngestSummary

#: Seconds between rate lines on stream sources.
RATE_EVERY_S = 10.0
F = TypeVar("F", bound=Callable[..., Any])


def user_option(func: F) -> F:
    return click.option(
        "--user",
        "user",
        envvar="MISTA_USER",
        show_envvar=True,
        help="Answer as this user (see mista users): only what they may see. "
        "Default: the node's operator (own nation, SECRET).",
    )(func)


def _viewer(store: str, user: str | None) -> User:
    from mista.node import viewer_for

    return viewer_for(store, user)


class _Progress:
    """A tqdm bar per file on a terminal; a rate line every RATE_EVERY_S on streams."""

    def __init__(self) -> None:
        self.tty = sys.stderr.isatty()
        self.bars: dict[str, Any] = {}
        self.last_line = time.monotonic()
        self.last_messages = 0

    def __call__(self, source: ByteSource, batch: IngestBatch, summary: IngestSummary) -> None:
        if source.is_stream:
            now = time.monotonic()
            if now - self.last_line >= RATE_EVERY_S:
                rate = (summary.messages - self.last_messages) / (now - self.last_line)
                click.echo(
                    f"{source.name}: {summary.messages:,} messages, {rate:,.0f}/s, "
                    f"{summary.reports:,} reports stored, {summary.rejected_total:,} rejected",
                    err=True,
                )
                self.last_line, self.last_messages = now, summary.messages
            return
        if not self.tty:
            return
        from tqdm import tqdm

        bar = self.bars.get(source.name)
        if bar is None:
            bar = tqdm(
                total=source.total_bytes, unit="B", unit_scale=True, desc=source.name, leave=False
            )
            self.bars[source.name] = bar
        if batch.position_bytes is not None:
            bar.update(batch.position_bytes - bar.n)

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


@main.command(
    epilog=example(
        "mista ingest logs/2024-06-01.nmea.gz tcp://127.0.0.1:10110 --source-config shore.toml"
    )
)
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "--source-config",
    type=click.Path(dir_okay=False),
    help="TOML file: source name, kind, originator and default label.",
)
@click.option(
    "--strict", is_flag=True, help="Stop at the first bad line instead of quarantining it."
)
@store_option
@click.option(
    "--bus",
    default=None,
    envvar="MISTA_BUS",
    show_envvar=True,
    help="Publish to this NATS JetStream bus (nats://HOST:PORT[?stream=NAME&partitions=N]) "
    "instead of writing the store; `mista bus write` commits what it carries.",
)
def ingest(
    sources: tuple[str, ...], source_config: str | None, strict: bool, store: str, bus: str | None
) -> None:
    """Ingest AIS NMEA or CSV positions from SOURCES: files (plain or .gz), - (stdin),
    tcp://HOST:PORT (connect to a feed) or udp://HOST:PORT (listen).

    Ends with a summary: lines and messages read, reports stored, duplicates, receptions,
    rejected lines by reason (kept in quarantine: see mista rejected)."""
    from mista.node import ingest_paths

    progress = _Progress()
    try:
        summary = ingest_paths(
            sources,
            store=store,
            source_config=source_config,
            strict=strict,
            progress=progress,
            bus=bus,
        )
    finally:
        progress.close()
    click.echo(summary.to_text(), err=True)


@main.command(
    epilog=example("mista decode feed.nmea | head", "gzip -dc feed.nmea.gz | mista decode -")
)
@click.argument("source")
@click.option(
    "--meta", is_flag=True, help="Add line, received_at and receiver to each JSON object."
)
def decode(source: str, meta: bool) -> None:
    """Decode AIS from SOURCE (a file, plain or .gz; - for stdin; tcp:// or udp://) and
    print one JSON object per message, as gpsd's gpsdecode -j does (fields, units and "not
    available" values of gpsd's AIVDM JSON: see docs/ais-json.md).

    Ends with a summary on stderr: lines read, messages decoded, rejected lines by reason."""
    from mista.node import decode as run

    out = sys.stdout
    try:
        stats = run(source, lambda line: out.write(line + "\n"), meta=meta)
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as Unix filters do.
        sys.stdout = None
        return
    click.echo(stats.summary(), err=True)


@main.command(epilog=example("mista vessels --user liaison.usa --format csv > vessels.csv"))
@format_option
@user_option
@store_option
def vessels(fmt: str, user: str | None, store: str) -> None:
    """Latest position and identity of every vessel, one row each, as the user may see them
    (the newest position among the reports they may see; label column: its marking)."""
    from mista.node import vessels as query

    emit(query(store, viewer=_viewer(store, user)), fmt)


@main.command(epilog=example("mista track 367000140 --since 2020-06-30T00:00Z --format geojson"))
@click.argument("mmsi", type=click.IntRange(1, 999_999_999))
@window_options
@format_option
@user_option
@store_option
def track(
    mmsi: int, since: str | None, until: str | None, fmt: str, user: str | None, store: str
) -> None:
    """One vessel's positions (by MMSI) in time order, those the user may see."""
    from mista.node import track as query

    viewer = _viewer(store, user)
    emit(
        query(
            store,
            mmsi,
            parse_time(since, "--since"),
            parse_time(until, "--until"),
            viewer=viewer,
        ),
        fmt,
    )


@main.command(
    epilog=example(
        "mista positions --bbox -74.3,40.4,-73.7,40.9 --since 2020-06-30T00:00Z "
        "--until 2020-06-30T01:00Z"
    )
)
@click.option("--bbox", required=True, help="W,S,E,N in degrees (W > E crosses 180°).")
@window_options
@format_option
@user_option
@store_option
def positions(
    bbox: str, since: str | None, until: str | None, fmt: str, user: str | None, store: str
) -> None:
    """Every position inside a box, in time order, those the user may see."""
    from mista.node import positions as query
    from mista.store import BBox

    box = BBox.parse(bbox)
    window = parse_time(since, "--since"), parse_time(until, "--until")
    emit(query(store, box, *window, viewer=_viewer(store, user)), fmt)


@main.command(epilog=example("mista rejected --limit 20"))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many lines.")
@format_option
@user_option
@store_option
def rejected(limit: int | None, fmt: str, user: str | None, store: str) -> None:
    """Lines that could not be used (the quarantine): source, line, reason, raw text and the
    label of their source; those the user may see."""
    from mista.node import rejected as query

    emit(query(store, limit, viewer=_viewer(store, user)), fmt)
