"""Reads that more than one screen needs."""
from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.vendors.core.models import VendorAccount
from apps.vendors.core.registry import adapter_class

from .models import FollowUp, LeadEvent, Reason, ReasonMapping, SalesStage, StageMapping, StatusLog, StatusMapping
from .statuses import FINAL_STATUSES, Status


@dataclass(frozen=True)
class Unmapped:
    """A dealer value with no mapping for a vendor the dealer has an account with."""

    dealer_id: int
    vendor: str
    list_label: str   # the vendor's list, e.g. "Cat rejectedReasonWhy"
    what: str         # "reason", "stage" or "status"
    value: str        # the dealer's label
    required: bool    # True: a push that needs it is blocked until it is mapped

    @property
    def message(self) -> str:
        need = "must" if self.required else "may"
        return f"{self.what.capitalize()} '{self.value}' has no {self.list_label} mapping ({need} be mapped)."


def vendors_in_use(dealer_id: int) -> list[str]:
    return sorted(set(VendorAccount.objects.filter(dealer_id=dealer_id, enabled=True).values_list("vendor", flat=True)))


def reasons_unmapped_for(vendor: str, queryset: QuerySet | None = None) -> QuerySet:
    """Active reasons of the kinds `vendor` maps that have no mapping for it."""
    cls = adapter_class(vendor)
    queryset = Reason.objects.all() if queryset is None else queryset
    mapped = ReasonMapping.objects.filter(reason=OuterRef("pk"), vendor=vendor)
    return queryset.filter(active=True, kind__in=list(cls.reason_lists)).exclude(Exists(mapped))


def stages_unmapped_for(vendor: str, queryset: QuerySet | None = None) -> QuerySet:
    queryset = SalesStage.objects.all() if queryset is None else queryset
    if adapter_class(vendor).stage_list is None:
        return queryset.none()
    mapped = StageMapping.objects.filter(stage=OuterRef("pk"), vendor=vendor)
    return queryset.filter(active=True).exclude(Exists(mapped))


def unmapped_values(*, dealer_id: int, vendors: list[str] | None = None) -> list[Unmapped]:
    """Everything of the dealer's that a vendor it works with cannot receive yet."""
    found: list[Unmapped] = []
    for vendor in vendors if vendors is not None else vendors_in_use(dealer_id):
        cls = adapter_class(vendor)
        for reason in reasons_unmapped_for(vendor, Reason.objects.filter(dealer_id=dealer_id)):
            mapping_list = cls.reason_lists[reason.kind]
            found.append(Unmapped(dealer_id, vendor, mapping_list.label, "reason", reason.label, mapping_list.required))
        if cls.stage_list is not None:
            for stage in stages_unmapped_for(vendor, SalesStage.objects.filter(dealer_id=dealer_id)):
                found.append(Unmapped(dealer_id, vendor, cls.stage_list.label, "stage", stage.name,
                                      cls.stage_list.required))
        if cls.status_list is not None:
            mapped = set(StatusMapping.objects.filter(dealer_id=dealer_id, vendor=vendor).values_list("status", flat=True))
            for status, label in Status.choices:
                if status not in mapped:
                    found.append(Unmapped(dealer_id, vendor, cls.status_list.label, "status", label,
                                          cls.status_list.required))
    return found


def end_of_local_day(now):
    """The last instant of `now`'s day in the current time zone."""
    return timezone.localtime(now).replace(hour=23, minute=59, second=59, microsecond=999999)


def followups_due_q(now, *, overdue: bool) -> Q:
    """Leads with an open follow-up overdue (before now) or due later today."""
    if overdue:
        return Q(next_follow_up_at__lt=now)
    return Q(next_follow_up_at__gte=now, next_follow_up_at__lte=end_of_local_day(now))


@dataclass(frozen=True)
class TimelineEntry:
    at: object        # datetime
    kind: str         # "status", "followup", "vendor", "received"
    title: str
    detail: str = ""
    who: str = ""


def lead_timeline(lead, followups=None) -> list[TimelineEntry]:
    """Everything that happened to a lead, newest first: its arrival, status and
    stage changes with reasons, follow-ups scheduled and done, what vendors sent,
    and every report to a vendor with its result. `followups`: the lead's
    follow-ups when the caller has read them already (with assigned_to, done_by
    and created_by), so they are not read twice."""
    entries = [TimelineEntry(lead.created_at, "received",
                             f"Received from {lead.vendor_account}" if lead.vendor_account_id
                             else f"Created ({lead.get_origin_display().lower()})")]
    for log in StatusLog.objects.filter(lead=lead).select_related("to_stage"):
        title = f"{log.get_from_status_display() or '—'} → {log.get_to_status_display()}"
        if log.from_status == log.to_status and log.to_stage:
            title = f"Stage → {log.to_stage.name}"
        detail = "; ".join(part for part in (
            f"reason: {log.reason_label}" if log.reason_label else "",
            f"{log.probability}%" if log.probability is not None else "",
            log.sub_status, log.comment) if part)
        entries.append(TimelineEntry(log.created_at, "status", title, detail, log.actor_label))
    if followups is None:
        followups = FollowUp.objects.filter(lead=lead).select_related("assigned_to", "done_by", "created_by")
    for followup in followups:
        entries.append(TimelineEntry(followup.created_at, "followup",
                                     f"{followup.get_kind_display()} scheduled for "
                                     f"{timezone.localtime(followup.scheduled_at):%Y-%m-%d %H:%M}",
                                     followup.notes, str(followup.created_by or followup.created_by_label)))
        if followup.done_at:
            entries.append(TimelineEntry(followup.done_at, "followup", f"{followup.get_kind_display()} done",
                                         followup.outcome_notes, str(followup.done_by or followup.done_by_label)))
    for event in LeadEvent.objects.filter(lead=lead):
        entries.append(TimelineEntry(event.created_at, "vendor", event.get_kind_display(), event.summary,
                                     event.actor_label))
    return sorted(entries, key=lambda entry: entry.at, reverse=True)


def lead_closing(lead) -> StatusLog | None:
    """How a final lead ended (the StatusLog that took it to its final status, with
    its reason and actor), or None while it is open. A closed lead is shown by its
    closing, never by the stage it last had."""
    if lead.status not in FINAL_STATUSES:
        return None
    return (StatusLog.objects.filter(lead=lead, to_status=lead.status).select_related("reason", "to_stage")
            .order_by("-created_at", "-id").first())
