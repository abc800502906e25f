"""CAP Gateway lead submission v1 (shared/vendor-docs/cap-gateway-lead-submission.txt).

Submit only: a dealer's own lead is POSTed as one enquiry (payloads.py, checked
by rules.py); CAP answers 202 with its references, which are kept on the lead.
There is nothing to pull and no status to report. Decisions: docs/vendors/cap.md.

Never twice: CAP's document offers no idempotency key and no way to look an
enquiry up, so a submission whose request may have reached CAP without LeadHub
reading the answer (a read timeout, a connection reset after sending, a worker
killed mid-request) is not resent automatically: it is held as failed, shown
on the lead, alerted, and resent only by "Retry now" (or automatically when the
account's resend_when_answer_lost setting says CAP de-duplicates on
externalReferenceId). A request that never reached CAP, a 429 and a 5xx are
retried by the outbox with backoff.
"""
from __future__ import annotations

from django.utils import timezone

from apps.vendors.core.base import EndpointPreset, SettingField, VendorAdapter, VendorError

from . import payloads, rules
from .client import CapClient, read_answer

DOC = "cap-gateway-lead-submission.txt"
# Left on an item (committed) just before its request goes out; replaced by
# whatever the attempt ends with. Finding it on a claimed item means a worker
# died after sending: CAP may have the lead.
STARTED = "request_started_at"
YES = ("1", "yes", "true", "on")


class CapGatewayAdapter(VendorAdapter):
    kind = "cap"
    verbose_name = "CAP Gateway lead submission"
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
        from apps.leads.models import Lead

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
    def send(self, http, items):
        """One POST per item, in order. Stops at the first answer that says CAP
        cannot take anything now (401, 429, 5xx): the rest are not sent."""
        from apps.sync.engine import SendOutcome

        client = CapClient(self.account, http)
        outcomes, credentials, lost = [], [], []
        for index, item in enumerate(items):
            outcome = self._send_one(client, item)
            outcomes.append(outcome)
            if outcome.status == 401:
                credentials.append(item)
            elif (outcome.response or {}).get("answer_lost"):
                lost.append(item)
            if outcome.status == 401 or (not outcome.ok and not outcome.permanent):
                held = SendOutcome(False, permanent=outcome.permanent, status=None,
                                   message=f"not sent: CAP answered an earlier lead with {outcome.message}",
                                   response={"not_sent": True})
                outcomes += [held] * (len(items) - index - 1)
                credentials += items[index + 1:] if outcome.status == 401 else []
                break
        if credentials:
            self._alert_credentials(credentials, outcomes[items.index(credentials[0])].message)
        if lost:
            self._alert_lost(lost)
        return outcomes

    def _send_one(self, client: CapClient, item):
        from apps.sync.engine import SendOutcome
        from apps.sync.models import OutboxItem

        resend = str((self.account.options or {}).get("resend_when_answer_lost", "")).strip().lower() in YES
        if (item.response or {}).get(STARTED) and not resend:
            return _lost(f"the worker sending it stopped after its request left (at {item.response[STARTED]})")
        OutboxItem.objects.filter(pk=item.pk).update(response={STARTED: timezone.now().isoformat()})
        try:
            raw = client.submit(item.payload)
        except VendorError as exc:
            if exc.received_status is not None and 200 <= exc.received_status < 300:
                # CAP said 202 before the body was cut: accepted, references unknown.
                return SendOutcome(True, status=exc.received_status,
                                   response={"status": exc.received_status, "messages": [], "result": {},
                                             "unreadable_body": exc.message})
            if exc.reached is False or resend or (exc.received_status or 0) >= 500:
                return SendOutcome(False, permanent=False, message=exc.message, status=exc.received_status,
                                   response={"not_sent" if exc.reached is False else "error": exc.message})
            return _lost(exc.message)
        answer = read_answer(raw)
        response = answer.as_response()
        if answer.kind == "accepted":
            return SendOutcome(True, status=answer.status, response=response)
        if answer.kind == "retry":
            return SendOutcome(False, permanent=False, status=answer.status, retry_after=raw.retry_after(),
                               message=f"CAP answered {answer.status}: {answer.text}", response=response)
        if answer.kind == "credentials":
            return SendOutcome(False, permanent=True, status=401, response=response,
                               message=f"CAP refused the API key (401: {answer.text}); fix the account's API key, "
                                       "then use Retry now on the outbox: the lead is kept.")
        return SendOutcome(False, permanent=True, status=answer.status, response=response,
                           message=f"CAP refused the lead ({answer.status}): {answer.text}")

    def _alert_credentials(self, items, message: str) -> None:
        from apps.sync import alerts
        from apps.sync.models import OutboxItem, OutboxState

        already = OutboxItem.objects.filter(account=self.account, state=OutboxState.FAILED, last_status_code=401,
                                            alerted_at__isnull=False).exists()
        if already or alerts.send_alert(self.account, "CAP refused the API key (401)", (
                f"{message}\n\n{len(items)} lead(s) were not submitted and are kept: "
                + ", ".join(str(item.lead_id) for item in items))) is False:
            return
        OutboxItem.objects.filter(pk__in=[item.pk for item in items]).update(alerted_at=timezone.now())

    def _alert_lost(self, items) -> None:
        from apps.sync import alerts

        alerts.send_alert(self.account, "submission answer lost", (
            "LeadHub sent these leads to CAP but did not read CAP's answer, so CAP may or may not have them. "
            "They were not resent automatically (CAP's document offers no way to send one twice safely). "
            "Ask CAP whether it has an enquiry with these externalReferenceIds; if not, use Retry now.\n\n"
            + "\n".join(f"- lead {item.lead_id} (externalReferenceId {item.lead_id}, outbox {item.pk})"
                        for item in items)))


def _lost(why: str):
    from apps.sync.engine import SendOutcome

    return SendOutcome(False, permanent=True, message=(
        f"CAP may have received this lead but its answer was lost ({why}). Not resent automatically, to never "
        "create a second enquiry: ask CAP about externalReferenceId, then Retry now to resend if it has none."),
        response={"answer_lost": True, "why": why})
