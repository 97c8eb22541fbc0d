"""What a webhook sender that starts owes the watch lists: alert revisions stored while no
sender ran (the node was down, or only its fusion role was running).

The sender itself only hears of alert changes stored after it starts. Before that, it
reads the alert changes already stored and the delivery records (``webhook_deliveries``),
and for each watch list with a webhook owes, in alert_seq order:

- the revisions stored after the newest change the list has a delivery record of (its
  last delivery, or last attempt), about a vessel it watches;
- a list with no record yet: the revisions stored after the newest change any list has a
  record of (up to there, a sender was running and the list got what it was owed), whose
  alert ends at or after the list was made (an older alert is history, not news);
- revisions tried before without success and not given up (fewer than ``max_attempts``).

A revision delivered before is never owed again. Whether the owner may see the alert is
decided at send time, as for every delivery.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mista.api.watch import Watchlist, watchlists_from_table
from mista.model import Alert

if TYPE_CHECKING:
    from mista.api.context import ApiContext

__all__ = ["Owed", "owed_deliveries"]

#: Alert changes read per store call (the node's store lock is held for each read only).
SCAN_ROWS = 5_000

_Key = tuple[str, int]  # (alert id, revision)


@dataclass(frozen=True, slots=True)
class Owed:
    """One alert revision a watch list's webhook should get; ``seq`` is its alert_seq."""

    seq: int
    watchlist_id: str
    alert: Alert
    revision: int


@dataclass(frozen=True, slots=True)
class _Record:
    delivered: bool
    attempts: int


def owed_deliveries(ctx: ApiContext, *, until_seq: int, max_attempts: int) -> list[Owed]:
    """The revisions (alert changes up to ``until_seq``) owed to the watch lists' webhooks
    (see the module), in alert_seq order."""
    with ctx.lock:
        hooked = [w for w in watchlists_from_table(ctx.store.watchlists()) if w.webhook]
        rows = ctx.store.webhook_deliveries().to_pylist() if hooked else []
    if not hooked or until_seq <= 0:
        return []
    records = _records(rows)
    recorded = {key for of_list in records.values() for key in of_list}
    watched = {mmsi for watchlist in hooked for mmsi in watchlist.mmsis}
    seq_of: dict[_Key, int] = {}
    changes: list[tuple[int, Alert, int]] = []
    for seq, alert, revision in _changes(ctx, until_seq):
        if (alert.id, revision) in recorded:
            seq_of[alert.id, revision] = seq
        if watched.intersection(alert.mmsis):
            changes.append((seq, alert, revision))
    anchors = {
        watchlist_id: max((seq_of[key] for key in of_list if key in seq_of), default=0)
        for watchlist_id, of_list in records.items()
    }
    newest = max(anchors.values(), default=0)
    owed = []
    for seq, alert, revision in changes:
        for watchlist in hooked:
            if watchlist.watches(alert.mmsis) and _owes(
                watchlist,
                records.get(watchlist.id, {}).get((alert.id, revision)),
                anchors.get(watchlist.id, 0),
                newest,
                seq,
                alert,
                max_attempts,
            ):
                owed.append(Owed(seq, watchlist.id, alert, revision))
    return owed


def _owes(
    watchlist: Watchlist,
    record: _Record | None,
    anchor: int,
    newest: int,
    seq: int,
    alert: Alert,
    max_attempts: int,
) -> bool:
    if record is not None:
        return not record.delivered and record.attempts < max_attempts
    if anchor:
        return seq > anchor
    return seq > newest and alert.end >= watchlist.created_at


def _records(rows: list[dict[str, Any]]) -> dict[str, dict[_Key, _Record]]:
    """Delivery records by watch list, then (alert id, revision)."""
    records: dict[str, dict[_Key, _Record]] = {}
    for row in rows:
        of_list = records.setdefault(row["watchlist_id"], {})
        record = _Record(row["delivered_at"] is not None, int(row["attempts"]))
        of_list[row["alert_id"], int(row["revision"])] = record
    return records


def _changes(ctx: ApiContext, until_seq: int) -> Iterator[tuple[int, Alert, int]]:
    """(alert_seq, alert, revision) of every stored change up to ``until_seq``, in order."""
    after = 0
    while after < until_seq:
        with ctx.lock:
            batch = ctx.store.alert_changes_after(after, SCAN_ROWS)
            revisions = ctx.store.alert_revisions([seq for seq, _ in batch])
        for seq, alert in batch:
            if seq > until_seq:
                return
            yield seq, alert, revisions.get(seq, 0)
        if len(batch) < SCAN_ROWS:
            return
        after = batch[-1][0]
