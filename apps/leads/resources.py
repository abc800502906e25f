"""django-import-export resource for the admin's column-picking lead export. The
lead import is LeadHub's own (apps/leads/lead_import.py): import-export's took
13.5 ms a row and held the database for the whole preview."""
from import_export import fields, resources
from import_export.formats import base_formats

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


class ExcelCSV(base_formats.CSV):
    """import-export's CSV as the browser's "Download CSV" writes it: declared
    UTF-8 and starting with a byte-order mark, without which Excel reads the file
    in the locale's code page ("Łukasz" becomes "Å\x81ukasz")."""

    CONTENT_TYPE = "text/csv; charset=utf-8"

    def export_data(self, dataset, **kwargs):
        return "\ufeff" + super().export_data(dataset, **kwargs)


class ExcelTSV(base_formats.TSV):
    """Tab-separated, with the same UTF-8 declaration and byte-order mark."""

    CONTENT_TYPE = "text/tab-separated-values; charset=utf-8"

    def export_data(self, dataset, **kwargs):
        return "\ufeff" + super().export_data(dataset, **kwargs)


def lead_export_formats() -> list:
    """The admin's Export formats: import-export's own, with CSV and TSV replaced
    by the BOM-carrying ones above (every cell is guarded by LeadResource)."""
    replaced = {base_formats.CSV: ExcelCSV, base_formats.TSV: ExcelTSV}
    return [replaced.get(fmt, fmt) for fmt in base_formats.DEFAULT_FORMATS]
