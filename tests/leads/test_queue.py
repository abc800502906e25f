"""My leads: buckets by urgency, only my and my dealer's unassigned leads."""
from datetime import timedelta

from django.utils import timezone

from apps.leads import queue
from apps.leads.queue import my_queue
from apps.sync.models import OutboxItem
from tests.conftest import make_cat_account, make_lead


def bucket(buckets, key):
    return next(b for b in buckets if b.key == key)


def test_it_buckets_my_open_leads_by_urgency(alice, adam, dealer_a, dealer_b):
    now = timezone.now()
    old_new = make_lead(dealer_a, owner=alice, created_at=now - timedelta(hours=30))
    fresh_new = make_lead(dealer_a, owner=None, created_at=now - timedelta(minutes=5))
    make_lead(dealer_a, owner=adam)  # someone else's
    make_lead(dealer_b)  # another dealer's
    overdue = make_lead(dealer_a, owner=alice, status="accepted", next_follow_up_at=now - timedelta(hours=1))
    make_lead(dealer_a, owner=alice, status="rejected", next_follow_up_at=now - timedelta(hours=1))  # closed
    buckets = my_queue(alice, now=now)
    assert [lead.pk for lead in bucket(buckets, "new").leads] == [fresh_new.pk, old_new.pk]  # newest first
    assert [lead.pk for lead in bucket(buckets, "overdue").leads] == [overdue.pk]
    assert bucket(buckets, "new").count == 2
    assert queue.humane_age(bucket(buckets, "new").leads[1].age) == "30 h 00 min"
    only_mine = my_queue(alice, whose="mine", now=now)
    assert [lead.pk for lead in bucket(only_mine, "new").leads] == [old_new.pk]  # the switch: no unassigned


def test_it_lists_outcomes_a_vendor_still_waits_for(alice, dealer_a):
    lead = make_lead(dealer_a, owner=alice, vendor_account=make_cat_account(dealer_a), vendor_lead_id="W1",
                     status="rejected")
    OutboxItem.objects.create(account=lead.vendor_account, lead=lead, state="blocked", last_error="unmapped")
    assert [l.pk for l in bucket(my_queue(alice), "vendor").leads] == [lead.pk]


def test_counts_are_capped(alice, dealer_a, monkeypatch):
    monkeypatch.setattr(queue, "CAP", 3)
    monkeypatch.setattr(queue, "SHOWN", 2)
    for _ in range(6):
        make_lead(dealer_a, owner=alice)
    new = bucket(my_queue(alice), "new")
    assert (len(new.leads), new.count, new.count_label) == (2, 4, "3+")


def test_the_queue_page_shows_counts_and_links(client, alice, dealer_a):
    lead = make_lead(dealer_a, owner=alice, first_name="Urgent", last_name="Lead")
    client.force_login(alice)
    body = client.get("/admin/leads/lead/queue/").content.decode()
    assert "Urgent Lead" in body and f"/admin/leads/lead/{lead.pk}/work/" in body
    assert "My leads" in client.get("/admin/").content.decode()  # reachable from every page


def test_a_fresh_vendor_lead_is_not_hidden_behind_old_hand_entered_ones(alice, dealer_a, monkeypatch):
    monkeypatch.setattr(queue, "SHOWN", 3)
    now = timezone.now()
    for hours in (50, 40, 30, 20):
        make_lead(dealer_a, owner=alice, created_at=now - timedelta(hours=hours))
    fresh = make_lead(dealer_a, vendor_account=make_cat_account(dealer_a), vendor_lead_id="NEW1",
                      created_at=now - timedelta(minutes=2))
    new = bucket(my_queue(alice, now=now), "new")
    assert new.leads[0].pk == fresh.pk and new.more and new.count == 5


def test_each_bucket_links_to_the_same_leads_in_the_list(client, alice, adam, dealer_a, monkeypatch):
    monkeypatch.setattr(queue, "SHOWN", 1)
    now = timezone.now()
    leads = [make_lead(dealer_a, owner=alice, first_name=f"Mine{i}", created_at=now - timedelta(minutes=i))
             for i in range(3)]
    unassigned = make_lead(dealer_a, first_name="Nobody")
    make_lead(dealer_a, owner=adam, first_name="Adams")
    client.force_login(alice)
    body = client.get("/admin/leads/lead/queue/?whose=mine").content.decode()
    assert "see all 3" in body and "todo=new&amp;whose=mine" in body
    listed = client.get("/admin/leads/lead/?todo=new&whose=mine").context["cl"].result_list
    assert {lead.pk for lead in listed} == {lead.pk for lead in leads}
    both = client.get("/admin/leads/lead/?todo=new&whose=mine_and_unassigned").context["cl"].result_list
    assert {lead.pk for lead in both} == {lead.pk for lead in leads} | {unassigned.pk}
