"""Importing leads from CSV in the admin: checked first (the job's page is the
preview), every row's errors with line and column, nothing kept from a file with
an error, re-import updates instead of duplicating."""
from django.core.files.uploadedfile import SimpleUploadedFile

from apps.leads.models import ImportJob, Lead

HEADER = "dealer,external_ref,first_name,last_name,email,phone,country,owner"


def upload(client, text, kind="leads"):
    """Upload `text`; returns the job page (the check's result: the preview)."""
    csv_file = SimpleUploadedFile("leads.csv", text.encode() if isinstance(text, str) else text,
                                  content_type="text/csv")
    response = client.post("/admin/leads/lead/import/", {"kind": kind, "file": csv_file})
    assert response.status_code == 302, response.content.decode()[:2000]
    return client.get(response.url)


def confirm(client, preview):
    """Press "Import now" on a checked job's page."""
    job = preview.context["job"]
    return client.post(f"/admin/leads/lead/import/{job.pk}/")


def test_it_previews_then_imports_new_leads(client, alice, dealer_a):
    client.force_login(alice)
    preview = upload(client, f"{HEADER}\nA100,EV-1,Walk,In,walk@in.test,(309) 555-0101,US,alice\n"
                             f"A100,EV-2,Expo,Visitor,expo@in.test,,US,\n")
    assert preview.status_code == 200 and "Import now" in preview.content.decode()
    assert not Lead.objects.exists()  # a preview writes nothing
    done = confirm(client, preview)
    assert done.status_code == 302
    leads = Lead.objects.order_by("external_ref")
    assert [(l.external_ref, l.origin, l.status, l.dealer.code) for l in leads] == [
        ("EV-1", "csv", "new", "A100"), ("EV-2", "csv", "new", "A100")]
    assert leads[0].owner == alice and leads[0].phone_normalized == "+13095550101"


def test_reimporting_updates_instead_of_duplicating(client, alice, dealer_a):
    client.force_login(alice)
    confirm(client, upload(client, f"{HEADER}\nA100,EV-1,Walk,In,walk@in.test,,US,\n"))
    confirm(client, upload(client, f"{HEADER}\nA100,EV-1,Walter,In,walk@in.test,,US,\n"))
    assert Lead.objects.count() == 1 and Lead.objects.get().first_name == "Walter"


def test_a_file_with_an_error_imports_nothing_and_names_row_and_column(client, alice, dealer_a):
    client.force_login(alice)
    preview = upload(client, f"{HEADER}\nA100,EV-1,Good,Row,good@in.test,,US,\n"
                             f"A100,EV-2,Bad,Row,not-an-email,,ZZ,\n")
    body = preview.content.decode()
    assert "Import now" not in body  # nothing to confirm
    assert "line 3, column email: &#x27;not-an-email&#x27; is not an e-mail address" in body
    assert "line 3, column country" in body
    assert not Lead.objects.exists()


def test_it_never_imports_into_or_over_another_dealer(client, alice, dealer_a, dealer_b, bob):
    from tests.conftest import make_lead

    theirs = make_lead(dealer_b, external_ref="EV-9", first_name="Theirs")
    client.force_login(alice)
    for text in (f"{HEADER}\nB200,EV-9,Hijack,,,,,\n", f"{HEADER}\nA100,EV-3,X,Y,x@y.test,,US,bob\n",
                 f"id,first_name\n{theirs.pk},Hijack\n"):
        preview = upload(client, text)
        assert "Import now" not in preview.content.decode(), text
    assert Lead.objects.get(pk=theirs.pk).first_name == "Theirs"
    assert Lead.objects.filter(dealer=dealer_a).count() == 0


def test_it_imports_consent_per_channel_ip_and_utm(client, alice, dealer_a):
    client.force_login(alice)
    text = ("dealer,external_ref,first_name,email,opt_in_email,opt_in_phone,opt_in_sms,ip_address,utm_source\n"
            "A100,EV-1,Yes,yes@in.test,yes,No,,203.0.113.7,boatshow\n"
            "A100,EV-2,True,true@in.test,TRUE,0,1,,\n")
    confirm(client, upload(client, text))
    got = {l.external_ref: (l.opt_in_email, l.opt_in_phone, l.opt_in_sms, l.ip_address, l.utm_source)
           for l in Lead.objects.all()}
    assert got == {"EV-1": (True, False, None, "203.0.113.7", "boatshow"), "EV-2": (True, False, True, None, "")}


def test_an_unreadable_consent_is_an_error_never_an_opt_out(client, alice, dealer_a):
    client.force_login(alice)
    preview = upload(client, "dealer,external_ref,first_name,opt_in_email\nA100,EV-1,Typo,Y es\n")
    body = preview.content.decode()
    assert "Import now" not in body
    assert "line 2, column opt_in_email" in body and "is not a consent answer" in body
    assert not Lead.objects.exists()
