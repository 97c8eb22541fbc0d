"""What a webhook sender that starts owes the watch lists: alert revisions stored while no
sender ran (the node was down, or only its fusion role was running).

The sender itself only hears of alert changes stored after it starts. Before that, it
reads the delivery records (``webhook_deliveries``), finds where each list stands in the
alert changes (``alert_change_seqs``; ``alert_seq_at`` for a list with no record), reads
the changes from the earliest of those on, and for each watch list with a webhook owes,
in alert_seq order:

- the revisions stored after the newest change the list has a delivery record of (its
  last delivery, or last attempt), about a vessel it watches;
- a list with no record yet: the revisions stored after the list was made, about a
  vessel it watches (a sender running then would have recorded them);
- revisions tried before without success and not given up (fewer than ``max_attempts``).

So a start reads only the changes since the lists' last deliveries, not the whole
history.

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
    with ctx.lock:
        seq_of = ctx.store.alert_change_seqs(
            sorted({key for of_list in records.values() for key in of_list})
        )
        starts = {
            watchlist.id: _start(ctx, watchlist, records.get(watchlist.id, {}), seq_of)
            for watchlist in hooked
        }
    retried = [  # scanned from just before each: _changes reads after its start
        seq_of[key] - 1
        for of_list in records.values()
        for key, record in of_list.items()
        if key in seq_of and not record.delivered and record.attempts < max_attempts
    ]
    watched = {mmsi for watchlist in hooked for mmsi in watchlist.mmsis}
    owed = []
    for seq, alert, revision in _changes(ctx, min([*starts.values(), *retried]), until_seq):
        if not watched.intersection(alert.mmsis):
            continue
        for watchlist in hooked:
            if watchlist.watches(alert.mmsis) and _owes(
                records.get(watchlist.id, {}).get((alert.id, revision)),
                starts[watchlist.id],
                seq,
                max_attempts,
            ):
                owed.append(Owed(seq, watchlist.id, alert, revision))
    return owed


def _start(
    ctx: ApiContext, watchlist: Watchlist, records: dict[_Key, _Record], seq_of: dict[_Key, int]
) -> int:
    """The alert_seq after which ``watchlist`` is owed every new revision: its newest
    recorded change, or with none the last change stored before it was made."""
    recorded = [seq_of[key] for key in records if key in seq_of]
    if recorded:
        return max(recorded)
    return ctx.store.alert_seq_at(watchlist.created_at)


def _owes(record: _Record | None, start: int, seq: int, max_attempts: int) -> bool:
    if record is not None:
        return not record.delivered and record.attempts < max_attempts
    return seq > start


def _records(rows: list[dict[str, Any]]) -> dict[str, dict[_Key, _Record]]:
    """Delivery records by watch list, then (alert id, revision)."""
    records: dict[str, dict[_Key, _Record]] = {}
    for row in rows:
        of_list = records.setdefault(row["watchlist_id"], {})
        record = _Record(row["delivered_at"] is not None, int(row["attempts"]))
        of_list[row["alert_id"], int(row["revision"])] = record
    return records


def _changes(ctx: ApiContext, after: int, until_seq: int) -> Iterator[tuple[int, Alert, int]]:
    """(alert_seq, alert, revision) of every stored change after ``after`` up to
    ``until_seq``, in order."""
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
