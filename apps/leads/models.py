"""Leads and what happens to them: follow-ups, the status log, and each dealer's
reasons and sales stages with their mappings to vendor values.

Rules that one row can state are database constraints here; rules that span
objects live in apps/leads/services.py and apps/leads/rules.py.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django_countries.fields import CountryField
from simple_history.models import HistoricalRecords

from apps.accounts.models import validate_currency
from apps.core.fields import RawJSONField
from apps.vendors.core.registry import ADAPTERS, adapter_class, vendor_choices

from .phones import normalize_phone
from .rules import owner_violations  # rules import nothing from models; keep it so
from .statuses import ReasonKind, Status

PERCENT = [MinValueValidator(0), MaxValueValidator(100)]
RATINGS = [("High", "High"), ("Medium", "Medium"), ("Low", "Low")]


class Origin(models.TextChoices):
    VENDOR = "vendor", "Vendor"
    MANUAL = "manual", "Entered by hand"
    CSV = "csv", "CSV import"
    API = "api", "API"


class Customer(models.Model):
    """One customer of a dealer, as far as LeadHub can tell: leads from different
    vendors (or typed in) for the same person share it (apps/leads/customers.py).
    Each lead keeps its vendor, vendor id and reporting duty; this only links them."""

    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="customers")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"customer {self.pk}"


class Lead(models.Model):
    # No single-column indexes on dealer and vendor_account: the composite indexes
    # and the unique (vendor_account, vendor_lead_id) constraint start with them.
    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.PROTECT, related_name="leads", db_index=False)
    vendor_account = models.ForeignKey("vendors.VendorAccount", on_delete=models.PROTECT, null=True, blank=True,
                                       related_name="leads", help_text="The account the lead came from, if any.",
                                       db_index=False)
    vendor_lead_id = models.CharField("vendor lead id", max_length=255, null=True, blank=True,
                                      help_text="The vendor's own id (Cat leadId...), unique per account.")
    origin = models.CharField(max_length=16, choices=Origin.choices, default=Origin.MANUAL)
    external_ref = models.CharField(
        "your reference", max_length=100, blank=True,
        help_text="The dealer's own reference (event registration, website form id...). A CSV row with the same "
                  "reference updates this lead instead of creating another.")

    # Contact
    first_name = models.CharField(max_length=80, blank=True)
    last_name = models.CharField(max_length=80, blank=True)
    company = models.CharField(max_length=255, blank=True)
    email = models.EmailField(max_length=254, blank=True)
    phone = models.CharField(max_length=255, blank=True, help_text="As received or entered.")
    mobile_phone = models.CharField(max_length=255, blank=True)
    phone_normalized = models.CharField(max_length=32, blank=True, db_index=True, editable=False,
                                        help_text="E.164 form of phone (or mobile), for search.")
    address1 = models.CharField(max_length=255, blank=True)
    address2 = models.CharField(max_length=255, blank=True)
    city = models.CharField(max_length=100, blank=True)
    state_province = models.CharField(max_length=255, blank=True)
    postal_code = models.CharField(max_length=20, blank=True)
    country = CountryField(blank=True)

    # Interest and where it came from
    product_interest = models.CharField(max_length=1000, blank=True)
    brand = models.CharField(max_length=100, blank=True)
    source = models.CharField(max_length=255, blank=True, help_text="Lead source, e.g. cat.com, walk-in, event.")
    campaign = models.CharField(max_length=255, blank=True)
    comments = models.TextField(blank=True, help_text="What the customer wrote or asked.")
    ip_address = models.GenericIPAddressField(null=True, blank=True,
                                              help_text="The customer's address when the enquiry came from a web form.")
    # Marketing consent per channel: True (opted in), False (opted out), None (not
    # asked). Vendors such as CAP and Aimbase take exactly this three-way answer.
    opt_in_email = models.BooleanField(null=True, blank=True)
    opt_in_phone = models.BooleanField(null=True, blank=True)
    opt_in_sms = models.BooleanField(null=True, blank=True)
    opt_in_post = models.BooleanField(null=True, blank=True)
    utm_source = models.CharField(max_length=255, blank=True)
    utm_medium = models.CharField(max_length=255, blank=True)
    utm_campaign = models.CharField(max_length=255, blank=True)
    utm_term = models.CharField(max_length=255, blank=True)
    utm_content = models.CharField(max_length=255, blank=True)
    submission_extras = models.JSONField(
        default=dict, blank=True,
        help_text="Values a vendor's submission needs that LeadHub has no column for, by vendor kind "
                  '(e.g. {"cap": {"enquiryType": "..."}}).')

    # Dealer-side state. `status`, `sales_stage` and `probability` change only
    # through apps.leads.services.lead_change_status.
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.NEW)
    sales_stage = models.ForeignKey("SalesStage", on_delete=models.PROTECT, null=True, blank=True,
                                    related_name="leads")
    probability = models.PositiveSmallIntegerField(null=True, blank=True, validators=PERCENT)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                              related_name="owned_leads")
    next_follow_up_at = models.DateTimeField(null=True, blank=True, db_index=True,
                                             help_text="Earliest open follow-up; kept by the follow-up service.")
    first_contacted_at = models.DateTimeField(null=True, blank=True,
                                              help_text="When the lead first left New (speed to lead).")
    # The two stamps the reports measure from (apps/reports/measures.py), kept in the
    # transaction of the change that sets them, so no report reads the status log or
    # the outbox of millions of leads to find them.
    first_outcome_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the lead first left New, whoever moved it (the first outcome).")
    first_reported_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the vendor the lead came from first accepted a status report on it (feedback).")
    first_accepted_at = models.DateTimeField(
        null=True, blank=True, editable=False,
        help_text="When the lead was first accepted (the funnel's accepted step).")
    # The reason of the change that gave the lead its final outcome (won, lost, no
    # deal, rejected, disqualified); empty while it has none. The outcome report
    # groups by it instead of looking the closing row up in the status log.
    outcome_reason = models.ForeignKey("Reason", on_delete=models.SET_NULL, null=True, blank=True, editable=False,
                                       related_name="+", db_index=False)
    outcome_reason_label = models.CharField(max_length=255, blank=True, editable=False)
    # When the lead's vendor expects an outcome reported at the latest, in the
    # dealer's business hours (apps/reports/feedback.py fills and refreshes it);
    # null for a lead without a vendor target, or not stamped yet.
    feedback_due_at = models.DateTimeField(null=True, blank=True, editable=False)
    customer_contacted = models.BooleanField(null=True, blank=True,
                                             help_text="Did the dealer reach the customer? (Cat customerContacted)")
    customer_previously_known = models.BooleanField(null=True, blank=True,
                                                    help_text="Did the dealer know the customer already?")

    # Opportunity (the fields vendors such as Cat ask for once a lead is worked)
    opportunity_amount = models.DecimalField(max_digits=16, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True, validators=[validate_currency])
    target_date = models.DateField(null=True, blank=True)
    rating = models.CharField(max_length=10, choices=RATINGS, blank=True)
    customer_number = models.CharField("dealer customer number", max_length=40, blank=True)
    quote_id = models.CharField(max_length=255, blank=True)
    quote_sent_date = models.DateField(null=True, blank=True)

    # What the vendor sent, every field of it, including those not mapped above.
    raw_payload = RawJSONField(default=dict, blank=True, editable=False)
    vendor_created_at = models.DateTimeField(null=True, blank=True,
                                             help_text="When the vendor says the lead was created.")
    needs_review = models.BooleanField(default=False, help_text="Something unexpected arrived; see the review note.")
    review_note = models.TextField(blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The same customer across vendors: set when an arriving lead matches an open
    # lead of the dealer by e-mail or phone, or by a person linking two leads.
    customer = models.ForeignKey(Customer, on_delete=models.SET_NULL, null=True, blank=True, editable=False,
                                 related_name="leads", db_index=False)
    # A person linked or unlinked this lead: automatic matching leaves it alone.
    customer_set_by_hand = models.BooleanField(default=False, editable=False)
    # When LeadHub finished what it does to every lead that arrives (assignment
    # rules, apps/routing/arrivals.py); null until then. A vendor's bulk insert
    # leaves it null and the arrivals job takes the lead right after the pull.
    arrival_processed_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Who changed what and when (django-simple-history; docs/architecture.md, "Audit").
    # History is read by lead id (and date): the lead's own search indexes would only
    # slow down every history row a vendor pull writes (bench/README.md). The raw
    # vendor payload is not copied into every history row: it is the vendor's, not
    # a change anyone made; the lead keeps it whole, its stored page keeps the
    # original, and a vendor's later change to it is on the lead's timeline with
    # each changed field's old and new value (LeadEvent). Copying it doubled what
    # a pull writes.
    history = HistoricalRecords(no_db_index=["phone_normalized", "next_follow_up_at", "created_at", "dealer",
                                             "owner", "sales_stage", "vendor_account"],
                                excluded_fields=["raw_payload"])

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["vendor_account", "vendor_lead_id"],
                                    condition=Q(vendor_lead_id__isnull=False),
                                    name="lead_vendor_id_unique_per_account"),
            models.CheckConstraint(condition=Q(vendor_lead_id__isnull=True) | Q(vendor_account__isnull=False),
                                   name="lead_vendor_id_needs_account"),
            models.CheckConstraint(condition=~Q(vendor_lead_id=""), name="lead_vendor_id_not_blank"),
            models.UniqueConstraint(fields=["dealer", "external_ref"], condition=~Q(external_ref=""),
                                    name="lead_external_ref_unique_per_dealer"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="lead_status_known"),
            models.CheckConstraint(condition=Q(probability__isnull=True) | Q(probability__lte=100),
                                   name="lead_probability_percent"),
            models.CheckConstraint(
                # IS NOT NULL: a CHECK passes when its condition is NULL.
                condition=~Q(status=Status.CLOSED_WON) | Q(probability__isnull=False, probability=100),
                name="lead_closed_won_is_100_percent"),
            models.CheckConstraint(
                condition=~Q(status__in=[Status.CLOSED_LOST, Status.CLOSED_NO_DEAL])
                | Q(probability__isnull=False, probability=0),
                name="lead_closed_lost_is_0_percent"),
            models.CheckConstraint(condition=Q(currency="") | Q(currency__regex=r"^[A-Z]{3}$"),
                                   name="lead_currency_three_capitals"),
            models.CheckConstraint(condition=Q(opportunity_amount__isnull=True) | Q(opportunity_amount__gte=0),
                                   name="lead_amount_not_negative"),
            models.CheckConstraint(condition=Q(rating__in=["", "High", "Medium", "Low"]), name="lead_rating_known"),
            models.CheckConstraint(condition=Q(origin__in=Origin.values), name="lead_origin_known"),
        ]
        indexes = [
            models.Index(fields=["dealer", "status", "-created_at"], name="lead_dealer_status_idx"),
            # The lead list's default order within a dealer (newest first): the first
            # page is read from the index, never sorted out of the dealer's whole table.
            models.Index(fields=["dealer", "-created_at", "-id"], name="lead_dealer_created_idx"),
            models.Index(fields=["dealer", "owner", "status"], name="lead_dealer_owner_idx"),
            # The API's lead list (apps/api, docs/api.md): the dealer's leads in the
            # order they changed, (updated_at, id), a page read straight from one
            # index; the status, owner and account filters are checked in the index's
            # own entries (key columns after the order), so the leads a filter does
            # not match are skipped without reading them (vendor=manual where a
            # dealer has none: the whole range in 9-17 ms at 5,000,000 leads, 467 ms p95
            # when every lead was read). One index, not one per filter: every index
            # is written on every insert and every assignment (the pull and the job
            # after it, bench/README.md). A vendor kind is a join to the account.
            models.Index(fields=["dealer", "updated_at", "id", "status", "owner", "vendor_account"],
                         name="lead_api_list_idx"),
            models.Index(fields=["dealer", "next_follow_up_at"], name="lead_dealer_followup_idx"),
            models.Index(fields=["email"], name="lead_email_idx"),
            models.Index(fields=["vendor_lead_id"], name="lead_vendor_lead_id_idx"),
            # The leads of one customer; a lead without one (most) is not in it, so
            # a pull's inserts do not grow it (apps/leads/customers.py).
            models.Index(fields=["customer"], name="lead_customer_idx", condition=Q(customer__isnull=False)),
            # The leads whose arrival is still to be processed: a pull's worth, found
            # without reading the rest (apps/routing/arrivals.py).
            models.Index(fields=["id"], name="lead_arrival_pending_idx", condition=Q(arrival_processed_at__isnull=True)),
            # The vendor leads whose feedback deadline is still to be stamped: a few
            # minutes' arrivals, found without reading the rest (apps/reports/feedback.py).
            models.Index(fields=["vendor_account", "id"], name="lead_feedback_unstamped_idx",
                         condition=Q(feedback_due_at__isnull=True, vendor_account__isnull=False)),
            # Everything the reports of a period read (apps/reports): a year of every
            # dealer (a million leads) is read from this index alone, an eighth of the
            # table's pages. The rest are INCLUDE columns, which no lookup can take for
            # a condition: as key columns, a vendor pull's lookup by (account, vendor
            # lead id) chose this index on a table without statistics yet and scanned
            # it for every lead (a 10,000-lead pull: 2.2 s -> 7.6 s). PostgreSQL's; on
            # SQLite the index is `created_at` alone (models.W040 is silenced for it).
            models.Index(fields=["created_at"], name="lead_report_idx",
                         include=["dealer", "vendor_account", "owner", "first_contacted_at", "first_outcome_at",
                                  "first_reported_at", "feedback_due_at", "id"]),
        ]

    def __str__(self) -> str:
        name = " ".join(p for p in (self.first_name, self.last_name) if p) or self.company or self.email
        return f"#{self.pk} {name}".strip() if self.pk else (name or "new lead")

    @property
    def vendor(self) -> str:
        return self.vendor_account.vendor if self.vendor_account_id else ""

    @property
    def full_name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    def refresh_phone_normalized(self) -> None:
        region = str(self.country) if self.country else None
        self.phone_normalized = normalize_phone(self.phone, region) or normalize_phone(self.mobile_phone, region)

    def save(self, *args, **kwargs):
        self.refresh_phone_normalized()
        update_fields = kwargs.get("update_fields")
        if update_fields is not None and ({"phone", "mobile_phone", "country"} & set(update_fields)):
            kwargs["update_fields"] = set(update_fields) | {"phone_normalized"}
        super().save(*args, **kwargs)

    def clean(self):
        super().clean()
        errors = {}
        if self.vendor_account_id and self.dealer_id and self.vendor_account.dealer_id != self.dealer_id:
            errors["vendor_account"] = "This vendor account belongs to another dealer."
        if self.sales_stage_id and self.dealer_id and self.sales_stage.dealer_id != self.dealer_id:
            errors["sales_stage"] = "This sales stage belongs to another dealer."
        if self.vendor_lead_id and not self.vendor_account_id:
            errors["vendor_lead_id"] = "A vendor lead id needs the vendor account it belongs to."
        if self.owner_id and self.dealer_id:
            for problem in owner_violations(self.owner, self.dealer):
                errors["owner"] = problem.message
        if errors:
            raise ValidationError(errors)


class FollowUpKind(models.TextChoices):
    CALL = "call", "Call"
    EMAIL = "email", "E-mail"
    TEXT = "text", "Text message"
    VISIT = "visit", "Visit"
    APPOINTMENT = "appointment", "Appointment"
    QUOTE = "quote", "Quote"
    NOTE = "note", "Note"


class FollowUp(models.Model):
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="followups")
    kind = models.CharField(max_length=16, choices=FollowUpKind.choices, default=FollowUpKind.CALL)
    scheduled_at = models.DateTimeField(db_index=True)
    assigned_to = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                    related_name="assigned_followups")
    notes = models.TextField(blank=True, help_text="What to do.")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                related_name="done_followups")
    outcome_notes = models.TextField(blank=True, help_text="What happened.")
    next_follow_up_at = models.DateTimeField(null=True, blank=True,
                                             help_text="When completed: the next follow-up that was scheduled.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+")
    # Who, when no person did it (an API key: "API key DMS"): the timeline's "who".
    created_by_label = models.CharField(max_length=150, blank=True)
    done_by_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["scheduled_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(done_by__isnull=True) | Q(done_at__isnull=False),
                                   name="followup_done_by_needs_done_at"),
            models.CheckConstraint(condition=Q(kind__in=FollowUpKind.values), name="followup_kind_known"),
        ]
        indexes = [models.Index(fields=["assigned_to", "done_at", "scheduled_at"], name="followup_queue_idx")]

    def __str__(self) -> str:
        state = "done" if self.done_at else "due"
        return f"{self.get_kind_display()} {state} {self.scheduled_at:%Y-%m-%d %H:%M}"

    @property
    def is_done(self) -> bool:
        return self.done_at is not None

    def clean(self):
        super().clean()
        if self.assigned_to_id and self.lead_id:
            # The person it is for works for the lead's dealer (the rule a lead's owner follows).
            for problem in owner_violations(self.assigned_to, self.lead.dealer):
                raise ValidationError({"assigned_to": problem.message})


class Reason(models.Model):
    """One of a dealer's own reasons (why rejected, lost, on hold...)."""

    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="reasons")
    kind = models.CharField(max_length=20, choices=ReasonKind.choices)
    label = models.CharField(max_length=255)
    requires_comment = models.BooleanField(default=False,
                                           help_text="Staff must add a comment when they pick this reason.")
    active = models.BooleanField(default=True)
    position = models.PositiveSmallIntegerField(default=0)

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["dealer__code", "kind", "position", "label"]
        constraints = [
            models.UniqueConstraint(fields=["dealer", "kind", "label"], name="reason_label_unique_per_kind"),
            models.CheckConstraint(condition=Q(kind__in=ReasonKind.values), name="reason_kind_known"),
        ]

    def __str__(self) -> str:
        return f"{self.label} ({self.get_kind_display().lower()})"


