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
- ``vessel_latest``: the latest position per (MMSI, label), maintained on write, so "latest
  state per vessel" never scans the reports. Keyed per label (migration 2) so a reader gets
  the newest row *they may see*: one label's newer row never hides another's.
- ``vessels``: the latest identity (static and voyage data) per (MMSI, label), likewise.
- ``quarantine``: every line that could not be used, with its source, line, reason and the
  label of its source (``label_no``, migration 2).
- ``users``: who may read, their nation, clearance and roles (migration 2).
- ``tracks``, ``track_points``, ``alerts``, ``alert_changes`` and ``fusion_cursor``: the
  fused picture (migration 4); ``mista.store.embedded_fusion`` describes them and holds
  their SQL; ``fusion_state`` keeps a checkpoint of the fuser's memory (migration 7);
  ``fusion_part_cursor`` and ``fusion_part_state`` the same for each fusion part after the
  first (migration 8).
"""

from __future__ import annotations

__all__ = [
    "ALERTS_DDL",
    "MIGRATIONS",
    "POSITION_TYPES",
    "REBUILT_TABLES",
    "STATIC_FIELDS",
    "STATIC_TYPES",
    "TRACKS_DDL",
    "VESSELS_DDL",
    "VESSEL_LATEST_DDL",
]

#: The latest-state tables as migration 1 made them (keyed by MMSI alone).
_VESSEL_LATEST_V1 = """
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
_VESSELS_V1 = """
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
#: The latest-state tables are small and rewritten on every batch (an upsert is a delete and
#: an insert), so the store rebuilds them from time to time instead of letting every
#: checkpoint vacuum the large append-only tables too. Their current definitions (migration
#: 2: one row per MMSI and label):
_VESSEL_LATEST_COLUMNS = """
        mmsi INTEGER NOT NULL,
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
        label_no INTEGER NOT NULL,"""
#: As migration 2 made it.
_VESSEL_LATEST_V2_DDL = f"""
    CREATE TABLE vessel_latest ({_VESSEL_LATEST_COLUMNS}
        PRIMARY KEY (mmsi, label_no)
    )
"""
#: Since migration 6: with the source kind of the position (what the map colours by).
VESSEL_LATEST_DDL = f"""
    CREATE TABLE vessel_latest ({_VESSEL_LATEST_COLUMNS}
        source_kind VARCHAR,
        PRIMARY KEY (mmsi, label_no)
    )
"""
VESSELS_DDL = """
    CREATE TABLE vessels (
        mmsi INTEGER NOT NULL,
        label_no INTEGER NOT NULL,
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
        to_starboard_m SMALLINT,
        PRIMARY KEY (mmsi, label_no)
    )
"""
#: The fused picture's upserted tables (migration 4), rebuilt like the latest state: a track
#: is rewritten at every fusion step it gains points in.
TRACKS_DDL = """
    CREATE TABLE tracks (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        mmsi INTEGER,
        first_at TIMESTAMPTZ NOT NULL,
        last_at TIMESTAMPTZ NOT NULL CHECK (last_at >= first_at),
        lat DOUBLE NOT NULL CHECK (lat BETWEEN -90 AND 90),
        lon DOUBLE NOT NULL CHECK (lon BETWEEN -180 AND 180),
        points BIGINT NOT NULL CHECK (points >= 0),
        label_no INTEGER NOT NULL,
        name VARCHAR,
        linked_from VARCHAR
    )
"""
ALERTS_DDL = """
    CREATE TABLE alerts (
        id VARCHAR PRIMARY KEY,
        kind VARCHAR NOT NULL,
        status VARCHAR NOT NULL CHECK (status IN ('open', 'closed', 'withdrawn')),
        start_at TIMESTAMPTZ NOT NULL,
        end_at TIMESTAMPTZ NOT NULL CHECK (end_at >= start_at),
        lat DOUBLE NOT NULL CHECK (lat BETWEEN -90 AND 90),
        lon DOUBLE NOT NULL CHECK (lon BETWEEN -180 AND 180),
        mmsis INTEGER[] NOT NULL,
        tracks VARCHAR[] NOT NULL,
        evidence VARCHAR NOT NULL,
        label_no INTEGER NOT NULL,
        revision INTEGER NOT NULL,
        alert_seq BIGINT NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )
