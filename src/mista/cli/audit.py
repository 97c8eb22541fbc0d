"""Audit commands: verify a log, export it for a partner, and check a partner's export.

See docs/audit.md for the log format and what each check proves.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from mista.cli import main
from mista.cli._options import example

if TYPE_CHECKING:
    from mista.share.audit import AuditReport

_KEY_HELP = "The signer's public key: a signing.pub file or its ed25519:... text."
_TAIL_HELP = (
    "Accept entries after the last signed checkpoint (a log still being written); "
    "nothing proves those were not cut or added."
)


@main.group(
    epilog=example(
        "mista audit verify audit.jsonl --key keys/signing.pub",
        "mista audit export audit.jsonl --partner USA > ind-for-usa.json",
        "mista audit compare ind-for-usa.json --key ind.pub --received audit.jsonl --me USA",
    )
)
def audit() -> None:
    """Check the hash-chained audit log, and check a partner's log against yours."""


def _finish(report: AuditReport) -> None:
    for problem in report.problems:
        click.echo(problem)
    click.echo(report.summary(), err=True)
    sys.exit(0 if report.ok else 1)


@audit.command(
    epilog=example(
        "mista audit verify audit.jsonl --key keys/signing.pub",
        "mista audit verify audit.jsonl --key ed25519:3q2+7w... --allow-unsigned-tail",
        "mista audit verify audit.jsonl --key keys/signing.pub --head 1200:3a486c6d...",
    )
)
@click.argument("log", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", required=True, help=_KEY_HELP)
@click.option("--allow-unsigned-tail", is_flag=True, help=_TAIL_HELP)
@click.option(
    "--head",
    "head",
    metavar="SEQ:HASH",
    help="An entry an earlier verify reported as the head: it must still be in the log.",
)
def verify(log: Path, key: str, allow_unsigned_tail: bool, head: str | None) -> None:
    """Recompute every hash and checkpoint signature of LOG. Exit 0 and a summary when it
    is whole; exit 1 and one line per problem (naming the line) when not."""
    from mista.share.audit import verify_log
    from mista.share.keys import load_public_key

    report = verify_log(
        log,
        load_public_key(key),
        allow_unsigned_tail=allow_unsigned_tail,
        expected_head=_parse_head(head),
    )
    _finish(report)


def _parse_head(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or len(digest) != 64:
        from mista.errors import InputError

        raise InputError(
            f"--head {text!r} is not SEQ:HASH as a verify summary prints it (e.g. 1200:3a48...)"
        )
    return int(seq), digest.lower()


@audit.command(epilog=example("mista audit export audit.jsonl --partner USA > ind-for-usa.json"))
@click.argument("log", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--partner", required=True, help="The partner's nation (e.g. USA).")
def export(log: Path, partner: str) -> None:
    """Print LOG as PARTNER may see it (JSON): its entries and the checkpoints in full,
    every other entry reduced to its hashes."""
    from mista.share.audit import export_for
    from mista.wire import canonical_json

    entries = export_for(log, partner)
    click.echo("[" + ",\n".join(canonical_json(e).decode() for e in entries) + "]")


@audit.command(
    epilog=example(
        "mista audit compare ind-for-usa.json --key ind.pub --received audit.jsonl --me USA"
    )
)
@click.argument("export_file", metavar="EXPORT", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", required=True, help=_KEY_HELP)
@click.option(
    "--received",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Your own audit log: its receive entries say what you got from the sender.",
)
@click.option("--me", required=True, help="Your nation (the export was made for it).")
@click.option("--sender", help="The sender's nation (default: from the export's checkpoints).")
@click.option("--allow-unsigned-tail", is_flag=True, help=_TAIL_HELP)
def compare(
    export_file: Path,
    key: str,
    received: Path,
    me: str,
    sender: str | None,
    allow_unsigned_tail: bool,
) -> None:
    """Check a sender's EXPORT: its chain and checkpoints verify, and the batches it says it
    released to you are exactly those your log says you received from it."""
    from mista.errors import InputError
    from mista.share.audit import compare_with_export, received_batches
    from mista.share.keys import load_public_key
    from mista.wire import WireError, parse_json

    try:
        entries = parse_json(export_file.read_bytes(), max_bytes=1 << 30, what="export")
    except OSError as exc:
        raise InputError(f"cannot read export {export_file}: {exc.strerror}") from None
    except WireError as exc:
        raise InputError(f"{export_file} is not an audit export: {exc.detail}") from None
    if not isinstance(entries, list):
        raise InputError(f"{export_file} is not an audit export (a JSON list of entries)")
    if sender is None:
        sender = next(
            (
                e["detail"].get("nation")
                for e in entries
                if isinstance(e, dict)
                and e.get("kind") == "checkpoint"
                and isinstance(e.get("detail"), dict)
            ),
            None,
        )
        if not isinstance(sender, str):
            raise InputError(f"{export_file} has no checkpoint naming its sender: give --sender")
    report = compare_with_export(
        entries,
        load_public_key(key),
        received_batch_hashes=received_batches(received, sender),
        me=me,
        allow_unsigned_tail=allow_unsigned_tail,
    )
    _finish(report)