class SalesStage(models.Model):
    """One of a dealer's own opportunity stages, in its order."""

    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="sales_stages")
    name = models.CharField(max_length=100)
    position = models.PositiveSmallIntegerField(default=0)
    default_probability = models.PositiveSmallIntegerField(null=True, blank=True, validators=PERCENT,
                                                           help_text="Probability given to a lead entering the stage.")
    active = models.BooleanField(default=True)

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["dealer__code", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["dealer", "name"], name="stage_name_unique_per_dealer"),
            models.CheckConstraint(condition=Q(default_probability__isnull=True) | Q(default_probability__lte=100),
                                   name="stage_probability_percent"),
        ]

    def __str__(self) -> str:
        return self.name


def _check_vendor_value(vendor: str, mapping_list, vendor_value: str, vendor_code: str, field="vendor_value"):
    if vendor not in ADAPTERS:
        raise ValidationError({"vendor": f"Unknown vendor {vendor!r}."})
    if mapping_list is None:
        raise ValidationError({"vendor": f"{adapter_class(vendor).verbose_name} takes no mapping for this list."})
    if mapping_list.choices:
        if vendor_value not in mapping_list.choices:
            raise ValidationError({field: f"Not one of {mapping_list.label} values: " + "; ".join(mapping_list.choices)})
    elif not (vendor_value or vendor_code):
        raise ValidationError({"vendor_code": f"Enter the {mapping_list.label}."})


