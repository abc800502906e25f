"""What a person is told: a lead given to them, a lead a manager should look at.
Each notification is a row (the in-app list, with the unread count in the header)
and, by the person's preference, an e-mail at once or a line in the daily digest.
"""
from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q


class Kind(models.TextChoices):
    ASSIGNED = "assigned", "A lead was assigned to me"
    UNASSIGNED = "unassigned", "A new lead waits without an owner"
    UNCONTACTED = "uncontacted", "An assigned new lead is not contacted yet"
    WEBHOOK_DISABLED = "webhook_disabled", "A webhook endpoint of my dealer was disabled"


class Delivery(models.TextChoices):
    IMMEDIATELY = "immediately", "E-mail me at once"
    DIGEST = "digest", "In my daily digest"
    OFF = "off", "Only in LeadHub (no e-mail)"


# The preference that governs each kind.
PREFERENCE_OF = {Kind.ASSIGNED: "assigned", Kind.UNASSIGNED: "alerts", Kind.UNCONTACTED: "alerts",
                 Kind.WEBHOOK_DISABLED: "alerts"}


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    lead = models.ForeignKey("leads.Lead", on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    text = models.CharField(max_length=500)
    # What makes it the same notification: a second one with the same key is never
    # made (e.g. "assigned:<lead>:<owner>", "unassigned:<lead>"), so nobody is told twice.
    key = models.CharField(max_length=100)
    delivery = models.CharField(max_length=16, choices=Delivery.choices, default=Delivery.IMMEDIATELY,
                                help_text="How it was to be delivered when made (the person's preference then).")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)
    # Set when the e-mail (or the digest) took it, before sending: at most once.
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="notification_once_per_user_and_key"),
                       models.CheckConstraint(condition=Q(kind__in=Kind.values), name="notification_kind_known"),
                       models.CheckConstraint(condition=Q(delivery__in=Delivery.values),
                                              name="notification_delivery_known")]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_unread_idx"),
                   models.Index(fields=["delivery", "sent_at"], name="notification_unsent_idx",
                                condition=Q(sent_at__isnull=True))]

    def __str__(self) -> str:
        return self.text


class NotificationPreference(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="notification_preference")
    assigned = models.CharField("a lead is assigned to me", max_length=16, choices=Delivery.choices,
                                default=Delivery.IMMEDIATELY)
    alerts = models.CharField("a new lead waits unassigned or uncontacted (managers)", max_length=16,
                              choices=Delivery.choices, default=Delivery.IMMEDIATELY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(assigned__in=Delivery.values) & Q(alerts__in=Delivery.values),
                                              name="preference_delivery_known")]

    def __str__(self) -> str:
        return f"{self.user}: assigned {self.assigned}, alerts {self.alerts}"
