"""A scenario's files ingest as they are, with nothing quarantined."""

from __future__ import annotations

from pathlib import Path

from mista.node import ingest_paths
from tests.sim._read import manifest


def test_ingest_each_source_kind_without_rejects(small_scenario: Path, tmp_path: Path) -> None:
    m = manifest(small_scenario)
    by_source: dict[str, list[str]] = {}
    for f in m["files"]:
        by_source.setdefault(f["source"], []).append(f["path"])
    chosen = {}
    for kind in ("ais-terrestrial", "ais-satellite", "radar"):
        names = [n for n in by_source if m["sources"][n]["kind"] == kind]
        assert names, kind
        chosen[kind] = max(names, key=lambda n: len(by_source[n]))
    store = tmp_path / "store.duckdb"
    for kind, name in chosen.items():
        files = [str(small_scenario / p) for p in by_source[name][:4]]
        lines = sum(f["lines"] for f in m["files"] if f["path"] in by_source[name][:4])
        summary = ingest_paths(
            files, store=store, source_config=small_scenario / m["sources"][name]["config"],
            nation="IND",
        )  # fmt: skip
        assert summary.rejected_total == 0, (kind, summary.to_text())
        assert summary.lines == lines, (kind, summary.to_text())
        assert summary.reports > 0, (kind, summary.to_text())
