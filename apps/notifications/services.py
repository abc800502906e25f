"""Making notifications and delivering them.

`notify(user, items)` writes the rows (never twice: the (user, key) constraint)
in the caller's transaction, and once it commits queues one django-q2 task that
e-mails the person what is due at once: never inside the request, and one e-mail
for a batch (a pull that assigns a rep 300 leads sends one e-mail, not 300).
`deliver(user_id)` claims the rows it sends (sent_at set before the mail goes:
at most once; a mail server that refuses un-claims them and the task fails, so
the five-minute schedule tries again). The digest takes the "digest" ones.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django_q import tasks as django_q_tasks  # looked up per call: tests swap async_task

from .models import PREFERENCE_OF, Delivery, Notification, NotificationPreference

log = logging.getLogger("leadhub.notifications")
MAX_LISTED = 50  # leads listed in one e-mail; the rest are counted


@dataclass(frozen=True)
class Item:
    kind: str
    key: str
    text: str
    lead_id: int | None = None


def preference(user, kind: str) -> str:
    chosen = NotificationPreference.objects.filter(user=user).first()
    return getattr(chosen, PREFERENCE_OF[kind]) if chosen else Delivery.IMMEDIATELY


def notify(user, items: list[Item]) -> int:
    """Notify `user` of each item not notified before (same key); returns how many
    are new. E-mail at once, in the digest or not at all, by the user's preference."""
    if not items or not user.is_active:
        return 0
    delivery = {kind: preference(user, kind) for kind in {item.kind for item in items}}
    keys = [item.key for item in items]
    known = set(Notification.objects.filter(user=user, key__in=keys).values_list("key", flat=True))
    fresh = [item for item in items if item.key not in known]
    try:
        with transaction.atomic():  # a savepoint: a concurrent twin only costs this batch
            Notification.objects.bulk_create([
                Notification(user=user, kind=item.kind, key=item.key[:100], text=item.text[:500], lead_id=item.lead_id,
                             delivery=delivery[item.kind]) for item in fresh])
    except IntegrityError:
        # Another run wrote some of them meanwhile: one by one, skipping the twins.
        fresh = [item for item in fresh if _create_one(user, item, delivery[item.kind])]
    if any(delivery[item.kind] == Delivery.IMMEDIATELY for item in fresh) and user.email:
        user_id = user.pk
        transaction.on_commit(lambda: queue_delivery(user_id))
    return len(fresh)


def _create_one(user, item: Item, delivery: str) -> bool:
    try:
        with transaction.atomic():
            Notification.objects.create(user=user, kind=item.kind, key=item.key[:100], text=item.text[:500],
                                        lead_id=item.lead_id, delivery=delivery)
        return True
    except IntegrityError:
        return False


def queue_delivery(user_id: int) -> None:
    try:
        django_q_tasks.async_task("apps.notifications.services.deliver", user_id, task_name=f"notify-{user_id}",
                                  group="notifications")
    except Exception:  # noqa: BLE001 - the broker is down: the five-minute schedule delivers it
        log.exception("could not queue the notification e-mail of user %s; the schedule will", user_id)


def _lead_url(lead_id: int | None) -> str:
    base = settings.LEADHUB_SITE_URL.rstrip("/")
    return base + (reverse("admin:leads_lead_workbench", args=[lead_id]) if lead_id
                   else reverse("admin:notifications_notification_changelist"))


def deliver(user_id: int) -> int:
    """E-mail the user their notifications due at once and not sent yet, in one
    mail; returns how many it carried."""
    user = get_user_model().objects.filter(pk=user_id, is_active=True).exclude(email="").first()
    if user is None:
        return 0
    claimed_at = timezone.now()
    with transaction.atomic():
        ids = list(Notification.objects.select_for_update(skip_locked=True).filter(
            user=user, delivery=Delivery.IMMEDIATELY, sent_at__isnull=True).values_list("pk", flat=True))
        Notification.objects.filter(pk__in=ids).update(sent_at=claimed_at)
    if not ids:
        return 0
    notes = list(Notification.objects.filter(pk__in=ids).order_by("created_at", "id"))
    lines = [f"- {note.text}\n  {_lead_url(note.lead_id)}" for note in notes[:MAX_LISTED]]
    if len(notes) > MAX_LISTED:
        lines.append(f"... and {len(notes) - MAX_LISTED} more: {_lead_url(None)}")
    subject = notes[0].text if len(notes) == 1 else f"{len(notes)} notifications"
    try:
        send_mail(f"[LeadHub] {subject}"[:200], "\n".join(lines) + "\n\nChange what LeadHub e-mails you: "
                  + settings.LEADHUB_SITE_URL.rstrip("/") + reverse("admin:notifications_notification_preferences"),
                  settings.DEFAULT_FROM_EMAIL, [user.email])
    except Exception:
        Notification.objects.filter(pk__in=ids, sent_at=claimed_at).update(sent_at=None)  # to be tried again
        raise
    return len(notes)


def deliver_pending() -> int:
    """Every user's immediate notifications still unsent (a lost task, a mail
    server that was down): the five-minute schedule's sweep."""
    users = set(Notification.objects.filter(delivery=Delivery.IMMEDIATELY, sent_at__isnull=True)
                .values_list("user_id", flat=True))
    sent = 0
    for user_id in sorted(users):
        try:
            sent += deliver(user_id)
        except Exception:  # noqa: BLE001 - one mailbox's trouble must not stop the others
            log.exception("notification e-mail to user %s failed; the next run tries again", user_id)
    return sent


def digest_recipients():
    return get_user_model().objects.filter(is_active=True, notifications__delivery=Delivery.DIGEST,
                                           notifications__sent_at__isnull=True).exclude(email="").distinct()


def digest_line(user, now) -> str | None:
    """The digest's section: what the user chose to hear of once a day. Taken
    (sent_at) as the digest is composed."""
    with transaction.atomic():
        notes = list(Notification.objects.select_for_update(skip_locked=True).filter(
            user=user, delivery=Delivery.DIGEST, sent_at__isnull=True).order_by("created_at", "id"))
        if not notes:
            return None
        Notification.objects.filter(pk__in=[note.pk for note in notes]).update(sent_at=now)
    lines = [f"- {note.text}\n  {_lead_url(note.lead_id)}" for note in notes[:MAX_LISTED]]
    if len(notes) > MAX_LISTED:
        lines.append(f"... and {len(notes) - MAX_LISTED} more: {_lead_url(None)}")
    return f"Notifications ({len(notes)}):\n" + "\n".join(lines)


def unread_count(user) -> int:
    return Notification.objects.filter(user=user, read_at__isnull=True).count()
