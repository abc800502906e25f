"""A Content-Security-Policy on every page, and pages that need nothing it forbids.

The browser test (tests/browser/) fails on any CSP refusal Chromium reports;
this checks the header and the HTML of the admin's and LeadHub's own screens.
"""
import re

import pytest

from tests.conftest import make_lead

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
EVENT_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
STYLE_ATTRIBUTE = re.compile(r"<[^>]+\sstyle\s*=", re.IGNORECASE)


def policy(response) -> dict:
    header = response.headers["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_the_login_page_carries_a_policy_without_unsafe_inline(client, db):
    directives = policy(client.get("/admin/login/"))
    assert directives["script-src"] == ["'self'"] and directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"] and directives["object-src"] == ["'none'"]
    assert not any("unsafe" in v for values in directives.values() for v in values)


@pytest.mark.parametrize("url", [
    "/admin/", "/admin/leads/lead/", "/admin/leads/lead/{lead}/change/", "/admin/leads/lead/{lead}/status/",
    "/admin/leads/lead/queue/", "/admin/leads/lead/{lead}/history/", "/admin/leads/lead/add/",
    "/admin/leads/followup/", "/admin/vendors/vendoraccount/", "/admin/sync/synchealth/",
])
def test_every_screen_has_the_policy_and_no_inline_script(client, root, dealer_a, url):
    lead = make_lead(dealer_a)
    client.force_login(root)
    response = client.get(url.format(lead=lead.pk))
    assert response.status_code == 200, url
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    body = response.content.decode()
    assert not INLINE_SCRIPT.search(body), INLINE_SCRIPT.search(body).group(0)
    assert not EVENT_HANDLER.search(body), EVENT_HANDLER.search(body).group(0)
    assert not STYLE_ATTRIBUTE.search(body), STYLE_ATTRIBUTE.search(body).group(0)
