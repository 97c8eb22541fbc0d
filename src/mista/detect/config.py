"""Detection thresholds: one frozen section per behaviour, each default with its source.

node.toml holds one ``[detect.<kind>]`` table per behaviour (e.g. ``[detect.loitering]``
``min_duration_s = 7200``); ``DetectConfig.from_mapping`` reads them and names the key of
any value that is wrong.

Sources of the defaults:

- GFW: Global Fishing Watch, "Carrier vessel portal" and "Anchorages, port visits and
  voyages" methods (encounters, loitering, AIS gaps, port visits), and its AIS segmenter
  (implied speed over 30 kn between fixes is implausible).
- Skylight: its "possible dark activity" event, raised after 6 h without positions.
- COLREG practice: 0.5 nm (926 m) as the close-quarters distance; a 10-minute look-ahead.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

from mista.errors import ConfigError

__all__ = [
    "CloseApproachConfig",
    "DarkVesselConfig",
    "DetectConfig",
    "EncounterConfig",
    "GapConfig",
    "LoiteringConfig",
    "PortVisitConfig",
    "SharedMmsiConfig",
    "SpoofingConfig",
    "ZoneEntryConfig",
]

HOUR_S = 3600.0
NAUTICAL_MILE_M = 1852.0


@dataclass(frozen=True, slots=True)
class GapConfig:
    """``ais-gap``: no good position from a track for a long time."""

    gap_s: float = 12 * HOUR_S  # GFW: AIS gap events are >= 12 h
    possible_s: float = 6 * HOUR_S  # Skylight: "possible dark activity" after 6 h
    # Reception expected (GFW counts gaps only there): others were heard near the silent
    # vessel's likely position (3 x 3 cells around the line to its next fix, or around its
    # dead-reckoned track when there is none yet) for long enough during the silence, past
    # the margin at each end, that the vessel missing all of its reports sent meanwhile is
    # unlikely. Per 30-minute slot, reception is shown from the first to the last time
    # someone was heard near it (at least a minute): a pass whose footprint edge brushed
    # the area shows a minute or two, a shore receiver the whole slot. "Near" is per kind
    # of receiver: a shore station hears only 40-60 nm around itself, so a vessel heard by
    # one says little beyond a few tens of km (0.25 degree cells: within 30-50 km); a
    # satellite pass hears a footprint some 2,500 km wide, so anyone it heard within 1-2
    # degrees (1 degree cells) puts the silent vessel under the pass too.
    reception_cell_deg: float = 0.25
    satellite_cell_deg: float = 1.0
    # A shore receiver hears all round itself out to its range: a vessel beyond that range
    # has all the positions the receiver heard on one side of it. So shore reception near
    # a silent vessel counts only where shore receivers heard positions all round its
    # likely position (no empty sector of 180 degrees or more within this distance, over
    # the reception kept), looked up on cells of ``shore_coverage_cell_deg``.
    shore_all_round_m: float = 50_000.0
    shore_coverage_cell_deg: float = 0.05
    reception_slot_s: float = 1800.0
    reception_margin_s: float = 600.0
    # Chance one report of the vessel is heard (satellite: 0.3 at the footprint's edge),
    # the vessel's interval between fixes when it has none to measure (sparse: a silence
    # is weak evidence then), and the largest chance of missing every report that still
    # counts as a gap.
    report_probability: float = 0.3
    unknown_interval_s: float = 600.0
    # A vessel that stopped in the silence (it covered under half what its speed at the
    # last fix would have, or under 3 kn) reports at least this far apart: ITU-R M.1371,
    # class A at anchor or moored, every 3 min.
    stopped_interval_s: float = 180.0
    max_chance: float = 0.01
    # A vessel whose next fix shows it went on at its speed through the silence (it
    # covered at least ``kept_going_share`` of what its speed at the last fix would have)
    # was under way at sea all along: it did not stop, anchor or call at a port, where it
    # may report rarely or be switched off, so its interval is its forwarding rate and a
    # larger chance of missing every report still counts (on the standard scenario two
    # such ships, unheard 16-21 h with 10-12 minutes of satellite passes near them, were
    # missed at 1 % with 1.3 % and 3.0 %; ships that went into port during their silence
    # covered under half). At 5 % a ship really transmitting, unheard 14 h at 3.8 %, was
    # a false gap there.
    kept_going_share: float = 0.9
    kept_going_max_chance: float = 0.035
    # A silence that starts or ends this close to a port is no gap: the vessel may be
    # moored there (reporting only every 3 min, or switched off alongside); GFW counts
    # gaps at sea.
    min_port_distance_m: float = 20 * NAUTICAL_MILE_M


@dataclass(frozen=True, slots=True)
class EncounterConfig:
    """``encounter``: two slow vessels side by side for hours, away from anchorages (GFW)."""

    distance_m: float = 500.0  # GFW: within 500 m
    min_duration_s: float = 2 * HOUR_S  # GFW: for at least 2 h
    max_speed_kn: float = 2.0  # GFW: median speed below 2 kn
    min_port_distance_m: float = 10_000.0  # GFW: at least 10 km from an anchorage
    bucket_s: float = 600.0  # positions compared per 10-minute bucket (fixes are not simultaneous)
    # Reception gaps this long do not break an encounter: offshore, positions come from
    # satellite passes 1.5 to 3.5 h apart (3 h split one encounter in two at a 3.2 h
    # revisit on the standard scenario).
    max_gap_s: float = 3.5 * HOUR_S
    # Buckets are compared this long after their time, so satellite positions (delivered
    # 40 min to 1.5 h after the pass) are in; alerts come this much later.
    lag_s: float = 2 * HOUR_S
    # A run's span reaches half-way to the vessels' fixes before and after it, this far at
    # most (sparse fixes: the pair was likely together between passes).
    extend_max_s: float = 1.5 * HOUR_S


@dataclass(frozen=True, slots=True)
class LoiteringConfig:
    """``loitering``: one vessel slow far from shore (GFW)."""

    max_speed_kn: float = 2.0  # GFW: average speed below 2 kn
    min_shore_distance_m: float = 20 * NAUTICAL_MILE_M  # GFW: at least 20 nm from shore
    min_duration_s: float = HOUR_S  # GFW: for at least 1 h
    # A longer silence ends the run: satellite passes are 1.5 to 3.5 h apart.
    max_gap_s: float = 3.5 * HOUR_S
    bridge_s: float = 600.0  # a longer silence needs an implied speed below max_speed_kn
    # A run seen by sparse (satellite) fixes counts, over a silence longer than bridge_s
    # before or after it, half the time the vessel did not need to reach the fix beyond
    # (at that fix's speed, max_speed_kn at least), this long at most each side.
    extend_max_s: float = 1.5 * HOUR_S


@dataclass(frozen=True, slots=True)
class PortVisitConfig:
    """``port-visit``: entry within 3 km of a port, exit beyond 4 km (GFW anchorages)."""

    entry_m: float = 3000.0  # GFW: a visit starts within 3 km of an anchorage
    exit_m: float = 4000.0  # GFW: and ends beyond 4 km (hysteresis)
    min_duration_s: float = 1800.0  # a drive-by is not a visit: 30 min inside at least
    max_gap_s: float = 24 * HOUR_S  # AIS off while moored does not end a visit
    # A vessel stopped inside (below this speed) and silent since for silence_s or more is
    # presumed still in port: satellite passes, hours apart, see a moored ship for minutes.
    stationary_kn: float = 0.5
    silence_s: float = 600.0


@dataclass(frozen=True, slots=True)
class SpoofingConfig:
    """``spoofing``: runs of points the fuser flagged (speed, land, outlier segments)."""

    max_speed_kn: float = 30.0  # GFW segmenter: implied speed over 30 kn is implausible
    min_points: int = 3  # one glitch is noise; a spoof lasts
    max_gap_s: float = HOUR_S  # flagged points further apart are separate runs
    circle_min_points: int = 6  # a circle fit needs this many outlier points
    circle_max_residual: float = 0.05  # RMS distance off the circle / its radius
    circle_min_arc_deg: float = 180.0  # the points go at least half way round
    land_min_depth_m: float = 5000.0  # land all round at this distance: not a coastline error
    land_port_margin_m: float = 10_000.0  # land points this close to a port are berths


@dataclass(frozen=True, slots=True)
class ZoneEntryConfig:
    """``zone-entry``: a track inside a zone polygon, with hysteresis."""

    enter_points: int = 2  # consecutive points inside to enter
    exit_points: int = 2  # consecutive points outside to exit


@dataclass(frozen=True, slots=True)
class DarkVesselConfig:
    """``dark-vessel``: a radar track that no AIS track explains."""

    min_contacts: int = 5  # confirmed after 5 contacts ...
    min_duration_s: float = 600.0  # ... over at least 10 min
    lost_after_s: float = 1800.0  # no contact for this long: the track ended
    # A new dark track starting where an alert's track was lost (within lost_after_s, and
    # this near plus what max_speed_kn covers in the gap) is the same vessel found again.
    rejoin_m: float = 3000.0
    max_speed_kn: float = 30.0  # GFW: faster is implausible


@dataclass(frozen=True, slots=True)
class CloseApproachConfig:
    """``close-approach``: two moving vessels within 0.5 nm of each other."""

    distance_m: float = 0.5 * NAUTICAL_MILE_M  # close quarters: 0.5 nm (926 m)
    min_speed_kn: float = 3.0  # both vessels under way
    max_tcpa_s: float = 600.0  # raise it early when the CPA is due within 10 min
    search_m: float = 5000.0  # pairs further apart are not compared
    bucket_s: float = 60.0  # states compared once a minute
    # A state older than this is not extrapolated: a vessel under way reports every 2-30 s
    # (once a minute in the simulator); one unheard for longer may have stopped or turned.
    stale_s: float = 90.0
    # A vessel whose next report, this soon after its last and already in, says it
    # stopped was under way only as long as its speed takes it to where it stopped.
    next_report_s: float = 300.0
    # A predicted pass never observed (a vessel unheard around it) is confirmed when both
    # are heard again on tracks whose closest point, under 926 m, is this close in time to
    # the predicted one: they held course and speed through it.
    confirm_s: float = 60.0
    # Late (satellite) positions: compared with other vessels' fixes this close in time,
    # each fix's course and speed held until half-way to its vessel's reports either side.
    late_reach_s: float = 1800.0  # how far from the fixes the pass is sought (courses held)
    # Fixes this far apart are compared between reports of both heard either side (20 kn
    # each covers 11 km in the half hour; see ``late_open_reach_s``); closer ones whatever
    # was heard.
    late_search_m: float = 15_000.0
    late_open_m: float = 8_000.0
    # Fixes further apart than that, with either vessel unheard on one side of them
    # (first heard at that satellite pass, or not heard since), are compared with their
    # courses held only this long from the fixes (head on at 12-14 kn each, 8-13 km
    # close in 10-15 min; over half an hour unheard either may have turned). A pass
    # still closing when that runs out lies beyond it and is not called.
    late_open_reach_s: float = 900.0
    # Beside a report of the vessel stopped (under ``min_speed_kn``), a fix's course and
    # speed are held only this long, not half-way: when it got under way is unknown.
    slow_hold_s: float = 600.0
    # A vessel heard moving again this long after a fix or more (within ``recent_s``),
    # not where its course and speed lead, turned: it held its course until it turned
    # straight for where it was heard (at a lane's waypoint), and that leg is compared as
    # a fix too, with vessels whose next report lies within ``late_straight_m`` (or 2 % of
    # the way) of where their course and speed lead (they held them). Sooner, the fix's
    # course is held half-way to the next report as usual.
    late_turn_s: float = 600.0
    late_straight_m: float = 300.0
    # Satellite fixes are compared this long after their time: satellite data arrives
    # 20-90 min late, passes out of order, and the reports around a fix say how long its
    # course and speed held.
    late_wait_s: float = 5400.0
    # A fix its vessel was not heard after by then is compared again this long after its
    # time, with fixes beyond ``late_open_m`` (satellite passes come 1.5-3.5 h apart; the
    # next one says how long its course held). Within ``recent_s``.
    late_retry_s: float = 3 * HOUR_S
    # Moving points and reports kept this long: 3 h before a fix compared 90 min late.
    recent_s: float = 4.5 * HOUR_S
    # A pair close again this soon after its last pass ended is still that pass (two
    # vessels side by side drift in and out of 926 m; a dark track's contacts are noisy);
    # a late one also later, while their relative speed cannot have parted them 926 m,
    # unless fixes of both seen between the two put them further apart than 926 m.
    late_merge_s: float = 1800.0


@dataclass(frozen=True, slots=True)
class SharedMmsiConfig:
    """``shared-mmsi``: two vessels transmitting one MMSI (the fuser's identity events)."""

    # Shared-MMSI events on one MMSI within this time extend one alert: a cloned MMSI stays
    # in use for days, and satellite AIS shows each vessel a few fixes a pass, hours apart,
    # so the evidence comes in bursts; an analyst gets one alert a day per MMSI.
    merge_s: float = 24 * HOUR_S
    revert_s: float = 12 * HOUR_S  # a name going back within this time: two vessels, one MMSI


_Section = TypeVar("_Section")

#: kind -> (attribute of DetectConfig, section class)
SECTIONS: dict[str, tuple[str, type[Any]]] = {
    "ais-gap": ("gap", GapConfig),
    "encounter": ("encounter", EncounterConfig),
    "loitering": ("loitering", LoiteringConfig),
    "port-visit": ("port_visit", PortVisitConfig),
    "spoofing": ("spoofing", SpoofingConfig),
    "zone-entry": ("zone_entry", ZoneEntryConfig),
    "dark-vessel": ("dark_vessel", DarkVesselConfig),
    "close-approach": ("close_approach", CloseApproachConfig),
    "shared-mmsi": ("shared_mmsi", SharedMmsiConfig),
}


@dataclass(frozen=True, slots=True)
class DetectConfig:
    """Every behaviour's thresholds (see each section for its values and sources)."""

    gap: GapConfig = field(default_factory=GapConfig)
    encounter: EncounterConfig = field(default_factory=EncounterConfig)
    loitering: LoiteringConfig = field(default_factory=LoiteringConfig)
    port_visit: PortVisitConfig = field(default_factory=PortVisitConfig)
    spoofing: SpoofingConfig = field(default_factory=SpoofingConfig)
    zone_entry: ZoneEntryConfig = field(default_factory=ZoneEntryConfig)
    dark_vessel: DarkVesselConfig = field(default_factory=DarkVesselConfig)
    close_approach: CloseApproachConfig = field(default_factory=CloseApproachConfig)
    shared_mmsi: SharedMmsiConfig = field(default_factory=SharedMmsiConfig)

    def __post_init__(self) -> None:
        _check_pair(self.gap.possible_s, self.gap.gap_s, "ais-gap.possible_s", "ais-gap.gap_s")
        _check_pair(
            self.port_visit.entry_m,
            self.port_visit.exit_m,
            "port-visit.entry_m",
            "port-visit.exit_m",
        )

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DetectConfig:
        """Read ``{kind: {setting: value}}`` (node.toml's ``[detect.<kind>]`` tables).

        Kinds may be written with ``-`` or ``_`` (``port-visit``, ``port_visit``). Unknown
        kinds or settings, wrong types and out-of-range values raise ``ConfigError`` naming
        the key.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"detect settings must be a table, not {type(data).__name__}")
        sections: dict[str, Any] = {}
        for raw_kind, table in data.items():
            kind = str(raw_kind).replace("_", "-")
            if kind not in SECTIONS:
                known = ", ".join(sorted(SECTIONS))
                raise ConfigError(f"detect.{raw_kind}: unknown behaviour (known: {known})")
            attribute, section = SECTIONS[kind]
            if not isinstance(table, Mapping):
                raise ConfigError(f"detect.{raw_kind} must be a table of settings")
            sections[attribute] = _section(section, table, f"detect.{raw_kind}")
        return cls(**sections)


def _section(section: type[_Section], table: Mapping[str, Any], where: str) -> _Section:
    defaults = section()
    known = {item.name: item for item in fields(section)}  # type: ignore[arg-type]
    values: dict[str, Any] = {}
    for key, value in table.items():
        name = f"{where}.{key}"
        if key not in known:
            raise ConfigError(f"{name}: unknown setting (known: {', '.join(sorted(known))})")
        default = getattr(defaults, key)
        values[key] = _value(name, value, is_count=isinstance(default, int))
    try:
        return replace(defaults, **values)  # type: ignore[type-var]
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _value(name: str, value: Any, *, is_count: bool) -> float | int:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{name} = {value!r} must be a number")
    if not math.isfinite(value):
        raise ConfigError(f"{name} = {value!r} must be a finite number")
    if is_count:
        if value != int(value) or value < 1:
            raise ConfigError(f"{name} = {value!r} must be a whole number of at least 1")
        return int(value)
    if value <= 0:
        raise ConfigError(f"{name} = {value!r} must be greater than 0")
    return float(value)


def _check_pair(low: float, high: float, low_name: str, high_name: str) -> None:
    if low > high:
        raise ConfigError(f"detect.{low_name} = {low} must not exceed detect.{high_name} = {high}")
