"""Who is told what, and when.

- A rep, when leads are assigned to them (`owner_assigned`, sent by the lead
  services for a person's, a rule's or a vendor's assignment; never for taking a
  lead oneself, nor for an unassignment): a notification per lead, in the
  transaction that assigned it.
- A dealer's admins (managers), when a new lead waits beyond the dealer's
  thresholds: no owner after `Dealer.alert_unassigned_minutes`, or an owner but
  no first contact after `Dealer.alert_uncontacted_minutes`. A django-q2
  schedule every five minutes looks (leads of the last LOOKBACK_DAYS only) and
  sweeps the e-mails a lost task left behind. Once per lead and kind.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_q.models import Schedule

from apps.accounts.models import Dealer, Membership, Role
from apps.leads.models import Lead
from apps.leads.statuses import Status

from .models import Kind, Notification
from .services import Item, deliver_pending, notify

SCHEDULE_NAME = "leadhub-notification-alerts"
LOOKBACK_DAYS = 7


def _describe(lead) -> str:
    name = " ".join(p for p in (lead.first_name, lead.last_name) if p) or lead.company or lead.email or "no name"
    return f"#{lead.pk} {name}" + (f" ({lead.vendor_account.name})" if lead.vendor_account_id else "")


def lead_assigned(sender, lead_ids, owner, actor=None, by="", **kwargs) -> None:
    """owner_assigned: tell the new owner, lead by lead (one e-mail per batch)."""
    if owner is None:
        return  # unassigned: there is no new owner to tell (and the one before was not asked)
    if getattr(actor, "pk", None) == owner.pk:
        return  # took the lead themselves: nothing to tell them
    leads = Lead.objects.filter(pk__in=list(lead_ids)).select_related("vendor_account").only(
        "pk", "first_name", "last_name", "company", "email", "vendor_account__name")
    how = f" ({by})" if by else ""
    notify(owner, [Item(Kind.ASSIGNED, f"assigned:{lead.pk}:{owner.pk}", f"Lead {_describe(lead)} is yours{how}.",
                        lead.pk) for lead in leads])


def _admins(dealer_id: int) -> list:
    ids = Membership.objects.filter(dealer_id=dealer_id, role=Role.ADMIN).values_list("user_id", flat=True)
    return list(get_user_model().objects.filter(pk__in=ids, is_active=True))


def waiting_leads(now: datetime) -> dict[int, list[tuple[str, Lead]]]:
    """dealer id -> (kind, lead) for every new lead past one of its dealer's thresholds
    and not yet notified of that kind."""
    found: dict[int, list] = {}
    since = now - timedelta(days=LOOKBACK_DAYS)
    for dealer in Dealer.objects.filter(is_active=True).exclude(alert_unassigned_minutes=None,
                                                                alert_uncontacted_minutes=None):
        new = Lead.objects.filter(dealer=dealer, status=Status.NEW, created_at__gte=since,
                                  first_contacted_at__isnull=True).select_related("vendor_account", "owner")
        candidates = []
        if dealer.alert_unassigned_minutes is not None:
            candidates += [(Kind.UNASSIGNED, lead) for lead in new.filter(
                owner__isnull=True, created_at__lte=now - timedelta(minutes=dealer.alert_unassigned_minutes))]
        if dealer.alert_uncontacted_minutes is not None:
            candidates += [(Kind.UNCONTACTED, lead) for lead in new.filter(
                owner__isnull=False, created_at__lte=now - timedelta(minutes=dealer.alert_uncontacted_minutes))]
        if not candidates:
            continue
        told = set(Notification.objects.filter(key__in=[f"{kind}:{lead.pk}" for kind, lead in candidates])
                   .values_list("key", flat=True))
        fresh = [(kind, lead) for kind, lead in candidates if f"{kind}:{lead.pk}" not in told]
        if fresh:
            found[dealer.pk] = fresh
    return found


def alert_managers(now: datetime | None = None) -> int:
    """Tell dealer admins about leads waiting beyond their thresholds; deliver what
    a lost task left unsent. Returns how many new notifications were made."""
    now = now or timezone.now()
    made = 0
    for dealer_id, waiting in waiting_leads(now).items():
        items = []
        for kind, lead in waiting:
            waited = int((now - lead.created_at).total_seconds() // 60)
            what = ("has no owner" if kind == Kind.UNASSIGNED
                    else f"is not contacted yet by {lead.owner.get_full_name() or lead.owner.get_username()}")
            items.append(Item(kind, f"{kind}:{lead.pk}", f"New lead {_describe(lead)} {what} after {waited} min.",
                              lead.pk))
        for admin in _admins(dealer_id):
            made += notify(admin, items)
    deliver_pending()
    return made


def ensure_schedule(**kwargs) -> None:
    """The five-minute schedule (post_migrate), once."""
    Schedule.objects.get_or_create(name=SCHEDULE_NAME, defaults={
        "func": "apps.notifications.alerts.alert_managers", "schedule_type": Schedule.MINUTES, "minutes": 5,
        "repeats": -1})

