"""The one CAP Gateway call, and how its answers are read (in one place).

base_url is the host root (https://api.cap-gateway.com); SUBMIT_PATH is the
document's path. Answers (document, "Error codes"): 202 accepted, 400
validation error, 401 invalid token, 500 internal error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from apps.vendors.core.http import RawResponse, VendorHTTP

from . import rules

SUBMIT_PATH = "/lead-submission/v1/external"


class CapClient:
    def __init__(self, account, http: VendorHTTP):
        self.http = http
        self.url = account.base_url.rstrip("/") + SUBMIT_PATH
        self.api_key = account.secrets.get("api_key") if account.secrets else ""

    def submit(self, payload: dict) -> RawResponse:
        """POST one enquiry. Raises VendorError on a transport failure only."""
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json", "X-API-Key": self.api_key or ""}
        return self.http.request("POST", self.url, data=body, headers=headers)


@dataclass
class Answer:
    """CAP's answer to one submission, classified.

    kind: "accepted" (2xx: never send it again), "refused" (400 and other 4xx, or a
    2xx whose body says "success": false and names no enquiry: the lead must change first), "credentials" (401), "retry" (429, 5xx).
    """

    kind: str
    status: int
    messages: list[str] = field(default_factory=list)
    result: dict = field(default_factory=dict)
    readable: bool = True
    body_text: str = ""

    @property
    def text(self) -> str:
        return "; ".join(self.messages) or self.body_text or "(empty body)"

    def as_response(self) -> dict:
        """What is kept on the outbox item (and shown on the lead's timeline)."""
        kept = {"status": self.status, "messages": self.messages, "result": self.result}
        if not self.readable:
            kept["unreadable_body"] = self.body_text
        return kept


def read_answer(raw: RawResponse) -> Answer:
    text = raw.body.decode("utf-8", errors="replace")
    try:
        data = json.loads(raw.body) if raw.body.strip() else None
        readable = isinstance(data, dict)
    except (ValueError, UnicodeDecodeError):
        data, readable = None, False
    messages, result = rules.parse_answer(data)
    code = raw.status_code
    if 200 <= code < 300:
        # The document's "Failed response example" is {"success": false, "messages":
        # [...], "result": {..., "enquiryReferenceCode": null}} and does not say with
        # which status it comes: a 2xx saying so, with no enquiry made, is a refusal
        # (never recorded as sent). An enquiry reference means CAP made one: accepted.
        failed = isinstance(data, dict) and data.get("success") is False
        kind = "refused" if failed and not result.get("enquiryReferenceCode") else "accepted"
    elif code == 401:
        kind = "credentials"
    elif code == 429 or code >= 500:
        kind = "retry"
    else:
        kind = "refused"
    return Answer(kind, code, messages, result, readable, "" if readable else text[:2000])
