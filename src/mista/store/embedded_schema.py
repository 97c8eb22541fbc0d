"""The embedded store's schema as versioned migrations (DuckDB SQL).

Each migration is applied once, in order, in one transaction, and recorded in
``schema_migrations``. Never edit a released migration: add the next one.

Tables:

- ``reports``: one row per observation (id = ``mista.model.report_id``), inserted in
  arrival order, which for feeds and logs is time order, so DuckDB's per-row-group
  min/max statistics prune time-window queries. ``seq`` is the insertion order.
- ``receptions``: who heard each report, when, from which source, and the raw input.
- ``labels`` and ``sources``: the few security labels and sources rows point to by number.

Report ids (``mista.model.report_id``, 128 bits) are stored as two UBIGINT halves
(``id_hi``, ``id_lo``): fixed-width integers cost a fraction of hex text to write and join.
Queries give them back as hex. ``content_hash`` (64 bits of BLAKE2b of originator and content key)
finds the same transmission heard across a dedupe-bucket boundary.
- ``vessel_latest``: the latest position per MMSI, maintained on write, so "latest state
  per vessel" never scans the reports.
- ``vessels``: the latest identity (static and voyage data) per MMSI, maintained on write.
- ``quarantine``: every line that could not be used, with its source, line and reason.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "REBUILT_TABLES", "VESSELS_DDL", "VESSEL_LATEST_DDL"]

#: The latest-state tables are small and rewritten on every batch (an upsert is a delete and
#: an insert), so the store rebuilds them from time to time instead of letting every
#: checkpoint vacuum the large append-only tables too. Their current definitions:
VESSEL_LATEST_DDL = """
    CREATE TABLE vessel_latest (
        mmsi INTEGER PRIMARY KEY,
        id_hi UBIGINT NOT NULL,
        id_lo UBIGINT NOT NULL,
        seq BIGINT NOT NULL,
        observed_at TIMESTAMPTZ,
        msg_type SMALLINT,
        lat DOUBLE NOT NULL,
        lon DOUBLE NOT NULL,
        speed_kn DOUBLE,
        course_deg DOUBLE,
        heading_deg DOUBLE,
        nav_status SMALLINT,
        label_no INTEGER NOT NULL
    )
"""
VESSELS_DDL = """
    CREATE TABLE vessels (
        mmsi INTEGER PRIMARY KEY,
        updated_at TIMESTAMPTZ,
        seq BIGINT NOT NULL,
        imo INTEGER,
        name VARCHAR,
        callsign VARCHAR,
        ship_type SMALLINT,
        destination VARCHAR,
        draught_m DOUBLE,
        to_bow_m SMALLINT,
        to_stern_m SMALLINT,
        to_port_m SMALLINT,
        to_starboard_m SMALLINT
    )
"""
#: Table name -> current definition, for the rebuild.
REBUILT_TABLES: dict[str, str] = {"vessel_latest": VESSEL_LATEST_DDL, "vessels": VESSELS_DDL}

_INITIAL = (
    """
    CREATE TABLE labels (
        label_no INTEGER PRIMARY KEY,
        id VARCHAR NOT NULL UNIQUE,
        level SMALLINT NOT NULL,
        level_name VARCHAR NOT NULL,
        originator VARCHAR NOT NULL,
        releasable_to VARCHAR[] NOT NULL,
        categories VARCHAR[] NOT NULL,
        orcon BOOLEAN NOT NULL,
        marking VARCHAR NOT NULL
    )
    """,
    """
    CREATE TABLE sources (
        source_no INTEGER PRIMARY KEY,
        name VARCHAR NOT NULL UNIQUE
    )
    """,
    """
    CREATE TABLE reports (
        seq BIGINT NOT NULL,
        id_hi UBIGINT NOT NULL,
        id_lo UBIGINT NOT NULL,
        content_hash UBIGINT NOT NULL,
        originator VARCHAR NOT NULL,
        source_kind VARCHAR NOT NULL,
        label_no INTEGER NOT NULL,
        observed_at TIMESTAMPTZ,
        msg_type SMALLINT,
        mmsi INTEGER,
        lat DOUBLE,
        lon DOUBLE,
        speed_kn DOUBLE,
        course_deg DOUBLE,
        heading_deg DOUBLE,
        nav_status SMALLINT,
        imo INTEGER,
        name VARCHAR,
        callsign VARCHAR,
        ship_type SMALLINT,
        destination VARCHAR,
        draught_m DOUBLE,
        to_bow_m SMALLINT,
        to_stern_m SMALLINT,
        to_port_m SMALLINT,
        to_starboard_m SMALLINT
    )
    """,
    """
    CREATE TABLE receptions (
        id_hi UBIGINT NOT NULL,
        id_lo UBIGINT NOT NULL,
        received_at TIMESTAMPTZ,
        receiver VARCHAR,
        source_no INTEGER NOT NULL,
        line_no BIGINT,
        raw VARCHAR NOT NULL
    )
    """,
    VESSEL_LATEST_DDL,
    VESSELS_DDL,
    """
    CREATE TABLE quarantine (
        source VARCHAR NOT NULL,
        line_no BIGINT,
        reason VARCHAR NOT NULL,
        detail VARCHAR NOT NULL,
        raw VARCHAR NOT NULL,
        quarantined_at TIMESTAMPTZ NOT NULL
    )
    """,
)

#: (version, name, statements), in order.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = ((1, "initial schema", _INITIAL),)
