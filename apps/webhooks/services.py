"""Writing webhook rows: queueing events, test events, Retry now, disabling and
re-enabling endpoints. Queueing runs inside the caller's transaction (the event
and the change it reports commit together) and wakes the sender on commit.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_q import tasks as django_q_tasks  # looked up per call: tests swap async_task

from apps.accounts.models import Dealer, Membership, Role
from apps.core.crypto import CredentialsUnreadable, EncryptedSecrets
from apps.leads.models import Lead
from apps.notifications.models import Kind
from apps.notifications.services import Item, notify

from .models import ENDPOINT_MEMO, TEST_EVENT, DeliveryState, Event, WebhookDelivery, WebhookEndpoint
from .payloads import event_body, event_uuid, lead_data, lead_ref

log = logging.getLogger("leadhub.webhooks")
BATCH = 500


@dataclass(frozen=True)
class Occurrence:
    """One event about one lead: `key` makes its id stable (the same key is never
    queued twice for an endpoint; None: a fresh id); `extra` joins `data`.
    `lead`: the lead as the change left it, when the caller holds it with its
    dealer, owner, vendor account and stage loaded (it is not read again)."""
    lead_id: int
    key: str | None = None
    extra: dict = field(default_factory=dict)
    lead: Lead | None = field(default=None, compare=False, repr=False)


# What lead_data reads of a lead besides its own columns.
LEAD_RELATIONS = ("dealer", "owner", "vendor_account", "sales_stage")


def webhook_queue_lead_events(*, event_type: str, occurrences: list[Occurrence], announced_only: bool = False) -> int:
    """Queue `event_type` about each occurrence's lead for every active endpoint
    of that lead's dealer subscribed to it; returns how many deliveries were
    queued. A bounded number of queries whatever the number of leads (the
    endpoints, once per transaction; the leads of dealers that have any, unless
    the occurrences carry them; one INSERT per 500 rows); nothing but the
    endpoints when no endpoint takes the event. An occurrence already queued for
    an endpoint (same key) is skipped silently (and still counted in the
    returned number). `announced_only`: leave out leads whose arrival is not
    processed yet (no lead.created queued for them so far)."""
    if not occurrences:
        return 0
    endpoints_of = _endpoints_taking(event_type)
    if not endpoints_of:
        return 0
    leads = {o.lead_id: o.lead for o in occurrences if o.lead is not None and _loaded(o.lead)}
    missing = [o.lead_id for o in occurrences if o.lead_id is not None and o.lead_id not in leads]
    if missing:  # only the leads of dealers that have endpoints for it
        leads.update(Lead.objects.select_related(*LEAD_RELATIONS).filter(dealer_id__in=list(endpoints_of))
                     .in_bulk(missing))
    now = timezone.now()
    rows = []
    for occurrence in occurrences:
        lead = leads.get(occurrence.lead_id)
        if lead is None or lead.dealer_id not in endpoints_of:
            continue
        if announced_only and lead.arrival_processed_at is None:
            continue
        event_id = event_uuid(f"{event_type}:{occurrence.key}" if occurrence.key else None)
        body = event_body(event_id=event_id, event_type=event_type, created=now,
                          data={"lead": lead_data(lead), **occurrence.extra})
        rows += [WebhookDelivery(endpoint_id=endpoint_id, event_id=event_id, event_type=event_type, lead_id=lead.pk,
                                 payload=body, next_attempt_at=now, created_at=now)
                 for endpoint_id in endpoints_of[lead.dealer_id]]
    return _insert(rows)


def _loaded(lead: Lead) -> bool:
    """The lead's related rows lead_data reads are already on the instance."""
    return all(getattr(lead, Lead._meta.get_field(name).attname) is None or Lead._meta.get_field(name).is_cached(lead)
               for name in LEAD_RELATIONS)


def _endpoints_taking(event_type: str) -> dict[int, list[int]]:
    """dealer id -> ids of its active endpoints subscribed to `event_type`."""
    endpoints_of: dict[int, list[int]] = {}
    for pk, dealer_id, events in _active_endpoints():
        if event_type in (events or []):  # a JSON list: read in Python, the same on SQLite and PostgreSQL
            endpoints_of.setdefault(dealer_id, []).append(pk)
    return endpoints_of


