"""Capillary LMS Leads v2 (shared/vendor-docs/capillary-lms-leads-v2.md)."""
from apps.vendors.base import MappingList, SettingField, VendorAdapter

DOC = "capillary-lms-leads-v2.md"
STATUSES = ("OPEN", "WON", "LOST", "ON_HOLD", "DELETED")  # "Enums for status"


class CapillaryAdapter(VendorAdapter):
    kind = "capillary"
    verbose_name = "Capillary LMS Leads v2"
    document = DOC
    # The document says only "Authentication: Yes"; LeadHub uses HTTP Basic with
    # the organisation's API user (docs/vendors/capillary.md).
    settings_fields = (
        SettingField("username", "API username"),
        SettingField("password", "API password", secret=True),
        SettingField("org_source_id", "Org source id", required=False, default="-1",
                     help_text="orgSourceId sent with new leads; -1 is InStore."),
    )
    # Reason ids are the organisation's own (GET /leads/reasons), so mappings carry
    # the Capillary reason id in vendor_code rather than a fixed value.
    reason_lists = {
        kind: MappingList("Capillary reason id", required, (), "GET /leads/reasons")
        for kind, required in (
            ("rejection", True), ("disqualification", True), ("closed_lost", True),
            ("closed_won", False), ("closed_no_deal", False), ("on_hold", False),
        )
    }
    status_list = MappingList("Capillary lead status", True, STATUSES, "Enums for status")
