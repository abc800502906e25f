"""CAP Gateway lead submission v1 (shared/vendor-docs/cap-gateway-lead-submission.txt)."""
from apps.vendors.base import EndpointPreset, SettingField, VendorAdapter

DOC = "cap-gateway-lead-submission.txt"


class CapGatewayAdapter(VendorAdapter):
    kind = "cap"
    verbose_name = "CAP Gateway lead submission"
    document = DOC
    settings_fields = (
        SettingField("api_key", "API key (X-API-Key)", secret=True),
        SettingField("campaign_id", "Campaign id (GUID)"),
    )
    endpoint_presets = {
        # The document lists no QA URL.
        "production": EndpointPreset("CAP production", "https://api.cap-gateway.com"),
    }
