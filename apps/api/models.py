"""API keys: how a dealer's DMS or website reaches LeadHub's API (docs/api.md).

A key belongs to one dealer and reaches only that dealer's data. Its secret is
shown once, when it is created, and stored only as a SHA-256 hash: LeadHub can
check a key, never show it again. A key is revoked, never deleted, so its audit
history (who created it, who revoked it) stays.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from simple_history.models import HistoricalRecords


class Scope(models.TextChoices):
    READ = "read", "Read only"
    WRITE = "write", "Read and write"


class ApiKey(models.Model):
    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="What uses the key, e.g. \"DMS\" or \"Website form\".")
    # The first characters after "lh_": shown in lists so a key in a config file can
    # be matched to its row; it is also how a presented key is looked up.
    prefix = models.CharField(max_length=8, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False, help_text="SHA-256 of the secret, hex.")
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.READ,
                             help_text="Read only: lists and reads. Read and write: also creates leads, "
                                       "changes status, schedules follow-ups, adds notes.")
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   editable=False, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Updated at most once a minute per key (apps/api/keys.py): not a write per request.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Audit: created, renamed, revoked, by whom. Never the secret's hash (like a
    # password), nor the last use (a use is not a change).
    history = HistoricalRecords(excluded_fields=["secret_hash", "last_used_at"])

    class Meta:
        verbose_name = "API key"
        ordering = ["dealer__code", "name", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(scope__in=Scope.values), name="apikey_scope_known"),
            # A name says which system a key belongs to: one live key per name.
            models.UniqueConstraint(fields=["dealer", "name"], condition=Q(revoked_at__isnull=True),
                                    name="apikey_live_name_unique_per_dealer",
                                    violation_error_message="This dealer already has a key with this name: "
                                                            "choose another name or revoke that key first."),
        ]

    def __str__(self) -> str:
        return f"{self.name} (lh_{self.prefix}…)"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def actor_label(self) -> str:
        """Who a change made with this key is recorded as (status log, timeline, history)."""
        return f"API key {self.name}"
