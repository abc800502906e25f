"""The unread count in every admin page's header (a template context processor;
counted only when a page shows the header, on the (user, read_at) index)."""
from __future__ import annotations

from .services import unread_count


def unread_notifications(request) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated or not user.is_staff:
        return {}
    return {"unread_notifications": lambda: unread_count(user)}