"""
#: Table name -> current definition, for the rebuild.
REBUILT_TABLES: dict[str, str] = {
    "vessel_latest": VESSEL_LATEST_DDL,
    "vessels": VESSELS_DDL,
    "tracks": TRACKS_DDL,
    "alerts": ALERTS_DDL,
}
#: AIS message types whose position updates a vessel's latest state (see embedded.py).
POSITION_TYPES = (1, 2, 3, 9, 18, 19, 27)
#: AIS message types that carry static and voyage data (identity).
STATIC_TYPES = (5, 19, 24)
STATIC_FIELDS = (
    "imo",
    "name",
    "callsign",
    "ship_type",
    "destination",
    "draught_m",
    "to_bow_m",
    "to_stern_m",
    "to_port_m",
    "to_starboard_m",
)

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
    _VESSEL_LATEST_V1,
    _VESSELS_V1,
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

_POSITION_TYPES_SQL = ", ".join(str(t) for t in POSITION_TYPES)
_STATIC_TYPES_SQL = ", ".join(str(t) for t in STATIC_TYPES)
_ANY_STATIC = " OR ".join(f"{name} IS NOT NULL" for name in STATIC_FIELDS)
#: Per field, the value of the newest report that has one (the write path's merge, replayed).
_NEWEST_STATIC = ", ".join(
    f"arg_max({name}, k) FILTER (WHERE {name} IS NOT NULL)" for name in STATIC_FIELDS
)

#: Migration 2: users, and per-label latest state and quarantine (who may see what).
#: The latest-state tables are rebuilt from the reports, per (MMSI, label). Quarantined rows
#: from before have no source label; they get the most restrictive label the store can name:
#: SECRET, releasable only to the originator of the store's first label (the node's own
#: nation: the first label a node stores is its own sources'), or, in a store with no
#: labels at all, to no one (an empty releasability: default deny).
_PER_LABEL = (
    """
    CREATE TABLE users (
        name VARCHAR PRIMARY KEY,
        nation VARCHAR NOT NULL,
        clearance VARCHAR NOT NULL,
        roles VARCHAR[] NOT NULL,
        created_at TIMESTAMPTZ NOT NULL
    )
    """,
    "DROP TABLE vessel_latest",
    _VESSEL_LATEST_V2_DDL,
    f"""
    INSERT INTO vessel_latest
    SELECT mmsi, id_hi, id_lo, seq, observed_at, msg_type, lat, lon, speed_kn, course_deg,
           heading_deg, nav_status, label_no
    FROM reports
    WHERE mmsi IS NOT NULL AND lat IS NOT NULL AND lon IS NOT NULL
      AND (msg_type IS NULL OR msg_type IN ({_POSITION_TYPES_SQL}))
    QUALIFY row_number() OVER (
        PARTITION BY mmsi, label_no ORDER BY observed_at DESC NULLS LAST, seq DESC) = 1
    """,
    "DROP TABLE vessels",
    VESSELS_DDL,
    f"""
    INSERT INTO vessels
    SELECT mmsi, label_no, max(observed_at), max(seq), {_NEWEST_STATIC}
    FROM (
        SELECT *, row_number() OVER (
            PARTITION BY mmsi, label_no ORDER BY observed_at NULLS FIRST, seq) AS k
        FROM reports
        WHERE mmsi IS NOT NULL AND ({_ANY_STATIC})
          AND (msg_type IS NULL OR msg_type IN ({_STATIC_TYPES_SQL}))
    )
    GROUP BY mmsi, label_no
    """,
    "ALTER TABLE quarantine ADD COLUMN label_no INTEGER",
    """
    INSERT INTO labels
    SELECT coalesce((SELECT max(label_no) FROM labels), 0) + 1,
           'quarantine-before-labels', 3, 'SECRET', coalesce(o.originator, ''),
           CASE WHEN o.originator IS NULL THEN []::VARCHAR[] ELSE [o.originator] END,
           []::VARCHAR[], true,
           'SECRET//REL TO ' || coalesce(o.originator, '(no one)') || '//ORCON'
    FROM (SELECT (SELECT originator FROM labels ORDER BY label_no LIMIT 1) AS originator) o
    WHERE EXISTS (SELECT 1 FROM quarantine)
    """,
    """
    UPDATE quarantine SET label_no = (SELECT label_no FROM labels
                                      WHERE id = 'quarantine-before-labels')
    """,
)

#: Migration 3: the partner exchange's tables (cursors, outbox, inbound batches, nonces,
#: amendments); ``mista.store.embedded_exchange`` describes them and holds their SQL.
_EXCHANGE = (
    """
    CREATE TABLE share_cursors (
        partner VARCHAR PRIMARY KEY,
        scanned_seq BIGINT NOT NULL,
        last_batch BIGINT NOT NULL,
        low_order BIGINT NOT NULL
    )
    """,
    """
    CREATE TABLE share_outbox (
        partner VARCHAR NOT NULL,
        order_no BIGINT NOT NULL,
        record_id VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        not_before TIMESTAMPTZ NOT NULL,
        agreement VARCHAR,
        clause VARCHAR,
        item VARCHAR NOT NULL,
        batch_seq BIGINT,
        sent_at TIMESTAMPTZ,
        dropped VARCHAR
    )
    """,
    """
    CREATE TABLE share_inbound (
        sender VARCHAR NOT NULL,
        seq BIGINT NOT NULL,
        batch_hash VARCHAR NOT NULL,
        items_hash VARCHAR NOT NULL,
        nonce VARCHAR NOT NULL,
        received_at TIMESTAMPTZ NOT NULL,
        records INTEGER NOT NULL,
        PRIMARY KEY (sender, seq)
    )
    """,
    """
    CREATE TABLE share_nonces (
        sender VARCHAR NOT NULL,
        nonce VARCHAR NOT NULL,
        seen_at TIMESTAMPTZ NOT NULL,
        PRIMARY KEY (sender, nonce)
    )
    """,
    """
    CREATE TABLE share_amendments (
        id_hi UBIGINT NOT NULL,
        id_lo UBIGINT NOT NULL,
        sender VARCHAR NOT NULL,
        kind VARCHAR NOT NULL,
        reason VARCHAR NOT NULL,
        record VARCHAR,
        batch_seq BIGINT NOT NULL,
        amended_at TIMESTAMPTZ NOT NULL
    )
    """,
)

#: Migration 4: the fused picture: tracks and the reports placed on them, alerts (current
#: state) and every change to an alert in order (what sharing scans), and how far fusion
#: has read the reports.
_FUSION = (
    TRACKS_DDL,
    """
    CREATE TABLE track_points (
        seq BIGINT NOT NULL,
        track_id VARCHAR NOT NULL,
        flags USMALLINT NOT NULL
    )
    """,
    ALERTS_DDL,
    """
    CREATE TABLE alert_changes (
        alert_seq BIGINT PRIMARY KEY,
        alert_id VARCHAR NOT NULL,
        revision INTEGER NOT NULL,
        kind VARCHAR NOT NULL,
        status VARCHAR NOT NULL,
        start_at TIMESTAMPTZ NOT NULL,
        end_at TIMESTAMPTZ NOT NULL,
        lat DOUBLE NOT NULL,
        lon DOUBLE NOT NULL,
        mmsis INTEGER[] NOT NULL,
        tracks VARCHAR[] NOT NULL,
        evidence VARCHAR NOT NULL,
        label_no INTEGER NOT NULL,
        changed_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE fusion_cursor (
        one BOOLEAN PRIMARY KEY CHECK (one),
        seq BIGINT NOT NULL CHECK (seq >= 0)
    )
    """,
    "INSERT INTO fusion_cursor VALUES (true, 0)",
)

#: Migration 5: the operational picture: API tokens (only their SHA-256 is kept), watch
#: lists per user, and which alert revisions each watch list's webhook has been sent.
_API = (
    """
    CREATE TABLE api_tokens (
        token_hash VARCHAR PRIMARY KEY,
        user_name VARCHAR NOT NULL,
        created_at TIMESTAMPTZ NOT NULL,
        expires_at TIMESTAMPTZ
    )
    """,
    """
    CREATE TABLE watchlists (
        id VARCHAR PRIMARY KEY,
        owner VARCHAR NOT NULL,
        name VARCHAR NOT NULL,
        mmsis INTEGER[] NOT NULL,
        webhook VARCHAR,
        created_at TIMESTAMPTZ NOT NULL,
        updated_at TIMESTAMPTZ NOT NULL
    )
    """,
    """
    CREATE TABLE webhook_deliveries (
        watchlist_id VARCHAR NOT NULL,
        alert_id VARCHAR NOT NULL,
        revision INTEGER NOT NULL,
        delivered_at TIMESTAMPTZ,
        attempts INTEGER NOT NULL,
        last_error VARCHAR,
        PRIMARY KEY (watchlist_id, alert_id, revision)
    )
    """,
)

#: Migration 6: the latest position per vessel keeps its source kind (AIS, radar...).
_SOURCE_KIND = (
    "ALTER TABLE vessel_latest ADD COLUMN source_kind VARCHAR",
    """
    UPDATE vessel_latest SET source_kind = r.source_kind
    FROM reports r WHERE r.seq = vessel_latest.seq
    """,
)

#: Migration 7: fusion resumes where it was. The cursor row also keeps how far the fuser
#: had read (``read_seq``: the reports between ``seq`` and it waited in its reorder buffer),
#: and ``fusion_state`` holds one checkpoint of the fuser's and detectors' memory with the
#: ``read_seq`` it was taken at (``mista.detect.checkpoint``).
_FUSION_STATE = (
    "ALTER TABLE fusion_cursor ADD COLUMN read_seq BIGINT",
    "UPDATE fusion_cursor SET read_seq = seq",
    """
    CREATE TABLE fusion_state (
        one BOOLEAN PRIMARY KEY CHECK (one),
        read_seq BIGINT NOT NULL CHECK (read_seq >= 0),
        saved_at TIMESTAMPTZ NOT NULL,
        state BLOB NOT NULL
    )
    """,
)

#: Migration 8: fusion split into parts, one process each (``mista.detect.parts``). The
#: first part (0) keeps ``fusion_cursor`` and ``fusion_state``; every other part has a row
#: of its own here, made at its first step.
_FUSION_PARTS = (
    """
    CREATE TABLE fusion_part_cursor (
        part INTEGER PRIMARY KEY CHECK (part > 0),
        seq BIGINT NOT NULL CHECK (seq >= 0),
        read_seq BIGINT NOT NULL CHECK (read_seq >= 0)
    )
    """,
    """
    CREATE TABLE fusion_part_state (
        part INTEGER PRIMARY KEY CHECK (part > 0),
        read_seq BIGINT NOT NULL CHECK (read_seq >= 0),
        saved_at TIMESTAMPTZ NOT NULL,
        state BLOB NOT NULL
    )
    """,
)

#: (version, name, statements), in order.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (1, "initial schema", _INITIAL),
    (2, "users; latest state and quarantine per label", _PER_LABEL),
    (3, "partner exchange: cursors, outbox, inbound batches, nonces, amendments", _EXCHANGE),
    (4, "fused picture: tracks, track points, alerts, alert changes, fusion cursor", _FUSION),
    (5, "operational picture: API tokens, watch lists, webhook deliveries", _API),
    (6, "latest position per vessel keeps its source kind", _SOURCE_KIND),
    (7, "fusion checkpoint: how far the fuser read, and its saved state", _FUSION_STATE),
    (8, "fusion parts: a cursor and a checkpoint for each part after the first", _FUSION_PARTS),
)
