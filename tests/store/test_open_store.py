"""The composition root picks the backend by what ``--store`` names: a postgresql:// URL is
the PostgreSQL store for ingest, queries, fusion and the API; the partner exchange
(``mista serve``) refuses it, saying why."""

from __future__ import annotations

from pathlib import Path

import pytest

from mista.detect.pipeline import Pipeline
from mista.errors import StoreError
from mista.node import ingest_paths, open_node_store, open_store, operator_user, vessels
from mista.store import Store
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


def test_a_node_opens_either_backend(backend: Backend) -> None:
    location = backend.location()
    ingest_paths([SAMPLE], store=location, nation="IND")
    with open_node_store(location) as store:
        kind = PostgresStore if backend.kind == "postgresql" else DuckDBStore
        assert isinstance(store, kind)
        as_protocol: Store = store  # the whole protocol, on either backend
        pipeline = Pipeline(as_protocol, node="IND")
        pipeline.run()
        pipeline.finish()
        assert store.fusion_cursor() == store.feed_ends()[0] > 0
        assert store.tracks(viewer=operator_user("IND")).num_rows > 0
    with open_node_store(location, read_only=True) as reader:
        assert reader.tracks(viewer=operator_user("IND")).num_rows > 0


def test_an_unreachable_postgresql_store_says_where_without_the_password() -> None:
    url = "postgresql://mista:secret@127.0.0.1:1/mista"
    for read_only in (False, True):
        with pytest.raises(StoreError, match=r"127\.0\.0\.1:1/mista") as error:
            open_node_store(url, read_only=read_only)
        assert "secret" not in str(error.value)
