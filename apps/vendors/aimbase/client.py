"""HTTP calls to Aimbase, and the one place their answers are classified.

base_url is the Aimbase host's root ("https://{baseurl}" in the document); the
Disposition API lives on another host (crmintegration / crmintegrationqa), the
account's disposition_url.
"""
from __future__ import annotations

import json
import re

from apps.vendors.core.base import VendorError
from apps.vendors.core.http import RawResponse, VendorHTTP

from . import payloads

LEAD_PATH = "/marketing/api/lead"
ODATA_LEADS_PATH = "/odata/V2/Leads"
DISPOSITION_PATH = "/api/Disposition"
NO_MAPPING = re.compile(r"no corresponding .*mapping", re.IGNORECASE)


class AimbaseClient:
    def __init__(self, account, http: VendorHTTP):
        self.account = account
        self.http = http
        self.base = account.base_url.rstrip("/")
        self.options = account.options or {}
        # "Authenticate: Avala-Api {username}:{token}"
        self.auth = {"Authenticate": f"Avala-Api {self.options.get('username', '')}:"
                                     f"{account.secrets.get('token', '')}"}

    @property
    def xml(self) -> bool:
        return str(self.options.get("format") or "json").strip().lower() == "xml"

    def post_leads(self, leads: list[dict]) -> payloads.LeadResponse:
        """POST a batch; the 201's per-lead records (in submission order).

        Raises VendorError: 400 permanent (the batch is refused: Aimbase's message),
        401/403 permanent (credentials), 429/5xx transient, and a 201 that cannot
        be read transient (the leads may have been created: the adapter looks them
        up by ExternalId before it sends them again).
        """
        content_type = "application/xml" if self.xml else "application/json"
        body = payloads.to_xml(leads) if self.xml else payloads.to_json(leads)
        response = self.http.request("POST", self.base + LEAD_PATH,
                                     params={"manufacturer": self.options.get("manufacturer", "")},
                                     headers={**self.auth, "Content-Type": content_type, "Accept": content_type},
                                     data=body)
        if response.status_code != 201:
            raise error_for(response)
        try:
            return payloads.parse_lead_response(response.body)
        except payloads.ResponseUnreadable as exc:
            raise VendorError(f"{response.request}: 201 with an unreadable body ({exc}); the batch's leads "
                              "are looked up by ExternalId before any is sent again", permanent=False,
                              status=201) from None

    def find_by_external_ids(self, external_ids: list[str]) -> dict[str, str]:
        """ExternalId -> Aimbase Id of the leads Aimbase has (Lead OData API,
        GET /odata/V2/Leads with $filter).

        Raises VendorError, always transient (permanent=False), whatever went
        wrong: the items that needed the lookup stay queued (retried with backoff,
        alerted after LEADHUB_RETRY_ATTEMPTS) rather than being failed or sent
        again blind (docs/vendors/aimbase.md: "If the lookup itself fails the
        items stay queued"). A 401/403 says the account's user cannot read the
        Lead OData API (it may still post leads)."""
        if not external_ids:
            return {}
        quoted = " or ".join("ExternalId eq '{}'".format(i.replace("'", "''")) for i in external_ids)
        try:
            response = self.http.request("GET", self.base + ODATA_LEADS_PATH,
                                         params={"$filter": quoted, "$select": "Id,ExternalId"},
                                         headers={**self.auth, "Accept": "application/json"})
        except VendorError as exc:  # timeout, reset, refused connection
            raise lookup_failed(exc.message, exc.status, exc.retry_after) from None
        if response.status_code in (401, 403):
            raise lookup_failed(f"{response.request}: {response.status_code} {message_of(response)}; the account's "
                                "user cannot read the Lead OData API (give it read access to Leads, or check its "
                                "username and token)", response.status_code)
        if response.status_code != 200:
            raise lookup_failed(error_for(response).message, response.status_code, response.retry_after())
        try:
            rows = json.loads(response.body).get("value")
            assert isinstance(rows, list)
            return {str(r["ExternalId"]): str(r["Id"]) for r in rows if isinstance(r, dict) and r.get("ExternalId")}
        except (ValueError, AttributeError, AssertionError, KeyError, UnicodeDecodeError):
            raise lookup_failed(f"{response.request}: unreadable OData answer {response.body[:120]!r}", 200) from None

    def post_activity(self, activity: dict) -> dict:
        """POST one ProspectActivity to the Disposition API. Returns the answer
        (parsed when JSON). Raises VendorError; a 200 that says "No corresponding
        Aimbase status mapping" is a permanent VendorError (status 200) carrying it."""
        base = str(self.options.get("disposition_url") or "").rstrip("/")
        if not base:
            raise VendorError("the account has no Disposition API URL (disposition_url)", permanent=True)
        response = self.http.request("POST", base + DISPOSITION_PATH,
                                     params={"source": self.options.get("crm_source", "")},
                                     headers={"Content-Type": "application/json", "Accept": "application/json"},
                                     data=json.dumps(activity, ensure_ascii=False).encode("utf-8"))
        if response.status_code != 200:
            raise error_for(response)
        text = response.body.decode("utf-8", errors="replace")
        try:
            answer = json.loads(text)
        except ValueError:
            answer = {"body": text[:2000]}
        if NO_MAPPING.search(text):
            raise VendorError(f"no mapping in Aimbase: {message_of(response)}", permanent=True, status=200)
        if isinstance(answer, dict) and answer.get("Success") is False:
            raise VendorError(f"Aimbase refused the activity: {message_of(response)}", permanent=True, status=200)
        return answer if isinstance(answer, dict) else {"body": answer}


def error_for(response: RawResponse) -> VendorError:
    """Classify a non-success answer: 429 and 5xx transient (the document: "500 ...
    An unknown error occurred during the import"), the rest permanent."""
    code = response.status_code
    text = f"{response.request}: {code} {message_of(response)}"
    if code == 429 or code >= 500:
        return VendorError(text, permanent=False, status=code, retry_after=response.retry_after())
    if code in (401, 403):
        return VendorError(text + "; check the account's username and token", permanent=True, status=code)
    return VendorError(text, permanent=True, status=code)


def lookup_failed(detail: str, status: int | None, retry_after: float | None = None) -> VendorError:
    """The lookup by ExternalId could not say whether Aimbase has the leads: a
    transient error naming the lookup (never permanent: see find_by_external_ids).
    The request's $filter (up to a batch of ExternalIds) is left out of the message."""
    detail = re.sub(r"^(GET [^?\s]*)\?\S*", r"\1", detail)
    return VendorError(f"lookup by ExternalId failed ({detail})", permanent=False, status=status,
                       retry_after=retry_after)


def message_of(response: RawResponse) -> str:
    """Aimbase's message: a JSON string/object (Message, TopLevelError) or XML text."""
    body = response.body
    try:
        data = json.loads(body)
        if isinstance(data, str):
            return data[:500]
        if isinstance(data, dict):
            for key in ("Message", "message", "TopLevelError", "StatusMessage"):
                if data.get(key):
                    return str(data[key])[:500]
    except (ValueError, UnicodeDecodeError):
        pass
    text = body[:300].decode("utf-8", errors="replace")
    return re.sub(r"<[^>]+>", " ", text).strip()[:300] or "(empty body)"