def _check_vendor_lists(vendor: str, dealer_id, what: str, vendor_value: str, vendor_code: str = "",
                        sub_status: str = ""):
    """The vendor organisation's own lists (e.g. Capillary's fetched reason ids)."""
    problems = adapter_class(vendor).check_mapping(dealer_id, what, vendor_value, vendor_code, sub_status)
    if problems:
        raise ValidationError({p.field: p.message for p in problems})


class ReasonMapping(models.Model):
    """A dealer reason -> the vendor's standard value (Cat) or id (Capillary)."""

    reason = models.ForeignKey(Reason, on_delete=models.CASCADE, related_name="mappings")
    vendor = models.CharField(max_length=16, choices=vendor_choices)
    vendor_value = models.CharField(max_length=255, blank=True, help_text="The vendor's value, e.g. Cat's reason text.")
    vendor_code = models.CharField(max_length=64, blank=True, help_text="The vendor's id, e.g. a Capillary reason id.")

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["reason", "vendor"]
        constraints = [
            models.UniqueConstraint(fields=["reason", "vendor"], name="one_reason_mapping_per_vendor"),
            models.CheckConstraint(condition=~Q(vendor_value="") | ~Q(vendor_code=""),
                                   name="reason_mapping_has_target"),
        ]

    def __str__(self) -> str:
        return f"{self.reason.label} → {self.vendor}: {self.vendor_value or self.vendor_code}"

    def clean(self):
        super().clean()
        if self.reason_id and self.vendor:
            mapping_list = adapter_class(self.vendor).reason_lists.get(self.reason.kind) if self.vendor in ADAPTERS else None
            _check_vendor_value(self.vendor, mapping_list, self.vendor_value, self.vendor_code)
            if self.vendor_code:
                _check_vendor_lists(self.vendor, self.reason.dealer_id, "reason", self.vendor_value, self.vendor_code)


