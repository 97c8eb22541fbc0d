"""``mista alerts``: the detected behaviours a user may see.

Like every query, it answers for one user (``--user`` or ``MISTA_USER``) and shows only
alerts whose label that user may see; without one it runs as the node's operator.
"""

from __future__ import annotations

import click

from mista.cli import main
from mista.cli._options import emit, example, parse_time, store_option, window_options
from mista.cli.data import user_option

__all__ = ["ALERT_FORMATS", "ALERT_KINDS", "alerts"]

#: The behaviours mista detects (``mista.detect``): the values ``--kind`` accepts.
ALERT_KINDS = (
    "ais-gap",
    "close-approach",
    "dark-vessel",
    "encounter",
    "identity-change",
    "loitering",
    "port-visit",
    "shared-mmsi",
    "spoofing",
    "zone-entry",
)
ALERT_FORMATS = ("table", "json", "jsonl", "csv", "geojson")
#: Columns the text table leaves out (the evidence is a JSON object: see --format json).
_WIDE_COLUMNS = ("evidence",)


@main.command(
    epilog=example(
        "mista alerts --kind encounter --kind loitering --since 2026-01-01T00:00Z "
        "--user liaison.usa --format json"
    )
)
@window_options
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    type=click.Choice(ALERT_KINDS),
    help="Only alerts of this kind (repeat for several).",
)
@click.option("--all", "include_withdrawn", is_flag=True, help="Include withdrawn alerts.")
@click.option("--limit", type=click.IntRange(min=1), help="At most this many alerts.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(ALERT_FORMATS),
    default="table",
    show_default=True,
    help="Output format (the table leaves out the evidence; json keeps it).",
)
@user_option
@store_option
def alerts(
    since: str | None,
    until: str | None,
    kinds: tuple[str, ...],
    include_withdrawn: bool,
    limit: int | None,
    fmt: str,
    user: str | None,
    store: str,
) -> None:
    """Alerts (detected behaviours) the user may see, by start time: id, kind, status
    (open, closed, withdrawn), start, end, where, the MMSIs and tracks involved, the
    evidence, the revision and the label.

    --since and --until select alerts that overlap the window (ending at or after
    --since, starting before --until); withdrawn alerts are left out unless --all."""
    from mista.node import alerts as query
    from mista.node import viewer_for

    table = query(
        store,
        viewer=viewer_for(store, user),
        since=parse_time(since, "--since"),
        until=parse_time(until, "--until"),
        kinds=list(kinds) or None,
        include_withdrawn=include_withdrawn,
        limit=limit,
    )
    if fmt == "table":
        table = table.drop_columns([name for name in _WIDE_COLUMNS if name in table.column_names])
    emit(table, fmt)
