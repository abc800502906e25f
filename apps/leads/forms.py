"""Forms of the lead screens. Each shows the rule's Violations on its fields."""
from __future__ import annotations

import copy

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import ErrorList
from django.utils.html import format_html, format_html_join

from apps.accounts.admin_scoping import scoped_users
from apps.vendors.core.registry import ADAPTERS, adapter_class

from .models import FollowUpKind, ImportKind, Reason, ReasonMapping, SalesStage, StageMapping, StatusMapping
from .services import StatusChange
from .statuses import Status, allowed_targets


def add_violations(form: forms.Form, violations, field_map: dict[str, str] | None = None) -> None:
    """Put each Violation on its form field (or on the form when it has none), its
    detail (a vendor's own wording) kept for DetailedErrorList's secondary line."""
    field_map = field_map or {}
    for v in violations:
        name = field_map.get(v.field, v.field)
        error = v.message
        if v.detail:
            # The detail travels as a param; Django formats message % params, so a
            # literal % in the message is doubled to come out as it was.
            error = ValidationError(v.message.replace("%", "%%"), code=v.code, params={"detail": v.detail})
        form.add_error(name if name in form.fields else None, error)


def error_items(errors) -> list[dict]:
    """An ErrorList as [{"message", "detail"}]: what the page and the workbench's
    live check show (the detail "" when the message says it all)."""
    items = []
    for error in errors.as_data():
        params = error.params if isinstance(error.params, dict) else {}
        message = error.message % params if params else error.message
        items.append({"message": str(message), "detail": str(params.get("detail", ""))})
    return items


class DetailedErrorList(ErrorList):
    """Each error in plain words, and under it, smaller, the vendor's own wording
    (its field name and document reference) when a vendor rule raised it."""

    def render(self, template_name=None, context=None, renderer=None):
        if not self.data:
            return ""
        return format_html('<ul class="{}">{}</ul>', self.error_class, format_html_join(
            "", "<li>{}{}</li>", ((item["message"], format_html('<span class="error-detail">{}</span>',
                                                                 item["detail"]) if item["detail"] else "")
                                  for item in error_items(self))))

    __str__ = render


YES_NO_UNKNOWN = [("", "Unknown"), ("true", "Yes"), ("false", "No")]


def _tri_state(value):
    return {"true": True, "false": False}.get(value)


class NoteForm(forms.Form):
    """A plain note on a lead (services.lead_add_note)."""

    text = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3}), max_length=4000,
                           help_text="For your team: not a follow-up, not sent to any vendor.")


class LinkCustomerForm(forms.Form):
    """Two leads are the same customer (apps/leads/customers.link_customers)."""

    other = forms.IntegerField(label="Same customer as lead #", min_value=1,
                               help_text="The number of another lead of this dealer (shown as #123 in lists).")

    def __init__(self, *args, leads=None, lead=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.leads, self.lead = leads, lead  # the leads the person may see; this lead

    def clean_other(self):
        number = self.cleaned_data["other"]
        other = self.leads.filter(pk=number).first() if self.leads is not None else None
        if other is None:
            raise ValidationError(f"There is no lead #{number} you can see.")
        if other.pk == self.lead.pk:
            raise ValidationError("Choose another lead than this one.")
        if other.dealer_id != self.lead.dealer_id:
            raise ValidationError(f"Lead #{number} belongs to another dealer.")
        return other


class AssignForm(forms.Form):
    owner = forms.ModelChoiceField(queryset=None, label="Assign to")

    def __init__(self, *args, user, allow_nobody=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = scoped_users(user)
        if allow_nobody:  # the workbench's owner picker: empty means unassigned
            self.fields["owner"].required = False
            self.fields["owner"].empty_label = "Nobody (unassigned)"


class FollowUpScheduleForm(forms.Form):
    """A new follow-up (services.followup_schedule)."""

    kind = forms.ChoiceField(choices=FollowUpKind.choices, initial=FollowUpKind.CALL)
    scheduled_at = forms.DateTimeField(label="When", widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    notes = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}), label="What to do")


