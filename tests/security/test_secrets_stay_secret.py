"""Vendor credentials never reach a log line, a task's arguments, an export or an
error e-mail. The account's secret is "lh-secret"; the sandbox issues the token."""
import io
import logging
import sys

import pytest
import requests
from django.core import mail
from django.core.management import call_command
from django.test import RequestFactory
from django.utils.log import AdminEmailHandler

from apps.leads import services
from apps.leads.models import Lead
from apps.sync import engine, tasks
from apps.sync.models import AccountSyncState
from apps.vendors.cat import auth

SECRET = "lh-secret"


@pytest.fixture
def queued(monkeypatch):
    """Every django-q2 task queued, as (func, args, kwargs), instead of queueing it."""
    calls = []
    monkeypatch.setattr("django_q.tasks.async_task", lambda func, *args, **kwargs: calls.append((func, args, kwargs)))
    return calls


def test_a_sync_logs_no_credential_or_token(sandbox, cat_account, cat_mapped, alice, caplog):
    sandbox.generate_leads(3, dealer_code="A100")
    with caplog.at_level(logging.DEBUG):
        engine.pull(cat_account)
        lead = Lead.objects.first()
        services.lead_change_status(lead=lead, to_status="accepted", actor=alice)
        assert engine.push(cat_account).pushed == 1
    token = auth.get_token(cat_account, None)  # the cached token the sync used
    lines = [record.getMessage() for record in caplog.records]
    assert any("vendor=cat account=a100-cat" in line and "GET /cat/marketing/ecrm/leadManagement/v2/leads" in line for line in lines)
    assert any("POST /cat/as/token.oauth2" in line for line in lines)
    for line in lines:
        assert SECRET not in line and token not in line and "lh-client:" not in line, line


def test_task_arguments_hold_only_account_ids(cat_account, cat_mapped, alice, queued, settings,
                                              django_capture_on_commit_callbacks):
    settings.LEADHUB_PUSH_ON_COMMIT = True
    lead = Lead.objects.create(dealer=cat_account.dealer, vendor_account=cat_account, vendor_lead_id="L1",
                               first_name="A", last_name="B", email="a@b.test")
    with django_capture_on_commit_callbacks(execute=True):
        assert services.lead_change_status(lead=lead, to_status="accepted", actor=alice).ok
    AccountSyncState.objects.all().delete()
    tasks.tick()
    names = [func if isinstance(func, str) else f"{func.__module__}.{func.__name__}" for func, _, _ in queued]
    assert names.count("apps.sync.tasks.push_account") == 2 and "apps.sync.tasks.pull_account" in names
    for func, args, kwargs in queued:
        assert args == (cat_account.pk,), (func, args)
        assert SECRET not in repr(kwargs)


def test_exports_and_dumps_hold_no_credential(cat_account, dealer_a, tmp_path):
    Lead.objects.create(dealer=dealer_a, vendor_account=cat_account, vendor_lead_id="L1", first_name="A",
                        last_name="B", email="a@b.test", raw_payload={"leadId": "L1"})
    call_command("export_leads", "-o", str(tmp_path / "leads.csv"))
    dump = io.StringIO()
    call_command("dumpdata", "vendors", "leads", stdout=dump)
    assert "a100-cat" in dump.getvalue() and "L1" in (tmp_path / "leads.csv").read_text()
    assert SECRET not in dump.getvalue() and SECRET not in (tmp_path / "leads.csv").read_text()
    assert cat_account.secrets.get("client_secret") == SECRET  # it is there, only never written out


def _fail_while_holding_credentials(account):
    client_secret = account.secrets.get("client_secret")  # noqa: F841 - what the report must hide
    basic = requests.auth._basic_auth_str("lh-client", client_secret)
    headers = requests.structures.CaseInsensitiveDict({"Authorization": "Bearer tok-0123456789"})
    options = {"client_id": "lh-client", "password": client_secret, "nested": {"api_key": client_secret}}
    raise RuntimeError(f"the vendor call broke ({len(basic) + len(headers) + len(options)} values in scope)")


def test_error_emails_scrub_credentials_from_every_frame_and_post_field(cat_account, settings):
    settings.ADMINS = [("IT", "it@example.com")]
    request = RequestFactory().post("/admin/vendors/vendoraccount/1/change/",
                                    {"name": "a100-cat", "setting__client_secret": SECRET})
    try:
        _fail_while_holding_credentials(cat_account)
    except RuntimeError:
        record = logging.LogRecord("django.request", logging.ERROR, __file__, 1, "Internal Server Error", (),
                                   sys.exc_info())
    record.request = request
    AdminEmailHandler(include_html=True).emit(record)
    [message] = mail.outbox
    text, html = message.body, message.alternatives[0].content
    assert "_fail_while_holding_credentials" in text and "a100-cat" in text  # the report is useful
    for body in (text, html):
        assert SECRET not in body
        assert "tok-0123456789" not in body
        assert "bGgtY2xpZW50OmxoLXNlY3JldA" not in body  # base64 of lh-client:lh-secret
    assert "********" in text
