"""What was sent is a record: no field of an outbox item can be changed in the admin."""
import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from apps.sync.models import OutboxItem


@pytest.mark.parametrize("username", ["adam", "root"])
def test_it_keeps_every_field_of_an_outbox_item_read_only(client, world, username):
    item = world["A100"]["outbox"]
    OutboxItem.objects.filter(pk=item.pk).update(dedupe_key="submit:1", response={"id": "V-1"})
    before = OutboxItem.objects.filter(pk=item.pk).values().get()
    client.force_login(get_user_model().objects.get(username=username))
    url = reverse("admin:sync_outboxitem_change", args=[item.pk])
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    assert list(form.fields) == []  # nothing editable at all
    assert page.context["has_change_permission"] is False
    client.post(url, {"dedupe_key": "", "payload": '{"leadId": "forged"}', "response": "{}", "state": "sent",
                      "attempts": "0", "kind": "submit", "last_error": ""})
    assert OutboxItem.objects.filter(pk=item.pk).values().get() == before


@pytest.mark.parametrize("username", ["adam", "root"])
def test_it_refuses_to_restore_a_past_version_of_an_outbox_item(client, world, username):
    # A past version's page is a view too: simple-history would save a POSTed
    # old version over the item (its dedupe key and state included).
    item = world["A100"]["outbox"]
    OutboxItem.objects.filter(pk=item.pk).update(dedupe_key="submit:1")
    item.refresh_from_db()
    item.state, item._change_reason = "failed", "test"
    item.save()
    version = OutboxItem.history.filter(id=item.pk).order_by("history_date", "history_id").first()
    before = OutboxItem.objects.filter(pk=item.pk).values().get()
    client.force_login(get_user_model().objects.get(username=username))
    url = reverse("admin:sync_outboxitem_simple_history", args=[item.pk, version.history_id])
    assert client.get(url).status_code == 200
    assert client.post(url, {"dedupe_key": "", "state": "pending"}).status_code == 405
    assert OutboxItem.objects.filter(pk=item.pk).values().get() == before
