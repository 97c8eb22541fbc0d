"""The PostgreSQL store's schema as versioned migrations (PostgreSQL 15 + PostGIS 3 SQL).

The tables hold what the embedded store's do (``embedded_schema`` describes them), with
these differences:

- Report ids and content hashes are 64-bit halves stored as ``bigint`` (PostgreSQL has no
  unsigned integers): the same 64 bits, read as signed. Queries give ids back as the same
  hex text as DuckDB's.
- ``reports`` is partitioned by UTC day of ``observed_at`` (``reports_YYYYMMDD``, created
  by the write path in the batch's own transaction when a batch reaches a new day; reports
  without a time go to ``reports_untimed``). Each partition has BRIN indexes on
  ``observed_at`` (reports arrive in time order) and on ``seq`` (the feed, the latest-state
  updates; migration 3), summarised by autovacuum as their ranges fill (migration 9), a
  B-tree on ``(mmsi, observed_at)`` (tracks), and a GiST index on ``geom``, a PostGIS
  ``geometry(Point, 4326)`` generated from ``lon``/``lat`` (box queries).
- ``report_seq`` holds the last seq handed out, so a writer need not scan every partition
  for ``max(seq)``; writers serialise on an advisory lock (``postgres.WRITE_LOCK``) so seq
  order is commit order, which the report feed relies on.

- The fused picture (migration 4: tracks, track points, alerts, alert changes, the fusion
  cursor; ``postgres_fusion``) and watch lists with their webhook deliveries (migration 5;
  ``postgres_watch``) are the embedded store's tables in PostgreSQL types.

Each migration runs once, in order, in one transaction, and is recorded in
``schema_migrations``. Never edit a released migration: add the next one. The numbering is
this backend's own (the embedded store's migrations are DuckDB SQL).
"""

from __future__ import annotations

from datetime import date, timedelta

__all__ = ["MIGRATIONS", "partition_ddl"]

