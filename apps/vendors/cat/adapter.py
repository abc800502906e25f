"""Caterpillar PP+ Lead API V2 (shared/vendor-docs/cat-pp-lead-api-v2.txt)."""
from apps.vendors.base import EndpointPreset, MappingList, SettingField, VendorAdapter

from . import rules

DOC = "cat-pp-lead-api-v2.txt"


class CatAdapter(VendorAdapter):
    kind = "cat"
    verbose_name = "Caterpillar PP+ Lead API V2"
    document = DOC
    uses_token_url = True
    settings_fields = (
        SettingField("client_id", "Client ID", help_text="PingFederate client id issued by Cat IAM."),
        SettingField("client_secret", "Client secret", secret=True),
        SettingField("scope", "OAuth scope", default="manage:all",
                     help_text="The document's token request sends scope=manage:all."),
    )
    # "Testing Procedures" and "Production Information" of the document. The QA
    # service host changed on 06/05/2023 (modification history) to services-stg.
    endpoint_presets = {
        "qa": EndpointPreset("Cat QA", "https://services-stg.cat.com", "https://fedloginqa.cat.com/as/token.oauth2"),
        "production": EndpointPreset("Cat production", "https://services.cat.com", "https://fedlogin.cat.com/as/token.oauth2"),
    }
    # "Dealer Mapping: Rejection Reason, Disqualification Reason, Closed Lost
    # Reason, Sales Stage" are required. primaryClosedReason is optional for
    # Closed Won (04/08/2021) and Closed No Deal, so those mappings are optional.
    reason_lists = {
        "rejection": MappingList("Cat rejectedReasonWhy", True, tuple(rules.REJECTION_REASONS), "rejectedReasonWhy"),
        "disqualification": MappingList("Cat disqualifiedReasonWhy", True, tuple(rules.DISQUALIFICATION_REASONS),
                                        "disqualifiedReasonWhy"),
        "closed_lost": MappingList("Cat primaryClosedReason", True, tuple(rules.CLOSED_REASONS), "primaryClosedReason"),
        "closed_won": MappingList("Cat primaryClosedReason", False, tuple(rules.CLOSED_REASONS), "primaryClosedReason"),
        "closed_no_deal": MappingList("Cat primaryClosedReason", False, tuple(rules.CLOSED_REASONS),
                                      "primaryClosedReason"),
    }
    # Open stages only: Closed Won / Lost / No Deal are lead outcomes in LeadHub.
    stage_list = MappingList(
        "Cat opportunity stage", True,
        tuple(s for s, (lo, hi) in rules.OPPORTUNITY_STAGES.items() if 0 < lo and hi < 100),
        "Caterpillar Opportunity Stages",
    )

    @staticmethod
    def probability_range(stage: str) -> tuple[int, int]:
        return rules.probability_range(stage)
