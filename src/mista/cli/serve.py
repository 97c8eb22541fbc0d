"""Node commands: run a node (``serve``), make its config directory (``node init``) and pin
partners (``partners add``, ``partners list``)."""

from __future__ import annotations

import click

from mista.cli import main
from mista.cli._options import example


@main.command(
    epilog=example(
        "mista serve nodes/ind",
        "mista serve nodes/ind --role fuse",
        "mista serve nodes/ind --role fuse --part 1",
    )
)
@click.argument("config_dir", type=click.Path(file_okay=False))
@click.option(
    "--role",
    type=click.Choice(["ingest", "fuse", "share", "api"]),
    default=None,
    help="Run only this part of the node, in this process (needs a postgresql:// store; "
    "docs/deploy.md). Default: every part, in one process.",
)
@click.option(
    "--part",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="With --role fuse: which fusion part this process runs ([detect] parts in "
    "node.toml; one process per part).",
)
def serve(config_dir: str, role: str | None, part: int) -> None:
    """Run the node of CONFIG_DIR: its sources, fusion, release to partners, the HTTPS
    receiver and (with [api] listen) the users' API and map.

    Status lines go to stderr; Ctrl-C or SIGTERM stops it cleanly. The layout of the
    directory is in docs/serve.md.
    """
    if role is None:
        if part:
            raise click.UsageError("--part is given with --role fuse only")
        from mista.serve import serve as run

        run(config_dir)
    else:
        from mista.serve.roles import serve_role

        serve_role(config_dir, role, part=part)


@main.group(epilog=example("mista node init nodes/ind --nation IND --port 8443"))
def node() -> None:
    """Make and inspect a node config directory."""


@node.command("init", epilog=example("mista node init nodes/ind --nation IND --port 8443"))
@click.argument("config_dir", type=click.Path(file_okay=False))
@click.option("--nation", required=True, help="This node's nation (ISO 3166-1 alpha-3).")
@click.option("--port", type=int, default=8443, show_default=True, help="HTTPS port to listen on.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--api-port",
    type=int,
    default=None,
    help="Port of the users' API and web map (plain HTTP on --host; default: none).",
)
@click.option("--force", is_flag=True, help="Replace an existing node.toml and keys.")
def node_init(
    config_dir: str, nation: str, port: int, host: str, api_port: int | None, force: bool
) -> None:
    """Write node.toml, make the node's keys and the agreements/, partners/, sources/ folders."""
    from mista.config import init_node_dir
    from mista.share.keys import load_identity, public_key_text

    config = init_node_dir(config_dir, nation, port=port, host=host, api_port=api_port, force=force)
    identity = load_identity(config.keys_dir, config.nation)
    click.echo(f"node {config.nation} in {config.directory}, listening on {host}:{port}")
    if api_port is not None:
        click.echo(f"users' API and map on http://{host}:{api_port}/")
    click.echo(f"give partners: certificate {identity.tls_cert}")
    click.echo(f"               public key  {public_key_text(identity.public_key)}")


@main.group(
    epilog=example(
        "mista partners add nodes/ind --nation USA --endpoint https://127.0.0.1:9443 \\",
        "    --certificate usa-tls.crt --public-key ed25519:...",
    )
)
def partners() -> None:
    """Pin partner nodes (endpoint, TLS certificate, Ed25519 public key)."""


@partners.command(
    "add",
    epilog=example(
        "mista partners add nodes/ind --nation USA --endpoint https://127.0.0.1:9443 \\",
        "    --certificate usa-tls.crt --public-key ed25519:...",
    ),
)
@click.argument("config_dir", type=click.Path(file_okay=False))
@click.option("--nation", required=True, help="The partner's nation (ISO 3166-1 alpha-3).")
@click.option("--endpoint", required=True, help="The partner's https:// URL.")
@click.option(
    "--certificate",
    required=True,
    type=click.Path(dir_okay=False),
    help="The partner's TLS certificate (its keys/tls.crt).",
)
@click.option("--public-key", required=True, help="The partner's signing key (ed25519:...).")
@click.option("--force", is_flag=True, help="Replace a partner already pinned.")
def partners_add(
    config_dir: str, nation: str, endpoint: str, certificate: str, public_key: str, force: bool
) -> None:
    """Copy the partner's certificate to partners/ and write partners/NATION.toml."""
    from mista.config import add_partner

    partner = add_partner(
        config_dir,
        nation,
        endpoint=endpoint,
        certificate=certificate,
        public_key=public_key,
        force=force,
    )
    click.echo(f"partner {partner.nation} at {partner.endpoint} pinned in {partner.path}")


@partners.command("list", epilog=example("mista partners list nodes/ind"))
@click.argument("config_dir", type=click.Path(file_okay=False))
def partners_list(config_dir: str) -> None:
    """The partners of a node: nation, endpoint, certificate fingerprint."""
    from mista.config import load_node_config
    from mista.share.keys import cert_fingerprint

    for partner in load_node_config(config_dir).partners:
        fingerprint = cert_fingerprint(partner.certificate.read_bytes())
        click.echo(f"{partner.nation}\t{partner.endpoint}\tsha256:{fingerprint}")
