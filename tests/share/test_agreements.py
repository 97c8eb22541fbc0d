"""Agreement files: the format read right, every problem found with its line and fix,
and garbage of every kind turned into problems, never a crash."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.errors import AgreementError
from mista.labels import Level
from mista.share.agreements import (
    REMOVABLE_FIELDS,
    Flow,
    Problem,
    check_agreements,
    load_agreements,
)

ROOT = Path(__file__).resolve().parents[2]

GOOD_TOML = """\
id = "ind-usa-white-shipping"
version = 2
title = "White shipping, Arabian Sea"
parties = ["IND", "USA"]
direction = "mutual"
valid_from = 2026-01-01T00:00:00Z
valid_until = "2027-01-01T00:00:00Z"

[[clause]]
id = "ais-arabian-sea"
flows = ["reports", "tracks"]
categories = ["white-shipping", "sensor:ais"]
max_level = "RESTRICTED"
area = { bbox = [50.0, 0.0, 78.0, 26.0] }
delay = "30m"
precision = 2
remove = ["receiver", "raw"]

[[clause]]
id = "aden-alerts"
flows = [
  "alerts",
]
categories = ["alerts"]
max_level = "CONFIDENTIAL"

[clause.area]
layer = "zones.geojson"
feature = "Gulf of Aden"
"""

GOOD_YAML = """\
id: ind-usa-white-shipping
version: 2
title: White shipping, Arabian Sea
parties: [IND, USA]
direction: mutual
valid_from: 2026-01-01T00:00:00Z
valid_until: "2027-01-01T00:00:00Z"
clause:
  - id: ais-arabian-sea
    flows: [reports, tracks]
    categories: [white-shipping, "sensor:ais"]
    max_level: RESTRICTED
    area: {bbox: [50.0, 0.0, 78.0, 26.0]}
    delay: 30m
    precision: 2
    remove: [receiver, raw]
  - id: aden-alerts
    flows: [alerts]
    categories: [alerts]
    max_level: CONFIDENTIAL
    area:
      layer: zones.geojson
      feature: Gulf of Aden
