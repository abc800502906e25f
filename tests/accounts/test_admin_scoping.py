"""Dealer isolation, tested by walking every registered admin URL as a user of
dealer A against the objects of dealer B.

A model newly registered in the admin without an entry in OBJECT_OF fails
test_it_knows_an_object_of_every_registered_model, so nothing escapes the walk.
`admin_pages` enumerates every admin URL from the URL resolver (a view a
ModelAdmin adds in get_urls is walked without editing this file); the isolation
walk here and the "every page answers" walk (test_every_page_answers.py) share it.
"""
from __future__ import annotations

import csv
import io

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import URLResolver, get_resolver, reverse

from apps.reports.reports import REPORTS

from apps.accounts.models import Dealer, Membership
from apps.api.models import ApiKey
from apps.notifications.models import Notification
from apps.routing.models import AssignmentRule, RoutingRule
from apps.leads.models import FollowUp, Lead, Reason, SalesStage, StatusLog, StatusMapping
from apps.sync.models import InboxPage, OutboxItem, SyncHealth, SyncRun
from apps.vendors.capillary.models import CapillaryReason, CapillarySubStatus
from apps.vendors.core.models import VendorAccount
from apps.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.conftest import LEAD_INLINES, without_csrf

# How to get dealer X's object of each dealer-scoped model from the `world` fixture.
OBJECT_OF = {
    Dealer: lambda w, code: w[code]["dealer"],
    Membership: lambda w, code: w[code]["membership"],
    VendorAccount: lambda w, code: w[code]["account"],
    Lead: lambda w, code: w[code]["lead"],
    FollowUp: lambda w, code: w[code]["followup"],
    StatusLog: lambda w, code: w[code]["statuslog"],
    Reason: lambda w, code: w[code]["reasons"]["rejection"],
    SalesStage: lambda w, code: w[code]["stages"][0],
    StatusMapping: lambda w, code: StatusMapping.objects.get(dealer=w[code]["dealer"]),
    OutboxItem: lambda w, code: w[code]["outbox"],
    InboxPage: lambda w, code: w[code]["page"],
    SyncRun: lambda w, code: w[code]["run"],
    SyncHealth: lambda w, code: w[code]["health"],
    RoutingRule: lambda w, code: w[code]["routingrule"],
    AssignmentRule: lambda w, code: w[code]["assignmentrule"],
    Notification: lambda w, code: w[code]["notification"],  # a person's own: another's is never shown
    CapillaryReason: lambda w, code: CapillaryReason.objects.get(account=w[code]["account"]),
    CapillarySubStatus: lambda w, code: CapillarySubStatus.objects.get(account=w[code]["account"]),
    WebhookEndpoint: lambda w, code: w[code]["webhookendpoint"],
    WebhookDelivery: lambda w, code: w[code]["webhookdelivery"],
    ApiKey: lambda w, code: w[code]["apikey"],
}
# Models whose rows belong to one person (their list shows their own, each opened
# through the admin's own view): how a row is linked from the list.
PERSONAL = {Notification: lambda obj: reverse("admin:notifications_notification_open", args=[obj.pk])}
# Registered models that are not dealer data: only IT (superusers) reach them.
# Admin entries with pages but no objects of their own (the reports: a proxy of Lead
# whose admin has only the dashboard and the report pages, walked by admin_pages
# and test_no_report_nor_its_csv_counts_another_dealers_leads).
PAGES_ONLY = {"reports.leadreport"}
GLOBAL_MODELS = {"auth.group", "auth.user", "django_q.schedule", "django_q.success", "django_q.failure",
                 "django_q.ormq",
                 # django-axes: login attempts and lockouts (IT unlocks people here).
                 "axes.accessattempt", "axes.accesslog", "axes.accessfailurelog"}


# URL arguments naming the object of the view's model, and query strings a view
# needs to show its page rather than "nothing given".
OBJECT_ARGUMENTS = {"object_id", "pk", "id", "lead_id"}
VIEW_QUERY = {"routing_submit": lambda w, code: f"?ids={w[code]['lead'].pk}"}