_CORE = (
    """
    CREATE TABLE labels (
        label_no integer PRIMARY KEY,
        id text NOT NULL UNIQUE,
        level smallint NOT NULL,
        level_name text NOT NULL,
        originator text NOT NULL,
        releasable_to text[] NOT NULL,
        categories text[] NOT NULL,
        orcon boolean NOT NULL,
        marking text NOT NULL
    )
    """,
    """
    CREATE TABLE sources (
        source_no integer PRIMARY KEY,
        name text NOT NULL UNIQUE
    )
    """,
    """
    CREATE TABLE reports (
        seq bigint NOT NULL,
        id_hi bigint NOT NULL,
        id_lo bigint NOT NULL,
        content_hash bigint NOT NULL,
        originator text NOT NULL,
        source_kind text NOT NULL,
        label_no integer NOT NULL,
        observed_at timestamptz,
        msg_type smallint,
        mmsi integer,
        lat double precision,
        lon double precision,
        speed_kn double precision,
        course_deg double precision,
        heading_deg double precision,
        nav_status smallint,
        imo integer,
        name text,
        callsign text,
        ship_type smallint,
        destination text,
        draught_m double precision,
        to_bow_m smallint,
        to_stern_m smallint,
        to_port_m smallint,
        to_starboard_m smallint,
        geom geometry(Point, 4326) GENERATED ALWAYS AS (
            CASE WHEN lat IS NOT NULL AND lon IS NOT NULL
                 THEN ST_SetSRID(ST_MakePoint(lon, lat), 4326) END
        ) STORED
    ) PARTITION BY RANGE (observed_at)
    """,
    # Untimed reports only: the check lets a new day's partition be attached without
    # scanning this one.
    """
    CREATE TABLE reports_untimed PARTITION OF reports
        (CONSTRAINT reports_untimed_only CHECK (observed_at IS NULL)) DEFAULT
    """,
    "CREATE INDEX reports_time ON reports USING brin (observed_at)",
    "CREATE INDEX reports_seq ON reports (seq)",
    "CREATE INDEX reports_vessel ON reports (mmsi, observed_at)",
    "CREATE INDEX reports_geom ON reports USING gist (geom)",
    """
    CREATE TABLE report_seq (
        one boolean PRIMARY KEY CHECK (one),
        last bigint NOT NULL CHECK (last >= 0)
    )
    """,
    "INSERT INTO report_seq VALUES (true, 0)",
    """
    CREATE TABLE receptions (
        id_hi bigint NOT NULL,
        id_lo bigint NOT NULL,
        received_at timestamptz,
        receiver text,
        source_no integer NOT NULL,
        line_no bigint,
        raw text NOT NULL
    )
    """,
    "CREATE INDEX receptions_time ON receptions USING brin (received_at)",
    "CREATE INDEX receptions_id ON receptions (id_hi, id_lo)",
    """
    CREATE TABLE vessel_latest (
        mmsi integer NOT NULL,
        id_hi bigint NOT NULL,
        id_lo bigint NOT NULL,
        seq bigint NOT NULL,
        observed_at timestamptz,
        msg_type smallint,
        lat double precision NOT NULL,
        lon double precision NOT NULL,
        speed_kn double precision,
        course_deg double precision,
        heading_deg double precision,
        nav_status smallint,
        label_no integer NOT NULL,
        PRIMARY KEY (mmsi, label_no)
    )
    """,
    """
    CREATE TABLE vessels (
        mmsi integer NOT NULL,
        label_no integer NOT NULL,
        updated_at timestamptz,
        seq bigint NOT NULL,
        imo integer,
        name text,
        callsign text,
        ship_type smallint,
        destination text,
        draught_m double precision,
        to_bow_m smallint,
        to_stern_m smallint,
        to_port_m smallint,
        to_starboard_m smallint,
        PRIMARY KEY (mmsi, label_no)
    )
    """,
    """
    CREATE TABLE quarantine (
        source text NOT NULL,
        line_no bigint,
        reason text NOT NULL,
        detail text NOT NULL,
        raw text NOT NULL,
        quarantined_at timestamptz NOT NULL,
        label_no integer NOT NULL
    )
    """,
    "CREATE INDEX quarantine_line ON quarantine (source, line_no)",
    """
    CREATE TABLE users (
        name text PRIMARY KEY,
        nation text NOT NULL,
        clearance text NOT NULL,
        roles text[] NOT NULL,
        created_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE api_tokens (
        token_hash text PRIMARY KEY,
        user_name text NOT NULL,
        created_at timestamptz NOT NULL,
        expires_at timestamptz
    )
    """,
)

#: Migration 2: the latest position per vessel keeps its source kind (what the map colours
#: by), as the embedded store's migration 6.
_SOURCE_KIND = (
    "ALTER TABLE vessel_latest ADD COLUMN source_kind text",
    """
    UPDATE vessel_latest SET source_kind = r.source_kind
    FROM reports r WHERE r.seq = vessel_latest.seq
    """,
)

#: Migration 3: cheaper writes. A B-tree on seq and one on the receptions' ids cost more to
#: keep up at every batch than they save: seq rises with insertion, so a BRIN finds the
#: feed's and the latest-state update's recent rows, and receptions are found through
#: their time window (BRIN on received_at).
_CHEAPER_WRITES = (
    "DROP INDEX reports_seq",
    "CREATE INDEX reports_seq ON reports USING brin (seq)",
    "DROP INDEX receptions_id",
)

