"""Aimbase Lead API (shared/vendor-docs/aimbase-lead-api.txt, aimbase-related-apis.md)."""
from apps.vendors.base import MappingList, SettingField, VendorAdapter

DOC = "aimbase-lead-api.txt"
DISPOSITION_STATUSES = ("Viewed", "Assigned", "Working", "Sold", "Lost", "Abandoned")


class AimbaseAdapter(VendorAdapter):
    kind = "aimbase"
    verbose_name = "Aimbase Lead API"
    document = DOC
    settings_fields = (
        SettingField("username", "API username"),
        SettingField("token", "API token", secret=True),
        SettingField("manufacturer", "Manufacturer code", help_text="Sent as ?manufacturer=CODE."),
        SettingField("format", "Payload format", required=False, default="json", help_text="json or xml."),
    )
    status_list = MappingList("Aimbase disposition status", False, DISPOSITION_STATUSES, "Lead Disposition API")
