"""Who may see which alerts and tracks: the store's SQL filter is held to ``labels.may_see``.

Like ``test_visibility`` for reports: random labels on alerts and tracks, random readers
(including one of a nation no label names), and each reader must get exactly the rows
``may_see`` allows, whatever other filters the query has. On every backend (DuckDB file,
PostgreSQL + PostGIS).
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mista.labels import Label, Level
from mista.model import Alert, AlertStatus, Track, User
from tests.store.conftest import AnyStore, Backend
from tests.strategies import NATIONS, labels, numbered_labels

T0 = datetime(2026, 1, 1, tzinfo=UTC)
readers = st.builds(
    User,
    name=st.just("reader"),
    nation=st.sampled_from((*NATIONS, "BRA")),
    clearance=st.sampled_from(list(Level)),
    roles=st.just(frozenset()),
)
#: Each example writes its own alerts and tracks (ids prefixed) into the one store.
_examples = itertools.count()


@pytest.fixture
def shared(module_store: AnyStore) -> AnyStore:
    """One store of each backend for every example of the properties below."""
    return module_store


def alert(ident: str, label: Label, status: AlertStatus, kind: str) -> Alert:
    return Alert(
        id=ident,
        kind=kind,
        status=status,
        start=T0,
        end=T0 + timedelta(hours=1),
        lat=10.0,
        lon=70.0,
        label=label,
        mmsis=(419000001,),
    )


def track(ident: str, label: Label, kind: str) -> Track:
    return Track(
        id=ident,
        kind=kind,
        first_at=T0,
        last_at=T0 + timedelta(hours=1),
        lat=10.0,
        lon=70.0,
        points=3,
        label=label,
    )


def mine(ids: list[str], prefix: str) -> set[str]:
    return {ident for ident in ids if ident.startswith(prefix)}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            labels(),
            st.sampled_from(list(AlertStatus)),
            st.sampled_from(["encounter", "loitering"]),
            st.sampled_from(["ais", "dark"]),
        ),
        min_size=1,
        max_size=25,
    ),
    st.lists(readers, min_size=1, max_size=5),
)
def test_alerts_and_tracks_show_exactly_what_may_see_allows(
    shared: AnyStore,
    drawn: list[tuple[Label, AlertStatus, str, str]],
    viewers: list[User],
) -> None:
    prefix = f"ex{next(_examples)}-"
    alerts = [
        alert(f"{prefix}a{i}", label, status, kind)
        for i, (label, status, kind, _) in enumerate(drawn)
    ]
    tracks = [track(f"{prefix}t{i}", label, kind) for i, (label, *_, kind) in enumerate(drawn)]
    shared.write_fusion(
        cursor=shared.fusion_cursor(),
        tracks=tracks,
        points=_no_points(),
        alerts=alerts,
    )
    for viewer in viewers:
        allowed = [a for a in alerts if viewer.may_see(a.label)]
        everything = shared.alerts(viewer=viewer, include_withdrawn=True)
        assert mine(everything.column("id").to_pylist(), prefix) == {a.id for a in allowed}
        current = shared.alerts(viewer=viewer)
        assert mine(current.column("id").to_pylist(), prefix) == {
            a.id for a in allowed if a.status != AlertStatus.WITHDRAWN
        }
        loitering = shared.alerts(viewer=viewer, kinds=["loitering"], include_withdrawn=True)
        assert mine(loitering.column("id").to_pylist(), prefix) == {
            a.id for a in allowed if a.kind == "loitering"
        }
        for row in everything.to_pylist():
            if row["id"].startswith(prefix):
                label = alerts[int(row["id"][len(prefix) + 1 :])].label
                assert row["label"] == label.to_marking()
        seen_tracks = shared.tracks(viewer=viewer)
        assert mine(seen_tracks.column("id").to_pylist(), prefix) == {
            t.id for t in tracks if viewer.may_see(t.label)
        }
        dark = shared.tracks(viewer=viewer, kind="dark")
        assert mine(dark.column("id").to_pylist(), prefix) == {
            t.id for t in tracks if t.kind == "dark" and viewer.may_see(t.label)
        }


def _no_points() -> pa.Table:
    return pa.table(
        {
            "seq": pa.array([], pa.int64()),
            "track_id": pa.array([], pa.string()),
            "flags": pa.array([], pa.uint16()),
        }
    )


def test_the_filter_agrees_with_may_see_on_thousands_of_pairs(backend: Backend) -> None:
    """Many labels, many readers, one write: every (label, reader) pair checked."""
    pairs = 0

    @settings(max_examples=5, deadline=None, database=None)
    @given(
        st.lists(numbered_labels, min_size=200, max_size=220),
        st.lists(readers, min_size=10, max_size=12),
    )
    def agree(drawn: list[Label], viewers: list[User]) -> None:
        nonlocal pairs
        prefix = f"many{next(_examples)}-"
        alerts = [
            alert(f"{prefix}{i}", label, AlertStatus.OPEN, "encounter")
            for i, label in enumerate(drawn)
        ]
        db.write_alerts(alerts)
        for viewer in viewers:
            ids = mine(db.alerts(viewer=viewer).column("id").to_pylist(), prefix)
            assert ids == {a.id for a in alerts if viewer.may_see(a.label)}, viewer
            pairs += len(alerts)

    db = backend.open()
    agree()
    assert pairs >= 10_000
