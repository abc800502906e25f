"""HTTP calls of Capillary LMS Leads v2, with the document's paths, and the one
place where Capillary's answers are classified.

base_url is the cluster root ("http://{Cluster URL}"); every path is under /v2
as the document writes it ("http://{Cluster URL}/v2/leads"). Authentication is
HTTP Basic with the organisation's API user (the document says only
"Authentication: Yes"; docs/vendors/capillary.md).
"""
from __future__ import annotations

import json

from apps.vendors.core.base import VendorError
from apps.vendors.core.http import RawResponse, VendorHTTP

API = "/v2"
LEADS = API + "/leads"
REASONS = LEADS + "/reasons"
SUBSTATUSES = LEADS + "/substatuses"  # GET
SUBSTATUS = LEADS + "/substatus"  # POST (the document's singular)
PAGE_LIMIT = 50  # "limit: Limit the number of results to be fetched" (no maximum documented)


class CapillaryClient:
    def __init__(self, account, http: VendorHTTP):
        self.account = account
        self.http = http
        self.base = account.base_url.rstrip("/")
        self.auth = (str(account.options.get("username", "")), account.secrets.get("password", ""))

    def _call(self, method: str, path: str, *, params=None, body=None) -> RawResponse:
        data = None if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.http.request(method, self.base + path, params=params, data=data, headers=headers,
                                 auth=self.auth)

    # --- reads ----------------------------------------------------------------------------
    def search(self, params: dict) -> RawResponse:
        # type=ALL as the document's Search Lead sample sends it: its table lists only
        # SKU, CATEGORY, BRAND and CUSTOM and never says what no type returns, and a
        # search limited to one type would never pull the others.
        return checked(self._call("GET", LEADS, params={"type": "ALL", **params}))

    def reasons(self) -> list[dict]:
        return data_list(checked(self._call("GET", REASONS)))

    def substatuses(self) -> list[dict]:
        return data_list(checked(self._call("GET", SUBSTATUSES)))

    # --- writes ---------------------------------------------------------------------------
    def add_reasons(self, texts: list[str]) -> list[dict]:
        return data_list(checked(self._call("POST", REASONS, body=[{"reason": t} for t in texts])))

    def add_substatus(self, status: str, sub_status: str) -> dict:
        return answer(checked(self._call("POST", SUBSTATUS, body={"status": status, "subStatus": sub_status})))

    def send(self, method: str, path: str, payload: dict) -> RawResponse:
        """A lead write; the caller classifies the answer with `outcome_of`."""
        return self._call(method, path, body=payload)


def answer(response: RawResponse) -> dict:
    """The JSON object Capillary answered; VendorError(transient) when the body is
    not one (a truncated or HTML answer from a proxy: asking again can help)."""
    try:
        data = json.loads(response.body)
    except (ValueError, UnicodeDecodeError):
        data = None
    if not isinstance(data, dict):
        raise VendorError(f"{response.request}: {response.status_code} with an unreadable body "
                          f"({response.body[:80]!r}); Capillary answers JSON objects", permanent=False,
                          status=response.status_code)
    return data


def data_list(response: RawResponse) -> list[dict]:
    data = answer(response).get("data")
    if not isinstance(data, list):
        raise VendorError(f"{response.request}: the answer has no data list", permanent=False,
                          status=response.status_code)
    return data


def problems_of(data: dict) -> tuple[list[str], list[str]]:
    """Capillary's "errors" and "warnings" arrays as text (their elements may be
    strings or objects with a message, the document shows only empty arrays)."""
    def texts(values) -> list[str]:
        out = []
        for value in values if isinstance(values, list) else []:
            if isinstance(value, dict):
                out.append(str(value.get("message") or value.get("code") or json.dumps(value))[:300])
            else:
                out.append(str(value)[:300])
        return out

    return texts(data.get("errors")), texts(data.get("warnings"))


def checked(response: RawResponse) -> RawResponse:
    """200/201 pass (unless their errors array is not empty); 429 and 5xx are
    transient (Retry-After honoured); 401/403 are the account's credentials;
    other 4xx are refusals of the request itself."""
    code = response.status_code
    if code in (200, 201):
        try:
            data = json.loads(response.body)
        except (ValueError, UnicodeDecodeError):
            return response  # the reader decides (a page is stored as received)
        errors, _ = problems_of(data) if isinstance(data, dict) else ([], [])
        if errors:
            raise VendorError(f"{response.request}: Capillary errors: {'; '.join(errors)}", permanent=True,
                              status=code)
        return response
    text = f"{response.request}: {code} {message_of(response)}"
    if code == 429 or code >= 500:
        raise VendorError(text, permanent=False, status=code, retry_after=response.retry_after())
    if code in (401, 403):
        raise VendorError(text + " (check the account's API username and password)", permanent=True, status=code)
    raise VendorError(text, permanent=True, status=code)


def message_of(response: RawResponse) -> str:
    try:
        data = json.loads(response.body)
        if isinstance(data, dict):
            errors, _ = problems_of(data)
            if errors:
                return "; ".join(errors)[:500]
            if data.get("message"):
                return str(data["message"])[:500]
    except (ValueError, UnicodeDecodeError):
        pass
    return response.body[:200].decode("utf-8", errors="replace").strip() or "(empty body)"
