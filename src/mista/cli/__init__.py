"""The ``mista`` command: a thin skin over ``mista.node``.

Each command parses its arguments and calls one library function; a ``MistaError`` becomes
a one-line message naming the way out, with exit code 2 for bad input or configuration
and 1 for everything else. Heavy imports happen inside commands so ``mista --help`` is fast.
Commands live in one module per topic (``data``: ingest, decode and queries), each
registered on ``main`` when imported below.
"""

from __future__ import annotations

import click

from mista import __version__
from mista.cli._options import Group, example

__all__ = ["main"]


@click.group(cls=Group, epilog=example("mista ingest feed.nmea && mista vessels"))
@click.version_option(__version__, prog_name="mista")
def main() -> None:
    """mista: a node for partner-nation maritime information sharing."""


# Registered by import, after main exists.
from mista.cli import data as _data  # noqa: E402

del _data
from mista.cli import users as _users  # noqa: E402

del _users
from mista.cli import serve as _serve  # noqa: E402

del _serve
from mista.cli import keys as _keys  # noqa: E402

del _keys
from mista.cli import audit as _audit  # noqa: E402

del _audit
from mista.cli import agreements as _agreements  # noqa: E402

del _agreements
from mista.cli.simulate import simulate as _simulate  # noqa: E402

main.add_command(_simulate)
del _simulate
from mista.cli import fuse as _fuse  # noqa: E402

del _fuse
from mista.cli import evaluate as _evaluate  # noqa: E402

del _evaluate
from mista.cli import alerts as _alerts  # noqa: E402

del _alerts
from mista.cli import demo as _demo  # noqa: E402

del _demo
from mista.cli import api as _api  # noqa: E402

del _api
from mista.cli import bus as _bus  # noqa: E402

del _bus
from mista.cli import store as _store  # noqa: E402

del _store
