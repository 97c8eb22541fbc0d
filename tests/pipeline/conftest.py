"""Pipeline fixtures: the session's PostgreSQL + PostGIS server of the store tests (started
once, on first use; skipped saying why, or failed when ``CI=true``, without the binaries)."""

from __future__ import annotations

from tests.store.conftest import pg_server

__all__ = ["pg_server"]
