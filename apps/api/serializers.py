"""What the API reads and writes. Input serializers check shapes and types only;
the rules are the lead services' and the models' own (views.py hands them on)."""
from __future__ import annotations

from datetime import datetime, time, timezone as dt_timezone

from django.contrib.auth import get_user_model
from django.utils.dateparse import parse_date, parse_datetime
from django_countries.serializers import CountryFieldMixin
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.leads.models import FollowUp, FollowUpKind, Lead, Reason, ReasonMapping, SalesStage, StageMapping
from apps.leads.rules import owner_violations
from apps.leads.statuses import Status
from apps.vendors.core.registry import ADAPTERS

MANUAL = "manual"  # the `vendor` of a lead that came from no vendor (entered by hand, CSV, the API)
BIGGEST_ID = 2**63 - 1  # a bigint primary key: anything larger is no id (and overflows the query)


def parse_since(text: str) -> datetime:
    """An ISO 8601 date and time, or a date (its midnight); without a zone, UTC.
    serializers.ValidationError otherwise."""
    try:
        moment = parse_datetime(text)
        if moment is None and parse_date(text) is not None:
            moment = datetime.combine(parse_date(text), time.min)
    except ValueError:
        moment = None
    if moment is None:
        raise serializers.ValidationError("Give updated_since as an ISO 8601 date and time, e.g. 2025-01-31T08:00:00Z.",
                                          code="invalid")
    return moment if moment.tzinfo else moment.replace(tzinfo=dt_timezone.utc)


class LeadListFilterSerializer(serializers.Serializer):
    """The lead list's query parameters. Each bad value is a 400 naming its
    parameter (never a 500 from a number int() or the database cannot take)."""

    status = serializers.ChoiceField(choices=Status.values, required=False, error_messages={
        "invalid_choice": f"Give one of: {', '.join(Status.values)}."})
    vendor = serializers.ChoiceField(choices=[*ADAPTERS, MANUAL], required=False, error_messages={
        "invalid_choice": f"Give one of: {', '.join([*ADAPTERS, MANUAL])}."})
    owner = serializers.IntegerField(min_value=1, max_value=BIGGEST_ID, required=False, error_messages={
        "invalid": "Give the owner as a user id (a whole number).",
        "min_value": "Give the owner as a user id (a whole number from 1).",
        "max_value": "Give the owner as a user id: this number is too large to be one.",
        "max_string_length": "Give the owner as a user id: this number is too large to be one."})
    updated_since = serializers.CharField(required=False)

    def validate_updated_since(self, text: str) -> datetime:
        return parse_since(text)


class LeadListSerializer(CountryFieldMixin, serializers.ModelSerializer):
    """A lead in the list: what a DMS matches and shows (LIST_FIELDS are all it reads)."""

    vendor = serializers.SerializerMethodField(help_text='The vendor kind ("cat", "cap"...) or "manual".')
    owner_username = serializers.CharField(source="owner.username", read_only=True, default=None, allow_null=True)
    sales_stage_name = serializers.CharField(source="sales_stage.name", read_only=True, default=None,
                                             allow_null=True)

    class Meta:
        model = Lead
        fields = ["id", "status", "sales_stage", "sales_stage_name", "probability", "owner", "owner_username",
                  "vendor", "vendor_lead_id", "origin", "external_ref", "first_name", "last_name", "company",
                  "email", "phone", "mobile_phone", "city", "postal_code", "country", "product_interest", "brand",
                  "source", "next_follow_up_at", "first_contacted_at", "created_at", "updated_at"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.STR)
    def get_vendor(self, lead) -> str:
        return lead.vendor_account.vendor if lead.vendor_account_id else MANUAL


# The columns the list reads (Lead and the related rows it shows): `.only()` of them,
# so a page of 100 does not carry the raw vendor payload and fifty other columns.
LIST_FIELDS = ["id", "dealer_id", "status", "sales_stage_id", "sales_stage__name", "probability", "owner_id",
               "owner__username", "vendor_account_id", "vendor_account__vendor", "vendor_lead_id", "origin",
               "external_ref", "first_name", "last_name", "company", "email", "phone", "mobile_phone", "city",
               "postal_code", "country", "product_interest", "brand", "source", "next_follow_up_at",
               "first_contacted_at", "created_at", "updated_at"]


class TimelineEntrySerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    kind = serializers.CharField(help_text="received, status, followup or vendor (notes and vendor events).")
    title = serializers.CharField()
    detail = serializers.CharField()
    who = serializers.CharField()


class FollowUpSerializer(serializers.ModelSerializer):
    class Meta:
        model = FollowUp
        fields = ["id", "kind", "scheduled_at", "assigned_to", "notes", "done_at", "done_by", "outcome_notes",
                  "next_follow_up_at", "created_at"]
        read_only_fields = fields


class LeadDetailSerializer(LeadListSerializer):
    """One lead: every field staff see, its follow-ups and its timeline (newest first)."""

    followups = FollowUpSerializer(many=True, read_only=True)
    timeline = serializers.SerializerMethodField()

    class Meta(LeadListSerializer.Meta):
        fields = LeadListSerializer.Meta.fields + [
            "address1", "address2", "state_province", "campaign", "comments", "opt_in_email", "opt_in_phone",
            "opt_in_sms", "opt_in_post", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
            "customer_contacted", "customer_previously_known", "opportunity_amount", "currency", "target_date",
            "rating", "customer_number", "quote_id", "quote_sent_date", "needs_review", "review_note",
            "vendor_created_at", "followups", "timeline"]
        read_only_fields = fields

    @extend_schema_field(TimelineEntrySerializer(many=True))
    def get_timeline(self, lead):
        return TimelineEntrySerializer(self.context["timeline"], many=True).data


# What a lead created through the API may carry: what staff type in the admin's
# "Add lead" form, less what belongs to LeadHub (status, dealer, vendor fields).
CREATE_FIELDS = ["external_ref", "first_name", "last_name", "company", "email", "phone", "mobile_phone",
                 "address1", "address2", "city", "state_province", "postal_code", "country", "product_interest",
                 "brand", "source", "campaign", "comments", "ip_address", "opt_in_email", "opt_in_phone",
                 "opt_in_sms", "opt_in_post", "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content",
                 "owner"]


@extend_schema_field(OpenApiTypes.INT)
class DealerPersonField(serializers.PrimaryKeyRelatedField):
    """A user id of someone who works for the key's dealer, by the rule a lead's
    owner follows everywhere (apps.leads.rules.owner_violations). Anyone else,
    and an inactive user, is "no person with this id at this dealer", so a key
    learns nothing about other dealers' people."""

    default_error_messages = {
        "does_not_exist": "There is no person with id {pk_value} at this dealer.",
        "incorrect_type": "Give a person's user id (a number).",
    }

    def __init__(self, **kwargs):
        number = "Give a person's user id (a whole number from 1)."
        kwargs.setdefault("pk_field", serializers.IntegerField(min_value=1, max_value=BIGGEST_ID, error_messages={
            "invalid": number, "min_value": number, "max_value": number, "max_string_length": number}))
        super().__init__(**kwargs)

    def get_queryset(self):
        return get_user_model().objects.filter(is_active=True)

    def to_internal_value(self, data):
        person = super().to_internal_value(data)
        if owner_violations(person, self.context["request"].auth.dealer):
            self.fail("does_not_exist", pk_value=data)
        return person


class LeadCreateSerializer(CountryFieldMixin, serializers.ModelSerializer):
    owner = DealerPersonField(required=False, allow_null=True,
                              help_text="A user id of the dealer's people; leave it out to let the dealer's "
                                        "assignment rules choose.")

    class Meta:
        model = Lead
        fields = CREATE_FIELDS
        # The model's constraints (one lead per reference at a dealer...) are checked by
        # full_clean in the view, with the dealer set, as the admin's form does.
        validators = []


