"""Vendor accounts: credentials encrypted at rest, write-only in the admin, never logged."""
from __future__ import annotations

import logging

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import override_settings

from apps.core.crypto import CredentialsUnreadable
from apps.vendors.core.models import VendorAccount
from tests.conftest import make_cat_account

SECRET = "secret-A100"


def stored_column(account):
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM vendors_vendoraccount WHERE id = %s", [account.pk])
        return cursor.fetchone()[0]


def test_it_encrypts_credentials_at_rest(dealer_a):
    account = make_cat_account(dealer_a)
    raw = stored_column(account)
    assert SECRET not in raw and raw.startswith("gAAAA")  # a Fernet token
    fresh = VendorAccount.objects.get(pk=account.pk)
    assert fresh.secrets.get("client_secret") == SECRET
    assert fresh.options == {"client_id": "client-A100", "scope": "manage:all"}


def test_it_never_shows_secrets_in_repr_or_logs(dealer_a, caplog):
    account = VendorAccount.objects.get(pk=make_cat_account(dealer_a).pk)
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("test").info("account %r secrets %s", account, account.secrets)
    assert SECRET not in caplog.text
    assert SECRET not in repr(account.secrets) and SECRET not in str(account.secrets)
    account.secrets.get("client_secret")  # decrypted...
    assert SECRET not in repr(account.secrets)  # ...still hidden


def test_a_wrong_key_is_a_loud_error_not_a_garbage_password(dealer_a):
    from cryptography.fernet import Fernet

    account = make_cat_account(dealer_a)
    with override_settings(CREDENTIALS_KEYS=[Fernet.generate_key().decode()]):
        fresh = VendorAccount.objects.get(pk=account.pk)
        with pytest.raises(CredentialsUnreadable):
            fresh.secrets.get("client_secret")


def test_keys_rotate_the_first_encrypts_all_decrypt(dealer_a, settings):
    from cryptography.fernet import Fernet

    old = settings.CREDENTIALS_KEYS[0]
    account = make_cat_account(dealer_a)
    new = Fernet.generate_key().decode()
    settings.CREDENTIALS_KEYS = [new, old]
    assert VendorAccount.objects.get(pk=account.pk).secrets.get("client_secret") == SECRET
    fresh = VendorAccount.objects.get(pk=account.pk)
    fresh.set_settings({"client_secret": "rotated"})
    fresh.save()
    settings.CREDENTIALS_KEYS = [new]
    assert VendorAccount.objects.get(pk=account.pk).secrets.get("client_secret") == "rotated"


def test_saving_other_fields_keeps_the_stored_token_untouched(dealer_a):
    account = make_cat_account(dealer_a)
    before = stored_column(account)
    fresh = VendorAccount.objects.get(pk=account.pk)
    fresh.enabled = False
    fresh.save()
    assert stored_column(account) == before


def test_unknown_settings_are_refused(dealer_a):
    account = make_cat_account(dealer_a)
    with pytest.raises(ValueError, match="no setting password"):
        account.set_settings({"password": "x"})


def test_the_admin_form_is_write_only_for_secrets(client, world):
    adam = get_user_model().objects.get(username="adam")
    client.force_login(adam)
    account = world["A100"]["account"]
    url = f"/admin/vendors/vendoraccount/{account.pk}/change/"
    body = client.get(url).content.decode()
    assert "setting__client_secret" in body
    assert SECRET not in body  # never rendered back
    assert "client-A100" in body  # non-secret settings are shown
    data = {"name": account.name, "dealer": account.dealer_id, "environment": "custom",
            "base_url": account.base_url, "token_url": account.token_url, "enabled": "on",
            "pull_interval_minutes": 10, "alert_emails": "it@acme.test", "setting__client_id": "client-A100",
            "setting__client_secret": "", "setting__scope": "manage:all"}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    fresh = VendorAccount.objects.get(pk=account.pk)
    assert fresh.secrets.get("client_secret") == SECRET  # blank kept it
    assert fresh.pull_interval_minutes == 10
    client.post(url, {**data, "setting__client_secret": "new-secret"})
    assert VendorAccount.objects.get(pk=account.pk).secrets.get("client_secret") == "new-secret"
    # The admin's history records which fields changed, never their values.
    from django.contrib.admin.models import LogEntry
    assert "new-secret" not in " ".join(str(e.change_message) for e in LogEntry.objects.all())


def test_the_admin_preset_fills_the_documents_urls(client, world):
    client.force_login(get_user_model().objects.get(username="adam"))
    account = world["A100"]["account"]
    data = {"name": account.name, "dealer": account.dealer_id, "environment": "qa", "base_url": "",
            "token_url": "", "enabled": "on", "pull_interval_minutes": 15, "alert_emails": "",
            "setting__client_id": "c", "setting__client_secret": "", "setting__scope": "manage:all"}
    response = client.post(f"/admin/vendors/vendoraccount/{account.pk}/change/", data)
    assert response.status_code == 302
    fresh = VendorAccount.objects.get(pk=account.pk)
    assert fresh.base_url == "https://services-stg.cat.com"  # the 06/05/2023 QA host
    assert fresh.token_url == "https://fedloginqa.cat.com/as/token.oauth2"


@pytest.mark.parametrize("field,value", [("base_url", "http://vendor.example.com"), ("base_url", "ftp://x"),
                                         ("alert_emails", "it@acme.test, not-an-address"),
                                         ("pull_interval_minutes", 0), ("name", "Has Spaces")])
def test_it_refuses_bad_account_values(dealer_a, field, value):
    from django.core.exceptions import ValidationError

    account = make_cat_account(dealer_a)
    setattr(account, field, value)
    with pytest.raises(ValidationError) as excinfo:
        account.full_clean()
    assert field in excinfo.value.message_dict
