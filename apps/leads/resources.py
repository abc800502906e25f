"""django-import-export resources for leads: export (admin), import (admin, with preview)."""
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from apps.accounts.admin_scoping import dealers_with_perm, scoped_users
from apps.accounts.models import Dealer
from apps.core.csvsafe import neutralize_cell, yes_no

from .models import Lead, Origin

EXPORT_COLUMNS = ["id", "dealer", "vendor", "account", "vendor_lead_id", "external_ref", "first_name", "last_name",
                  "email", "phone", "mobile_phone", "company", "city", "state_province", "postal_code", "country",
                  "product_interest", "source", "campaign", "status", "stage", "probability", "owner",
                  "next_follow_up_at", "first_contacted_at", "created_at", "updated_at"]


class LeadResource(resources.ModelResource):
    dealer = fields.Field(attribute="dealer__code", column_name="dealer")
    vendor = fields.Field(attribute="vendor_account__vendor", column_name="vendor")
    account = fields.Field(attribute="vendor_account__name", column_name="account")
    stage = fields.Field(attribute="sales_stage__name", column_name="stage")
    owner = fields.Field(attribute="owner__username", column_name="owner")

    class Meta:
        model = Lead
        fields = EXPORT_COLUMNS
        export_order = EXPORT_COLUMNS

    def filter_export(self, queryset, **kwargs):
        return queryset.select_related("dealer", "vendor_account", "sales_stage", "owner")

    def export_field(self, field, instance, **kwargs):
        return neutralize_cell(super().export_field(field, instance, **kwargs))


class ScopedForeignKeyWidget(widgets.ForeignKeyWidget):
    """Looks values up only in the given queryset (the importing user's scope)."""

    def __init__(self, queryset, field):
        super().__init__(queryset.model, field=field)
        self.scoped = queryset

    def get_queryset(self, value, row, *args, **kwargs):
        return self.scoped


IMPORT_COLUMNS = ["id", "dealer", "external_ref", "first_name", "last_name", "company", "email", "phone",
                  "mobile_phone", "address1", "address2", "city", "state_province", "postal_code", "country",
                  "product_interest", "brand", "source", "campaign", "owner", "comments", "ip_address",
                  "opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_post",
                  "utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content"]
CONSENT_COLUMNS = ["opt_in_email", "opt_in_phone", "opt_in_sms", "opt_in_post"]


class ConsentWidget(widgets.Widget):
    """A consent cell: yes/true/1 (opted in), no/false/0 (opted out), empty (not
    asked). Anything else is an error naming the cell, never read as "no":
    import-export's BooleanWidget would turn a typo such as "Y" into an opt-out."""

    def clean(self, value, row=None, **kwargs):
        if value is None or str(value).strip() == "":
            return None
        answer = yes_no(value)
        if answer is not None:
            return answer
        raise ValueError(f"{value!r} is not a consent answer: use yes, no, or leave it empty (not asked)")

    def render(self, value, obj=None, **kwargs):
        return {True: "yes", False: "no"}.get(value, "")


class LeadImportResource(resources.ModelResource):
    """Leads from events, walk-ins and websites, as CSV.

    A row updates an existing lead when it names its LeadHub `id`, or the same
    `external_ref` at the same dealer, or (with neither) the same e-mail among the
    dealer's non-vendor leads; otherwise it creates one (origin CSV, status New).
    Dealers and owners are looked up only among those the importing user reaches,
    and every row passes the model's validation (e-mail, country, owner works for
    the dealer), so the preview shows each error with its column.
    """

    dealer = fields.Field(attribute="dealer", column_name="dealer",
                          widget=widgets.ForeignKeyWidget(Dealer, field="code"))
    owner = fields.Field(attribute="owner", column_name="owner",
                         widget=widgets.ForeignKeyWidget(get_user_model(), field="username"))

    class Meta:
        model = Lead
        fields = IMPORT_COLUMNS
        import_order = IMPORT_COLUMNS
        clean_model_instances = True
        skip_unchanged = True
        report_skipped = True
        use_transactions = True

    def __init__(self, *, user=None, **kwargs):
        super().__init__(**kwargs)
        self.user = user
        allowed = dealers_with_perm(user, "leads.add_lead") if user is not None else None
        dealers = Dealer.objects.all() if allowed is None else Dealer.objects.filter(pk__in=allowed)
        self.fields["dealer"].widget = ScopedForeignKeyWidget(dealers, "code")
        owners = scoped_users(user) if user is not None else get_user_model().objects.all()
        self.fields["owner"].widget = ScopedForeignKeyWidget(owners, "username")
        for name in CONSENT_COLUMNS:
            self.fields[name].widget = ConsentWidget()

    def get_instance(self, instance_loader, row):
        visible = Lead.objects.filter(dealer__in=self.fields["dealer"].widget.scoped)
        if str(row.get("id") or "").strip():
            lead = visible.filter(pk=str(row["id"]).strip()).first() if str(row["id"]).strip().isdigit() else None
            if lead is None:
                raise ValidationError({"id": f"no lead {row['id']} of your dealers"})
            return lead
        code = str(row.get("dealer") or "").strip()
        ref = str(row.get("external_ref") or "").strip()
        if ref:
            return visible.filter(dealer__code__iexact=code, external_ref=ref).first()
        email = str(row.get("email") or "").strip()
        if email:
            return visible.filter(dealer__code__iexact=code, email__iexact=email,
                                  vendor_account__isnull=True).order_by("id").first()
        return None

    def import_instance(self, instance, row, **kwargs):
        dealer_before = instance.dealer_id if instance.pk else None
        super().import_instance(instance, row, **kwargs)
        if instance.pk is None:
            instance.origin = Origin.CSV
        elif instance.dealer_id != dealer_before:
            raise ValidationError({"dealer": "a lead cannot move to another dealer"})
