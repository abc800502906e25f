"""The lead list's cursor: keyset pagination on (updated_at, id), oldest change first.

Why this order (docs/api.md, "Pagination"): a DMS copies LeadHub's leads and then
asks for what changed. Walking the leads in the order they changed, a lead
changed while the client pages moves to the end and is met again, never skipped;
the last page's cursor is where the next sync starts. `id` breaks ties between
leads changed in the same microsecond, so the order is total and stable.

Why not DRF's CursorPagination: it positions on the first ordering field only
and pages past equal values with an OFFSET, which grows with every lead a bulk
change stamped with one time. Here the cursor holds both values, the next page
is `(updated_at, id) > (t, i)` read from an index that starts with the dealer
(and the filter), and nothing is counted: a page costs the same at the first
lead and at the five millionth.
"""
from __future__ import annotations

import base64
import binascii
from datetime import datetime

from django.db.models import Q
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination
from rest_framework.response import Response
from rest_framework.utils.urls import replace_query_param

ORDERING = ("updated_at", "id")
MAX_PAGE_SIZE = 500


def encode_cursor(updated_at: datetime, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{updated_at.isoformat()}|{pk}".encode()).decode().rstrip("=")


def decode_cursor(text: str) -> tuple[datetime, int]:
    """(updated_at, id) of a cursor; ValidationError (400) for anything else."""
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
        stamp, pk = raw.split("|")
        moment = datetime.fromisoformat(stamp)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValidationError({"cursor": "This cursor is not one LeadHub gave: use the `next` link of a page "
                                         "as it is."}) from None


class PageSizeSerializer(serializers.Serializer):
    page_size = serializers.IntegerField(min_value=1, max_value=MAX_PAGE_SIZE, required=False, error_messages={
        key: f"Give page_size as a whole number from 1 to {MAX_PAGE_SIZE}."
        for key in ("invalid", "min_value", "max_value", "max_string_length")})


class ChangedCursorPagination(BasePagination):
    """Pages of `page_size` (default 100, at most 500) leads in (updated_at, id)
    order. `next` is the link to the following page, null on the last one;
    `cursor` is where the page ends (its last lead), on every page, for a client
    to store and resume from later; on an empty page it is the cursor asked with
    (null without one)."""

    page_size = 100
    max_page_size = MAX_PAGE_SIZE
    cursor_query_param = "cursor"
    page_size_query_param = "page_size"

    def _page_size(self, request) -> int:
        checked = PageSizeSerializer(data=request.query_params)
        checked.is_valid(raise_exception=True)
        return checked.validated_data.get(self.page_size_query_param, self.page_size)

    def paginate_queryset(self, queryset, request, view=None):
        size = self._page_size(request)
        cursor = request.query_params.get(self.cursor_query_param) or None
        if cursor:
            moment, pk = decode_cursor(cursor)
            # The redundant `updated_at >= t` lets the database start the index scan
            # at t instead of filtering from the dealer's oldest lead.
            queryset = queryset.filter(Q(updated_at__gte=moment) & (Q(updated_at__gt=moment) | Q(id__gt=pk)))
        rows = list(queryset.order_by(*ORDERING)[:size + 1])
        page = rows[:size]
        self.request = request
        self.cursor = encode_cursor(page[-1].updated_at, page[-1].pk) if page else cursor
        self.next_cursor = self.cursor if len(rows) > size else None
        return page

    def get_next_link(self):
        if self.next_cursor is None:
            return None
        return replace_query_param(self.request.build_absolute_uri(), self.cursor_query_param, self.next_cursor)

    def get_paginated_response(self, data):
        return Response({"next": self.get_next_link(), "cursor": self.cursor, "results": data})

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["next", "cursor", "results"],
            "properties": {
                "next": {"type": "string", "nullable": True, "format": "uri",
                         "description": "The next page (same filters), or null on the last page."},
                "cursor": {"type": "string", "nullable": True,
                           "description": "Where this page ends: store it and ask again later with "
                                          "?cursor=<it> (and the same filters) for what changed since. "
                                          "On an empty page, the cursor asked with."},
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "Where the page starts: the previous page's `cursor` (its `next` link has it).",
             "schema": {"type": "string"}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Leads per page, 1 to {self.max_page_size} (default {self.page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]
