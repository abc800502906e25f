"""Webhooks: a dealer's endpoints and the deliveries LeadHub owes them.

- WebhookEndpoint: a URL a dealer admin registered, the events it takes, its
  signing secret (encrypted at rest, like vendor credentials), and its health
  (consecutive failures; disabled with a reason and an alert after repeated
  failure, docs/webhooks.md).
- WebhookDelivery: one event owed to one endpoint, written in the transaction of
  the change it reports. Like the vendor outbox (apps/sync), the delivery owns
  its retries (attempts, next attempt, last error); the task queue only wakes
  the sender, and a conditional UPDATE claims it so it is never sent twice at once.
"""
from __future__ import annotations

import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords

from apps.core.crypto import EncryptedSecrets, EncryptedSecretsField


class Event(models.TextChoices):
    LEAD_CREATED = "lead.created", "lead.created: a new lead arrived (any origin), after assignment"
    LEAD_ASSIGNED = "lead.assigned", "lead.assigned: a lead was given to someone"
    LEAD_STATUS_CHANGED = "lead.status_changed", "lead.status_changed: a lead's status or stage changed"
    LEAD_VENDOR_REPORT_FAILED = ("lead.vendor_report_failed",
                                 "lead.vendor_report_failed: a vendor refused an update for good")
    LEAD_MOVED_AWAY = ("lead.moved_away",
                       "lead.moved_away: a lead this endpoint was told of moved to another dealer")


# Sent only by "Send test event": every endpoint takes it, whatever it subscribed to.
TEST_EVENT = "webhook.test"
LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
_url_validator = URLValidator(schemes=["http", "https"])


def validate_webhook_url(value: str) -> None:
    """An endpoint URL: https://; this machine's loopback (127.0.0.1, ::1,
    localhost; then http:// too, for a receiver under development) only where
    LEADHUB_WEBHOOK_ALLOW_LOOPBACK allows it (on with DEBUG, off in production:
    otherwise a dealer admin could make LeadHub POST to its own local services,
    such as Redis on 127.0.0.1:6379, and read their answer in the delivery log);
    no credentials in the URL (the signature authenticates LeadHub, and a password
    in a URL ends up in logs). The sender checks again before every POST."""
    parts = urlsplit(value or "")
    if parts.scheme not in ("http", "https"):
        raise ValidationError("Enter a URL starting with https:// (for example https://crm.example.com/leadhub).",
                              code="scheme")
    try:
        _url_validator(value)
    except ValidationError:
        raise ValidationError("Enter a whole URL, such as https://crm.example.com/leadhub.", code="invalid") from None
    if parts.username or parts.password:
        raise ValidationError("Remove the user name and password from the URL: LeadHub signs every delivery, so "
                              "the receiver can check the signature instead.", code="credentials")
    if parts.hostname in LOOPBACK_HOSTS and not settings.LEADHUB_WEBHOOK_ALLOW_LOOPBACK:
        raise ValidationError("Enter your receiver's public https:// address: this machine's own addresses "
                              "(127.0.0.1, ::1, localhost) are not allowed here.", code="loopback")
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValidationError("Use https://: plain http:// is allowed only to this machine "
                              "(127.0.0.1, ::1 or localhost).", code="insecure")


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


# Where apps/webhooks/services.py keeps, on the database connection, the active
# endpoints it read in the current transaction (so that per-lead events do not
# read them again for every lead). Whatever changes endpoints forgets it: save()
# and delete() through post_save/post_delete (WebhooksConfig.ready), the
# queryset writes below, a commit or a rollback (services._active_endpoints).
ENDPOINT_MEMO = "leadhub_webhook_active_endpoints"


