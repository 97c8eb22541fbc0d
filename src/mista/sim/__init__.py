"""Scenario simulator: synthetic traffic, sensors and truth for evaluating mista.

``simulate(out_dir, hours=24, vessels=2000, seed=7)`` writes a scenario directory::

    scenario.json              manifest: sources, files in delivery order, injected counts
    zones.geojson              labelled zones (exercise, protected and restricted areas)
    sources/<source>.toml      a mista source config per sensor (label as a marking)
    ais/<source>/<stamp>.nmea  tagged NMEA: shore receivers one file per 10 minutes,
                               the satellite one file per downlink (late data)
    radar/<source>/<stamp>.jsonl   radar plots, one file per 10 minutes
    truth/behaviours.jsonl     every true behaviour (injected or incidental)
    truth/vessels.jsonl        every simulated vessel and the MMSIs it sent
    truth/positions.parquet    true position per vessel per minute (and what it sent)
    truth/radar.parquet        every radar plot written, with its true vessel (-1: false)

Sensors forward at most one position report per vessel per ``forward_interval_s``
window (default 60 s; 0 forwards every report heard), as national networks thin their
feeds; static data is always forwarded. The value is recorded in ``scenario.json``.

The same arguments give byte-identical files. Modules: ``fleet`` (identities),
``routes``/``traffic`` (plans on sea lanes), ``kinematics`` (true motion), ``reporting``
(ITU-R M.1371-5 intervals), ``behaviours`` (injections), ``transmit`` (what is sent),
``sensors`` (shore, satellite, radar), ``truth``, ``writer`` and ``scenario``.
"""

from mista.sim.behaviours import BEHAVIOUR_KINDS, injection_counts
from mista.sim.scenario import DEFAULT_START, FORMAT, ScenarioSummary, simulate

__all__ = [
    "BEHAVIOUR_KINDS",
    "DEFAULT_START",
    "FORMAT",
    "ScenarioSummary",
    "injection_counts",
    "simulate",
]
