"""Notifications (apps/notifications): a rep told at once when a lead is assigned to
them, managers told when a new lead waits; in-app with an unread count, e-mail at
once, in the digest or not at all by preference; through django-q2, never twice."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from apps.accounts.models import Role
from apps.leads import services
from apps.leads.digest import send_followup_digests
from apps.leads.models import Lead
from apps.notifications import alerts
from apps.notifications import services as notifications
from apps.notifications.models import Delivery, Kind, Notification, NotificationPreference
from apps.routing.models import AssignmentRule
from tests.conftest import make_lead, make_user


@pytest.fixture
def worker(monkeypatch):
    """django-q2's worker, at once: the tasks queued, and run."""
    queued = []

    def run(func, *args, **kwargs):
        queued.append((func, args))
        assert func == "apps.notifications.services.deliver"
        notifications.deliver(*args)

    monkeypatch.setattr(notifications.django_q_tasks, "async_task", run)
    return queued


def rule_for(dealer, *reps):
    rule = AssignmentRule.objects.create(dealer=dealer, name="everything")
    rule.reps.set(reps)
    return rule


def test_a_rep_is_told_at_once_when_a_rule_assigns_them_a_lead(dealer_a, alice, worker,
                                                                django_capture_on_commit_callbacks):
    rule_for(dealer_a, alice)
    with django_capture_on_commit_callbacks(execute=True):
        lead = make_lead(dealer_a, first_name="Rita", last_name="Roller")
    [note] = Notification.objects.filter(user=alice)
    assert (note.kind, note.lead_id) == (Kind.ASSIGNED, lead.pk)
    assert note.text == f"Lead #{lead.pk} Rita Roller is yours (Assigned by rule “everything”)."
    [message] = mail.outbox
    assert message.to == ["alice@example.com"] and f"/admin/leads/lead/{lead.pk}/work/" in message.body
    assert Notification.objects.get(pk=note.pk).sent_at is not None


def test_a_batch_of_assignments_is_one_e_mail_and_nobody_is_told_twice(dealer_a, alice, worker,
                                                                      django_capture_on_commit_callbacks):
    leads = [make_lead(dealer_a) for _ in range(3)]
    with django_capture_on_commit_callbacks(execute=True):
        services.lead_assign_new_owners(owners={lead.pk: alice for lead in leads}, reason="Assigned by rule “x”")
    assert Notification.objects.filter(user=alice).count() == 3 and len(mail.outbox) == 1
    assert mail.outbox[0].subject == "[LeadHub] 3 notifications"
    # The same assignment announced again (a redelivered task, a second run): nothing new.
    alerts.lead_assigned(Lead, [lead.pk for lead in leads], alice)
    assert notifications.deliver(alice.pk) == 0
    assert Notification.objects.filter(user=alice).count() == 3 and len(mail.outbox) == 1


def test_a_person_assigning_someone_else_tells_them_taking_a_lead_oneself_does_not(client, adam, alice, dealer_a,
                                                                                    worker, reasons_a):
    lead = make_lead(dealer_a)
    services.lead_assign_owner(lead=lead, owner=alice, actor=adam)
    assert Notification.objects.get(user=alice).text.endswith("is yours (Assigned by adam).")
    other = make_lead(dealer_a)
    services.lead_assign_owner(lead=other, owner=alice, actor=alice)
    assert Notification.objects.filter(user=alice).count() == 1


def test_preferences_decide_the_e_mail_never_the_list(dealer_a, alice, worker, django_capture_on_commit_callbacks):
    NotificationPreference.objects.create(user=alice, assigned=Delivery.DIGEST)
    with django_capture_on_commit_callbacks(execute=True):
        services.lead_assign_owner(lead=make_lead(dealer_a, first_name="Dana"), owner=alice, actor=None)
    assert Notification.objects.get(user=alice).delivery == Delivery.DIGEST and mail.outbox == []
    assert send_followup_digests() == 1
    assert "Notifications (1):" in mail.outbox[0].body and "Dana" in mail.outbox[0].body
    assert send_followup_digests() == 0  # taken by that digest, never twice
    NotificationPreference.objects.filter(user=alice).update(assigned=Delivery.OFF)
    with django_capture_on_commit_callbacks(execute=True):
        services.lead_assign_owner(lead=make_lead(dealer_a), owner=alice, actor=None)
    assert Notification.objects.filter(user=alice).count() == 2 and len(mail.outbox) == 1