def forget_active_endpoints(using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """Drop the memo of the active endpoints (also a post_save/post_delete receiver)."""
    connections[using].__dict__.pop(ENDPOINT_MEMO, None)


class EndpointQuerySet(models.QuerySet):
    """Writes that bypass save() (no post_save) forget the memo too: a queryset
    update() of `is_active` (webhook_endpoint_disable), bulk_create, bulk_update."""

    def update(self, **kwargs):
        forget_active_endpoints(self.db)
        return super().update(**kwargs)

    def bulk_create(self, *args, **kwargs):
        forget_active_endpoints(self.db)
        return super().bulk_create(*args, **kwargs)

    def bulk_update(self, *args, **kwargs):
        forget_active_endpoints(self.db)
        return super().bulk_update(*args, **kwargs)


class WebhookEndpoint(models.Model):
    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="webhook_endpoints")
    url = models.URLField("URL", max_length=500, validators=[validate_webhook_url],
                          help_text="Where LeadHub POSTs events: https://.")
    description = models.CharField(max_length=200, blank=True)
    events = models.JSONField(default=list, help_text="The event types this endpoint takes.")
    # {"secret": "whsec_..."}, Fernet-encrypted like vendor credentials (apps/core/crypto.py).
    secrets = EncryptedSecretsField(blank=True, default="", editable=False)
    # After "Rotate secret": the secret it replaced ({"secret": ...}, encrypted the same
    # way) and until when deliveries are still signed with it too, so a receiver keeps
    # working while its configuration is updated (LEADHUB_WEBHOOK_ROTATION_GRACE_HOURS).
    # Never used after that time; cleared then (services.webhook_forget_expired_secrets).
    previous_secrets = EncryptedSecretsField(blank=True, default="", editable=False)
    previous_secret_expires_at = models.DateTimeField("previous secret valid until", null=True, blank=True,
                                                      editable=False)
    is_active = models.BooleanField("active", default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)
    consecutive_failures = models.PositiveIntegerField(
        default=0, help_text="Deliveries that failed for good since the last one that succeeded.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    objects = EndpointQuerySet.as_manager()

    # Audit of who registered, changed, disabled or re-enabled it; never a secret.
    history = HistoricalRecords(excluded_fields=["secrets", "previous_secrets"])

    class Meta:
        ordering = ["dealer", "url", "id"]
        verbose_name = "webhook endpoint"

    def __str__(self) -> str:
        return self.url

    @property
    def secret(self) -> str:
        return self.secrets.get("secret", "") if self.secrets else ""

    def set_secret(self, value: str | None = None) -> str:
        """Set a new signing secret (generated when not given); not saved."""
        value = value or new_secret()
        self.secrets = EncryptedSecrets({"secret": value})
        return value

    def previous_secret_valid(self, now=None) -> bool:
        """Whether the secret the last rotation replaced still signs deliveries."""
        return bool(self.previous_secrets and self.previous_secret_expires_at is not None
                    and self.previous_secret_expires_at > (now or timezone.now()))

    def signing_secrets(self, now=None) -> list[str]:
        """The secrets a delivery is signed with now, one v1 signature each: the
        current one, then the one the last rotation replaced while its grace
        period lasts."""
        values = [self.secret]
        if self.previous_secret_valid(now):
            previous = self.previous_secrets.get("secret", "")
            if previous and previous != values[0]:
                values.append(previous)
        return values

    def takes(self, event_type: str) -> bool:
        return event_type == TEST_EVENT or event_type in (self.events or [])

    def clean(self):
        super().clean()
        unknown = sorted(set(self.events or []) - set(Event.values))
        if unknown:
            raise ValidationError({"events": f"Unknown event types: {', '.join(unknown)}."})
        if not self.events:
            raise ValidationError({"events": "Choose at least one event."})

    def save(self, *args, **kwargs):
        if not self.secret:
            self.set_secret()
        super().save(*args, **kwargs)


class DeliveryState(models.TextChoices):
    PENDING = "pending", "Queued"
    DELIVERING = "delivering", "Being sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed"
    # Terminal: never sent (or never retried) because what it reports no longer
    # belongs to the endpoint's dealer; `cancelled_reason` says why.
    CANCELLED = "cancelled", "Cancelled"


class WebhookDelivery(models.Model):
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.UUIDField(help_text="The event's id (evt_<uuid> in the payload and LeadHub-Delivery header).")
    event_type = models.CharField(max_length=40)
    lead_id = models.BigIntegerField(null=True, blank=True, db_index=True,
                                  help_text="The lead the event is about (kept if the lead is deleted).")
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True, help_text="The first 500 characters answered.")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    cancelled_reason = models.CharField(max_length=300, blank=True,
                                        help_text="Why LeadHub will not send it (a cancelled delivery).")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "webhook delivery"
        verbose_name_plural = "webhook deliveries"
        constraints = [
            # An event is queued for an endpoint at most once: a repeated signal, a
            # re-run job or a double click adds nothing.
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event"),
            models.CheckConstraint(condition=Q(state__in=DeliveryState.values), name="webhook_delivery_state_known"),
            models.CheckConstraint(condition=~Q(state=DeliveryState.DELIVERED) | Q(delivered_at__isnull=False),
                                   name="webhook_delivered_has_time"),
            models.CheckConstraint(condition=~Q(state=DeliveryState.CANCELLED) | ~Q(cancelled_reason=""),
                                   name="webhook_cancelled_has_reason"),
        ]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due_idx"),
                   models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log_idx")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} ({self.get_state_display().lower()})"