def _admin_url_patterns():
    """(name, argument names) of every named URL in the admin namespace."""
    def walk(patterns, groups, namespace):
        for pattern in patterns:
            regex = pattern.pattern.regex
            # An unnamed group (simple-history's past version: object id, version id)
            # counts as a positional argument.
            positional = {f"#{n}" for n in range(regex.groups - len(regex.groupindex))}
            arguments = groups | set(regex.groupindex) | positional
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, arguments, pattern.namespace or namespace)
            elif pattern.name and namespace == "admin":
                yield pattern.name, frozenset(arguments)
    return sorted(set(walk(get_resolver().url_patterns, frozenset(), None)))


def _model_of_url(name):
    """The registered model whose admin named the URL (longest "app_model_" prefix),
    or None for the site's own views."""
    owners = [m for m in admin.site._registry if name.startswith(f"{m._meta.app_label}_{m._meta.model_name}_")]
    return max(owners, key=lambda m: len(m._meta.model_name), default=None)


def _object_of(model, world, code):
    if model in OBJECT_OF:
        return OBJECT_OF[model](world, code)
    return model.objects.order_by("pk").first()  # a global model: IT's data


def _global_objects():
    """One object of each global model (IT's pages), as their apps write them."""
    from axes.models import AccessAttempt, AccessFailureLog, AccessLog
    from django.contrib.auth.models import Group
    from django.utils import timezone
    from django_q.models import OrmQ, Schedule, Task
    from django_q.signing import SignedPackage

    Group.objects.get_or_create(name="walkers")
    who = {"user_agent": "walk", "ip_address": "127.0.0.1", "username": "walker", "http_accept": "*/*",
           "path_info": "/admin/login/"}
    AccessAttempt.objects.get_or_create(**who, defaults={"get_data": "", "post_data": "username=walker",
                                                         "failures_since_start": 1})
    AccessLog.objects.get_or_create(**who)
    AccessFailureLog.objects.get_or_create(**who, defaults={"locked_out": False})
    Schedule.objects.get_or_create(name="walk", defaults={"func": "math.floor", "args": "1.5"})
    now = timezone.now()
    for number, success in ((1, True), (2, False)):
        Task.objects.get_or_create(id=f"{number:032x}", defaults={
            "name": f"walk-{number}", "func": "math.floor", "started": now, "stopped": now,
            "success": success, "result": None if success else "ValueError: walk", "attempt_count": 1})
    task = {"id": "f" * 32, "name": "walk-queued", "func": "math.floor", "args": (1.5,), "kwargs": {},
            "started": now, "cluster": None}
    OrmQ.objects.get_or_create(key="walk", defaults={"payload": SignedPackage.dumps(task), "lock": now})


def _job_of(world, code):
    """An import job of dealer `code`'s staff member (the import page's job argument)."""
    from apps.leads.models import ImportJob, ImportState

    return ImportJob.objects.create(kind="leads", created_by=world[code]["membership"].user, file_name="walk.csv",
                                    content=b"dealer\n", size=7, state=ImportState.REFUSED,
                                    problems=["line 2: example"], problem_count=1).pk


def admin_pages(world, code):
    """[(url name, url, names_an_object)] of every admin page, with dealer `code`'s
    objects wherever a URL names one (names_an_object: True). Fails naming any
    URL whose arguments the walk cannot fill yet, so a new view is never skipped."""
    _global_objects()
    pages, unknown = [], []
    for name, arguments in _admin_url_patterns():
        model = _model_of_url(name)
        obj = _object_of(model, world, code) if model is not None else None
        query = VIEW_QUERY[name](world, code) if name in VIEW_QUERY else ""
        if not arguments:
            pages.append((name, reverse(f"admin:{name}") + query, bool(query)))
        elif arguments == {"app_label"}:
            labels = sorted({m._meta.app_label for m in admin.site._registry})
            pages += [(name, reverse("admin:app_list", args=[label]), False) for label in labels]
        elif arguments == {"name"} and name == "reports_leadreport_report":  # every report, and its CSV
            for report in REPORTS:
                url = reverse(f"admin:{name}", args=[report])
                pages += [(name, url, False), (name, url + "?format=csv", False)]
        elif arguments == {"job_id"}:
            pages.append((name, reverse(f"admin:{name}", args=[_job_of(world, code)]), True))
        elif arguments == {"content_type_id", "object_id"}:  # view_on_site
            lead = world[code]["lead"]
            from django.contrib.contenttypes.models import ContentType
            pages.append((name, reverse(f"admin:{name}", args=[ContentType.objects.get_for_model(lead).pk,
                                                                lead.pk]), True))
        elif obj is None:
            unknown.append(f"{name}: no object of {model}")
        elif arguments <= OBJECT_ARGUMENTS:
            pages.append((name, reverse(f"admin:{name}", kwargs={a: obj.pk for a in arguments}), True))
        elif arguments == {"#0", "#1"} and name.endswith("_simple_history"):  # a past version
            if not hasattr(model, "history"):
                continue  # the admin offers the view, the model keeps no history: nothing to walk
            version = model.history.filter(**{model._meta.pk.attname: obj.pk}).order_by("-history_date").first()
            if version is not None:
                pages.append((name, reverse(f"admin:{name}", args=[obj.pk, version.history_id]), True))
        else:
            unknown.append(f"{name}: {sorted(arguments)}")
    assert not unknown, f"teach admin_pages these views' arguments: {unknown}"
    return pages