class StatusChangeInSerializer(serializers.Serializer):
    """A status or stage change: the fields of the workbench's outcome form
    (apps.leads.forms.StatusChangeForm). Reason and stage are ids of the dealer's
    own (GET /api/v1/reasons/ and /stages/)."""

    # The status and the probability are checked by the status service, in its
    # words (apps.leads.rules.status_change_violations), as on the workbench; here
    # only their type. Reason and stage are looked up at the key's dealer (views).
    to_status = serializers.CharField(help_text=f"One of: {', '.join(Status.values)}.")
    reason = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=BIGGEST_ID)
    stage = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=BIGGEST_ID)
    probability = serializers.IntegerField(required=False, allow_null=True, max_value=10**6, min_value=-10**6)
    sub_status = serializers.CharField(required=False, allow_blank=True, max_length=100, default="")
    comment = serializers.CharField(required=False, allow_blank=True, default="")
    # The outcome facts a vendor may need with it (apps.leads.services.OUTCOME_FIELDS):
    # only those sent are changed on the lead.
    customer_contacted = serializers.BooleanField(required=False, allow_null=True)
    customer_previously_known = serializers.BooleanField(required=False, allow_null=True)
    opportunity_amount = serializers.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False,
                                                  allow_null=True)
    currency = serializers.RegexField(r"^[A-Za-z]{3}$", required=False, allow_blank=True,
                                      error_messages={"invalid": "Give a three-letter ISO 4217 currency (USD)."})
    target_date = serializers.DateField(required=False, allow_null=True)
    rating = serializers.ChoiceField(choices=["", "High", "Medium", "Low"], required=False)
    customer_number = serializers.CharField(max_length=40, required=False, allow_blank=True)
    quote_id = serializers.CharField(max_length=255, required=False, allow_blank=True)
    quote_sent_date = serializers.DateField(required=False, allow_null=True)

    OUTCOME_FIELDS = ("customer_contacted", "customer_previously_known", "opportunity_amount", "currency",
                      "target_date", "rating", "customer_number", "quote_id", "quote_sent_date")


class NoteInSerializer(serializers.Serializer):
    # Length and emptiness are the service's rules (lead_add_note), with its messages.
    text = serializers.CharField(allow_blank=True, trim_whitespace=False)


class FollowUpScheduleInSerializer(serializers.Serializer):
    """A new follow-up (the workbench's "Schedule" form)."""

    kind = serializers.ChoiceField(choices=FollowUpKind.choices, default=FollowUpKind.CALL)
    scheduled_at = serializers.DateTimeField()
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    assigned_to = DealerPersonField(required=False, allow_null=True,
                                    help_text="A user id of the dealer's people; the lead's owner if left out.")


class FollowUpCompleteInSerializer(serializers.Serializer):
    """What happened, and optionally the next follow-up (the workbench's "Done" form)."""

    outcome_notes = serializers.CharField()
    next_at = serializers.DateTimeField(required=False, allow_null=True)
    next_kind = serializers.ChoiceField(choices=FollowUpKind.choices, required=False, allow_null=True)


class FollowUpResultSerializer(serializers.Serializer):
    followup = FollowUpSerializer()
    next = FollowUpSerializer(allow_null=True)


class ReasonMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = ReasonMapping
        fields = ["vendor", "vendor_value", "vendor_code"]


class ReasonSerializer(serializers.ModelSerializer):
    mappings = ReasonMappingSerializer(many=True, read_only=True)

    class Meta:
        model = Reason
        fields = ["id", "kind", "label", "requires_comment", "active", "position", "mappings"]


class StageMappingSerializer(serializers.ModelSerializer):
    class Meta:
        model = StageMapping
        fields = ["vendor", "vendor_value", "probability"]


class StageSerializer(serializers.ModelSerializer):
    mappings = StageMappingSerializer(many=True, read_only=True)

    class Meta:
        model = SalesStage
        fields = ["id", "name", "position", "default_probability", "active", "mappings"]


class ErrorSerializer(serializers.Serializer):
    field = serializers.CharField(help_text='The input field at fault; "" for the request as a whole.')
    code = serializers.CharField()
    message = serializers.CharField()


class ErrorsSerializer(serializers.Serializer):
    errors = ErrorSerializer(many=True)
