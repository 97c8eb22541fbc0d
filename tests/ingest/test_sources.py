"""Source config files: labels, kinds and errors that say what to fix."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mista.errors import ConfigError
from mista.ingest.sources import SourceConfig, load_source_config
from mista.labels import Label, Level
from mista.model import SourceKind


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "source.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_full_source_config(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name = "mumbai-shore"
        kind = "ais-satellite"
        originator = "IND"
        [label]
        level = "restricted"
        releasable_to = ["USA", "AUS"]
        categories = ["white-shipping"]
        orcon = true
        """,
    )
    config = load_source_config(path, "FRA")
    assert config.name == "mumbai-shore"
    assert config.kind is SourceKind.AIS_SATELLITE
    assert config.label == Label(
        Level.RESTRICTED, "IND", frozenset({"USA", "AUS"}), frozenset({"white-shipping"}), True
    )


def test_without_a_config_reports_are_unclassified_for_the_own_nation() -> None:
    config = SourceConfig.default("IND")
    assert config.label.to_marking() == "UNCLASSIFIED//REL TO IND"
    assert config.kind is None


def test_an_empty_config_takes_the_node_nation(tmp_path: Path) -> None:
    config = load_source_config(write(tmp_path, ""), "IND")
    assert config.originator == "IND"
    assert config.label.level is Level.UNCLASSIFIED


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('kind = "visual"', "cannot be ingested"),
        ('kind = "sonar"', "is not one of"),
        ("colour = 1", "unknown keys"),
        ('[label]\nlevel = "TOP"', "unknown classification level"),
        ('[label]\nreleasable_to = "USA"', "must be a list"),
        ('[label]\nreleasable_to = ["usa"]', "ISO 3166-1"),
        ("[label]\norcon = 1", "true or false"),
        ("name = [", "not valid TOML"),
    ],
)
def test_config_errors_name_the_file_and_the_fix(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        load_source_config(write(tmp_path, text), "IND")
    assert "source.toml" in str(error.value)


def test_a_missing_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--source-config"):
        load_source_config(tmp_path / "absent.toml", "IND")


QUAD = {"QUAD": ["AUS", "IND", "JPN", "USA"]}


def test_a_label_may_be_one_marking_naming_groups(tmp_path: Path) -> None:
    path = write(
        tmp_path, 'originator = "IND"\nlabel = "RESTRICTED//REL TO QUAD,FRA//white-shipping"\n'
    )
    config = load_source_config(path, "IND", groups=QUAD)
    assert config.label == Label(
        Level.RESTRICTED,
        "IND",
        frozenset({"AUS", "IND", "JPN", "USA", "FRA"}),
        frozenset({"white-shipping"}),
    )


@pytest.mark.parametrize(
    ("text", "groups", "message"),
    [
        ('label = "RESTRICTED//REL TO QUAD"', None, "group QUAD, which is not defined"),
        ('label = "TOP//REL TO USA"', QUAD, "not a level"),
        ('label = "SECRET//REL TO USA, GBR"', QUAD, "has spaces"),
        ("label = 3", QUAD, "[label] must be a table or a marking string"),
    ],
)
def test_marking_errors_name_the_file_and_the_part(
    tmp_path: Path, text: str, groups: dict[str, list[str]] | None, message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)) as error:
        load_source_config(write(tmp_path, text), "IND", groups)
    assert "source.toml" in str(error.value)