def _label(model):
    return f"{model._meta.app_label}.{model._meta.model_name}"


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def _registered():
    return list(admin.site._registry.items())


def test_it_knows_an_object_of_every_registered_model():
    unknown = [_label(m) for m, _ in _registered()
               if m not in OBJECT_OF and _label(m) not in GLOBAL_MODELS | PAGES_ONLY]
    assert unknown == [], f"add these to OBJECT_OF or GLOBAL_MODELS: {unknown}"


@pytest.mark.parametrize("username", ["alice", "adam"])
def test_it_never_shows_another_dealers_objects_in_any_changelist(client, world, username):
    client.force_login(get_user_model().objects.get(username=username))
    for model, model_admin in _registered():
        if model not in OBJECT_OF:
            continue
        response = client.get(_url(model, "changelist"))
        if response.status_code == 403:
            continue  # this role may not see the model at all
        assert response.status_code == 200, _label(model)
        theirs = OBJECT_OF[model](world, "B200")
        mine = OBJECT_OF[model](world, "A100")
        body = without_csrf(response.content.decode())
        if model in PERSONAL:  # a person's own rows: linked by their own view, shown to them alone
            link, user = PERSONAL[model], response.wsgi_request.user
            assert link(theirs) not in body, f"{_label(model)} lists dealer B's person's object"
            assert (link(mine) in body) == (mine.user_id == user.pk), f"{_label(model)} shows another's own object"
        else:
            assert _url(model, "change", theirs.pk) not in body, f"{_label(model)} lists dealer B's object"
            assert _url(model, "change", mine.pk) in body, f"{_label(model)} hides dealer A's own object"
        cl = response.context["cl"]
        expected = model_admin.get_queryset(type("R", (), {"user": response.wsgi_request.user})()).count()
        assert cl.result_count == expected
        assert not cl.queryset.filter(pk=theirs.pk).exists()
        # List filters must not offer dealer B's dealer, people, stages or accounts.
        assert "B200" not in body and "bob" not in body and "bella" not in body, _label(model)


@pytest.mark.parametrize("username", ["alice", "adam"])
def test_it_never_reaches_another_dealers_object_by_url(client, world, username):
    client.force_login(get_user_model().objects.get(username=username))
    for model in OBJECT_OF:
        theirs = OBJECT_OF[model](world, "B200")
        for view in ("change", "history", "delete"):
            response = client.get(_url(model, view, theirs.pk))
            assert response.status_code in (302, 403, 404), f"{_label(model)} {view}: {response.status_code}"
            if response.status_code == 302:
                assert response.url == reverse("admin:index"), f"{_label(model)} {view} -> {response.url}"
        if hasattr(model._meta, "simple_history_manager_attribute"):  # audit history: one past version
            version = model.history.filter(**{model._meta.pk.attname: theirs.pk}).latest("history_date").history_id
            response = client.get(_url(model, "simple_history", theirs.pk, version))
            assert response.status_code in (403, 404), f"{_label(model)} history version: {response.status_code}"
        before = model.objects.filter(pk=theirs.pk).values().get()
        client.post(_url(model, "change", theirs.pk), {"name": "hacked", "label": "hacked", "first_name": "hacked"})
        client.post(_url(model, "delete", theirs.pk), {"post": "yes"})
        assert model.objects.filter(pk=theirs.pk).values().get() == before, f"{_label(model)} changed by URL"


