"""Dealer scoping: the one place that decides which dealers' data a user reaches.

Every admin, autocomplete, list filter, export and selector filters through
`scope_queryset`; object checks go through `role_at`. Superusers reach all dealers
(`dealer_ids_for` returns None for them, meaning "no filter").
"""
from __future__ import annotations

from django.db.models import QuerySet

from .models import Membership, Role

_CACHE_ATTR = "_leadhub_memberships"


def _memberships(user) -> dict[int, str]:
    """{dealer_id: role} for the user, cached on the user object (one per request)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return {}
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = dict(
            Membership.objects.filter(user=user, dealer__is_active=True).values_list("dealer_id", "role")
        )
        setattr(user, _CACHE_ATTR, cached)
    return cached


def forget_memberships(user) -> None:
    """Drop the cached memberships (after they change within one request or test)."""
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def dealer_ids_for(user, *, role: str | None = None) -> set[int] | None:
    """The dealer ids the user reaches (with at least `role` if given); None = all."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return None
    memberships = _memberships(user)
    if role == Role.ADMIN:
        return {d for d, r in memberships.items() if r == Role.ADMIN}
    return set(memberships)


def role_at(user, dealer_id: int | None) -> str | None:
    """The user's role at the dealer (superusers count as admin), or None."""
    if getattr(user, "is_superuser", False) and user.is_active:
        return Role.ADMIN
    if dealer_id is None:
        return None
    return _memberships(user).get(dealer_id)


def scope_queryset(queryset: QuerySet, user, dealer_path: str, *, role: str | None = None) -> QuerySet:
    """Filter `queryset` to the dealers the user reaches.

    dealer_path: the lookup from the model to its Dealer's id, e.g. "dealer",
    "lead__dealer", "reason__dealer"; "pk" for Dealer itself.
    """
    ids = dealer_ids_for(user, role=role)
    if ids is None:
        return queryset
    return filter_to_dealers(queryset, ids, dealer_path)


def filter_to_dealers(queryset: QuerySet, dealer_ids, dealer_path: str) -> QuerySet:
    """Filter `queryset` to the given dealer ids through `dealer_path` (as in
    scope_queryset): the one filter behind the admin's scoping and the API's,
    whose key names its dealer instead of a user."""
    lookup = "pk__in" if dealer_path == "pk" else f"{dealer_path}__in"
    return queryset.filter(**{lookup: list(dealer_ids)})


def dealer_id_of(obj, dealer_path: str) -> int | None:
    """Follow `dealer_path` on an instance to its dealer id (None if unset)."""
    if dealer_path == "pk":
        return obj.pk
    target = obj
    parts = dealer_path.split("__")
    for part in parts[:-1]:
        target = getattr(target, part, None)
        if target is None:
            return None
    return getattr(target, f"{parts[-1]}_id", None)
