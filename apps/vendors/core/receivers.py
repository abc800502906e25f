"""Receivers of the vendors core (connected in apps.py)."""
from __future__ import annotations

from django.db import transaction

from apps.core.pgstats import analyze_table


def analyze_accounts_when_added(sender, instance, created, **kwargs) -> None:
    """A new account: the table's statistics, once the account is committed. The
    table is small and rarely changes, so autovacuum may never analyze it, and
    without statistics the API's vendor filter (a join to it) was planned as a
    full scan and a sort of the dealer's leads (docs/api.md)."""
    if created:
        # robust: the account is saved whatever happens to the statistics (a lock
        # timeout, a user that does not own the table): logged, never a 500.
        transaction.on_commit(lambda: analyze_table(sender), robust=True)
