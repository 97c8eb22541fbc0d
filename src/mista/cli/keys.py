"""Key commands: make and show this node's identity (signing key and TLS certificate).

Partners pin what ``mista keys init`` prints: the ``ed25519:`` public key and the
certificate (its SHA-256 fingerprint lets them check the file they were sent).
"""

from __future__ import annotations

from pathlib import Path

import click

from mista.cli import main
from mista.cli._options import example


@main.group(
    epilog=example("mista keys init keys --nation IND", "mista keys show keys"),
)
def keys() -> None:
    """Make and show this node's Ed25519 signing key and TLS certificate."""


def _print_facts(facts: dict[str, str]) -> None:
    width = max(len(name) for name in facts)
    for name, value in facts.items():
        click.echo(f"{name:<{width}}  {value}")


@keys.command(
    epilog=example(
        "mista keys init keys --nation IND",
        "mista keys init keys --nation IND --host 10.1.2.3 --host node.navy.example --force",
    )
)
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--nation", required=True, help="This node's nation (ISO 3166-1 alpha-3, e.g. IND).")
@click.option(
    "--host",
    "hosts",
    multiple=True,
    help="A name or IP address partners reach this node by (repeat; default 127.0.0.1 and "
    "localhost).",
)
@click.option(
    "--days", type=click.IntRange(min=1), default=825, show_default=True, help="Validity."
)
@click.option("--force", is_flag=True, help="Replace keys already in DIRECTORY.")
def init(directory: Path, nation: str, hosts: tuple[str, ...], days: int, force: bool) -> None:
    """Write signing.key, signing.pub, tls.key and tls.crt into DIRECTORY (private keys
    mode 0600) and print what partners need: the public key and certificate fingerprint."""
    from mista.share.keys import identity_facts, init_keys

    identity = init_keys(
        directory, nation, hosts=hosts or ("127.0.0.1", "localhost"), days=days, force=force
    )
    _print_facts(identity_facts(identity))
    click.echo(
        f"send partners {directory / 'signing.pub'} and {identity.tls_cert}; keep the .key "
        "files to this node",
        err=True,
    )


@keys.command(epilog=example("mista keys show keys"))
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
def show(directory: Path) -> None:
    """Check the identity in DIRECTORY and print its nation, public key, certificate
    fingerprint, hosts and expiry."""
    from mista.share.keys import TLS_CERT_FILE, cert_nation, identity_facts, load_identity

    certificate = directory / TLS_CERT_FILE
    try:
        nation = cert_nation(certificate.read_bytes())
    except FileNotFoundError:
        from mista.errors import ConfigError

        raise ConfigError(
            f"{certificate} is missing (make the keys with: mista keys init {directory} "
            "--nation XXX)"
        ) from None
    _print_facts(identity_facts(load_identity(directory, nation)))
