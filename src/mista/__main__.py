"""``python -m mista``: the same as the ``mista`` command."""

from mista.cli import main

main()
