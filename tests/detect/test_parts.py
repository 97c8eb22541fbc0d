"""``[detect] parts``: every behaviour in exactly one part, coupled ones together."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mista.config import load_node_config
from mista.detect.parts import (
    COUPLED,
    PER_VESSEL,
    SPANNING,
    all_kinds,
    one_part,
    parse_partitions,
    parse_parts,
    partition_parts,
)
from mista.errors import ConfigError

KINDS = all_kinds()


def test_the_default_is_one_part_of_every_behaviour() -> None:
    assert one_part() == (KINDS,)
    assert len(KINDS) == 10


@given(st.lists(st.integers(0, 3), min_size=len(KINDS), max_size=len(KINDS)))
def test_any_split_keeping_coupled_kinds_together_is_taken(assignment: list[int]) -> None:
    where = dict(zip(KINDS, assignment, strict=True))
    for first, second in COUPLED:
        where[second] = where[first]
    used = sorted(set(where.values()))
    value = [[kind for kind in KINDS if where[kind] == number] for number in used]
    parts = parse_parts(value)
    assert sorted(kind for part in parts for kind in part) == list(KINDS)
    assert [set(part) for part in parts] == [set(part) for part in value]


@given(
    st.lists(st.lists(st.sampled_from(KINDS), max_size=6), max_size=5),
)
def test_a_split_missing_or_repeating_a_behaviour_is_refused(value: list[list[str]]) -> None:
    flat = [kind for part in value for kind in part]
    whole = sorted(flat) == list(KINDS) and all(value)
    coupled = all(
        any(first in part and second in part for part in value) for first, second in COUPLED
    )
    if whole and coupled:
        assert parse_parts(value)
    else:
        with pytest.raises(ConfigError, match=r"detect\.parts"):
            parse_parts(value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("ais-gap", "list of lists"),
        ([], "list of lists"),
        ([[*KINDS], []], "non-empty list"),
        ([[*KINDS, "tea-party"]], "unknown behaviour 'tea-party'"),
        ([[*KINDS, 7]], "not a behaviour name"),
        ([[*KINDS], ["loitering"]], "loitering is in part 0 and part 1"),
        ([[k for k in KINDS if k != "zone-entry"]], "zone-entry in no part"),
        (
            [[k for k in KINDS if k != "spoofing"], ["spoofing"]],
            "spoofing and shared-mmsi must be in one part",
        ),
        ([[k] for k in KINDS] * 2, "at most 16"),
    ],
)
def test_each_mistake_is_named(value: Any, says: str) -> None:
    with pytest.raises(ConfigError, match=says):
        parse_parts(value)


def test_underscores_are_taken_for_dashes() -> None:
    value = [[kind.replace("-", "_") for kind in KINDS]]
    assert parse_parts(value) == (KINDS,)


def test_node_toml_gives_the_parts(tmp_path: Any) -> None:
    (tmp_path / "node.toml").write_text(
        'nation = "IND"\nlisten = "127.0.0.1:8443"\n'
        "[detect]\n"
        'parts = [["ais-gap", "close-approach"], '
        '["dark-vessel", "encounter", "identity-change", "loitering", "port-visit", '
        '"shared-mmsi", "spoofing", "zone-entry"]]\n'
        "[detect.loitering]\nmin_duration_s = 7200\n",
        encoding="utf-8",
    )
    config = load_node_config(tmp_path)
    assert config.fusion_parts[0] == ("ais-gap", "close-approach")
    assert len(config.fusion_parts) == 2
    (tmp_path / "node.toml").write_text(
        'nation = "IND"\nlisten = "127.0.0.1:8443"\n[detect]\nparts = [["ais-gap"]]\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match=r"node\.toml: detect\.parts: .* in no part"):
        load_node_config(tmp_path)


@given(st.integers(1, 15).flatmap(lambda parts: st.tuples(st.just(parts), st.data())))
def test_any_split_of_the_bus_partitions_is_taken(drawn: tuple[int, Any]) -> None:
    parts, data = drawn
    count = data.draw(st.integers(parts, 64))
    owner = data.draw(st.permutations(range(count)))
    value: list[list[int]] = [[] for _ in range(parts)]
    for index, partition in enumerate(owner):  # every part gets one, the rest anywhere
        number = index if index < parts else data.draw(st.integers(0, parts - 1))
        value[number].append(partition)
    split = parse_partitions(value)
    assert [sorted(part.members) for part in split] == [sorted(v) for v in value]
    assert {part.count for part in split} == {count}
    assert partition_parts(parts) == (SPANNING, *([PER_VESSEL] * parts))


def test_spanning_and_per_vessel_kinds_are_every_kind_once() -> None:
    assert sorted(SPANNING + PER_VESSEL) == list(KINDS)
    for first, second in COUPLED:
        assert (first in PER_VESSEL) == (second in PER_VESSEL)


def test_node_toml_gives_the_partitions_and_refuses_parts_beside_them(tmp_path: Any) -> None:
    head = 'nation = "IND"\nlisten = "127.0.0.1:8443"\n[detect]\n'
    (tmp_path / "node.toml").write_text(
        head + "partitions = [[0, 1, 2, 3], [4, 5, 6, 7]]\n", encoding="utf-8"
    )
    config = load_node_config(tmp_path)
    assert config.fusion_parts == (SPANNING, PER_VESSEL, PER_VESSEL)
    assert [sorted(p.members) for p in config.fusion_partitions] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    (tmp_path / "node.toml").write_text(
        head + 'partitions = [[0, 1]]\nparts = [["ais-gap"]]\n', encoding="utf-8"
    )
    with pytest.raises(ConfigError, match="has parts and partitions: give one"):
        load_node_config(tmp_path)
    (tmp_path / "node.toml").write_text(head + "partitions = [[0, 2]]\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"node\.toml: detect\.partitions: .*0 to 2.*; 1 in none"):
        load_node_config(tmp_path)
