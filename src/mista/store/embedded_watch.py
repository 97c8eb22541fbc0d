"""Watch lists and webhook deliveries in the embedded store (tables of migration 5)."""

from __future__ import annotations

__all__ = ["WatchlistMethods"]


class WatchlistMethods:
    """Watch-list methods of ``DuckDBStore``: each user's lists of vessels of interest and
    which alert revisions their webhooks have been sent."""