class StageMapping(models.Model):
    """A dealer sales stage -> the vendor's stage and the probability reported."""

    stage = models.ForeignKey(SalesStage, on_delete=models.CASCADE, related_name="mappings")
    vendor = models.CharField(max_length=16, choices=vendor_choices)
    vendor_value = models.CharField(max_length=100)
    probability = models.PositiveSmallIntegerField(null=True, blank=True, validators=PERCENT,
                                                   help_text="Probability sent for this stage; must fit the vendor's range.")

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["stage", "vendor"]
        constraints = [
            models.UniqueConstraint(fields=["stage", "vendor"], name="one_stage_mapping_per_vendor"),
            models.CheckConstraint(condition=Q(probability__isnull=True) | Q(probability__lte=100),
                                   name="stage_mapping_probability_percent"),
        ]

    def __str__(self) -> str:
        return f"{self.stage.name} → {self.vendor}: {self.vendor_value}"

    def clean(self):
        super().clean()
        if not self.vendor:
            return
        cls = adapter_class(self.vendor) if self.vendor in ADAPTERS else None
        _check_vendor_value(self.vendor, cls.stage_list if cls else None, self.vendor_value, "")
        if self.stage_id:
            _check_vendor_lists(self.vendor, self.stage.dealer_id, "stage", self.vendor_value)
        range_of = getattr(cls, "probability_range", None)
        if range_of and self.probability is not None:
            low, high = range_of(self.vendor_value)
            if not low <= self.probability <= high:
                raise ValidationError({"probability": f"{self.vendor_value} takes a probability from {low} to {high}%."})