def _active_endpoints() -> list[tuple[int, int, list]]:
    """(id, dealer id, events) of every active endpoint: read once per outermost
    transaction, so that 500 leads changed one by one in a transaction (each
    change sending its own signal) read them once, not 500 times.

    The memo lives on the connection and holds only while the transaction that
    read it does: it is tied to an on-commit callback registered when it was read,
    which a commit runs and a rollback (of the transaction, or of the savepoint
    it was read in) drops, and the memo is used only while that callback is still
    queued where it was put. Saving, deleting or updating an endpoint forgets it
    at once (apps/webhooks/models.forget_active_endpoints), so a change of
    endpoints in this transaction is seen by the next event. Endpoints another
    process changes meanwhile are seen from the next transaction on, as they were
    for a batch (one read per batch) before. Outside a transaction: read each time."""
    connection = transaction.get_connection()
    memo = connection.__dict__.get(ENDPOINT_MEMO)
    if memo is not None and connection.in_atomic_block:
        marker, index, rows = memo
        queued = connection.run_on_commit
        if index < len(queued) and queued[index][1] is marker:
            return rows
    rows = list(WebhookEndpoint.objects.filter(is_active=True).values_list("pk", "dealer_id", "events"))
    if connection.in_atomic_block:
        def marker():  # committed: the memo goes with the transaction
            if connection.__dict__.get(ENDPOINT_MEMO, (None,))[0] is marker:
                connection.__dict__.pop(ENDPOINT_MEMO, None)

        transaction.on_commit(marker)
        connection.__dict__[ENDPOINT_MEMO] = (marker, len(connection.run_on_commit) - 1, rows)
    return rows


def webhook_lead_moved(*, lead_ids: list[int], from_dealer_id: int, key: str) -> int:
    """Leads moved from one dealer to another (apps.leads.signals.lead_moved),
    inside the move's transaction: what the old dealer's endpoints were still
    owed about them is cancelled (queued or failed: never sent, never retried;
    the log says why), an old endpoint subscribed to lead.moved_away that was
    sent something about a lead is told it left, and the endpoints of the dealer
    each lead is with now get lead.created (once per move: its id is derived
    from the lead and `key`;
    not for a lead whose arrival is not processed yet, whose own lead.created
    will go to the dealer it is with by then). Returns the deliveries queued."""
    if not lead_ids:
        return 0
    now = timezone.now()
    of_old_dealer = WebhookDelivery.objects.filter(lead_id__in=lead_ids, endpoint__dealer_id=from_dealer_id)
    # Cancelled first, then what was told is read: a delivery a sender claimed
    # between the two (the UPDATE waits for its row lock, then skips it) is seen
    # as being sent, so its endpoint still hears lead.moved_away.
    of_old_dealer.filter(state__in=[DeliveryState.PENDING, DeliveryState.FAILED]).update(
        state=DeliveryState.CANCELLED, claimed_by="", claimed_until=None,
        cancelled_reason=f"Not sent: the lead moved to another dealer on {now:%Y-%m-%d %H:%M} UTC.")
    # Being sent: a worker holds it and may have POSTed it already; it is left to
    # finish (and counts as told). Delivered: history.
    told = set(of_old_dealer.filter(state__in=[DeliveryState.DELIVERED, DeliveryState.DELIVERING])
               .values_list("endpoint_id", "lead_id"))
    queued = _queue_moved_away(lead_ids, from_dealer_id, told, key=key, now=now)
    queued += webhook_queue_lead_events(event_type=Event.LEAD_CREATED, announced_only=True, occurrences=[
        Occurrence(pk, key=f"{pk}:moved:{key}") for pk in lead_ids])
    return queued


