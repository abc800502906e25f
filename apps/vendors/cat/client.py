"""HTTP calls of the Cat PP+ Lead API V2, with the document's paths.

base_url is the root of the host as the document writes it
(https://services.cat.com); the paths below are the document's own.
"""
from __future__ import annotations

import json

from apps.vendors.core.base import VendorError
from apps.vendors.core.http import RawResponse, VendorHTTP

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
        # Not permanent: the document retries every answer but 200 and 204 (see checked()).
        raise VendorError(f"{response.request}: 401 {message_of(response)} even with a new token; "
                          "check the account's credentials.", permanent=False, status=401)

    def get_leads(self, limit: int = MAX_LIMIT) -> RawResponse:
        return checked(self._call("GET", LEADS_PATH, params={"limit": min(limit, MAX_LIMIT)}))

    def get_historic(self, startdate: str, enddate: str, offset: int, limit: int = MAX_LIMIT) -> RawResponse:
        return checked(self._call("GET", HISTORIC_PATH, params={
            "startdate": startdate, "enddate": enddate, "offset": offset, "limit": min(limit, MAX_LIMIT)}))

    def post_updates(self, items: list[dict]) -> RawResponse:
        """POST a JSON array of updates; the caller reads 200/400 itself (the issue:
        a 400 fails the update with Cat's message, no blind retry); every other
        answer is retried as checked() says."""
        body = json.dumps(items, ensure_ascii=False, separators=(",", ":")).encode()
        response = self._call("POST", LEADS_PATH, data=body)
        if response.status_code in (200, 201, 204, 400):
            return response
        return checked(response)


def checked(response: RawResponse) -> RawResponse:
    """Pass 200/204 through; every other answer is an error to retry.

    The document's "Testing Procedures", Dealer error handling: "Any response
    code received other than 200 OK or 204 No Content, - Retry mechanism should
    make API call at least 5 times before failing", then an e-mail alert. So a
    400, 403 or 404 is retried like a 500 (with backoff; a GET that fails
    delivers no lead, so repeating it loses nothing). The one exception is the
    issue's own: a 400 to a POST of updates fails them with Cat's message
    (post_updates and CatAdapter.send read it before this)."""
    code = response.status_code
    if code in (200, 204):
        return response
    text = f"{response.request}: {code} {message_of(response)}"
    raise VendorError(text, permanent=False, status=code, retry_after=response.retry_after())


def message_of(response: RawResponse) -> str:
    """Cat's errors are JSON objects with a "message"."""
    try:
        data = json.loads(response.body)
        if isinstance(data, dict) and data.get("message"):
            return str(data["message"])[:500]
    except ValueError:
        pass
    return response.body[:200].decode("utf-8", errors="replace").strip() or "(empty body)"