class StatusMapping(models.Model):
    """A dealer lead status -> the vendor's status (and sub-status)."""

    dealer = models.ForeignKey("accounts.Dealer", on_delete=models.CASCADE, related_name="status_mappings")
    status = models.CharField(max_length=20, choices=Status.choices)
    vendor = models.CharField(max_length=16, choices=vendor_choices)
    vendor_value = models.CharField(max_length=100)
    vendor_sub_status = models.CharField(max_length=100, blank=True)

    history = HistoricalRecords()  # audit: who changed what and when

    class Meta:
        ordering = ["dealer__code", "vendor", "status"]
        constraints = [
            models.UniqueConstraint(fields=["dealer", "status", "vendor"], name="one_status_mapping_per_vendor"),
            models.CheckConstraint(condition=Q(status__in=Status.values), name="status_mapping_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.get_status_display()} → {self.vendor}: {self.vendor_value}"

    def clean(self):
        super().clean()
        if self.vendor:
            cls = adapter_class(self.vendor) if self.vendor in ADAPTERS else None
            _check_vendor_value(self.vendor, cls.status_list if cls else None, self.vendor_value, "")
            if self.dealer_id:
                _check_vendor_lists(self.vendor, self.dealer_id, "status", self.vendor_value,
                                    sub_status=self.vendor_sub_status)


class EventKind(models.TextChoices):
    RECEIVED = "received", "Received from vendor"
    VENDOR_UPDATE = "vendor_update", "Updated by vendor"
    PUSH_SENT = "push_sent", "Reported to vendor"
    PUSH_FAILED = "push_failed", "Vendor refused the report"
    PUSH_BLOCKED = "push_blocked", "Report blocked"
    HELD_COMPLETED = "held_completed", "Held report completed"
    ASSIGNED = "assigned", "Assigned"
    REVIEW = "review", "Needs review"
    NOTE = "note", "Note"


class LeadEvent(models.Model):
    """An entry of the lead's timeline that is not a status change or a follow-up:
    what a vendor sent, what LeadHub reported back and how the vendor answered.
    Append-only like the status log."""

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)
    actor_label = models.CharField(max_length=150, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["lead", "-created_at"], name="leadevent_lead_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.summary}"


class Source(models.TextChoices):
    ADMIN = "admin", "Admin"
    WORKBENCH = "workbench", "Workbench"
    IMPORT = "import", "CSV import"
    SYNC = "sync", "Vendor sync"
    SYSTEM = "system", "System"
    API = "api", "API"


class StatusLog(models.Model):
    """Append-only record of every status or stage change.

    Rows are written only by apps.leads.services.lead_change_status; the
    database refuses UPDATE (trigger in migration 0002), the model refuses a
    second save, and the admin shows it read-only. References to reasons and
    stages are PROTECT, and their labels are copied, so history stays readable.
    """

    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="status_logs")
    from_status = models.CharField(max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Status.choices)
    from_stage = models.ForeignKey(SalesStage, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    to_stage = models.ForeignKey(SalesStage, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    probability = models.PositiveSmallIntegerField(null=True, blank=True)
    reason = models.ForeignKey(Reason, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason_label = models.CharField(max_length=255, blank=True)
    sub_status = models.CharField(max_length=100, blank=True)
    comment = models.TextField(blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                              related_name="+")
    actor_label = models.CharField(max_length=150, blank=True, help_text="Who, as a name (a user or a vendor sync).")
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.ADMIN)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["lead", "-created_at"], name="statuslog_lead_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(to_status__in=Status.values), name="statuslog_to_status_known"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or '—'} → {self.to_status} ({self.created_at:%Y-%m-%d %H:%M})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("The status log is append-only; record a new change instead.")
        super().save(*args, **kwargs)


class PendingField(models.TextChoices):
    """What part of a vendor's lead LeadHub could not apply yet."""

    STATUS = "status", "Status"
    SUB_STATUS = "sub_status", "Sub-status (sales stage)"
    REASON = "reason", "Reason"
    DEALER_CODE = "dealer_code", "Dealer code"
    OWNER = "owner", "Owner"


class PendingVendorValue(models.Model):
    """A value a vendor sent with a lead that LeadHub could not apply yet: the
    dealer has no mapping for it (a Capillary status), or does not know it (a
    Cat dealer code the account does not serve, an owner who is not one of the
    dealer's people). The lead itself is always stored; this row says what is
    still owed to it, the lead carries needs_review with `note` in its review
    note, and apps.leads.pending applies it once the mapping exists (the row is
    then deleted and the note removed). One row per lead, account and field:
    a later value from the vendor replaces the earlier one."""

    # No single-column indexes: the unique constraint starts with the lead, the
    # account index with the account.
    lead = models.ForeignKey(Lead, on_delete=models.CASCADE, related_name="pending_values", db_index=False)
    account = models.ForeignKey("vendors.VendorAccount", on_delete=models.CASCADE, related_name="pending_values",
                                db_index=False)
    field = models.CharField(max_length=16, choices=PendingField.choices)
    vendor_value = models.CharField(max_length=255, help_text="What the vendor sent, e.g. WON, B999, jdoe.")
    details = models.JSONField(default=dict, blank=True,
                               help_text="What applying it needs (the vendor's reason, sub-status, time...).")
    note = models.CharField(max_length=1000, help_text="The text added to the lead's review note.")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["lead", "field"]
        constraints = [
            models.UniqueConstraint(fields=["lead", "account", "field"], name="one_pending_value_per_field"),
            models.CheckConstraint(condition=Q(field__in=PendingField.values), name="pending_value_field_known"),
        ]
        indexes = [models.Index(fields=["account", "field"], name="pending_value_account_idx")]

    def __str__(self) -> str:
        return f"{self.get_field_display()} {self.vendor_value!r} of lead {self.lead_id}"


class ImportKind(models.TextChoices):
    LEADS = "leads", "Leads"
    OUTCOMES = "outcomes", "Outcomes"


class ImportState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    CHECKED = "checked", "Checked: ready to import"
    DONE = "done", "Imported"
    REFUSED = "refused", "Refused: fix the file"
    FAILED = "failed", "Failed"


class ImportJob(models.Model):
    """One CSV file uploaded in the admin, checked and imported in the background
    (apps/leads/imports.py). The file is kept in the database, so the web process
    and a worker on another machine read the same bytes; it is dropped once the
    import is done. Progress (rows checked, problems so far) is written as the
    job runs, so its page can show it while the uploader is elsewhere."""

    kind = models.CharField(max_length=16, choices=ImportKind.choices)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="import_jobs")
    file_name = models.CharField(max_length=255)
    content = models.BinaryField(help_text="The uploaded file, until it is imported.")
    size = models.PositiveIntegerField(default=0)
    write = models.BooleanField(default=False, help_text="False: check only (the preview); True: import.")
    state = models.CharField(max_length=16, choices=ImportState.choices, default=ImportState.QUEUED)
    phase = models.CharField(max_length=16, blank=True, help_text="checking / writing, while it runs.")
    rows_done = models.PositiveIntegerField(default=0)
    problem_count = models.PositiveIntegerField(default=0)
    problems = models.JSONField(default=list, blank=True, help_text="The first problems, as lines of text.")
    summary = models.JSONField(default=dict, blank=True, help_text="rows, created, updated, unchanged...")
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "-created_at"], name="importjob_user_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ImportKind.values), name="importjob_kind_known"),
            models.CheckConstraint(condition=Q(state__in=ImportState.values), name="importjob_state_known"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} import {self.file_name} ({self.get_state_display().lower()})"

    @property
    def finished(self) -> bool:
        return self.state in (ImportState.CHECKED, ImportState.DONE, ImportState.REFUSED, ImportState.FAILED)
