"""Radar tracklets: one radar's contacts of one target, chained by place and report time.

A radar reports each target once per report period, so a target's contacts come a whole
number of periods apart; two ships alongside, reported at different moments of the
period, make two chains even when their contacts overlap in place. A tracklet scores
every AIS track it has passed near by the moving average of the squared distance over the
combined variance (capped at the gate, and counted at the gate while the track was not
near): the AIS track whose average is lowest is the one the tracklet follows, which
decides a contact between two close vessels by the tracklet's history, not by the contact
alone.

The classes are compiled (``_radar_scan.pyx``, with the scan loop that uses them).
"""

from ._radar_scan import CELL_DEG, CLOSE_X, RadarState, Tracklet

__all__ = ["CELL_DEG", "CLOSE_X", "RadarState", "Tracklet"]
