"""The ``mista`` command: a thin skin over ``mista.node``.

Each command parses its arguments and calls one library function; a ``MistaError`` becomes
a one-line message naming the way out, with exit code 2 for bad input or configuration
and 1 for everything else. Heavy imports happen inside commands so ``mista --help`` is fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from mista import __version__
from mista.errors import ConfigError, InputError, MistaError

if TYPE_CHECKING:
    from mista.ingest.batch import IngestBatch
    from mista.ingest.streams import ByteSource
    from mista.node import IngestSummary

__all__ = ["main"]

F = TypeVar("F", bound=Callable[..., Any])
_FORMATS = ("table", "jsonl", "csv", "geojson")
#: Seconds between rate lines on stream sources.
RATE_EVERY_S = 10.0


class _Group(click.Group):
    """Turns a MistaError into one line on stderr and an exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MistaError as exc:
            click.echo(f"mista: {exc}", err=True)
            ctx.exit(2 if isinstance(exc, InputError | ConfigError) else 1)


def _example(*lines: str) -> str:
    # \b keeps click from re-wrapping the example.
    return "\b\nExample:\n" + "\n".join(f"  {line}" for line in lines)


def _store_option(func: F) -> F:
    return click.option(
        "--store",
        "store",
        type=click.Path(dir_okay=False),
        default="mista.duckdb",
        envvar="MISTA_STORE",
        show_default=True,
        show_envvar=True,
        help="The store file.",
    )(func)


def _format_option(func: F) -> F:
    return click.option(
        "--format",
        "fmt",
        type=click.Choice(_FORMATS),
        default="table",
        show_default=True,
        help="Output format.",
    )(func)


def _time(value: str | None, name: str) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InputError(
            f"{name} {value!r} is not an ISO 8601 time (e.g. 2020-06-30T12:00:00Z)"
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _window_options(func: F) -> F:
    func = click.option("--until", help="Only before this UTC time (ISO 8601, exclusive).")(func)
    return click.option("--since", help="Only from this UTC time on (ISO 8601).")(func)


def _emit(table: Any, fmt: str) -> None:
    from mista.store.export import write_table

    write_table(table, fmt, sys.stdout)


@click.group(cls=_Group, epilog=_example("mista ingest feed.nmea && mista vessels"))
@click.version_option(__version__, prog_name="mista")
def main() -> None:
    """mista: a node for partner-nation maritime information sharing."""


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
    epilog=_example(
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
@_store_option
def ingest(sources: tuple[str, ...], source_config: str | None, strict: bool, store: str) -> None:
    """Ingest AIS NMEA or CSV positions from SOURCES: files (plain or .gz), - (stdin),
    tcp://HOST:PORT (connect to a feed) or udp://HOST:PORT (listen).

    Ends with a summary: lines and messages read, reports stored, duplicates, receptions,
    rejected lines by reason (kept in quarantine: see mista rejected)."""
    from mista.node import ingest_paths

    progress = _Progress()
    try:
        summary = ingest_paths(
            sources, store=store, source_config=source_config, strict=strict, progress=progress
        )
    finally:
        progress.close()
    click.echo(summary.to_text(), err=True)


@main.command(
    epilog=_example("mista decode feed.nmea | head", "gzip -dc feed.nmea.gz | mista decode -")
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


@main.command(epilog=_example("mista vessels --format csv > vessels.csv"))
@_format_option
@_store_option
def vessels(fmt: str, store: str) -> None:
    """Latest position and identity of every vessel, one row each."""
    from mista.node import vessels as query

    _emit(query(store), fmt)


@main.command(epilog=_example("mista track 367000140 --since 2020-06-30T00:00Z --format geojson"))
@click.argument("mmsi", type=click.IntRange(1, 999_999_999))
@_window_options
@_format_option
@_store_option
def track(mmsi: int, since: str | None, until: str | None, fmt: str, store: str) -> None:
    """One vessel's positions (by MMSI) in time order."""
    from mista.node import track as query

    _emit(query(store, mmsi, _time(since, "--since"), _time(until, "--until")), fmt)


@main.command(
    epilog=_example(
        "mista positions --bbox -74.3,40.4,-73.7,40.9 --since 2020-06-30T00:00Z "
        "--until 2020-06-30T01:00Z"
    )
)
@click.option("--bbox", required=True, help="W,S,E,N in degrees (W > E crosses 180°).")
@_window_options
@_format_option
@_store_option
def positions(bbox: str, since: str | None, until: str | None, fmt: str, store: str) -> None:
    """Every position inside a box, in time order."""
    from mista.node import positions as query
    from mista.store import BBox

    _emit(query(store, BBox.parse(bbox), _time(since, "--since"), _time(until, "--until")), fmt)


@main.command(epilog=_example("mista rejected --limit 20"))
@click.option("--limit", type=click.IntRange(min=1), help="At most this many lines.")
@_format_option
@_store_option
def rejected(limit: int | None, fmt: str, store: str) -> None:
    """Lines that could not be used (the quarantine): source, line, reason, raw text."""
    from mista.node import rejected as query

    _emit(query(store, limit), fmt)
