"""The composition root picks the backend by what ``--store`` names: a postgresql:// URL is
the PostgreSQL store for ingest and queries; a node's own work refuses it, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from mista.errors import ConfigError
from mista.node import ingest_paths, open_node_store, open_store, operator_user, vessels
from mista.store.embedded import DuckDBStore
from mista.store.postgres import PostgresStore
from tests.store.conftest import Backend

SAMPLE = Path(__file__).parents[2] / "src" / "mista" / "data" / "sample.nmea"


def test_ingest_and_query_by_url_on_either_backend(backend: Backend) -> None:
    location = backend.location()
    summary = ingest_paths([SAMPLE], store=location, nation="IND")
    assert summary.reports > 0
    with open_store(location, read_only=True) as store:
        kind = PostgresStore if backend.kind == "postgresql" else DuckDBStore
        assert isinstance(store, kind)
        assert store.counts()["reports"] == summary.reports
    assert vessels(location, viewer=operator_user("IND")).num_rows > 0


def test_a_node_refuses_a_postgresql_store_for_now() -> None:
    with pytest.raises(ConfigError, match="do not run on PostgreSQL yet"):
        open_node_store("postgresql://mista:secret@127.0.0.1:1/mista")
    with pytest.raises(ConfigError) as refused:
        open_node_store("postgresql://mista:secret@127.0.0.1:1/mista")
    assert "secret" not in str(refused.value)
