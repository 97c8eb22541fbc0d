"""A radar's resolution: ships it cannot tell apart write one plot, at their echo's centre."""

from __future__ import annotations

import numpy as np
import pytest

from mista.geo import LandMask, destination, haversine_m
from mista.sim.kinematics import STATUS_MOORED, Timeline, Trajectories
from mista.sim.radar_resolution import (
    BEAMWIDTH_DEG,
    RANGE_RESOLUTION_M,
    Echoes,
    merge_unresolved,
)
from mista.sim.sensors import Source, radar_contacts

RADAR = (18.9, 72.8)


def _echoes(rows: list[tuple[int, int, float, float]]) -> Echoes:
    """(turn, vessel, range m, bearing deg) rows, placed around RADAR."""
    turn, vessel, rng, brg = (np.array(c) for c in zip(*rows, strict=True))
    lat, lon = destination(RADAR[0], RADAR[1], brg, rng)
    return Echoes(
        turn.astype(np.int64),
        vessel.astype(np.int64),
        rng.astype(np.float64),
        brg.astype(np.float64),
        np.asarray(lat, np.float64),
        np.asarray(lon, np.float64),
    )


def test_ships_within_one_resolution_cell_are_one_plot_at_their_centre() -> None:
    echoes = _echoes([(7, 3, 10_000.0, 45.0), (7, 5, 10_020.0, 45.1), (7, 9, 20_000.0, 200.0)])
    keep, merged, lat, lon = merge_unresolved(
        echoes, np.array([7, 7, 7], np.int64), np.array([5, 3, 9], np.int64)
    )
    # Ship 3 (the lower number) writes the plot for both; ship 9 is alone.
    assert keep.tolist() == [False, True, True]
    assert merged.tolist() == [True, True, False]
    assert lat[1] == pytest.approx(echoes.lat[:2].mean())
    assert lon[1] == pytest.approx(echoes.lon[:2].mean())
    assert np.isnan(lat[2])


@pytest.mark.parametrize(
    ("range_apart_m", "bearing_apart_deg"),
    [(RANGE_RESOLUTION_M + 5.0, 0.0), (0.0, BEAMWIDTH_DEG + 0.1)],
)
def test_ships_apart_in_range_or_in_bearing_are_resolved(
    range_apart_m: float, bearing_apart_deg: float
) -> None:
    echoes = _echoes(
        [(1, 0, 8_000.0, 90.0), (1, 1, 8_000.0 + range_apart_m, 90.0 + bearing_apart_deg)]
    )
    keep, merged, _, _ = merge_unresolved(
        echoes, np.array([1, 1], np.int64), np.array([0, 1], np.int64)
    )
    assert keep.all()
    assert not merged.any()


def test_ships_close_at_different_turns_are_not_merged() -> None:
    echoes = _echoes([(1, 0, 8_000.0, 90.0), (2, 1, 8_000.0, 90.0)])
    keep, merged, _, _ = merge_unresolved(
        echoes, np.array([1, 2], np.int64), np.array([0, 1], np.int64)
    )
    assert keep.all()
    assert not merged.any()


def test_a_plot_without_its_echo_is_refused() -> None:
    echoes = _echoes([(1, 0, 8_000.0, 90.0)])
    with pytest.raises(ValueError, match="echo"):
        merge_unresolved(echoes, np.array([1], np.int64), np.array([4], np.int64))


def _moored(lat: float, lon: float, hours: float) -> Timeline:
    line = Timeline(0.0, lat, lon)
    line.stay(hours * 3600.0, STATUS_MOORED)
    return line


def test_a_radar_writes_one_plot_for_two_ships_moored_alongside() -> None:
    hours = 1.0
    # Two ships 30 m apart along the radar's beam 6 km off, a third 2 km further out.
    near = destination(RADAR[0], RADAR[1], 120.0, 6_000.0)
    alongside = destination(RADAR[0], RADAR[1], 120.0, 6_030.0)
    alone = destination(RADAR[0], RADAR[1], 120.0, 8_000.0)
    traj = Trajectories(
        [_moored(float(p[0]), float(p[1]), hours) for p in (near, alongside, alone)]
    )
    n_min = 60
    minute_lat = np.repeat(traj.lat[::2][:3, None], n_min, axis=1)
    minute_lon = np.repeat(traj.lon[::2][:3, None], n_min, axis=1)
    radar = Source(
        "IND-radar-test", "radar", "IND", RADAR[0], RADAR[1], 40.0, "UNCLASSIFIED",
        scan_s=10.0, write_every=3,
    )  # fmt: skip
    plots = radar_contacts(
        [radar], traj, minute_lat, minute_lon, hours * 3600.0, LandMask.default(),
        np.random.default_rng(1),
    )  # fmt: skip
    ships = plots.vessel[plots.vessel >= 0]
    assert 1 not in ships.tolist()  # hidden in ship 0's echo
    assert (ships == 0).sum() > 50
    assert (ships == 2).sum() > 50
    # Ship 0's plots scatter about the echo's centre, 15 m beyond ship 0.
    mine = plots.vessel == 0
    centre = destination(RADAR[0], RADAR[1], 120.0, 6_015.0)
    offsets = haversine_m(plots.lat[mine], plots.lon[mine], centre[0], centre[1])
    assert float(np.median(offsets)) < 100.0