def _queue_moved_away(lead_ids, from_dealer_id: int, told: set, *, key: str, now) -> int:
    """lead.moved_away for the old dealer's endpoints that take it and were sent
    something about the lead. The lead is another dealer's now: the event names
    it (id, the old dealer, its vendor reference), not its contents nor where it went."""
    listening = set(_endpoints_taking(Event.LEAD_MOVED_AWAY).get(from_dealer_id, []))
    owed = [(endpoint_id, lead_id) for endpoint_id, lead_id in sorted(told) if endpoint_id in listening]
    if not owed:
        return 0
    old_code = Dealer.objects.filter(pk=from_dealer_id).values_list("code", flat=True).first()
    leads = Lead.objects.select_related("vendor_account").in_bulk({lead_id for _, lead_id in owed})
    rows = []
    for endpoint_id, lead_id in owed:
        lead = leads.get(lead_id)
        if lead is None:
            continue
        event_id = event_uuid(f"{Event.LEAD_MOVED_AWAY}:{lead_id}:moved:{key}")
        body = event_body(event_id=event_id, event_type=Event.LEAD_MOVED_AWAY, created=now,
                          data={"lead": lead_ref(lead, dealer_code=old_code), "moved_at": now.isoformat()})
        rows.append(WebhookDelivery(endpoint_id=endpoint_id, event_id=event_id, event_type=Event.LEAD_MOVED_AWAY,
                                    lead_id=lead_id, payload=body, next_attempt_at=now, created_at=now))
    return _insert(rows)


