"""Reading Capillary's lead search as an incremental feed.

GET /leads has no "updated since" filter; it pages by offset ("offset=10
retrieves all the leads from record number 11") over a list LeadHub sorts by
lastUpdatedOn ascending. That list changes while it is read: a lead updated
in Capillary leaves its place and goes to the end. Every lead behind it moves
one place forward, so a reader that simply adds the page length to its offset
skips one lead per such update. Resuming from a stored offset alone would
skip leads for ever.

What holds while the list changes: it stays sorted, and an update only moves
a lead to the end (its lastUpdatedOn becomes "now"). So if the lead at the
resume position is one LeadHub already read (its lastUpdatedOn is below the
watermark W, or equal to W with an id in the set read at W), no unread lead
can be before that position. The feed therefore:

- keeps a cursor {"watermark": W, "ids": ids read at W, "offset": hint};
- asks from offset - V (V leads of overlap, a fifth of a page) and checks the
  first lead: it was V places before the next unread lead, so it is an
  already-read one unless V or more leads before it moved away in between;
  then it steps back one page (down to offset 0) and checks again. A larger
  V tolerates more updates per call (liveness under churn) at the price of
  re-reading V leads per page;
- applies every lead it reads (the upsert is idempotent: a lead whose
  lastUpdatedOn LeadHub already has is not touched), and stops at a page
  shorter than the limit.

The offset is only a hint: a wrong one costs re-reading, never a lead.
Remaining assumption (docs/vendors/capillary.md): leads with the same
lastUpdatedOn keep one order between calls.
"""
from __future__ import annotations

from datetime import datetime

from apps.vendors.core.base import PageUnreadable, VendorError

from . import payloads
from .client import PAGE_LIMIT

MAX_BACKOFFS = 200


class Feed:
    def __init__(self, account, client, call, cursor: dict, limit: int | None = None, overlap: int | None = None):
        self.account = account
        self.client = client
        self.call = call
        self.limit = limit or PAGE_LIMIT
        self.overlap = overlap if overlap is not None else max(1, self.limit // 5)
        self.watermark: datetime | None = payloads.parse_dt(cursor.get("watermark"))
        self.ids: set[str] = {str(i) for i in cursor.get("ids") or []}
        # Where to ask next: `overlap` leads before the stored position.
        self.next_offset = max(0, int(cursor.get("offset") or 0) - self.overlap) if self.watermark else 0
        self.backoffs = 0
        self.read: set[tuple[str, str]] = set()  # (id, lastUpdatedOn) read in this run

    def params(self, offset: int) -> dict:
        options = self.account.options or {}
        params = {"sortBy": "lastUpdatedOn", "sortOrder": "ASC", "offset": offset, "limit": self.limit,
                  "orgSourceId": str(options.get("org_source_id") or "-1").strip()}
        status = str(options.get("status_filter") or "").strip().upper()
        if status:
            params["status"] = status
        return params

    def _already_read(self, lead: dict) -> bool:
        if (str(lead.get("id")), str(lead.get("lastUpdatedOn"))) in self.read:
            return True
        at = payloads.parse_dt(lead.get("lastUpdatedOn"))
        if self.watermark is None or at is None:
            return False
        return at < self.watermark or (at == self.watermark and str(lead.get("id")) in self.ids)

    def pages(self):
        """Yield (RawResponse, cursor after applying it) until a short page."""
        while True:
            offset = self.next_offset
            raw = self.call(self.client.search, self.params(offset))
            try:
                leads = payloads.parse_search_page(raw.body)
            except PageUnreadable:
                yield raw, None  # the engine stores it, finds it unreadable and stops here
                return
            if offset > 0 and self.watermark is not None and (not leads or not self._already_read(leads[0])):
                # The list moved under us: unread leads may now sit before this
                # offset. Step back a page (nothing stored; it is read again).
                self.next_offset = max(0, offset - self.limit)
                self.backoffs += 1
                if self.backoffs > MAX_BACKOFFS:
                    raise VendorError(f"the lead list kept moving while it was read ({MAX_BACKOFFS} steps back); "
                                      "the next run resumes from the last applied page", permanent=False)
                continue
            for lead in leads:
                self.read.add((str(lead.get("id")), str(lead.get("lastUpdatedOn"))))
                at = payloads.parse_dt(lead.get("lastUpdatedOn"))
                if at is None:
                    continue
                if self.watermark is None or at > self.watermark:
                    self.watermark, self.ids = at, {str(lead.get("id"))}
                elif at == self.watermark:
                    self.ids.add(str(lead.get("id")))
            end = offset + len(leads)
            yield raw, {"watermark": payloads.fmt(self.watermark) if self.watermark else None,
                        "ids": sorted(self.ids), "offset": end}
            if len(leads) < self.limit:
                return
            self.next_offset = max(0, end - self.overlap)
