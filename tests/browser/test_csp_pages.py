"""The screens the staff path does not visit, in Chromium under the
Content-Security-Policy: the page fixture fails the test on any refusal."""
import pytest

from apps.leads.models import Reason, ReasonMapping
from tests.browser.conftest import log_in
from tests.conftest import PASSWORD, make_lead, make_user

pytestmark = pytest.mark.django_db(transaction=True)


def test_my_leads_and_history_pages_need_nothing_the_policy_refuses(page, dealer_a):
    admin = make_user("ada", dealer=dealer_a, role="admin")
    lead = make_lead(dealer_a, first_name="Hattie", owner=admin)
    lead.company, lead._history_user = "Hattie Haulage", admin
    lead.save()
    reason = Reason.objects.create(dealer=dealer_a, kind="rejection", label="Too far")
    ReasonMapping.objects.create(reason=reason, vendor="cat", vendor_value="For Another Dealer")
    log_in(page, "ada", PASSWORD)
    page.goto("/admin/leads/lead/queue/")
    assert "Hattie" in page.inner_text("#content-main")
    page.goto(f"/admin/leads/lead/{lead.pk}/history/")
    assert "Hattie Haulage" in page.inner_text("#change-history")
    page.goto(f"/admin/leads/reason/{reason.pk}/history/")
    assert "For Another Dealer" in page.inner_text("#related-history-1")
    page.goto(f"/admin/leads/lead/{lead.pk}/history/{lead.history.latest().history_id}/")
    assert page.locator("input[name=company]").input_value() == "Hattie Haulage"


@pytest.mark.parametrize("role", ["staff", "admin"])
def test_the_main_pages_need_nothing_the_policy_refuses_for_staff_and_dealer_admins(page, dealer_a, role):
    from apps.sync.models import InboxPage
    from apps.vendors.core.models import VendorAccount

    person = make_user(f"pat-{role}", dealer=dealer_a, role=role)
    lead = make_lead(dealer_a, first_name="Hattie", owner=person)
    account = VendorAccount.objects.create(name=f"a100-cat-{role}", vendor="cat", dealer=dealer_a,
                                           base_url="http://127.0.0.1:9/cat")
    inbox = InboxPage.objects.create(account=account, kind="pull", request="GET /leads", status_code=200,
                                     body=b'[{"leadId": "00Q1", "note": "<b>bold</b>"}]')
    log_in(page, person.username, PASSWORD)
    urls = ["/admin/", "/admin/leads/lead/", f"/admin/leads/lead/{lead.pk}/change/",
            f"/admin/leads/lead/{lead.pk}/work/", "/admin/leads/lead/queue/", "/admin/leads/lead/import/",
            "/admin/leads/lead/export/", f"/admin/vendors/vendoraccount/{account.pk}/change/",
            "/admin/sync/outboxitem/"]
    if role == "admin":  # sync health and stored vendor pages are for dealer admins (apps/accounts/roles.py)
        urls += ["/admin/sync/synchealth/", f"/admin/sync/inboxpage/{inbox.pk}/change/"]
    for url in urls:
        response = page.goto(url)
        assert response.status < 400, (url, response.status)


def test_a_lead_file_is_checked_then_imported_in_the_browser(page, dealer_a, tmp_path):
    from apps.leads.models import Lead

    make_user("ines", dealer=dealer_a, role="staff")
    good = tmp_path / "leads.csv"
    good.write_bytes("dealer;external_ref;first_name;email\nA100;EV-1;Łukasz;l@example.pl\n".encode("utf-8-sig"))
    log_in(page, "ines", PASSWORD)
    page.goto("/admin/leads/lead/")
    page.click("a.import-link")
    page.set_input_files("#id_file", str(good))
    page.click("input[value='Check the file']")
    page.wait_for_selector("input[value='Import now']")
    assert "Every row is fine" in page.inner_text("#content-main")
    assert not Lead.objects.exists()
    page.click("input[value='Import now']")
    page.wait_for_selector("text=Imported.")
    assert Lead.objects.get().first_name == "Łukasz"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"dealer,first_name,status\nA100,Jo,closed_won\n")
    page.goto("/admin/leads/lead/import/")
    page.set_input_files("#id_file", str(bad))
    page.click("input[value='Check the file']")
    page.wait_for_selector("ul.import-problems")
    assert "LeadHub does not know this column" in page.inner_text("ul.import-problems")


@pytest.mark.parametrize("username", ["alice", "adam"])
def test_every_admin_page_needs_nothing_the_policy_refuses_for_staff_and_dealer_admins(page, world, username):
    """Every admin page the walk of test_admin_scoping.admin_pages finds (lists,
    forms, history, past versions, the workbench, My leads, custom views), in
    Chromium as dealer staff and as dealer admin: no CSP refusal on the console,
    no 5xx. Refusals are named with the page that caused them."""
    from tests.accounts.test_admin_scoping import admin_pages

    refused_on = []
    page.on("console", lambda message: refused_on.append(f"{page.url}: {message.text}")
            if "Content Security Policy" in message.text else None)
    log_in(page, username, PASSWORD)
    broken, visited = [], 0
    for name, url, _ in admin_pages(world, "A100"):
        if name.endswith("_download_csv") or name == "logout" or url.endswith("format=csv"):
            continue  # a file download, not a page; logging out is a POST (a GET is an empty 405)
        response = page.goto(url)
        visited += 1
        if response is None or response.status >= 500:
            broken.append(f"{name} {url}: {response.status if response else 'no answer'}")
    assert visited > 60
    assert not broken, "\n".join(broken)
    assert not refused_on, "\n".join(refused_on)
