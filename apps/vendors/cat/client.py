"""HTTP calls of the Cat PP+ Lead API V2, with the document's paths.

base_url is the root of the host as the document writes it
(https://services.cat.com); the paths below are the document's own.
"""
from __future__ import annotations

import json

from apps.vendors.base import VendorError
from apps.vendors.http import RawResponse, VendorHTTP

from . import auth

LEADS_PATH = "/marketing/ecrm/leadManagement/v2/leads"
HISTORIC_PATH = LEADS_PATH + "/historic"
MAX_LIMIT = 100  # "Max limit will be set to 100"


class CatClient:
    def __init__(self, account, http: VendorHTTP):
        self.account = account
        self.http = http
        self.base = account.base_url.rstrip("/")

    def _call(self, method: str, path: str, **kwargs) -> RawResponse:
        """One call with the bearer token; on 401 a new token once, then the call again."""
        for attempt in (1, 2):
            token = auth.get_token(self.account, self.http, force=attempt == 2)
            headers = {"Authorization": f"Bearer {token}", "Accept": "application/json",
                       "Content-Type": "application/json"}
            response = self.http.request(method, self.base + path, headers=headers, **kwargs)
            if response.status_code != 401:
                return response
            auth.forget_token(self.account)
        raise VendorError(f"{response.request}: 401 {message_of(response)} even with a new token; "
                          "check the account's credentials.", permanent=True, status=401)

    def get_leads(self, limit: int = MAX_LIMIT) -> RawResponse:
        return checked(self._call("GET", LEADS_PATH, params={"limit": min(limit, MAX_LIMIT)}))

    def get_historic(self, startdate: str, enddate: str, offset: int, limit: int = MAX_LIMIT) -> RawResponse:
        return checked(self._call("GET", HISTORIC_PATH, params={
            "startdate": startdate, "enddate": enddate, "offset": offset, "limit": min(limit, MAX_LIMIT)}))

    def post_updates(self, items: list[dict]) -> RawResponse:
        """POST a JSON array of updates; the caller reads 200/400 itself."""
        body = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
        response = self._call("POST", LEADS_PATH, data=body)
        if response.status_code in (200, 201, 204, 400):
            return response
        return checked(response)


def checked(response: RawResponse) -> RawResponse:
    """Pass 200/204 through; classify every other answer (document: "Error
    Architecture": 400 invalid parameters, 401, 403, 404, 500 "Try again if you like")."""
    code = response.status_code
    if code in (200, 204):
        return response
    text = f"{response.request}: {code} {message_of(response)}"
    if code == 429 or code >= 500:
        raise VendorError(text, permanent=False, status=code, retry_after=response.retry_after())
    raise VendorError(text, permanent=True, status=code)


def message_of(response: RawResponse) -> str:
    """Cat's errors are JSON objects with a "message"."""
    try:
        data = json.loads(response.body)
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])[:500]
    except ValueError:
        pass
    return response.body[:200].decode("utf-8", errors="replace").strip() or "(empty body)"
