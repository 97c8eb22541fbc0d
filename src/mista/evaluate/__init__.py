"""Evaluation: replay a simulated scenario through ingest, fusion and detection, and score
what the node found against the scenario's ground truth (``mista eval``)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from mista.detect.config import DetectConfig
from mista.errors import InputError
from mista.evaluate.replay import ReplaySummary, refuse, replay
from mista.evaluate.scenario import Scenario, load_scenario
from mista.evaluate.score import BEHAVIOURS, KindScore, Score, score
from mista.fuse import FuseConfig
from mista.store.embedded import DuckDBStore

__all__ = [
    "BEHAVIOURS",
    "KindScore",
    "ReplaySummary",
    "Scenario",
    "Score",
    "evaluate",
    "load_scenario",
    "score_table",
]


def evaluate(
    directory: str | Path,
    *,
    store: str | Path | None = None,
    detect_config: DetectConfig | None = None,
    fuse_config: FuseConfig | None = None,
    progress: Callable[[str], None] | None = None,
    fusion_only: bool = False,
    partitions: int = 0,
) -> tuple[Score, ReplaySummary]:
    """Replay the scenario in ``directory`` into ``store`` (a fresh temporary DuckDB file
    when ``None``) and score it. With ``fusion_only``, ``store`` is one an earlier
    evaluation of the same scenario filled: only fusion and detection run again.
    ``fuse_config`` and ``detect_config`` default to the node's defaults. ``partitions``:
    fuse by partition, one part per partition (``mista.evaluate.replay.fusion_pipelines``)."""
    scenario = load_scenario(directory)
    with tempfile.TemporaryDirectory(prefix="mista-eval-") as scratch:
        path = Path(store) if store is not None else Path(scratch) / "eval.duckdb"
        if fusion_only and not path.is_file():
            raise InputError(f"{path}: no such store to fuse again (run mista eval --store first)")
        if not fusion_only and path.exists():
            raise InputError(
                f"{path} exists: mista eval replays into a new store (remove it, or add "
                "--fusion-only to fuse its reports again)"
            )
        with DuckDBStore(path) as db:
            if fusion_only:
                summary = refuse(
                    scenario,
                    db,
                    detect_config=detect_config,
                    fuse_config=fuse_config,
                    partitions=partitions,
                )
            else:
                summary = replay(
                    scenario,
                    db,
                    detect_config=detect_config,
                    fuse_config=fuse_config,
                    progress=progress,
                    partitions=partitions,
                )
            result = score(db.connection, scenario)
    return result, summary


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def score_table(result: Score, summary: ReplaySummary | None = None) -> str:
    """The score as a plain-text table (``mista eval --format table``)."""
    lines = [
        f"{'behaviour':<16} {'precision':>9} {'recall':>7} {'seen':>6} {'truth':>6} "
        f"{'recall(all)':>11} {'alerts':>7}"
    ]
    for kind, item in result.behaviours.items():
        lines.append(
            f"{kind:<16} {_figure(item.precision):>9} {_figure(item.recall):>7} "
            f"{item.observable:>6} {item.truth:>6} {_figure(item.recall_all):>11} "
            f"{item.alerts:>7}"
        )
    lines.append(
        "(recall: over the true behaviours the sensors delivered enough of to be seen; "
        "recall(all): over every one)"
    )
    lines.append("")
    lines.append(
        f"continuity  {_figure(result.continuity)}  ({result.vessel_hours:,} vessel-hours)"
    )
    lines.append(
        f"association {_figure(result.association)}  ({result.radar_contacts:,} radar contacts)"
    )
    if result.other_alerts:
        others = ", ".join(f"{kind} {count}" for kind, count in result.other_alerts.items())
        lines.append(f"other alerts: {others}")
    if summary is not None:
        lines.append(
            f"replayed {summary.files:,} files, {summary.messages:,} messages, "
            f"{summary.reports:,} reports ({summary.rejected:,} rejected); "
            f"ingest {summary.ingest_s:.1f} s, fusion and detection {summary.fuse_s:.1f} s"
        )
        if summary.fused.not_fusable:
            lines.append(
                f"{summary.fused.not_fusable:,} reports not fused: their label leaves out "
                "the node's own nation"
            )
    return "\n".join(lines)
