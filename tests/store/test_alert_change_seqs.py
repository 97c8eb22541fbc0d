"""Where a webhook sender resumes: the alert_seq of given changes, and of a moment; the
same on both backends."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from tests.store.conftest import AnyStore
from tests.store.test_fusion_tables import an_alert


def test_changes_are_found_by_alert_and_revision(any_store: AnyStore) -> None:
    store = any_store
    assert store.alert_change_seqs([]) == {}
    store.write_alerts([an_alert(), an_alert("b")])
    store.write_alerts([an_alert(lat=1.0)])  # enc-1's revision 2
    found = store.alert_change_seqs([("enc-1", 1), ("enc-1", 2), ("b", 1), ("b", 2), ("x", 1)])
    assert found == {("enc-1", 1): 1, ("b", 1): 2, ("enc-1", 2): 3}


def test_the_last_change_stored_by_a_moment(any_store: AnyStore) -> None:
    store = any_store
    before = datetime.now(UTC) - timedelta(seconds=1)
    assert store.alert_seq_at(datetime.now(UTC)) == 0
    store.write_alerts([an_alert(), an_alert("b")])
    time.sleep(0.01)
    between = datetime.now(UTC)
    time.sleep(0.01)
    store.write_alerts([an_alert(lat=1.0)])
    assert store.alert_seq_at(before) == 0
    assert store.alert_seq_at(between) == 2
    assert store.alert_seq_at(datetime.now(UTC) + timedelta(seconds=1)) == 3
