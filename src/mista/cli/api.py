"""``mista api``: the users' API and web map over a store, without running a whole node."""

from __future__ import annotations

import click

from mista.cli import main
from mista.cli._options import example, store_option


@main.command(
    epilog=example(
        "mista users add watch --nation IND --clearance SECRET --role analyst --role admin",
        "mista users token watch          # prints the token once",
        "mista api --listen 127.0.0.1:8080   # then open http://127.0.0.1:8080/#token=TOKEN",
    )
)
@store_option
@click.option(
    "--listen",
    default="127.0.0.1:8080",
    show_default=True,
    help="HOST:PORT to serve on (plain HTTP: keep it on loopback, or put TLS in front).",
)
@click.option(
    "--nation",
    default=None,
    envvar="MISTA_NATION",
    help="This node's nation (default: MISTA_NATION, or IND).",
)
@click.option(
    "--zones",
    type=click.Path(dir_okay=False, exists=True),
    default=None,
    help="A GeoJSON zone layer to serve (each feature's label in its properties).",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Open the store for reading only (several API processes may share it).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Processes serving the one port (more than 1 needs --read-only or a postgresql:// store).",
)
@click.option("--reuse-port", is_flag=True, hidden=True, help="A worker of another process.")
def api(
    store: str,
    listen: str,
    nation: str | None,
    zones: str | None,
    read_only: bool,
    workers: int,
    reuse_port: bool,
) -> None:
    """Serve the HTTP API (under /api/v1, spec at /openapi.json) and the web map (at /)
    over STORE, to users with a token from `mista users token`. Every answer is filtered
    for the caller by label. Ctrl-C or SIGTERM stops it."""
    from pathlib import Path

    from mista.config import parse_listen
    from mista.labels import Label
    from mista.node import node_nation
    from mista.serve.api_only import serve_api

    host, port = parse_listen(listen, "--listen")
    if workers > 1 and not read_only and not store.startswith(("postgresql://", "postgres://")):
        raise click.UsageError(
            "--workers above 1 needs --read-only (a DuckDB file has one writing process) "
            "or a postgresql:// store"
        )
    nation = (nation or node_nation()).strip().upper()
    Label.default_for(nation)  # a LabelError names what a nation code must be
    serve_api(
        store,
        host=host,
        port=port,
        nation=nation,
        zones=Path(zones) if zones else None,
        read_only=read_only,
        workers=workers,
        reuse_port=reuse_port,
        ready=lambda url: click.echo(f"mista API on {url} (Ctrl-C stops it)", err=True),
    )