"""

ZONES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "Gulf of Aden"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[43, 11], [51, 11], [51, 15], [43, 15], [43, 11]]],
            },
        },
        {
            "type": "Feature",
            "properties": {"name": "a line"},
            "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]},
        },
        {
            "type": "Feature",
            "properties": {"name": "bow tie"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[0, 0], [2, 2], [2, 0], [0, 2], [0, 0]]],
            },
        },
    ],
}


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "zones.geojson").write_text(json.dumps(ZONES))
    path = directory / name
    path.write_text(text)
    return path


def problems_of(tmp_path: Path, name: str, text: str, **kwargs: str) -> list[Problem]:
    write(tmp_path, name, text)
    return check_agreements(tmp_path, **kwargs)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


def test_toml_and_yaml_read_the_same_agreement(tmp_path: Path) -> None:
    write(tmp_path / "t", "a.toml", GOOD_TOML)
    write(tmp_path / "y", "a.yaml", GOOD_YAML)
    (from_toml,) = load_agreements(tmp_path / "t", node="IND")
    (from_yaml,) = load_agreements(tmp_path / "y", node="USA")
    assert from_toml.id == "ind-usa-white-shipping"
    assert from_toml.version == 2
    assert from_toml.parties == from_toml.senders == from_toml.receivers == {"IND", "USA"}
    assert from_toml.valid_from == datetime(2026, 1, 1, tzinfo=UTC)
    assert from_toml.valid_until == datetime(2027, 1, 1, tzinfo=UTC)
    first, second = from_toml.clauses
    assert first.flows == {Flow.REPORTS, Flow.TRACKS}
    assert first.categories == {"white-shipping", "sensor:ais"}
    assert first.max_level == Level.RESTRICTED
    assert first.area is not None
    assert first.area.bbox == (50.0, 0.0, 78.0, 26.0)
    assert first.sanitise.delay == timedelta(minutes=30)
    assert first.sanitise.precision == 2
    assert first.sanitise.remove == {"receiver", "raw"}
    assert second.area is not None
    assert second.area.is_polygon
    assert second.area.contains(12.0, 45.0)
    assert not second.area.contains(12.0, 52.0)
    assert second.sanitise.delay == timedelta(0)
    assert second.sanitise.precision is None
    for ours, theirs in zip(from_toml.clauses, from_yaml.clauses, strict=True):
        assert ours == theirs
    assert (from_toml.id, from_toml.parties, from_toml.valid_until) == (
        from_yaml.id,
        from_yaml.parties,
        from_yaml.valid_until,
    )


def test_one_way_agreement_lets_only_its_sender_send(tmp_path: Path) -> None:
    text = GOOD_TOML.replace('direction = "mutual"', 'direction = "one-way"\nfrom = "IND"')
    write(tmp_path, "a.toml", text)
    (agreement,) = load_agreements(tmp_path)
    assert agreement.allows("IND", "USA")
    assert not agreement.allows("USA", "IND")
    assert not agreement.allows("IND", "IND")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("version = 2", 'version = "2"', 2, "version", "whole number"),
        ("version = 2", "version = true", 2, "version", "whole number"),
        ('parties = ["IND", "USA"]', 'parties = ["IND", "XYZ"]', 4, "parties", "alpha-3"),
        ('parties = ["IND", "USA"]', 'parties = ["IND"]', 4, "parties", "two parties"),
        ('parties = ["IND", "USA"]', 'parties = ["IND", "IND"]', 4, "parties", "twice"),
        ('direction = "mutual"', 'direction = "both"', 5, "direction", "not a direction"),
        ('direction = "mutual"', 'direction = "one-way"', 5, "direction", "needs from"),
        (
            'direction = "mutual"',
            'direction = "one-way"\nfrom = "JPN"',
            6,
            "from",
            "not one of the parties",
        ),
        (
            "valid_from = 2026-01-01T00:00:00Z",
            "valid_from = 2026-01-01T00:00:00",
            6,
            "valid_from",
            "time zone",
        ),
        ("valid_from = 2026-01-01T00:00:00Z", "valid_from = 2026-01-01", 6, "valid_from", "date"),
        ("valid_from = 2026-01-01T00:00:00Z", 'valid_from = "soon"', 6, "valid_from", "ISO 8601"),
        (
            "valid_from = 2026-01-01T00:00:00Z",
            "valid_from = 2027-01-01T00:00:00Z",
            7,
            "valid_until",
            "not after valid_from",
        ),
        ('title = "White shipping, Arabian Sea"', "colour = 1", 3, "colour", "unknown field"),
        ('id = "aden-alerts"', 'id = "ais-arabian-sea"', 20, "clause[2].id", "used twice"),
        ('id = "aden-alerts"', 'id = "no spaces"', 20, "clause[2].id", "not a valid name"),
        ('"tracks"]', '"radar"]', 11, "clause[1].flows", "not a flow"),
        ('categories = ["alerts"]', "categories = []", 24, "clause[2].categories", "non-empty"),
        (
            'max_level = "RESTRICTED"',
            'max_level = "TOP SECRET"',
            13,
            "clause[1].max_level",
            "not a level",
        ),
        (
            "[50.0, 0.0, 78.0, 26.0]",
            "[50.0, 30.0, 78.0, 26.0]",
            14,
            "clause[1].area.bbox",
            "S <= N",
        ),
        ("[50.0, 0.0, 78.0, 26.0]", "[50.0, 0.0, 78.0]", 14, "clause[1].area.bbox", "four numbers"),
        ("[50.0, 0.0, 78.0, 26.0]", "[50.0, 0.0, 278.0, 26.0]", 14, "clause[1].area.bbox", "-180"),
        (
            "[50.0, 0.0, 78.0, 26.0]",
            '[50.0, 0.0, "x", 26.0]',
            14,
            "clause[1].area.bbox",
            "not a number",
        ),
        ('delay = "30m"', 'delay = "30 minutes"', 15, "clause[1].delay", "not a delay"),
        ('delay = "30m"', "delay = 30", 15, "clause[1].delay", "quoted"),
        ('delay = "30m"', 'delay = "9999d"', 15, "clause[1].delay", "longer"),
        ("precision = 2", "precision = 7", 16, "clause[1].precision", "0..6"),
        ("precision = 2", "precision = 2.5", 16, "clause[1].precision", "0..6"),
        ('remove = ["receiver", "raw"]', 'remove = ["label"]', 17, "clause[1].remove", "removable"),
        ('remove = ["receiver", "raw"]', 'remove = ["lat"]', 17, "clause[1].remove", "removable"),
        (
            'layer = "zones.geojson"',
            'layer = "missing.geojson"',
            28,
            "clause[2].area.layer",
            "not found",
        ),
        (
            'layer = "zones.geojson"',
            'layer = "/etc/zones.geojson"',
            28,
            "clause[2].area.layer",
            "absolute",
        ),
        (
            'feature = "Gulf of Aden"',
            'feature = "Gulf"',
            29,
            "clause[2].area.feature",
            "no feature",
        ),
        (
            'feature = "Gulf of Aden"',
            'feature = "a line"',
            29,
            "clause[2].area.feature",
            "not a Polygon",
        ),
        (
            'feature = "Gulf of Aden"',
            'feature = "bow tie"',
            29,
            "clause[2].area.feature",
            "not a valid polygon",
        ),
        ('feature = "Gulf of Aden"', "", 27, "clause[2].area.feature", "not a feature name"),
        ('feature = "Gulf of Aden"', "bbox = [0, 0, 1, 1]", 27, "clause[2].area", "either bbox"),
    ],
)
def test_each_toml_problem_names_line_field_and_fix(
    tmp_path: Path, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD_TOML
    problem = only(problems_of(tmp_path, "a.toml", GOOD_TOML.replace(old, new, 1)))
    assert (problem.path, problem.line, problem.field) == (tmp_path / "a.toml", line, field)
    assert words in problem.message
    assert problem.fix
    assert str(problem).startswith(f"{tmp_path / 'a.toml'}:{line}: {field}: ")


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "words"),
    [
        ("parties: [IND, USA]", "parties: [IND, usa]", 4, "parties", "alpha-3"),
        ("    max_level: CONFIDENTIAL", "    max_level: 2", 20, "clause[2].max_level", "level"),
        ("    delay: 30m", "    delay: [30m]", 14, "clause[1].delay", "quoted"),
        (
            "      feature: Gulf of Aden",
            "      feature: 7",
            23,
            "clause[2].area.feature",
            "feature",
        ),
        (
            "  - id: aden-alerts",
            "  - id: aden-alerts\n    colour: red",
            18,
            "clause[2].colour",
            "unknown",
        ),
        ("version: 2", "version: 2\nversion: 3", 3, "version", "twice"),
        ("valid_from: 2026-01-01T00:00:00Z", "valid_from: 2026-01-01", 6, "valid_from", "date"),
    ],
)
def test_each_yaml_problem_names_line_field_and_fix(
    tmp_path: Path, old: str, new: str, line: int, field: str, words: str
) -> None:
    assert old in GOOD_YAML
    problem = only(problems_of(tmp_path, "a.yml", GOOD_YAML.replace(old, new, 1)))
    assert (problem.line, problem.field) == (line, field)
    assert words in problem.message


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = (
        GOOD_TOML.replace("version = 2", "version = 0")
        .replace('"tracks"]', '"radar"]')
        .replace("precision = 2", "precision = -1")
        .replace('feature = "Gulf of Aden"', 'feature = "Gulf"')
    )
    write(tmp_path, "a.toml", text)
    write(tmp_path, "b.yaml", "id: b\nversion: 1\n")
    problems = check_agreements(tmp_path)
    fields = [(p.path.name, p.field) for p in problems]
    assert ("a.toml", "version") in fields
    assert ("a.toml", "clause[1].flows") in fields
    assert ("a.toml", "clause[1].precision") in fields
    assert ("a.toml", "clause[2].area.feature") in fields
    for missing in ("parties", "direction", "valid_from", "valid_until", "clause"):
        assert any(
            p.path.name == "b.yaml" and f"{missing!r} is missing" in p.message for p in problems
        )
    with pytest.raises(AgreementError) as raised:
        load_agreements(tmp_path)
    for problem in problems:
        assert str(problem) in str(raised.value)


def test_missing_clause_fields_are_named(tmp_path: Path) -> None:
    text = GOOD_TOML.replace('max_level = "CONFIDENTIAL"\n', "")
    problem = only(problems_of(tmp_path, "a.toml", text))
    assert (problem.line, problem.field) == (19, "clause[2]")
    assert "'max_level' is missing" in problem.message


def test_duplicate_agreement_ids_across_files(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", GOOD_TOML)
    write(tmp_path, "b.yaml", GOOD_YAML)
    problem = only(check_agreements(tmp_path))
    assert (problem.path.name, problem.line, problem.field) == ("b.yaml", 1, "id")
    assert "a.toml" in problem.message


def test_a_node_that_is_not_a_party_is_a_problem(tmp_path: Path) -> None:
    problem = only(problems_of(tmp_path, "a.toml", GOOD_TOML, node="JPN"))
    assert (problem.line, problem.field) == (4, "parties")
    assert "JPN" in problem.message


def test_syntax_errors_give_their_line(tmp_path: Path) -> None:
    toml = only(
        problems_of(tmp_path / "t", "a.toml", GOOD_TOML.replace("precision = 2", "precision = = 2"))
    )
    assert (toml.line, toml.field) == (16, "syntax")
    yml = only(
        problems_of(
            tmp_path / "y", "a.yaml", GOOD_YAML.replace("flows: [alerts]", "flows: [alerts")
        )
    )
    assert yml.field == "syntax"
    assert 19 <= yml.line <= 21


def test_empty_and_missing_directories(tmp_path: Path) -> None:
    assert load_agreements(tmp_path) == []
    (tmp_path / "notes.txt").write_text("not an agreement")
    assert check_agreements(tmp_path) == []
    problem = only(check_agreements(tmp_path / "absent"))
    assert problem.field == "directory"
    with pytest.raises(AgreementError, match="not a directory"):
        load_agreements(tmp_path / "absent")


def test_removable_fields_are_documented() -> None:
    page = (ROOT / "docs" / "agreements.md").read_text()
    for name in REMOVABLE_FIELDS:
        assert f"`{name}`" in page, name


def test_the_examples_in_the_docs_load(tmp_path: Path) -> None:
    page = (ROOT / "docs" / "agreements.md").read_text()
    blocks = re.findall(r"```(toml|yaml|json)\n(.*?)```", page, flags=re.DOTALL)
    kinds = {kind for kind, _ in blocks}
    assert {"toml", "yaml", "json"} <= kinds
    for index, (kind, text) in enumerate(blocks):
        name = "zones.geojson" if kind == "json" else f"example{index}.{kind}"
        (tmp_path / name).write_text(text)
    loaded = load_agreements(tmp_path, node="IND")
    assert len(loaded) == sum(kind != "json" for kind, _ in blocks)


# -- garbage in, problems out ------------------------------------------------------------

GARBAGE = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def assert_problems_or_agreement(directory: Path) -> None:
    problems = check_agreements(directory)
    for problem in problems:
        assert problem.line >= 0
        assert problem.field
        assert problem.message
        assert problem.fix
    if not problems:
        assert len(load_agreements(directory)) == 1


@GARBAGE
@given(data=st.binary(max_size=400), suffix=st.sampled_from([".toml", ".yaml", ".yml"]))
def test_random_bytes_give_problems_not_crashes(tmp_path: Path, data: bytes, suffix: str) -> None:
    directory = tmp_path / "garbage"
    directory.mkdir(exist_ok=True)
    for old in directory.iterdir():
        old.unlink()
    (directory / f"a{suffix}").write_bytes(data)
    problems = check_agreements(directory)
    assert problems  # no random bytes make a whole agreement


@GARBAGE
@given(cut=st.integers(0, len(GOOD_TOML) - 1), suffix=st.sampled_from([".toml", ".yaml"]))
def test_truncated_files_give_problems_not_crashes(tmp_path: Path, cut: int, suffix: str) -> None:
    directory = tmp_path / "cut"
    source = GOOD_TOML if suffix == ".toml" else GOOD_YAML
    for old in directory.glob("a.*"):
        old.unlink()
    write(directory, f"a{suffix}", source[: min(cut, len(source) - 1)])
    assert_problems_or_agreement(directory)


hostile_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(),
        st.text(max_size=12),
        st.sampled_from(["IND", "reports", "SECRET", "30m", "mutual", "one-way", "zones.geojson"]),
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@GARBAGE
@given(data=st.data())
def test_hostile_values_in_every_field_give_problems(tmp_path: Path, data: st.DataObject) -> None:
    document = yaml.safe_load(GOOD_YAML)
    clause = document["clause"][data.draw(st.integers(0, 1))]
    target = data.draw(st.sampled_from([document, clause, clause.get("area") or clause]))
    key = data.draw(st.sampled_from(sorted(target)))
    target[key] = data.draw(hostile_values)
    directory = tmp_path / "hostile"
    for old in directory.glob("a.*"):
        old.unlink()
    write(directory, "a.yaml", yaml.safe_dump(document))
    assert_problems_or_agreement(directory)


# -- the commands, as a user runs them ---------------------------------------------------

SAMPLE = ROOT / "src" / "mista" / "data" / "sample.nmea"


def mista(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mista", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_command_prints_every_problem_and_exits_2(tmp_path: Path) -> None:
    write(tmp_path / "good", "a.toml", GOOD_TOML)
    done = mista("agreements", "check", tmp_path / "good", "--node", "IND")
    assert done.returncode == 0, done.stderr
    assert "1 agreement(s), 2 clause(s), no problems" in done.stdout
    bad = GOOD_TOML.replace("precision = 2", "precision = 9").replace('"tracks"]', '"radar"]')
    write(tmp_path / "bad", "a.toml", bad)
    done = mista("agreements", "check", tmp_path / "bad")
    assert done.returncode == 2
    lines = done.stdout.splitlines()
    assert lines == [
        f"{tmp_path / 'bad' / 'a.toml'}:11: clause[1].flows: 'radar' is not a flow "
        "(fix: use some of: reports, tracks, alerts, features)",
        f"{tmp_path / 'bad' / 'a.toml'}:16: clause[1].precision: 9 is not a whole number 0..6 "
        "(fix: write the decimal places kept, e.g. precision = 2 (about 1 km))",
    ]


def test_explain_command_gives_each_record_its_outcome_and_why(tmp_path: Path) -> None:
    # The bundled sample is off Los Angeles, January 2016; the clause covers part of it.
    agreement = GOOD_TOML.replace("[50.0, 0.0, 78.0, 26.0]", "[-119.0, 33.0, -117.0, 34.0]")
    agreement = agreement.replace('"sensor:ais"', '"sensor:ais", "alerts"')
    write(tmp_path / "agreements", "a.toml", agreement.replace("2026-01-01", "2015-01-01"))
    source = tmp_path / "source.toml"
    source.write_text(
        'name = "shore"\noriginator = "IND"\nlabel = "RESTRICTED//REL TO IND,USA//white-shipping"\n'
    )
    done = mista(
        "agreements", "explain", tmp_path / "agreements", "--to", "USA", "--node", "IND",
        "--input", SAMPLE, "--source-config", source, "--now", "2016-01-11T00:00:00Z",
        "--format", "jsonl",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(rows) > 1000
    outcomes = {row["outcome"] for row in rows}
    assert outcomes == {"release", "hold", "deny"}  # the last 30 minutes wait for their delay
    for row in rows:
        if row["outcome"] == "hold":
            observed = datetime.fromisoformat(row["observed_at"])
            assert datetime.fromisoformat(row["not_before"]) == observed + timedelta(minutes=30)
            assert observed > datetime(2016, 1, 10, 23, 30, tzinfo=UTC)
        if row["outcome"] != "deny":
            assert -119 <= row["lon"] <= -117
            assert 33 <= row["lat"] <= 34
            assert row["clause"] == "ais-arabian-sea"
        else:
            assert row["reason"].startswith("rule 5")
    done = mista("agreements", "explain", tmp_path / "agreements", "--to", "USA")
    assert done.returncode == 2
    assert "exactly one of --input FILE or --since TIME" in done.stderr


def test_yaml_alias_bombs_are_problems_in_bounded_time(tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 9)
        lines.append(f"a{level}: &a{level} [{refs}]")
    lines.append("parties: *a9")
    started = time.perf_counter()
    problems = problems_of(tmp_path, "bomb.yaml", "\n".join(lines) + "\n")
    assert time.perf_counter() - started < 5
    assert any(p.field == "parties" for p in problems)
    assert all(len(str(p)) < 1000 for p in problems)


def test_explain_reads_the_store_since_a_time(tmp_path: Path) -> None:
    agreement = GOOD_TOML.replace("[50.0, 0.0, 78.0, 26.0]", "[-119.0, 33.0, -117.0, 34.0]")
    write(tmp_path / "agreements", "a.toml", agreement.replace("2026-01-01", "2015-01-01"))
    source = tmp_path / "source.toml"
    source.write_text('originator = "IND"\nlabel = "RESTRICTED//REL TO USA//white-shipping"\n')
    store = tmp_path / "node.duckdb"
    done = mista("ingest", SAMPLE, "--source-config", source, "--store", store)
    assert done.returncode == 0, done.stderr
    done = mista(
        "agreements", "explain", tmp_path / "agreements", "--to", "USA", "--node", "IND",
        "--since", "2016-01-10T23:30:00Z", "--store", store, "--now", "2016-01-12T00:00:00Z",
        "--format", "jsonl",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows
    assert all(row["observed_at"] >= "2016-01-10T23:30:00" for row in rows)
    assert {row["outcome"] for row in rows} == {"release", "deny"}
    assert all(row["label"] == "RESTRICTED//REL TO IND,USA//white-shipping" for row in rows)