class FollowUpCompleteForm(forms.Form):
    """Complete an open follow-up with what happened, and optionally set the next one
    (services.followup_complete)."""

    followup = forms.IntegerField(widget=forms.HiddenInput)
    outcome_notes = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), label="What happened")
    next_at = forms.DateTimeField(required=False, label="Next follow-up", widget=forms.DateTimeInput(
        attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"))
    next_kind = forms.ChoiceField(choices=[("", "same kind")] + list(FollowUpKind.choices), required=False,
                                  label="Next kind")


class StatusChangeForm(forms.Form):
    """A status change with the facts vendors need alongside it (services.OUTCOME_FIELDS)."""

    to_status = forms.ChoiceField(label="New status")
    stage = forms.ModelChoiceField(queryset=SalesStage.objects.none(), required=False, label="Sales stage")
    probability = forms.IntegerField(min_value=0, max_value=100, required=False, label="Probability %")
    reason = forms.ModelChoiceField(queryset=Reason.objects.none(), required=False)
    sub_status = forms.CharField(max_length=100, required=False, label="Sub-status")
    comment = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)
    customer_contacted = forms.TypedChoiceField(choices=YES_NO_UNKNOWN, coerce=_tri_state, empty_value=None,
                                                required=False, label="Customer contacted?")
    customer_previously_known = forms.TypedChoiceField(choices=YES_NO_UNKNOWN, coerce=_tri_state, empty_value=None,
                                                       required=False, label="Customer already known?")
    opportunity_amount = forms.DecimalField(max_digits=16, decimal_places=2, min_value=0, required=False)
    currency = forms.CharField(max_length=3, required=False)
    target_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    rating = forms.ChoiceField(choices=[("", "—"), ("High", "High"), ("Medium", "Medium"), ("Low", "Low")],
                               required=False)
    customer_number = forms.CharField(max_length=40, required=False, label="Dealer customer number")
    quote_id = forms.CharField(max_length=255, required=False)
    quote_sent_date = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))

    OUTCOME_FIELDS = ("customer_contacted", "customer_previously_known", "opportunity_amount", "currency",
                      "target_date", "rating", "customer_number", "quote_id", "quote_sent_date")

    def __init__(self, *args, lead, **kwargs):
        kwargs.setdefault("error_class", DetailedErrorList)
        super().__init__(*args, **kwargs)
        self.lead = lead
        labels = dict(Status.choices)
        self.fields["to_status"].choices = [(s, labels[s]) for s in Status.values if s in allowed_targets(lead.status)]
        self.fields["stage"].queryset = SalesStage.objects.filter(dealer_id=lead.dealer_id, active=True)
        self.fields["reason"].queryset = Reason.objects.filter(dealer_id=lead.dealer_id, active=True)
        for name in self.OUTCOME_FIELDS:
            value = getattr(lead, name)
            self.initial.setdefault(name, {True: "true", False: "false"}.get(value, value)
                                    if isinstance(value, bool) or value is None else value)
        if not lead.currency:
            self.initial["currency"] = lead.dealer.default_currency

    def status_change(self, *, actor):
        """The StatusChange this valid form asks for, by `actor`: what the admin's
        "Change status" screen and the workbench hand to
        services.lead_apply_status_change (and its check without writing)."""
        data = self.cleaned_data
        return StatusChange(to_status=data["to_status"], reason=data["reason"], stage=data["stage"],
                            probability=data["probability"], sub_status=data["sub_status"] or "",
                            comment=data["comment"] or "", updates=self.outcome_updates(), actor=actor)

    def outcome_updates(self) -> dict:
        return {name: self.cleaned_data.get(name) if name != "currency" else (self.cleaned_data.get(name) or "").upper()
                for name in self.OUTCOME_FIELDS if name in self.cleaned_data}


class HeldCompleteForm(forms.Form):
    """What staff add so a held vendor update can go (services.lead_complete_held_update):
    only the fields it waits for (`needs`), each required, defined as on the outcome form."""

    item = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, lead, needs, **kwargs):
        kwargs.setdefault("error_class", DetailedErrorList)
        super().__init__(*args, **kwargs)
        self.lead = lead
        for name in needs:
            if name in StatusChangeForm.base_fields:
                self.fields[name] = copy.deepcopy(StatusChangeForm.base_fields[name])
                self.fields[name].required = True

    def outcome_updates(self) -> dict:
        return {name: (value or "").upper() if name == "currency" else value
                for name, value in self.cleaned_data.items() if name in StatusChangeForm.OUTCOME_FIELDS}


def _vendor_value_choices(kind_of_list: str, reason_kind: str | None = None, dealer_id: int | None = None):
    """Grouped <select> choices of every vendor's fixed values for one list, and
    of the values a vendor organisation defines itself (fetched for the dealer's
    accounts, e.g. Capillary's sub-statuses as stages)."""
    groups = [("", "---------")]
    for kind in ADAPTERS:
        cls = adapter_class(kind)
        if kind_of_list == "reason":
            lists = [cls.reason_lists[reason_kind]] if reason_kind in cls.reason_lists else (
                list(cls.reason_lists.values()) if reason_kind is None else [])
        elif kind_of_list == "stage":
            lists = [cls.stage_list] if cls.stage_list else []
        else:
            lists = [cls.status_list] if cls.status_list else []
        values = sorted({v for mapping_list in lists for v in mapping_list.choices})
        if not values and kind_of_list == "stage" and cls.stage_list is not None:
            values = cls.mapping_values("stage", dealer_id)
        if values:
            groups.append((cls.verbose_name, [(v, v) for v in values]))
    return groups


class ReasonMappingForm(forms.ModelForm):
    class Meta:
        model = ReasonMapping
        fields = ["vendor", "vendor_value", "vendor_code"]

    def __init__(self, *args, reason_kind=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vendor_value"] = forms.ChoiceField(
            choices=_vendor_value_choices("reason", reason_kind), required=False,
            help_text="The vendor's standard value (Cat).")
        self.fields["vendor_code"].help_text = "Or the vendor's id (Capillary reason id)."


class StageMappingForm(forms.ModelForm):
    class Meta:
        model = StageMapping
        fields = ["vendor", "vendor_value", "probability"]

    def __init__(self, *args, dealer_id=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vendor_value"] = forms.ChoiceField(choices=_vendor_value_choices("stage", dealer_id=dealer_id))


class StatusMappingForm(forms.ModelForm):
    class Meta:
        model = StatusMapping
        fields = ["dealer", "status", "vendor", "vendor_value", "vendor_sub_status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["vendor_value"] = forms.ChoiceField(choices=_vendor_value_choices("status"))


class ImportUploadForm(forms.Form):
    """The admin's CSV upload: what the file holds, and the file."""

    kind = forms.ChoiceField(choices=ImportKind.choices, initial=ImportKind.LEADS, widget=forms.RadioSelect,
                             label="The file holds")
    file = forms.FileField(label="CSV file", help_text="UTF-8 (Excel: \"CSV UTF-8\"), comma- or semicolon-"
                                                       "separated, the first line naming the columns.")