#: Migration 4: the fused picture, as the embedded store's migration 4 (``embedded_fusion``
#: describes the tables). ``track_points.flags`` is an ``integer`` held to 0..65535 (there is
#: no unsigned smallint); the B-trees serve the reads' orders and the replay check.
_FUSION = (
    """
    CREATE TABLE tracks (
        id text PRIMARY KEY,
        kind text NOT NULL,
        mmsi integer,
        first_at timestamptz NOT NULL,
        last_at timestamptz NOT NULL CHECK (last_at >= first_at),
        lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
        lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
        points bigint NOT NULL CHECK (points >= 0),
        label_no integer NOT NULL,
        name text,
        linked_from text
    )
    """,
    "CREATE INDEX tracks_first ON tracks (first_at, id)",
    """
    CREATE TABLE track_points (
        seq bigint NOT NULL,
        track_id text NOT NULL,
        flags integer NOT NULL CHECK (flags BETWEEN 0 AND 65535)
    )
    """,
    "CREATE INDEX track_points_seq ON track_points (seq, track_id)",
    """
    CREATE TABLE alerts (
        id text PRIMARY KEY,
        kind text NOT NULL,
        status text NOT NULL CHECK (status IN ('open', 'closed', 'withdrawn')),
        start_at timestamptz NOT NULL,
        end_at timestamptz NOT NULL CHECK (end_at >= start_at),
        lat double precision NOT NULL CHECK (lat BETWEEN -90 AND 90),
        lon double precision NOT NULL CHECK (lon BETWEEN -180 AND 180),
        mmsis integer[] NOT NULL,
        tracks text[] NOT NULL,
        evidence text NOT NULL,
        label_no integer NOT NULL,
        revision integer NOT NULL,
        alert_seq bigint NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    "CREATE INDEX alerts_start ON alerts (start_at, id)",
    """
    CREATE TABLE alert_changes (
        alert_seq bigint PRIMARY KEY,
        alert_id text NOT NULL,
        revision integer NOT NULL,
        kind text NOT NULL,
        status text NOT NULL,
        start_at timestamptz NOT NULL,
        end_at timestamptz NOT NULL,
        lat double precision NOT NULL,
        lon double precision NOT NULL,
        mmsis integer[] NOT NULL,
        tracks text[] NOT NULL,
        evidence text NOT NULL,
        label_no integer NOT NULL,
        changed_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE fusion_cursor (
        one boolean PRIMARY KEY CHECK (one),
        seq bigint NOT NULL CHECK (seq >= 0)
    )
    """,
    "INSERT INTO fusion_cursor VALUES (true, 0)",
)

#: Migration 5: watch lists and the webhook deliveries of their alerts, as the embedded
#: store's migration 5 (API tokens came with migration 1 here).
_WATCH = (
    """
    CREATE TABLE watchlists (
        id text PRIMARY KEY,
        owner text NOT NULL,
        name text NOT NULL,
        mmsis integer[] NOT NULL,
        webhook text,
        created_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL
    )
    """,
    """
    CREATE TABLE webhook_deliveries (
        watchlist_id text NOT NULL,
        alert_id text NOT NULL,
        revision integer NOT NULL,
        delivered_at timestamptz,
        attempts integer NOT NULL,
        last_error text,
        PRIMARY KEY (watchlist_id, alert_id, revision)
    )
    """,
)

#: Migration 6: the partner exchange's tables, as the embedded store's migration 3
#: (``embedded_exchange`` describes them; ``postgres_exchange`` holds their SQL here).
#: ``order_no`` is unique over all partners; the B-trees serve a partner's reads from its
#: low order number on, and the look-ups by record (given, partners given, latest item).
_EXCHANGE = (
    """
    CREATE TABLE share_cursors (
        partner text PRIMARY KEY,
        scanned_seq bigint NOT NULL,
        last_batch bigint NOT NULL,
        low_order bigint NOT NULL
    )
    """,
    """
    CREATE TABLE share_outbox (
        partner text NOT NULL,
        order_no bigint PRIMARY KEY,
        record_id text NOT NULL,
        kind text NOT NULL,
        not_before timestamptz NOT NULL,
        agreement text,
        clause text,
        item text NOT NULL,
        batch_seq bigint,
        sent_at timestamptz,
        dropped text
    )
    """,
    "CREATE INDEX share_outbox_partner ON share_outbox (partner, order_no)",
    "CREATE INDEX share_outbox_record ON share_outbox (record_id, partner)",
    """
    CREATE TABLE share_inbound (
        sender text NOT NULL,
        seq bigint NOT NULL,
        batch_hash text NOT NULL,
        items_hash text NOT NULL,
        nonce text NOT NULL,
        received_at timestamptz NOT NULL,
        records integer NOT NULL,
        PRIMARY KEY (sender, seq)
    )
    """,
    """
    CREATE TABLE share_nonces (
        sender text NOT NULL,
        nonce text NOT NULL,
        seen_at timestamptz NOT NULL,
        PRIMARY KEY (sender, nonce)
    )
    """,
    "CREATE INDEX share_nonces_seen ON share_nonces (seen_at)",
    """
    CREATE TABLE share_amendments (
        id_hi bigint NOT NULL,
        id_lo bigint NOT NULL,
        sender text NOT NULL,
        kind text NOT NULL,
        reason text NOT NULL,
        record text,
        batch_seq bigint NOT NULL,
        amended_at timestamptz NOT NULL
    )
    """,
)

#: Migration 7: fusion resumes where it was (the same as the embedded store's migration 7):
#: how far the fuser had read, and one checkpoint of its memory.
_FUSION_STATE = (
    "ALTER TABLE fusion_cursor ADD COLUMN read_seq bigint",
    "UPDATE fusion_cursor SET read_seq = seq",
    """
    CREATE TABLE fusion_state (
        one boolean PRIMARY KEY CHECK (one),
        read_seq bigint NOT NULL CHECK (read_seq >= 0),
        saved_at timestamptz NOT NULL,
        state bytea NOT NULL
    )
    """,
)

#: Migration 8: fusion split into parts (the same as the embedded store's migration 8).
_FUSION_PARTS = (
    """
    CREATE TABLE fusion_part_cursor (
        part integer PRIMARY KEY CHECK (part > 0),
        seq bigint NOT NULL CHECK (seq >= 0),
        read_seq bigint NOT NULL CHECK (read_seq >= 0)
    )
    """,
    """
    CREATE TABLE fusion_part_state (
        part integer PRIMARY KEY CHECK (part > 0),
        read_seq bigint NOT NULL CHECK (read_seq >= 0),
        saved_at timestamptz NOT NULL,
        state bytea NOT NULL
    )
    """,
)

#: Migration 9: BRIN indexes that summarise themselves. A BRIN range written after the
#: index was made is unsummarised until a VACUUM, and a scan reads every unsummarised
#: range whatever it holds: between autovacuum's insert-triggered runs (a fifth of a
#: table's growth) each page of the report feed read that much of the day's reports and
#: receptions. With ``autosummarize`` autovacuum summarises each range once it is full,
#: so a page reads its own ranges and the last minute's. Rebuilding reads each table once.
_SUMMARISED_BRIN = (
    "DROP INDEX reports_time",
    "CREATE INDEX reports_time ON reports USING brin (observed_at) WITH (autosummarize = on)",
    "DROP INDEX reports_seq",
    "CREATE INDEX reports_seq ON reports USING brin (seq) WITH (autosummarize = on)",
    "DROP INDEX receptions_time",
    "CREATE INDEX receptions_time ON receptions USING brin (received_at) WITH (autosummarize = on)",
)

#: (version, name, statements), in order.
MIGRATIONS: tuple[tuple[int, str, tuple[str, ...]], ...] = (
    (
        1,
        "reports partitioned by day with PostGIS positions, receptions, labels, sources, "
        "latest state, quarantine, users, API tokens",
        _CORE,
    ),
    (2, "latest position per vessel keeps its source kind", _SOURCE_KIND),
    (3, "BRIN instead of B-trees on report seq and reception ids", _CHEAPER_WRITES),
    (4, "fused picture: tracks, track points, alerts, alert changes, fusion cursor", _FUSION),
    (5, "watch lists and webhook deliveries", _WATCH),
    (6, "partner exchange: cursors, outbox, inbound batches, nonces, amendments", _EXCHANGE),
    (7, "fusion checkpoint: how far the fuser read, and its saved state", _FUSION_STATE),
    (8, "fusion parts: a cursor and a checkpoint for each part after the first", _FUSION_PARTS),
    (9, "BRIN indexes summarised as their ranges fill (autosummarize)", _SUMMARISED_BRIN),
)


def partition_ddl(day: date) -> str:
    """The statement creating the partition of reports for UTC day ``day``; a no-op when it
    exists."""
    after = day + timedelta(days=1)
    return (
        f"CREATE TABLE IF NOT EXISTS reports_{day:%Y%m%d} PARTITION OF reports FOR VALUES "
        f"FROM ('{day:%Y-%m-%d} 00:00:00+00') TO ('{after:%Y-%m-%d} 00:00:00+00')"
    )
