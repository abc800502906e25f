"""services.lead_create: a lead as typed in, or its violations and nothing written."""
from __future__ import annotations

from apps.leads import services
from apps.leads.models import Lead, Origin


def test_it_creates_a_lead_with_its_origin_and_the_actors_label(world):
    dealer = world["A100"]["dealer"]
    result = services.lead_create(dealer=dealer, data={"first_name": "Cleo", "email": "cleo@example.com"},
                                  origin=Origin.API, actor_label="API key A100 DMS")
    assert result.ok and result.lead.pk
    lead = Lead.objects.get(pk=result.lead.pk)
    assert (lead.dealer, lead.origin, lead.status) == (dealer, "api", "new")
    assert lead.arrival_processed_at is not None  # the arrival receivers ran
    assert lead.history.first().history_change_reason == "Created by API key A100 DMS"


def test_it_returns_violations_and_writes_nothing_for_another_dealers_owner(world):
    dealer, bob = world["A100"]["dealer"], world["B200"]["lead"].owner
    before = Lead.objects.count()
    result = services.lead_create(dealer=dealer, data={"first_name": "Cleo", "email": "not-an-email", "owner": bob},
                                  actor_label="API key A100 DMS")
    assert not result.ok and result.lead is None
    assert {v.field for v in result.errors} == {"email", "owner"}
    assert Lead.objects.count() == before
