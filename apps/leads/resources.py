"""django-import-export resource for the admin's column-picking lead export. The
lead import is LeadHub's own (apps/leads/lead_import.py): import-export's took
13.5 ms a row and held the database for the whole preview."""
from import_export import fields, resources

from apps.core.csvsafe import neutralize_cell

from .models import Lead

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