def test_a_mail_server_that_refuses_leaves_the_notification_to_be_sent_again(dealer_a, alice, monkeypatch):
    services.lead_assign_owner(lead=make_lead(dealer_a), owner=alice, actor=None)

    def down(*args, **kwargs):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr(notifications, "send_mail", down)
    with pytest.raises(ConnectionRefusedError):
        notifications.deliver(alice.pk)
    assert Notification.objects.get(user=alice).sent_at is None
    monkeypatch.undo()
    assert notifications.deliver_pending() == 1 and len(mail.outbox) == 1


def test_managers_are_told_of_leads_waiting_unassigned_or_uncontacted_once(dealer_a, adam, alice, worker):
    now = timezone.now()
    waiting = make_lead(dealer_a, created_at=now - timedelta(minutes=31))
    fresh = make_lead(dealer_a, created_at=now - timedelta(minutes=5))
    owned = make_lead(dealer_a, created_at=now - timedelta(hours=5), owner=alice)
    contacted = make_lead(dealer_a, created_at=now - timedelta(hours=5), owner=alice)
    Lead.objects.filter(pk=contacted.pk).update(first_contacted_at=now - timedelta(hours=4))
    assert alerts.alert_managers(now) == 2
    told = {(note.kind, note.lead_id) for note in Notification.objects.filter(user=adam)}
    assert told == {(Kind.UNASSIGNED, waiting.pk), (Kind.UNCONTACTED, owned.pk)}
    assert fresh.pk not in {lead_id for _, lead_id in told}
    assert not Notification.objects.filter(user=alice, kind__in=[Kind.UNASSIGNED, Kind.UNCONTACTED]).exists()
    assert alerts.alert_managers(now + timedelta(minutes=5)) == 0  # once per lead and kind
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["adam@example.com"]


def test_a_dealer_without_thresholds_is_not_alerted(dealer_a, adam):
    dealer_a.alert_unassigned_minutes = dealer_a.alert_uncontacted_minutes = None
    dealer_a.save()
    make_lead(dealer_a, created_at=timezone.now() - timedelta(days=1))
    assert alerts.alert_managers() == 0


def test_the_header_counts_unread_and_opening_one_reads_it_and_opens_its_lead(client, alice, bob, dealer_a,
                                                                               dealer_b):
    lead = make_lead(dealer_a)
    services.lead_assign_owner(lead=lead, owner=alice, actor=None)
    services.lead_assign_owner(lead=make_lead(dealer_b), owner=bob, actor=None)
    client.force_login(alice)
    page = client.get(reverse("admin:leads_lead_queue")).content.decode()
    assert 'aria-label="1 unread">1</span>' in page
    listing = client.get(reverse("admin:notifications_notification_changelist"))
    assert [n.user_id for n in listing.context["cl"].result_list] == [alice.pk]  # never bob's
    note = Notification.objects.get(user=alice)
    opened = client.get(reverse("admin:notifications_notification_open", args=[note.pk]))
    assert opened.status_code == 302 and opened.url == reverse("admin:leads_lead_workbench", args=[lead.pk])
    assert Notification.objects.get(pk=note.pk).read_at is not None
    assert "unread-count" not in client.get(reverse("admin:leads_lead_queue")).content.decode()
    theirs = Notification.objects.get(user=bob)
    assert client.get(reverse("admin:notifications_notification_open", args=[theirs.pk])).status_code == 404


def test_mark_all_read_and_the_preferences_page(client, alice, dealer_a):
    for _ in range(2):
        services.lead_assign_owner(lead=make_lead(dealer_a), owner=alice, actor=None)
    client.force_login(alice)
    client.post(reverse("admin:notifications_notification_read_all"))
    assert not Notification.objects.filter(user=alice, read_at__isnull=True).exists()
    url = reverse("admin:notifications_notification_preferences")
    bad = client.post(url, {"assigned": "hourly", "alerts": "off"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()
    client.post(url, {"assigned": "digest", "alerts": "off"})
    preference = NotificationPreference.objects.get(user=alice)
    assert (preference.assigned, preference.alerts) == ("digest", "off")


def test_a_dealer_admin_of_another_dealer_hears_nothing(dealer_a, dealer_b, adam, worker):
    make_user("bea", dealer=dealer_b, role=Role.ADMIN)
    make_lead(dealer_a, created_at=timezone.now() - timedelta(hours=1))
    alerts.alert_managers()
    assert set(Notification.objects.values_list("user__username", flat=True)) == {"adam"}
