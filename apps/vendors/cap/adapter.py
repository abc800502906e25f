"""CAP Gateway lead submission v1 (shared/vendor-docs/cap-gateway-lead-submission.txt).

Submit only: a dealer's own lead is POSTed as one enquiry (payloads.py, checked
by rules.py); CAP answers 202 with its references, which are kept on the lead.
There is nothing to pull and no status to report. Decisions: docs/vendors/cap.md.

Never twice: CAP's document offers no idempotency key and no way to look an
enquiry up, so a submission whose request may have reached CAP without LeadHub
reading the answer (a read timeout, a connection reset after sending, a worker
killed mid-request) is not resent automatically (unconfirmed_policy HOLD: the
engine holds it as failed, shown on the lead, alerted; "Retry now" resends),
unless the account's resend_when_answer_lost setting says CAP de-duplicates on
externalReferenceId. A request that never reached CAP, a 429 and a 5xx are
retried by the outbox with backoff.
"""
from __future__ import annotations

from django.utils import timezone

from apps.leads.models import Lead
from apps.vendors.core.base import HOLD, RESEND, EndpointPreset, SettingField, VendorAdapter

from . import outbound, payloads, rules
from .client import CapClient

DOC = "cap-gateway-lead-submission.txt"
YES = ("1", "yes", "true", "on")


class CapGatewayAdapter(VendorAdapter):
    kind = "cap"
    verbose_name = "CAP Gateway lead submission"
    staff_name = "CAP"
    document = DOC
    supports_submit = True
    settings_fields = (
        SettingField("api_key", "API key (X-API-Key)", secret=True),
        SettingField("campaign_id", "Campaign id (GUID)", help_text="The campaign's GUID, issued by CAP."),
        SettingField("enquiry_type", "Enquiry type", default="Retailer Contact",
                     help_text="Sent for every lead unless the lead names its own. One of: "
                               + ", ".join(rules.ENQUIRY_TYPES) + "."),
        SettingField("required_fields", "Fields this campaign requires", required=False,
                     help_text="Comma-separated, among: " + ", ".join(rules.REQUIRABLE)
                               + " (the document: phone and postcode are \"Required for certain campaigns\")."),
        SettingField("acquisition_channel", "Default acquisition channel", required=False,
                     help_text="enquirySource.acquisitionChannel when the lead has no UTM source or source."),
        SettingField("resend_when_answer_lost", "Resend when CAP's answer was lost", required=False, default="no",
                     help_text="yes only if CAP confirmed it de-duplicates on externalReferenceId; otherwise a "
                               "submission CAP may have received is held for a person to check (Retry now)."),
    )
    endpoint_presets = {
        # The document lists no QA URL.
        "production": EndpointPreset("CAP production", "https://api.cap-gateway.com"),
    }

    # --- building and checking --------------------------------------------------------
    def build_submission(self, lead):
        return payloads.build_submission(lead, self.account.options or {})

    @classmethod
    def validate_outbound(cls, items):
        return rules.validate_batch(items)

    def describe_outbox_item(self, item) -> str:
        done = ((item.lead.submission_extras or {}).get("cap") or {}).get("submissions", {}).get(self.account.name)
        if done:
            code = done.get("enquiryReferenceCode") or "with no enquiry reference in CAP's answer"
            return f"lead submitted, enquiry {code}, request {done.get('requestReferenceId') or '—'}"
        return super().describe_outbox_item(item)

    def after_sent(self, item, outcome) -> None:
        """Keep CAP's references on the lead: submission_extras["cap"]["submissions"][account]."""
        result = (outcome.response or {}).get("result") or {}
        lead = Lead.objects.select_for_update().get(pk=item.lead_id)
        extras = dict(lead.submission_extras or {})
        cap = dict(extras.get("cap") or {})
        cap["submissions"] = {**(cap.get("submissions") or {}), self.account.name: {
            "requestReferenceId": result.get("requestReferenceId"),
            "enquiryReferenceCode": result.get("enquiryReferenceCode"),
            "accepted_at": timezone.now().isoformat(timespec="seconds"),
            "status": outcome.status,
        }}
        extras["cap"] = cap
        lead.submission_extras = extras
        lead.save(update_fields=["submission_extras", "updated_at"])
        item.lead.submission_extras = extras

    # --- sending ----------------------------------------------------------------------
    def unconfirmed_policy(self, item) -> str:
        """CAP's document offers no idempotency key and no look-up: a submission
        CAP may have received is never resent automatically (HOLD) unless the
        account says CAP de-duplicates on externalReferenceId."""
        resend = str((self.account.options or {}).get("resend_when_answer_lost", "")).strip().lower() in YES
        return RESEND if resend else HOLD

    def hold_advice(self, item) -> str:
        return (f"ask CAP about externalReferenceId {item.lead_id}; if CAP has no such enquiry, use Retry now to "
                "send it again.")

    def send(self, http, items):
        """One POST per item (the engine sends one item per request and stops at
        the first answer that says CAP cannot take anything now)."""
        client = CapClient(self.account, http)
        return [outbound.send_one(client, item) for item in items]
