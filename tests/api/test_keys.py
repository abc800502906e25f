"""API keys: made, shown once, stored hashed, revoked; by the command and in the admin."""
from __future__ import annotations

import hashlib
import io

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from apps.api import keys
from apps.api.models import ApiKey
from tests.api.conftest import client_with
from tests.conftest import without_csrf


def test_it_stores_only_the_hash_of_the_secret(dealer_a):
    key, text = keys.apikey_create(dealer=dealer_a, name="DMS")
    prefix, secret = keys.parse_key(text)
    assert text == f"lh_{key.prefix}_{secret}" and prefix == key.prefix and len(secret) >= 43
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ApiKey.objects.filter(pk=key.pk).values().get())
    assert keys.authenticate(text) == key
    assert keys.authenticate(text + "x") is None


def test_it_keeps_who_created_and_revoked_a_key_in_its_history(dealer_a, adam):
    key, _ = keys.apikey_create(dealer=dealer_a, name="DMS", created_by=adam)
    assert keys.apikey_revoke(key=key, actor=adam) is True
    assert keys.apikey_revoke(key=key, actor=adam) is False  # once
    rows = list(key.history.order_by("history_date").values_list("history_change_reason", "history_user__username"))
    assert rows == [("Created", "adam"), ("Revoked", "adam")]
    assert not any(field.name == "secret_hash" for field in key.history.model._meta.fields)


def test_it_keeps_a_name_to_one_live_key_per_dealer(dealer_a, dealer_b):
    key, _ = keys.apikey_create(dealer=dealer_a, name="DMS")
    with pytest.raises(ValidationError, match="already has a key with this name"):
        keys.apikey_create(dealer=dealer_a, name="DMS")
    keys.apikey_create(dealer=dealer_b, name="DMS")  # another dealer's
    keys.apikey_revoke(key=key)
    keys.apikey_create(dealer=dealer_a, name="DMS")  # the revoked one's name is free again
    assert ApiKey.objects.filter(dealer=dealer_a, name="DMS").count() == 2


# --- the command ------------------------------------------------------------------------

def test_it_prints_the_key_once_from_the_command_and_stores_it_hashed(dealer_a):
    out, err = io.StringIO(), io.StringIO()
    call_command("apikey", "create", "--dealer", "a100", "--name", "Website", "--scope", "write", stdout=out,
                 stderr=err)
    text = out.getvalue().strip()
    key = ApiKey.objects.get(name="Website")
    assert key.dealer == dealer_a and key.scope == "write"
    assert text.startswith(f"lh_{key.prefix}_") and "shown only this once" in err.getvalue()
    assert keys.authenticate(text) == key
    listing = io.StringIO()
    call_command("apikey", "list", stdout=listing)
    assert f"A100\tWebsite\tlh_{key.prefix}…\twrite\tlive" in listing.getvalue()
    assert text not in listing.getvalue()


def test_it_revokes_by_name_from_the_command(dealer_a):
    key, text = keys.apikey_create(dealer=dealer_a, name="DMS")
    out = io.StringIO()
    call_command("apikey", "revoke", "--dealer", "A100", "--name", "DMS", stdout=out)
    assert "revoked key 'DMS'" in out.getvalue()
    assert keys.authenticate(text) is None


@pytest.mark.parametrize("arguments, message", [
    (["create", "--dealer", "Z999", "--name", "x"], "there is no dealer 'Z999'"),
    (["create", "--name", "x"], "--dealer CODE is required"),
    (["create", "--dealer", "A100"], "--name NAME is required"),
    (["revoke", "--dealer", "A100", "--name", "nothing"], "has no live key named 'nothing'"),
    (["create", "--dealer", "A100", "--name", "x", "--scope", "admin"], "invalid choice: 'admin'"),
])
def test_it_says_what_is_wrong_with_a_command_in_one_line(dealer_a, arguments, message):
    with pytest.raises(CommandError, match=message) as raised:
        call_command("apikey", *arguments)
    assert raised.value.returncode == 2
    assert not ApiKey.objects.exists()


# --- the admin ----------------------------------------------------------------------------

def test_it_shows_a_new_key_once_in_the_answer_to_the_add_form(client, world, settings):
    # The cookie storage is where a message would leak into Set-Cookie.
    settings.MESSAGE_STORAGE = "django.contrib.messages.storage.cookie.CookieStorage"
    adam = get_user_model().objects.get(username="adam")
    client.force_login(adam)
    response = client.post(reverse("admin:api_apikey_add"), {"dealer": world["A100"]["dealer"].pk,
                                                               "name": "Website form", "scope": "read"})
    assert response.status_code == 200 and "Location" not in response  # in this answer, no redirect
    assert "no-store" in response["Cache-Control"]
    key = ApiKey.objects.get(name="Website form")
    assert key.created_by == adam and key.dealer == world["A100"]["dealer"]
    body = response.content.decode()
    assert "shown only this once" in body
    text = body.split('<code class="api-key">')[1].split("</code>")[0]
    assert keys.authenticate(text) == key
    assert client_with(text).get(reverse("api:reason-list")).status_code == 200
    # Not in a cookie, not in a message (stored or still to show).
    assert all(text not in morsel.value for morsel in response.cookies.values())
    assert all(text not in str(message) for message in get_messages(response.wsgi_request))
    listing = client.get(reverse("admin:api_apikey_changelist"))
    assert all(text not in str(message) for message in listing.context["messages"])
    # Never again: not on the key's page, not in the list.
    assert text not in client.get(reverse("admin:api_apikey_change", args=[key.pk])).content.decode()
    assert text not in listing.content.decode()


def test_it_lets_no_dealer_admin_make_nor_see_another_dealers_keys(client, world):
    client.force_login(get_user_model().objects.get(username="adam"))
    body = without_csrf(client.get(reverse("admin:api_apikey_add")).content.decode())
    assert "A100" in body and "B200" not in body
    client.post(reverse("admin:api_apikey_add"), {"dealer": world["B200"]["dealer"].pk, "name": "Sneaky",
                                                  "scope": "write"})
    assert not ApiKey.objects.filter(name="Sneaky").exists()
    listing = client.get(reverse("admin:api_apikey_changelist")).content.decode()
    assert world["A100"]["apikey"].name in listing and world["B200"]["apikey"].name not in listing
    theirs = world["B200"]["apikey"]
    assert client.get(reverse("admin:api_apikey_change", args=[theirs.pk])).status_code in (302, 404)


def test_it_lets_no_staff_manage_keys(client, world):
    client.force_login(get_user_model().objects.get(username="alice"))
    assert client.get(reverse("admin:api_apikey_add")).status_code == 403
    assert client.get(reverse("admin:api_apikey_changelist")).status_code == 403


def test_it_lets_a_dealer_admin_revoke_a_key(client, world):
    client.force_login(get_user_model().objects.get(username="adam"))
    mine, theirs = world["A100"]["apikey"], world["B200"]["apikey"]
    client.post(reverse("admin:api_apikey_changelist"), {"action": "revoke_selected",
                                                         "_selected_action": [mine.pk, theirs.pk]})
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.revoked_at is not None and theirs.revoked_at is None
    assert client_with(world["A100"]["apikey_text"]).get(reverse("api:reason-list")).status_code == 401
    assert client_with(world["B200"]["apikey_text"]).get(reverse("api:reason-list")).status_code == 200
    history = client.get(reverse("admin:api_apikey_history", args=[mine.pk]))
    assert history.status_code == 200 and "Revoked" in history.content.decode()
