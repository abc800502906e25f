"""A paginator that never counts a whole table.

Django's changelist asks its paginator for the number of matching rows on every
page (and, unless show_full_result_count is False, the number of all rows too):
a COUNT(*) over a million leads on each click. CappedPaginator counts at most
CAP + 1 rows, in a subquery with a LIMIT that an index scan answers; past the
cap the list says "10,000+" and offers the first CAP // per_page pages (filters
and search narrow the rest).
"""
from __future__ import annotations

from django.core.paginator import Paginator
from django.utils.functional import cached_property

CAP = 1_000


class CappedPaginator(Paginator):
    cap = CAP

    @cached_property
    def count(self) -> int:
        """The number of matching rows, or cap + 1 when there are more than cap."""
        return self.object_list.order_by()[: self.cap + 1].count()

    @property
    def capped(self) -> bool:
        return self.count > self.cap