@pytest.mark.parametrize("username", ["alice", "adam"])
def test_it_never_opens_another_dealers_object_in_any_admin_view(client, world, username):
    """Every admin URL naming an object (custom views too: workbench, status,
    import jobs, past versions...) with dealer B's object is "not found" to A."""
    client.force_login(get_user_model().objects.get(username=username))
    opened = []
    pages = [(name, url) for name, url, names_an_object in admin_pages(world, "B200") if names_an_object
             and (_model_of_url(name) is None or _model_of_url(name) in OBJECT_OF)]
    for name, url in pages:
        response = client.get(url)
        if response.status_code == 302 and response.url == reverse("admin:index"):
            continue  # the admin's "no such object" redirect to the index
        if response.status_code not in (403, 404, 405):
            opened.append(f"{name} {url}: {response.status_code}")
    assert len(pages) > 30
    assert not opened, "dealer B's objects opened by dealer A:\n" + "\n".join(opened)


@pytest.mark.parametrize("username", ["alice", "adam"])
def test_it_never_acts_on_another_dealers_objects(client, world, username):
    client.force_login(get_user_model().objects.get(username=username))
    for model in OBJECT_OF:
        theirs = OBJECT_OF[model](world, "B200")
        client.post(_url(model, "changelist"), {"action": "delete_selected", "_selected_action": [theirs.pk],
                                                "post": "yes"})
        assert model.objects.filter(pk=theirs.pk).exists(), f"{_label(model)} deleted by action"


@pytest.mark.parametrize("username", ["alice", "adam"])
def test_it_never_autocompletes_another_dealers_objects(client, world, username):
    client.force_login(get_user_model().objects.get(username=username))
    checked = 0
    for model, model_admin in _registered():
        for field_name in model_admin.autocomplete_fields:
            remote = model._meta.get_field(field_name).related_model
            if remote not in OBJECT_OF:
                continue
            response = client.get(reverse("admin:autocomplete"), {
                "app_label": model._meta.app_label, "model_name": model._meta.model_name,
                "field_name": field_name, "term": ""})
            if response.status_code == 403:
                continue
            ids = {int(r["id"]) for r in response.json()["results"]}
            assert OBJECT_OF[remote](world, "B200").pk not in ids, f"{_label(model)}.{field_name}"
            assert OBJECT_OF[remote](world, "A100").pk in ids, f"{_label(model)}.{field_name}"
            checked += 1
    assert checked >= 2  # followup.lead and membership.dealer at least


@pytest.mark.parametrize("username", ["alice", "adam"])
def test_it_keeps_global_models_to_superusers(client, world, username):
    client.force_login(get_user_model().objects.get(username=username))
    for model, _ in _registered():
        if _label(model) in GLOBAL_MODELS:
            assert client.get(_url(model, "changelist")).status_code == 403, _label(model)


def test_it_offers_only_own_dealer_choices_in_forms(client, world):
    client.force_login(get_user_model().objects.get(username="alice"))
    lead = world["A100"]["lead"]
    body = without_csrf(client.get(_url(Lead, "change", lead.pk)).content.decode())
    assert "bob" not in body and "bella" not in body  # owner / assignee choices
    body = without_csrf(client.get(_url(Lead, "add")).content.decode())
    assert "A100" in body and "B200" not in body


def test_it_refuses_a_forged_choice_of_another_dealers_object(client, world):
    client.force_login(get_user_model().objects.get(username="alice"))
    lead = world["A100"]["lead"]
    bob = get_user_model().objects.get(username="bob")
    data = {"dealer": world["A100"]["dealer"].pk, "owner": bob.pk, "first_name": "Ann", "country": "",
            **LEAD_INLINES}
    response = client.post(_url(Lead, "change", lead.pk), data)
    assert response.status_code == 200  # the form comes back with an error
    lead.refresh_from_db()
    assert lead.owner.username == "alice"


