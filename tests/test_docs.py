"""Docs held to the code: every command is in the README, every --help ends with an example.

(Reject reasons are held to docs/ by tests/ais/test_framing.py and tests/ais/test_payload.py.)
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from mista.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"mista {command}" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("command", sorted(main.commands))
def test_every_command_help_ends_with_an_example(command: str) -> None:
    epilog = main.commands[command].epilog or ""
    assert "Example:" in epilog
    assert f"mista {command}" in epilog


def _subcommands() -> list[tuple[str, str]]:
    return sorted(
        (name, sub)
        for name, command in main.commands.items()
        if isinstance(command, click.Group)
        for sub in command.commands
    )


@pytest.mark.parametrize(("group", "command"), _subcommands())
def test_every_subcommand_help_ends_with_an_example(group: str, command: str) -> None:
    group_command = main.commands[group]
    assert isinstance(group_command, click.Group)
    epilog = group_command.commands[command].epilog or ""
    assert "Example:" in epilog
    assert f"mista {group} {command}" in epilog
