"""The store writer's COPY into PostgreSQL (``postgres_write.copy_csv``) keeps every
instant whatever the session's time zone: UTC timestamps go as naive text (fast) only
into a session in UTC."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pyarrow as pa
import pytest

from mista.store.postgres_write import copy_csv
from tests.bus.pg import new_database
from tests.store.pg_server import PgServer

_INSTANTS = [
    datetime(2020, 6, 30, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1999, 12, 31, 12, 0, tzinfo=UTC),
    None,
]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Kolkata", "America/New_York"])
def test_copy_keeps_instants_in_any_session_zone(postgres: PgServer, zone: str) -> None:
    url = new_database(postgres, f"copy_{zone.replace('/', '_').lower()}")
    table = pa.table(
        {
            "at": pa.array(_INSTANTS, pa.timestamp("us", tz="UTC")),
            "id": pa.array([2**64 - 1, 1, 0], pa.uint64()),
        }
    )
    with psycopg.connect(url) as con, con.cursor() as cur:
        cur.execute(f"SET TimeZone = '{zone}'")
        cur.execute("CREATE TEMP TABLE t (at timestamptz, id bigint)")
        copy_csv(cur, "t", table)
        cur.execute("SET TimeZone = 'UTC'")
        cur.execute("SELECT at, id FROM t ORDER BY id")
        rows = cur.fetchall()
    assert sorted(rows, key=lambda r: r[1]) == [
        (_INSTANTS[0], -1),
        (_INSTANTS[2], 0),
        (_INSTANTS[1], 1),
    ]
