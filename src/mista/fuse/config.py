"""Fusion settings: one typed table, units in the names, defaults with their reasons."""

from __future__ import annotations

from dataclasses import dataclass, fields

from mista.errors import ConfigError

__all__ = ["FuseConfig"]

_HOUR_S = 3600.0


@dataclass(frozen=True, slots=True)
class FuseConfig:
    """How the fuser orders, segments, associates and forgets.

    Speeds in knots, distances in metres, times in seconds. The segmenter follows the
    Global Fishing Watch segmenter: a fix joins the segment it is plausible for (implied
    speed at most ``max_speed_kn``), else it starts a new one.
    """

    #: Reports are held this long so they can be released in time order.
    reorder_window_s: float = 600.0
    #: A second copy of a fix (other receiver, other partner) is this close in time and place.
    duplicate_window_s: float = 2.0
    duplicate_distance_m: float = 50.0
    #: Implied speed above this between fixes is implausible (GFW segmenter: 30 kn).
    max_speed_kn: float = 30.0
    #: Implied speed uses at least this time step (timestamps from different receivers
    #: disagree by seconds) and forgives this much position noise.
    speed_time_floor_s: float = 60.0
    position_noise_m: float = 250.0
    #: A short segment takes over its MMSI's track (the old segment fell quiet) once it
    #: has this many fixes over this span; until then its fixes are outliers.
    segment_min_fixes: int = 10
    segment_min_span_s: float = 1200.0
    #: A short segment heard interleaved with a track of its MMSI (that track heard after
    #: the segment began, within ``shared_overlap_s`` of its newest fix), both with this
    #: many fixes, is a second vessel on the MMSI. Satellite AIS gives a few fixes a pass.
    shared_min_fixes: int = 3
    shared_overlap_s: float = 6 * _HOUR_S
    #: ... and at least this far apart (nearer pairs are more often one vessel's bad GPS
    #: fixes, or a tug and tow, than two ships on one MMSI).
    shared_min_distance_m: float = 10_000.0
    #: A short segment with no fix for this long is forgotten (longer than the time
    #: between satellite passes).
    segment_timeout_s: float = 6 * _HOUR_S
    #: At most this many short segments are kept per MMSI.
    max_short_segments: int = 4
    #: MMSI change: a new MMSI starts within this time of a track going silent, within
    #: this distance of its dead-reckoned position (plus ``mmsi_change_growth_m_per_s``
    #: for every second of silence: dead reckoning drifts), with a similar speed and
    #: course, and no other track fits. Satellite passes are 1.5-3.5 hours apart, so a
    #: change at sea is first seen one to two passes after the old MMSI's last fix: the
    #: old heard up to a pass before the change and the new up to a pass after it is
    #: up to 6 hours (3 hours missed 1 of 11 seen changes on the standard scenario and
    #: 2 of 5 on seed 11; the distance gate grows with the silence all the same).
    mmsi_change_window_s: float = 6 * _HOUR_S
    mmsi_change_distance_m: float = 2000.0
    mmsi_change_growth_m_per_s: float = 1.0
    mmsi_change_speed_kn: float = 3.0
    mmsi_change_course_deg: float = 30.0
    #: The new MMSI's points continue the old track (same number and id) when true; else
    #: they form a new track whose ``linked_from`` names the old one.
    continue_across_mmsi_change: bool = True
    #: Fusion by partition (``mista.partitions``): when > 0, a new MMSI continues only a
    #: track whose MMSI hashes into the same of this many partitions, so that a fuser
    #: given one partition's reports builds the same AIS tracks as one given them all.
    #: 0: any track (one fuser sees every report).
    mmsi_partitions: int = 0
    #: Radar association: contact error (1 sigma; the simulated radars' errors grow from
    #: 50 m to 150 m with range, and the feed does not carry a contact's own sigma), per
    #: radar where known (``radar_sigmas_m``: (radar name, sigma) pairs), prediction error
    #: growth and cap, gate in sigmas (on the combined error: 3 sigma leaves 1 % out).
    radar_sigma_m: float = 150.0
    radar_sigmas_m: tuple[tuple[str, float], ...] = ()
    prediction_sigma_m: float = 50.0
    prediction_sigma_growth_m_per_s: float = 1.0
    prediction_sigma_cap_m: float = 3000.0
    gate_sigmas: float = 3.0
    #: AIS tracks with no fix within this time of a contact are not predicted to it.
    association_max_age_s: float = 1800.0
    #: Contacts of one radar within this time of each other are one scan.
    scan_s: float = 1.0
    #: A radar reports a target once per report period (learned per radar): a tracklet
    #: continues with a contact a whole number of periods after its last, give or take
    #: this fraction of the period (the simulated radars' targets are 1/5 to 1/3 of a
    #: period apart when not reported in the same scan).
    radar_period_tolerance: float = 0.1
    #: A tracklet's scores average over about this many contacts (a few minutes): long
    #: enough that the noise of 50-150 m contacts averages out between ships 90 m apart,
    #: short enough to follow a ship that starts transmitting.
    radar_memory_contacts: float = 16.0
    #: A tracklet follows an AIS track whose average normalised squared distance is at
    #: most this (2 on average for its own track, 9 at the gate) ...
    radar_max_mean_cost: float = 6.0
    #: ... unless another live tracklet follows that track with an average lower than
    #: its own plus this margin. 0: the better always wins (a margin stops two tracklets
    #: taking turns, but a ship's own tracklet that lost its track to a neighbour's
    #: tracklet 90 m off cannot win it back: 0.5 cost 1 % of association).
    radar_owner_margin: float = 0.0
    #: A tracklet following no AIS track is predicted on the straight line fitted to its
    #: last this many contacts (half an hour or so): the error of that line decides
    #: between two dark ships alongside, and it shrinks with more contacts. On the
    #: standard scenario, association / dark-vessel precision: 16 contacts 0.870 / 0.763,
    #: 32 0.885 / 0.683, 48 0.890 / 0.690, 96 0.893 / 0.630 (a longer line follows a
    #: turn later, and a dark ship's track breaks into more alerts).
    radar_fit_contacts: int = 48
    #: A free tracklet may miss ``radar_free_misses`` reports in a row (far out, the
    #: simulated radars see a target only 2 times in 3); continuing it costs
    #: ``radar_missed_report_cost`` more per report it missed beyond those (about
    #: -2 ln(1 - Pd), what a track's score loses per miss), and a contact whose cheapest
    #: free tracklet costs more than ``radar_new_tracklet_cost`` starts a tracklet of its
    #: own (a live one costs at most about 21, at the edge of its gate one period on).
    #: So a line extrapolated through minutes of silence, its vessel gone on as another
    #: tracklet, does not take the contacts of a boat getting under way from that boat's
    #: own lagging line. On the standard scenario, dark-vessel precision 0.906 -> 0.935
    #: (one alert split in two at Ishigaki no more), association 0.9891 -> 0.9892.
    radar_free_misses: int = 3
    radar_missed_report_cost: float = 3.0
    radar_new_tracklet_cost: float = 30.0
    #: Dark tracks: confirmed after this many contacts over this span; a tentative one
    #: with no contact for ``dark_tentative_timeout_s`` is dropped, a confirmed one after
    #: ``dark_drop_after_s``. Speeds beyond ``dark_max_speed_kn`` do not join a track.
    dark_confirm_contacts: int = 5
    dark_confirm_span_s: float = 600.0
    dark_tentative_timeout_s: float = 180.0
    dark_drop_after_s: float = 900.0
    dark_max_speed_kn: float = 40.0
    #: Points older than this (before a track's newest) are forgotten; tracks silent this
    #: long are evicted.
    history_s: float = 26 * _HOUR_S
    retire_after_s: float = 48 * _HOUR_S

    def __post_init__(self) -> None:
        for field in fields(self):
            value = getattr(self, field.name)
            if isinstance(value, bool) or field.name == "radar_sigmas_m":
                continue
            if not isinstance(value, int | float) or not value >= 0:
                raise ConfigError(
                    f"fuse setting {field.name} = {value!r} must be a number >= 0 "
                    f"(default {field.default!r})"
                )
        if self.max_speed_kn <= 0:
            raise ConfigError(f"fuse setting max_speed_kn = {self.max_speed_kn} must be > 0")
        for entry in self.radar_sigmas_m:
            if (
                not isinstance(entry, tuple)
                or len(entry) != 2
                or not isinstance(entry[0], str)
                or not isinstance(entry[1], int | float)
                or not entry[1] > 0
            ):
                raise ConfigError(
                    f"fuse setting radar_sigmas_m entry {entry!r} must be (radar name, sigma > 0)"
                )
        if self.radar_fit_contacts < 3:
            raise ConfigError(
                f"fuse setting radar_fit_contacts = {self.radar_fit_contacts} must be >= 3"
            )
        if self.radar_memory_contacts < 1:
            raise ConfigError(
                f"fuse setting radar_memory_contacts = {self.radar_memory_contacts} must be >= 1"
            )
        if isinstance(self.mmsi_partitions, bool) or not isinstance(self.mmsi_partitions, int):
            raise ConfigError(
                f"fuse setting mmsi_partitions = {self.mmsi_partitions!r} must be a whole "
                "number of partitions >= 0 (0: an MMSI change may link any two MMSIs)"
            )
        for name in ("segment_min_fixes", "shared_min_fixes"):
            if getattr(self, name) < 2:
                raise ConfigError(f"fuse setting {name} = {getattr(self, name)} must be >= 2")

    def radar_sigma(self, radar: str) -> float:
        """The contact error (1 sigma, m) of ``radar``: its own if listed, else the default."""
        for name, sigma in self.radar_sigmas_m:
            if name == radar:
                return float(sigma)
        return self.radar_sigma_m