def webhook_send_test(*, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Queue a `webhook.test` event for this endpoint, whatever it subscribed to
    and even while it is disabled (so a fixed receiver can be checked before it
    is re-enabled), delivered and signed like any other and shown in its log."""
    event_id = event_uuid()
    now = timezone.now()
    delivery = WebhookDelivery(endpoint=endpoint, event_id=event_id, event_type=TEST_EVENT, next_attempt_at=now,
                               created_at=now, payload=event_body(
                                   event_id=event_id, event_type=TEST_EVENT, created=now,
                                   data={"message": "A test event from LeadHub: your endpoint is reachable and the "
                                                    "signature can be checked with your secret.",
                                         "endpoint": {"id": endpoint.pk, "url": endpoint.url,
                                                      "dealer": endpoint.dealer.code}}))
    with transaction.atomic():
        delivery.save(force_insert=True)
        _wake_on_commit()
    return delivery


def webhook_retry_now(*, deliveries) -> int:
    """The admin's "Retry now": queued or failed deliveries are due at once with a
    fresh count of attempts; returns how many. Delivered ones are never resent."""
    return deliveries.filter(state__in=[DeliveryState.PENDING, DeliveryState.FAILED]).update(
        state=DeliveryState.PENDING, attempts=0, next_attempt_at=timezone.now(), claimed_by="", claimed_until=None)


def webhook_endpoint_rotate_secret(*, endpoint: WebhookEndpoint, actor=None, now=None) -> str:
    """Give the endpoint a new signing secret; returns it. Like Stripe's "roll
    secret": the secret it replaces still signs every delivery, next to the new
    one, for LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS (until
    `endpoint.previous_secret_expires_at`), so the receiver keeps working while
    its configuration is updated; with 0 hours it stops at once. A delivery
    carries at most two signatures: rotating again within the grace period
    drops the oldest secret now. A current secret that no longer decrypts gets
    no grace (nothing could sign with it)."""
    now = now or timezone.now()
    grace_hours = max(0.0, settings.LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS)
    with transaction.atomic():
        # Two admins rotating at once take turns: the second replaces the first's
        # new secret (kept for the grace period), never the secret read before it.
        list(WebhookEndpoint.objects.select_for_update().filter(pk=endpoint.pk).values_list("pk", flat=True))
        endpoint.refresh_from_db(fields=["secrets", "previous_secrets", "previous_secret_expires_at"])
        return _rotate(endpoint, actor=actor, now=now, grace_hours=grace_hours)


def _rotate(endpoint: WebhookEndpoint, *, actor, now, grace_hours: float) -> str:
    try:
        old = endpoint.secret
    except CredentialsUnreadable:
        old = ""
    secret = endpoint.set_secret()
    if old and grace_hours:
        endpoint.previous_secrets = EncryptedSecrets({"secret": old})
        endpoint.previous_secret_expires_at = now + timedelta(hours=grace_hours)
    else:
        endpoint.previous_secrets = EncryptedSecrets()
        endpoint.previous_secret_expires_at = None
    endpoint._change_reason = "Secret rotated"
    endpoint._history_user = actor
    endpoint.save(update_fields=["secrets", "previous_secrets", "previous_secret_expires_at"])
    return secret


def webhook_forget_expired_secrets(*, now=None) -> int:
    """Clear the replaced secrets whose grace period is over (they sign nothing
    any more, so they are not kept); returns how many endpoints. Each sender
    run and the daily webhook retention job call it."""
    expired = WebhookEndpoint.objects.filter(previous_secret_expires_at__lte=now or timezone.now())
    if not expired.exists():  # every sender run: SQLite's UPDATE takes its write lock even for no row
        return 0
    return expired.update(previous_secrets="", previous_secret_expires_at=None)


def webhook_endpoint_reenable(*, endpoint: WebhookEndpoint) -> None:
    """Set on an endpoint being saved active again (not saved): its failure count
    and disabled mark are cleared, so its queued deliveries go again."""
    endpoint.is_active = True
    endpoint.consecutive_failures = 0
    endpoint.disabled_at = None
    endpoint.disabled_reason = ""


def webhook_endpoint_disable(*, endpoint_id: int, reason: str) -> bool:
    """Disable an active endpoint and alert its dealer's admins once (in LeadHub,
    and by e-mail as each one's "alerts" preference says). Returns False when it
    was already disabled (another worker got there first: no second alert)."""
    now = timezone.now()
    with transaction.atomic():
        changed = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
            is_active=False, disabled_at=now, disabled_reason=reason[:500])
        if not changed:
            return False
        endpoint = WebhookEndpoint.objects.select_related("dealer").get(pk=endpoint_id)
        # update() skips the audit receiver: the history row it would have written.
        WebhookEndpoint.history.bulk_history_create([endpoint], update=True,
                                                    default_change_reason="Disabled by LeadHub"[:100])
        admins = get_user_model().objects.filter(
            is_active=True, pk__in=Membership.objects.filter(dealer_id=endpoint.dealer_id, role=Role.ADMIN)
            .values("user_id"))
        text = (f"Webhook endpoint {endpoint.url} ({endpoint.dealer.code}) was disabled: {reason} "
                "Fix the receiver, then tick Active on the endpoint; its queued events go again.")
        for admin in admins:
            notify(admin, [Item(Kind.WEBHOOK_DISABLED, f"webhook_disabled:{endpoint.pk}:{int(now.timestamp())}",
                                text)])
    log.warning("webhook endpoint %s disabled: %s", endpoint_id, reason)
    return True


def _insert(rows: list[WebhookDelivery]) -> int:
    if not rows:
        return 0
    # ignore_conflicts: an event already queued for an endpoint (its unique key) is skipped.
    WebhookDelivery.objects.bulk_create(rows, batch_size=BATCH, ignore_conflicts=True)
    _wake_on_commit()
    return len(rows)


def _wake_on_commit() -> None:
    """Wake the sender once when the transaction commits, however many events it
    queued (a bulk status change queues one per lead). A wake-up registered in a
    savepoint that was rolled back is gone from the list, so the next one counts."""
    if not settings.LEADHUB_PUSH_ON_COMMIT:
        return
    connection = transaction.get_connection()
    if connection.in_atomic_block and any(func is wake_sender for _, func, _ in connection.run_on_commit):
        return
    transaction.on_commit(wake_sender)


def wake_sender() -> None:
    """Ask a worker to send now (the one-minute schedule would, a little later)."""
    try:
        django_q_tasks.async_task("apps.webhooks.sender.deliver_due", task_name="webhooks", group="webhooks")
    except Exception:  # noqa: BLE001 - the schedule is the safety net; never fail the change
        log.exception("could not queue the webhook sender; the one-minute schedule will send")
