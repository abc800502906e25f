"""What vendor sync needs to lose nothing and send nothing twice.

- InboxPage: every page a vendor answered, stored before it is processed. A
  vendor such as Cat hands out each lead once (GET /leads is a destructive
  read), so the page is the only copy until its leads are in the Lead table.
- OutboxItem: one message LeadHub owes a vendor (a status update), written in
  the same transaction as the change it reports. The outbox owns retries; the
  task queue only wakes it up.
- SyncRun: one pull, push or reconciliation, with its counts and errors.
- AccountLock: a lease in the database, so one pull per account runs at a time
  across every worker and machine; a dead worker's lease simply expires.
- AccountSyncState: the figures sync health shows per account.
"""
from __future__ import annotations

from datetime import timedelta

from django.db import models
from simple_history.models import HistoricalRecords
from django.db.models import Q
from django.utils import timezone

from apps.vendors.core.models import VendorAccount


class PageState(models.TextChoices):
    PENDING = "pending", "Received, not processed"
    PROCESSED = "processed", "Processed"
    FAILED = "failed", "Could not be read"


class InboxPage(models.Model):
    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.PROTECT, related_name="inbox_pages")
    kind = models.CharField(max_length=16, help_text="pull, historic, search...")
    request = models.CharField(max_length=500, help_text="Method and path with query (never credentials).")
    status_code = models.PositiveSmallIntegerField()
    body = models.BinaryField(help_text="The response body exactly as received.")
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    state = models.CharField(max_length=16, choices=PageState.choices, default=PageState.PENDING)
    processed_at = models.DateTimeField(null=True, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    run = models.ForeignKey("SyncRun", on_delete=models.SET_NULL, null=True, blank=True, related_name="pages")

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["account", "state", "id"], name="inbox_pending_idx")]

    def __str__(self) -> str:
        return f"{self.kind} page {self.pk} ({self.get_state_display().lower()})"

    @property
    def body_text(self) -> str:
        return bytes(self.body).decode("utf-8", errors="replace")


class OutboxState(models.TextChoices):
    PENDING = "pending", "Queued"
    SENDING = "sending", "Being sent"
    SENT = "sent", "Accepted by vendor"
    FAILED = "failed", "Refused by vendor"
    BLOCKED = "blocked", "Blocked (fix and it is rebuilt)"


class OutboxItem(models.Model):
    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.PROTECT, related_name="outbox")
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, related_name="outbox")
    status_log = models.ForeignKey("leads.StatusLog", on_delete=models.CASCADE, null=True, blank=True,
                                   related_name="outbox", help_text="The change this message reports.")
    kind = models.CharField(max_length=32, default="status_update",
                            help_text="What the message is: status_update, submit, followup... (the adapter's own).")
    dedupe_key = models.CharField(
        max_length=200, blank=True,
        help_text="Unique per account when set: a message that must exist at most once (a lead's submission, "
                  "a follow-up's report) can never be queued twice.")
    payload = models.JSONField(default=dict, blank=True)
    response = models.JSONField(default=dict, blank=True,
                                help_text="What the vendor answered to the last attempt (ids, warnings, messages).")
    state = models.CharField(max_length=16, choices=OutboxState.choices, default=OutboxState.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    claimed_by = models.CharField(max_length=100, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    supplement = models.JSONField(
        default=dict, blank=True,
        help_text="What staff added after the change so a held update can go (the comment a reason mapped later "
                  "needs); the status log itself never changes.")
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    alerted_at = models.DateTimeField(null=True, blank=True, help_text="When retries ran out and IT was alerted.")
    unconfirmed_since = models.DateTimeField(
        null=True, blank=True,
        help_text="Set (committed) when a worker claims the item to send it, cleared by a definite answer: while "
                  "set, an earlier attempt may have reached the vendor unanswered, and the vendor's "
                  "unconfirmed_policy decides whether it is resent, looked up first or held for a person.")
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    # Audit: who changed an item and how its state moved (created, Retry now,
    # sent, refused, rebuilt). The payload and the vendor's answer are the
    # item's own record, not changes, and the worker's claims (sending, lease)
    # are bookkeeping, so history leaves them out (docs/architecture.md).
    history = HistoricalRecords(excluded_fields=["payload", "response", "claimed_by", "claimed_until",
                                                 "unconfirmed_since"])

    class Meta:
        ordering = ["id"]
        constraints = [
            # At most one message per change and account: a redelivered task or a
            # double click can never queue a change twice.
            models.UniqueConstraint(fields=["status_log", "account"], condition=Q(status_log__isnull=False),
                                    name="one_outbox_item_per_change"),
            models.UniqueConstraint(fields=["account", "dedupe_key"], condition=~Q(dedupe_key=""),
                                    name="one_outbox_item_per_dedupe_key"),
            models.CheckConstraint(condition=Q(state__in=OutboxState.values), name="outbox_state_known"),
            models.CheckConstraint(condition=~Q(state=OutboxState.SENT) | Q(sent_at__isnull=False),
                                   name="outbox_sent_has_time"),
        ]
        indexes = [models.Index(fields=["account", "state", "next_attempt_at"], name="outbox_due_idx")]

    def __str__(self) -> str:
        return f"{self.kind} for lead {self.lead_id} ({self.get_state_display().lower()})"


class RunState(models.TextChoices):
    RUNNING = "running", "Running"
    OK = "ok", "Succeeded"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped (another run held the lock)"


class SyncRun(models.Model):
    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.CASCADE, related_name="sync_runs")
    kind = models.CharField(max_length=16, help_text="pull, push, historic")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.RUNNING)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    worker = models.CharField(max_length=100, blank=True)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    pushed = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["account", "kind", "-started_at"], name="syncrun_account_idx")]

    def __str__(self) -> str:
        return f"{self.kind} {self.account_id} {self.started_at:%Y-%m-%d %H:%M} {self.state}"


class AccountLock(models.Model):
    """A lease: held by `holder` until `expires_at`. Taken with one conditional
    UPDATE, so two workers can never both hold it (see apps/sync/locks.py)."""

    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=32)
    holder = models.CharField(max_length=100, blank=True)
    expires_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["account", "name"], name="one_lock_per_account_and_name")]


class AccountSyncState(models.Model):
    account = models.OneToOneField("vendors.VendorAccount", on_delete=models.CASCADE, related_name="sync_state")
    last_pull_ok_at = models.DateTimeField(null=True, blank=True)
    last_push_ok_at = models.DateTimeField(null=True, blank=True)
    last_historic_ok_at = models.DateTimeField(null=True, blank=True)
    last_pull_started_at = models.DateTimeField(null=True, blank=True)
    cursor = models.JSONField(default=dict, blank=True,
                              help_text="Where an incremental pull resumes (the adapter's own position), advanced "
                                        "in the same transaction as the page it follows.")
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    alerted_at = models.DateTimeField(null=True, blank=True)
    credentials_alerted_at = models.DateTimeField(
        null=True, blank=True, help_text="When IT was told the vendor refused the account's credentials; cleared "
                                         "once a message goes through again (one alert per outage).")

    def __str__(self) -> str:
        return f"sync state of {self.account_id}"

    def pull_due(self, now, interval_minutes: int) -> bool:
        last = self.last_pull_started_at
        return last is None or now - last >= timedelta(minutes=interval_minutes)



class SyncHealth(VendorAccount):
    """Sync health per vendor account, as the admin shows it."""

    class Meta:
        proxy = True
        verbose_name = "sync health"
        verbose_name_plural = "sync health"
