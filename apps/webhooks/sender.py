"""Sending queued deliveries: claim, POST, record.

Like the vendor outbox (apps/sync/engine.py): deliveries are claimed with a
conditional UPDATE (pending -> delivering, for this worker, with a lease), so
two workers, an overlapping schedule or a broker's redelivery of the task never
send one delivery at once; the outcome is recorded only by the claim's holder.
A worker that dies mid-send loses its lease and the delivery goes again: at
least once, never twice concurrently; receivers drop repeats by the
LeadHub-Delivery id (docs/webhooks.md). Retries use LeadHub's one backoff
(apps/core/backoff.py); HTTP goes through the one wrapper (timeouts, errors
classified, nothing secret logged: apps/vendors/core/http.py).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import F, Q
from django.utils import timezone

from apps.core.backoff import backoff_seconds
from apps.leads.models import Lead
from apps.sync.locks import new_holder
from apps.vendors.core.base import VendorError
from apps.vendors.core.http import VendorHTTP

from .models import TEST_EVENT, DeliveryState, Event, WebhookDelivery, WebhookEndpoint, validate_webhook_url
from .services import webhook_endpoint_disable, webhook_forget_expired_secrets
from .signing import SIGNATURE_HEADER, signature_header

log = logging.getLogger("leadhub.webhooks")
USER_AGENT = "LeadHub-Webhooks/1"
EXCERPT = 500


@dataclass(frozen=True)
class Outcome:
    """What one attempt came to: `status` (None: no answer), `error` ("" when delivered)."""
    delivered: bool
    status: int | None
    error: str
    excerpt: str = ""
    retry_after: float | None = None
    transport: bool = False  # no (whole) answer: refused, reset, timed out, past the deadline

    @property
    def gone(self) -> bool:
        return self.status == 410

    @property
    def endpoint_unwell(self) -> bool:
        """The endpoint did not answer, or answered 5xx: its other deliveries wait
        for the next run rather than each take a timeout now."""
        return not self.delivered and (self.transport or (self.status or 0) >= 500)


def deliver_due(*, holder: str | None = None, batch: int | None = None) -> int:
    """Send every delivery due now (of active endpoints; test events always),
    batch by batch; each at most once per run. Returns how many were attempted.
    Safe to run twice at once: a claimed delivery is skipped by the other run.
    A run stops starting POSTs once LEADHUB_WEBHOOK_RUN_SECONDS are spent (well
    under django-q's timeout, so the task is never killed mid-POST with its batch
    claimed); what it claimed but did not send goes back to the queue at once."""
    holder = holder or new_holder()
    batch = batch or settings.LEADHUB_WEBHOOK_BATCH
    stop_at = time.monotonic() + settings.LEADHUB_WEBHOOK_RUN_SECONDS
    release_expired_claims()
    webhook_forget_expired_secrets()  # not used past their grace period (signing_secrets): not kept either
    http = VendorHTTP(vendor="webhook", account="webhooks",
                      timeout=(settings.LEADHUB_HTTP_CONNECT_TIMEOUT, settings.LEADHUB_WEBHOOK_TIMEOUT))
    http.session.trust_env = False  # no proxy or netrc from the environment: the URL is the one checked
    attempted: set[int] = set()
    unwell: set[int] = set()  # endpoints that failed to answer (transport, 5xx) this run: skipped
    try:
        while time.monotonic() < stop_at:
            claimed = claim(due_ids(batch, exclude=attempted, skip_endpoints=unwell), holder)
            if not claimed:
                break
            for delivery in claimed:
                if time.monotonic() >= stop_at:
                    break
                if delivery.endpoint_id in unwell:
                    continue  # handed back below, untouched: one slow endpoint does not hold up the others
                attempted.add(delivery.pk)
                outcome = attempt(http, delivery, holder)
                if outcome is not None and outcome.endpoint_unwell:
                    unwell.add(delivery.endpoint_id)
    finally:
        http.close()
        release_unsent(holder, attempted)
    return len(attempted)


def attempt(http: VendorHTTP, delivery: WebhookDelivery, holder: str) -> Outcome | None:
    """Send one claimed delivery and record its outcome; None when its claim was
    lost meanwhile (not sent). Whatever goes wrong with this one delivery (a
    secret that no longer decrypts, a bug) is recorded on it as a failed attempt
    with its error, and logged; the run goes on with the next one."""
    try:
        if not renew(delivery, holder):  # still ours after the batch's earlier, slow sends?
            return None
        try:
            outcome = send(http, delivery)
        except Exception as exc:  # noqa: BLE001 - recorded on the delivery and logged, never dropped
            log.exception("webhook delivery %s could not be sent", delivery.pk)
            outcome = Outcome(False, None, f"LeadHub could not send it: {exc.__class__.__name__}: {exc}"[:2000])
        record(delivery, outcome, holder)
        return outcome
    except Exception:  # noqa: BLE001 - the database failed recording it: its lease brings it back
        log.exception("webhook delivery %s: its attempt could not be recorded", delivery.pk)
        return None


def release_unsent(holder: str, attempted) -> int:
    """Deliveries this run claimed but never started (its time ran out) go back to
    the queue now rather than when their lease ends."""
    return (WebhookDelivery.objects.filter(state=DeliveryState.DELIVERING, claimed_by=holder)
            .exclude(pk__in=list(attempted))
            .update(state=DeliveryState.PENDING, claimed_by="", claimed_until=None))


def release_expired_claims() -> int:
    """Deliveries a dead worker was sending go back to the queue."""
    return WebhookDelivery.objects.filter(state=DeliveryState.DELIVERING, claimed_until__lt=timezone.now()).update(
        state=DeliveryState.PENDING, claimed_by="", claimed_until=None)


def due_ids(limit: int, *, exclude=(), skip_endpoints=()) -> list[int]:
    """Ids of up to `limit` deliveries due now, oldest first (not those of
    `skip_endpoints`)."""
    return list(WebhookDelivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=timezone.now())
                .filter(Q(endpoint__is_active=True) | Q(event_type=TEST_EVENT)).exclude(pk__in=list(exclude))
                .exclude(endpoint_id__in=list(skip_endpoints))
                .order_by("pk").values_list("pk", flat=True)[:limit])


def claim(ids: list[int], holder: str) -> list[WebhookDelivery]:
    """Claim those of `ids` still pending for `holder` (one conditional UPDATE:
    a delivery another worker claimed meanwhile is not taken) and return them."""
    if not ids:
        return []
    WebhookDelivery.objects.filter(pk__in=ids, state=DeliveryState.PENDING).update(
        state=DeliveryState.DELIVERING, claimed_by=holder,
        claimed_until=timezone.now() + timedelta(seconds=settings.LEADHUB_WEBHOOK_CLAIM_SECONDS))
    return list(WebhookDelivery.objects.filter(pk__in=ids, state=DeliveryState.DELIVERING, claimed_by=holder)
                .select_related("endpoint").order_by("pk"))


def renew(delivery: WebhookDelivery, holder: str) -> bool:
    """Extend the holder's lease just before sending (one conditional UPDATE). A
    batch's last delivery may wait for the earlier ones' timeouts longer than the
    lease; if it expired and another worker took the delivery meanwhile, this one
    must not send it too: False."""
    return bool(WebhookDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.DELIVERING,
                                               claimed_by=holder).update(
        claimed_until=timezone.now() + timedelta(seconds=settings.LEADHUB_WEBHOOK_CLAIM_SECONDS)))


def request_for(delivery: WebhookDelivery, *, timestamp: int | None = None) -> tuple[bytes, dict]:
    """The body and headers of a delivery, signed now with its endpoint's secret
    (and with the previous one too during a rotation's grace period)."""
    body = json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return body, {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "LeadHub-Event": delivery.event_type,
        "LeadHub-Delivery": delivery.payload.get("id") or f"evt_{delivery.event_id.hex}",
        SIGNATURE_HEADER: signature_header(delivery.endpoint.signing_secrets(), body, timestamp=timestamp),
    }


def send(http: VendorHTTP, delivery: WebhookDelivery) -> Outcome:
    """POST one delivery (redirects not followed: a receiver that moved says so
    in the log rather than LeadHub posting signed data elsewhere). The whole POST
    (connecting, sending, the status line, headers and body) ends within
    LEADHUB_WEBHOOK_TIMEOUT seconds: later is a failed attempt, "no answer within
    N s"; at most a few KB of the answer are read, for the excerpt."""
    try:  # again before every POST: the rules (LEADHUB_WEBHOOK_ALLOW_LOOPBACK) may have changed since it was saved
        validate_webhook_url(delivery.endpoint.url)
    except ValidationError as exc:
        return Outcome(False, None, f"not sent: the endpoint's URL is not allowed ({' '.join(exc.messages)})")
    body, headers = request_for(delivery)
    try:
        raw = http.request("POST", delivery.endpoint.url, data=body, headers=headers, allow_redirects=False,
                           deadline=settings.LEADHUB_WEBHOOK_TIMEOUT, max_body=EXCERPT * 4)
    except VendorError as exc:  # timeouts, refused or reset connections: recorded and retried
        return Outcome(False, exc.received_status, exc.message, transport=True)
    excerpt = raw.body[:EXCERPT * 4].decode("utf-8", errors="replace")[:EXCERPT]
    if 200 <= raw.status_code < 300:
        return Outcome(True, raw.status_code, "", excerpt)
    if 300 <= raw.status_code < 400:
        error = f"{raw.status_code}: redirected to {raw.headers.get('Location', '?')} (redirects are not followed)"
    elif raw.status_code == 410:
        error = "410 Gone: the receiver asked LeadHub to stop sending"
    else:
        error = f"{raw.status_code}: the receiver did not accept the event"
    return Outcome(False, raw.status_code, error, excerpt, raw.retry_after())


def record(delivery: WebhookDelivery, outcome: Outcome, holder: str) -> None:
    """Record an attempt's outcome on the delivery (only while `holder` holds its
    claim) and on its endpoint: a success resets the endpoint's failure count;
    410 disables the endpoint at once; another failure is retried with backoff
    until LEADHUB_WEBHOOK_ATTEMPTS, then the delivery fails and counts against
    the endpoint, which is disabled after LEADHUB_WEBHOOK_DISABLE_AFTER failed
    deliveries in a row."""
    now = timezone.now()
    attempts = delivery.attempts + 1
    mine = WebhookDelivery.objects.filter(pk=delivery.pk, state=DeliveryState.DELIVERING, claimed_by=holder)
    common = {"attempts": attempts, "last_status_code": outcome.status, "last_error": outcome.error[:2000],
              "response_excerpt": outcome.excerpt, "claimed_by": "", "claimed_until": None}
    endpoint_id = delivery.endpoint_id
    if outcome.delivered:
        if mine.update(state=DeliveryState.DELIVERED, delivered_at=now, **common):
            WebhookEndpoint.objects.filter(pk=endpoint_id, consecutive_failures__gt=0).update(consecutive_failures=0)
        return
    final = outcome.gone or attempts >= settings.LEADHUB_WEBHOOK_ATTEMPTS
    if not final and _lead_moved_away(delivery):
        # It was being sent when its lead moved (services.webhook_lead_moved leaves
        # such a delivery to finish): not retried to a dealer the lead has left.
        mine.update(state=DeliveryState.CANCELLED, cancelled_reason=(
            "Not retried: the lead moved to another dealer while this attempt was being sent."), **common)
        return
    if not final:
        delay = backoff_seconds(attempts, base=settings.LEADHUB_WEBHOOK_BASE_SECONDS,
                                cap=settings.LEADHUB_WEBHOOK_MAX_SECONDS, retry_after=outcome.retry_after)
        if not mine.update(state=DeliveryState.PENDING, next_attempt_at=now + timedelta(seconds=delay), **common):
            log.warning("webhook delivery %s: claim lost before its outcome was recorded", delivery.pk)
        return
    if not mine.update(state=DeliveryState.FAILED, **common):
        log.warning("webhook delivery %s: claim lost before its outcome was recorded", delivery.pk)
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id).update(consecutive_failures=F("consecutive_failures") + 1)
    if outcome.gone:
        webhook_endpoint_disable(endpoint_id=endpoint_id, reason="the receiver answered 410 Gone.")
        return
    failures = WebhookEndpoint.objects.filter(pk=endpoint_id).values_list("consecutive_failures", flat=True).first()
    if failures is not None and failures >= settings.LEADHUB_WEBHOOK_DISABLE_AFTER:
        webhook_endpoint_disable(endpoint_id=endpoint_id, reason=(
            f"{failures} deliveries in a row failed for good (the last after {attempts} attempts: "
            f"{outcome.error})."))


def _lead_moved_away(delivery: WebhookDelivery) -> bool:
    """The delivery is about a lead now with another dealer than its endpoint's
    (lead.moved_away is meant for the old dealer; a test event has no lead)."""
    if delivery.lead_id is None or delivery.event_type == Event.LEAD_MOVED_AWAY:
        return False
    dealer_id = Lead.objects.filter(pk=delivery.lead_id).values_list("dealer_id", flat=True).first()
    return dealer_id is not None and not WebhookEndpoint.objects.filter(pk=delivery.endpoint_id,
                                                                        dealer_id=dealer_id).exists()
