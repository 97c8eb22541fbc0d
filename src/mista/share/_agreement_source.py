"""Reading one agreement file (TOML or YAML) into plain data plus the line of every key.

``tomllib`` gives no positions, so the TOML locator scans the text itself: table headers
(``[[clause]]`` counts array items, ``[clause.area]`` belongs to the last clause) and
``key =`` lines, dotted keys included. YAML positions come from ``yaml.compose`` marks.
A key the locator cannot place is reported at the line of its nearest located parent.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

__all__ = [
    "MAX_FILE_BYTES",
    "KeyPath",
    "Located",
    "SyntaxProblem",
    "dotted",
    "read_agreement_file",
]

#: Agreement files are a few kilobytes; anything far larger is not one.
MAX_FILE_BYTES = 1 << 20

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class SyntaxProblem:
    """A file that cannot be parsed at all (or a duplicate key YAML would swallow)."""

    line: int
    field: str
    message: str
    fix: str


@dataclass
class Located:
    """A parsed document and the 1-based line of each key path in it."""

    data: object
    lines: dict[KeyPath, int] = field(default_factory=dict)
    problems: list[SyntaxProblem] = field(default_factory=list)

    def line(self, path: KeyPath) -> int:
        """The line of ``path``, else of its nearest located parent, else 1."""
        for end in range(len(path), 0, -1):
            found = self.lines.get(path[:end])
            if found is not None:
                return found
        return 1


def read_agreement_file(path: Path) -> Located:
    """Parse ``path`` by its suffix; syntax errors become ``problems`` with their line."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return _failed(
                1,
                "file",
                f"{size:,} bytes is far larger than an agreement",
                f"keep agreement files under {MAX_FILE_BYTES:,} bytes",
            )
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        return _failed(1, "file", f"not UTF-8 text ({exc.reason})", "save the file as UTF-8")
    except OSError as exc:
        return _failed(1, "file", f"cannot be read: {exc.strerror}", "check the file and access")
    if "\x00" in text:
        return _failed(1, "file", "contains NUL bytes", "save it as plain UTF-8 text")
    if path.suffix == ".toml":
        return _read_toml(text)
    return _read_yaml(text)


def _failed(line: int, field_name: str, message: str, fix: str) -> Located:
    return Located(data=None, problems=[SyntaxProblem(line, field_name, message, fix)])


# -- TOML -------------------------------------------------------------------------------

_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*(\]\]?)\s*(?:#.*)?$")
_KEY = re.compile(
    r"^\s*((?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'))*)\s*="
)


def _read_toml(text: str) -> Located:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _TOML_LINE.search(message)
        line = int(match.group(1)) if match else 1
        detail = _TOML_LINE.sub("", message).strip()
        return _failed(
            line, "syntax", f"not valid TOML: {detail}", "fix the TOML syntax on this line"
        )
    return Located(data=data, lines=dict(_toml_lines(text)))


def _key_parts(text: str) -> list[str]:
    parts = re.findall(r"[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*'", text)
    return [part[1:-1] if part[:1] in "\"'" else part for part in parts]


def _toml_lines(text: str) -> Iterator[tuple[KeyPath, int]]:
    table: KeyPath = ()
    counts: dict[tuple[str, ...], int] = {}
    depth = 0  # open brackets/braces of a value spanning lines
    in_string: str | None = None  # the open multi-line string delimiter
    for number, line in enumerate(text.splitlines(), start=1):
        if depth == 0 and in_string is None:
            header = _HEADER.match(line)
            if header is not None:
                names = _key_parts(header.group(2))
                if names and header.group(1) == "[[":
                    key = tuple(names)
                    counts[key] = counts.get(key, 0) + 1
                    base = _with_indexes(names[:-1], counts)
                    yield (*base, names[-1]), number
                    table = (*base, names[-1], counts[key] - 1)
                    yield table, number
                elif names:
                    table = _with_indexes(names, counts)
                    yield table, number
                continue
            assignment = _KEY.match(line)
            if assignment is not None:
                yield (*table, *_key_parts(assignment.group(1))), number
        depth, in_string = _scan_value(line, depth, in_string)


def _scan_value(line: str, depth: int, in_string: str | None) -> tuple[int, str | None]:
    """Bracket depth and open multi-line string after ``line`` (quotes and comments aware)."""
    i = 0
    while i < len(line):
        if in_string is not None:
            end = line.find(in_string, i)
            if end < 0:
                return depth, in_string
            i, in_string = end + 3, None
            continue
        char = line[i]
        if line.startswith('"""', i) or line.startswith("'''", i):
            in_string = line[i : i + 3]
            i += 3
        elif char in "\"'":
            end = i + 1
            while end < len(line) and line[end] != char:
                end += 2 if char == '"' and line[end] == "\\" else 1
            i = end + 1
        elif char == "#":
            break
        else:
            depth += char in "[{"
            depth -= char in "]}"
            depth = max(depth, 0)
            i += 1
    return depth, in_string


def _with_indexes(names: list[str], counts: dict[tuple[str, ...], int]) -> KeyPath:
    """``[clause.area]`` after two ``[[clause]]`` is ``("clause", 1, "area")``."""
    path: list[str | int] = []
    for end, name in enumerate(names, start=1):
        path.append(name)
        count = counts.get(tuple(names[:end]))
        if count:
            path.append(count - 1)
    return tuple(path)


# -- YAML -------------------------------------------------------------------------------


def _read_yaml(text: str) -> Located:
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else 1
        return _failed(
            line,
            "syntax",
            f"not valid YAML: {exc.problem or exc.context or 'cannot parse'}",
            "fix the YAML syntax on this line",
        )
    except (yaml.YAMLError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        return _failed(1, "syntax", f"not valid YAML: {exc}", "fix the YAML syntax")
    located = Located(data=data)
    if node is not None:
        _yaml_lines(node, (), located, set())
    return located


def _yaml_lines(
    node: yaml.Node, path: KeyPath, located: Located, seen: set[int], depth: int = 0
) -> None:
    # Each node once: aliases share nodes, and a few lines of them can stand for billions.
    if depth > 20 or id(node) in seen:  # agreements are four levels deep
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        keys: set[str] = set()
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                continue
            key = str(key_node.value)
            child = (*path, key)
            line = key_node.start_mark.line + 1
            if key in keys:
                located.problems.append(
                    SyntaxProblem(
                        line,
                        dotted(child),
                        f"key {key!r} is given twice",
                        "keep one of them",
                    )
                )
            keys.add(key)
            located.lines.setdefault(child, line)
            _yaml_lines(value_node, child, located, seen, depth + 1)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            located.lines.setdefault(child, item.start_mark.line + 1)
            _yaml_lines(item, child, located, seen, depth + 1)


def dotted(path: KeyPath) -> str:
    """``("clause", 0, "delay")`` -> ``clause[1].delay`` (items counted from 1, as people do)."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part + 1}]"
        else:
            text += ("." if text else "") + part
    return text or "file"