def test_staff_cannot_manage_reasons_but_dealer_admins_can(client, world):
    reason = world["A100"]["reasons"]["rejection"]
    client.force_login(get_user_model().objects.get(username="alice"))
    assert client.get(_url(Reason, "change", reason.pk)).status_code == 200  # view only
    assert client.get(_url(Reason, "add")).status_code == 403
    assert client.get(_url(VendorAccount, "add")).status_code == 403
    client.post(_url(Reason, "change", reason.pk), {"label": "renamed by staff"})
    reason.refresh_from_db()
    assert reason.label != "renamed by staff"
    client.force_login(get_user_model().objects.get(username="adam"))
    assert client.get(_url(Reason, "add")).status_code == 200
    assert client.get(_url(VendorAccount, "add")).status_code == 200


def test_a_user_admin_at_one_dealer_and_staff_at_another_manages_only_the_first(client, world):
    adam = get_user_model().objects.get(username="adam")
    Membership.objects.create(user=adam, dealer=world["B200"]["dealer"], role="staff")
    client.force_login(adam)
    theirs = world["B200"]["reasons"]["rejection"]
    response = client.get(_url(Reason, "change", theirs.pk))
    assert response.status_code == 200  # sees it (staff there)...
    assert response.context["has_change_permission"] is False  # ...read-only
    # Dealer admins may delete leads, staff may not: the role at the lead's dealer decides.
    their_lead = world["B200"]["lead"]
    assert client.get(_url(Lead, "delete", their_lead.pk)).status_code == 403
    client.post(_url(Lead, "delete", their_lead.pk), {"post": "yes"})
    assert Lead.objects.filter(pk=their_lead.pk).exists()
    client.post(_url(Reason, "change", theirs.pk), {"label": "renamed", "kind": "rejection",
                                                    "dealer": theirs.dealer_id, "position": 0,
                                                    "mappings-TOTAL_FORMS": 0, "mappings-INITIAL_FORMS": 0})
    theirs.refresh_from_db()
    assert theirs.label != "renamed"
    body = without_csrf(client.get(_url(Reason, "add")).content.decode())
    assert "A100" in body and "B200" not in body  # may add reasons only where admin


def test_superusers_see_every_dealer(client, world):
    client.force_login(get_user_model().objects.get(username="root"))
    response = client.get(_url(Lead, "changelist"))
    assert response.context["cl"].result_count == Lead.objects.count() == 2


def test_the_export_holds_only_own_dealers_leads(client, world):
    client.force_login(get_user_model().objects.get(username="alice"))
    response = client.post(reverse("admin:leads_lead_export"), {"format": "0", "resource": "0",
                                                                 **_all_export_fields()})
    assert response.status_code == 200, response.content[:500]
    body = response.content.decode()
    assert world["A100"]["lead"].email in body
    assert world["B200"]["lead"].email not in body


def _all_export_fields():
    from apps.leads.resources import EXPORT_COLUMNS
    return {f"leadresource_{name}": "on" for name in EXPORT_COLUMNS}


@pytest.mark.parametrize("username", ["adam", "root"])
def test_no_report_nor_its_csv_counts_another_dealers_leads(client, world, username):
    """Dealer A's admin: every report (page and CSV) counts A's leads only; asking
    for B by its id is refused on the form. IT sees both."""
    import csv
    import io

    from apps.leads.models import Lead

    client.force_login(get_user_model().objects.get(username=username))
    a_leads = Lead.objects.filter(dealer=world["A100"]["dealer"]).count()
    all_leads = Lead.objects.count()
    funnel = reverse("admin:reports_leadreport_report", args=["funnel"])
    received = client.get(funnel).context["report"].rows[0]["leads"]
    assert received == (a_leads if username == "adam" else all_leads)
    rows = list(csv.DictReader(io.StringIO(client.get(funnel, {"format": "csv"}).content.decode("utf-8-sig"))))
    assert int(rows[0]["leads"]) == received
    b_accounts = set(VendorAccount.objects.filter(dealer=world["B200"]["dealer"]).values_list("name", flat=True))
    for report in REPORTS:
        url = reverse("admin:reports_leadreport_report", args=[report])
        text = client.get(url, {"format": "csv"}).content.decode("utf-8-sig")
        if username == "adam":
            assert not any(name in text for name in b_accounts), report
            assert "Ben" not in text and "bob" not in text, report  # B's lead and its rep
    refused = client.get(funnel, {"dealer": world["B200"]["dealer"].pk})
    if username == "adam":
        assert refused.context["report"] is None and refused.context["form"].errors["dealer"]
