"""The lead import behind the admin, `import_leads` and the import jobs
(apps/leads/lead_import.py, apps/leads/imports.py): CSV as people make it,
every row's problems at once, short write transactions, background jobs."""
import io
import subprocess
import sys

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from apps.leads import imports
from apps.leads.lead_import import import_lead_file
from apps.leads.models import ImportJob, ImportState, Lead
from tests.conftest import make_lead
from tests.leads.test_lead_import import upload
from tests.support.processes import ROOT


def run_command(tmp_path, content: bytes, *args):
    path = tmp_path / "leads.csv"
    path.write_bytes(content)
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_leads", str(path), *args, stdout=out, stderr=err)
        code = 0
    except SystemExit as exited:
        code = exited.code
    except CommandError as exc:
        code = exc.returncode
        err.write(str(exc))
    return code, out.getvalue(), err.getvalue()


def test_the_command_imports_and_exits_0(tmp_path, alice, dealer_a):
    code, out, _ = run_command(tmp_path, b"dealer,external_ref,first_name,email,owner\n"
                                         b"A100,EV-1,Walk,walk@in.test,alice\nA100,EV-2,Expo,expo@in.test,\n")
    assert code == 0 and "created 2" in out
    assert Lead.objects.get(external_ref="EV-1").owner == alice
    code, out, _ = run_command(tmp_path, b"dealer,external_ref,first_name,email,owner\n"
                                         b"A100,EV-1,Walk,walk@in.test,alice\nA100,EV-2,Expo,expo@in.test,\n")
    assert code == 0 and "2 unchanged" in out and Lead.objects.count() == 2


def test_the_command_reports_every_row_problem_on_its_own_line_and_writes_nothing(tmp_path, alice, dealer_a,
                                                                                  dealer_b):
    code, _, err = run_command(tmp_path, b"dealer,external_ref,first_name,email,country\n"
                                         b"A100,EV-1,Good,good@in.test,US\n"
                                         b"X999,EV-2,Bad,bad@in.test,US\n"
                                         b"A100,EV-3,Worse,not-an-email,Narnia\n", "--as", "alice")
    assert code == 1
    assert err.splitlines() == [
        "line 3, column dealer: X999 is not one of the dealers you can add leads to",
        "line 4, column email: 'not-an-email' is not an e-mail address",
        "line 4, column country: 'Narnia' is not a country: use its two-letter ISO code (US, GB, DE...)",
    ]
    assert not Lead.objects.exists()


def test_the_command_as_a_user_reaches_only_their_dealers(tmp_path, alice, dealer_a, dealer_b, bob):
    theirs = make_lead(dealer_b, external_ref="EV-9", first_name="Theirs")
    code, _, err = run_command(tmp_path, f"id,first_name\n{theirs.pk},Hijack\n".encode(), "--as", "alice")
    assert code == 1 and f"line 2, column id: no lead {theirs.pk} among your dealers' leads" in err
    code, _, err = run_command(tmp_path, b"dealer,first_name,owner\nB200,Sneaky,\nA100,Own,bob\n", "--as", "alice")
    assert code == 1
    assert "line 2, column dealer: B200 is not one of the dealers you can add leads to" in err
    assert "line 3, column owner: bob is not one of your dealers' people" in err
    assert Lead.objects.get(pk=theirs.pk).first_name == "Theirs" and Lead.objects.count() == 1


def test_the_command_exits_2_for_bad_arguments_and_unreadable_files(tmp_path, db):
    code, _, err = run_command(tmp_path, b"dealer,status\nA100,closed_won\n")
    assert code == 2 and "column status: LeadHub does not know this column" in err
    code, _, err = run_command(tmp_path, b"dealer\nA100\n", "--as", "nobody")
    assert code == 2 and "no active user 'nobody'" in err
    result = subprocess.run([sys.executable, "manage.py", "import_leads"], cwd=ROOT, capture_output=True, text=True,
                            env={"DJANGO_SETTINGS_MODULE": "leadhub.settings_test", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content, message", [
    (b"dealer,first_name,first_name\nA100,A,B\n", "line 1, column first_name: this column appears twice"),
    (b"dealer,first_name,status\nA100,A,closed_won\n", "the accepted columns are: id, dealer, external_ref"),
    (b"dealer,external_ref\nA100,EV-1\nA100,EV-2\nA100,EV-1\n", "line 4, column external_ref: 'EV-1' is also on "
                                                                  "line 2"),
    (b"id,first_name\n7,A\n7,B\n", "line 3, column id: lead 7 is also on line 2"),
    (b"dealer,first_name\nA100,\"open\n", "line 2: a quote opened on this line is never closed"),
    (b"dealer,first_name\nA100,Jo\x00e\n", "line 2: a NUL byte"),
    (b"dealer,first_name\nA100,J\xe9r\xf4me\n", "line 2: byte 7 of the line (0xE9) is not UTF-8: save the file "
                                               "as \"CSV UTF-8\""),
    (b"dealer,comments\nA100," + b"x" * 10_001 + b"\n", "line 2, column comments: the cell has 10,001 characters"),
])
def test_it_refuses_a_badly_made_file_naming_the_line(content, message, alice, dealer_a):
    from apps.core.csvread import CsvFileError

    try:
        result = import_lead_file(content, user=alice)
        text = "\n".join(str(p) for p in result.problems)
    except CsvFileError as exc:
        text = str(exc)
    assert message in text
    assert not Lead.objects.exists()


def test_it_reads_excels_semicolon_csv_utf8_with_bom(alice, dealer_a):
    content = "\ufeffdealer;first_name;company;email\nA100;Łukasz;Nowak, Sp. z o.o.;l@example.pl\n".encode()
    result = import_lead_file(content, user=alice)
    assert result.committed and (Lead.objects.get().first_name, Lead.objects.get().company) == (
        "Łukasz", "Nowak, Sp. z o.o.")


def test_it_writes_in_short_batches_each_its_own_transaction(alice, dealer_a, settings):
    settings.LEADHUB_IMPORT_BATCH_ROWS = 2
    content = "dealer,external_ref,email\n" + "".join(f"A100,EV-{i},l{i}@in.test\n" for i in range(5))
    result = import_lead_file(content.encode(), user=alice)
    assert (result.committed, result.batches, result.written_rows, Lead.objects.count()) == (True, 3, 5, 5)


def test_a_conflict_after_the_check_stops_the_write_and_a_second_run_finishes(alice, dealer_a, settings,
                                                                             monkeypatch):
    settings.LEADHUB_IMPORT_BATCH_ROWS = 2
    content = ("dealer,external_ref,email\n" + "".join(f"A100,EV-{i},l{i}@in.test\n" for i in range(4))).encode()
    from apps.leads import lead_import

    real = lead_import.check_lead_file

    def check_then_someone_else_creates(*args, **kwargs):
        checked = real(*args, **kwargs)
        make_lead(dealer_a, external_ref="EV-3", email="other@in.test")  # made in those seconds by someone else
        return checked

    monkeypatch.setattr(lead_import, "check_lead_file", check_then_someone_else_creates)
    result = lead_import.import_lead_file(content, user=alice)
    assert not result.committed and result.written_rows == 2
    assert "created by someone else" in str(result.problems[0]) and "Import the same file again" in str(
        result.problems[0])
    monkeypatch.setattr(lead_import, "check_lead_file", real)
    again = lead_import.import_lead_file(content, user=alice)
    assert again.committed and (again.created, again.updated, again.unchanged) == (1, 1, 2)
    assert Lead.objects.filter(external_ref__startswith="EV-").count() == 4


def test_a_large_file_runs_as_a_background_job_with_progress(client, alice, dealer_a, settings, django_capture_on_commit_callbacks):
    settings.LEADHUB_IMPORT_INLINE_BYTES = 10  # everything is "large" here
    client.force_login(alice)
    queued = []
    import django_q.tasks

    original = django_q.tasks.async_task
    django_q.tasks.async_task = lambda name, *args, **kwargs: queued.append((name, args))
    try:
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/admin/leads/lead/import/", {"kind": "leads", "file": SimpleUploadedFile(
                "big.csv", b"dealer,email\nA100,a@in.test\nA100,b@in.test\n")})
    finally:
        django_q.tasks.async_task = original
    job = ImportJob.objects.get()
    assert response.url == f"/admin/leads/lead/import/{job.pk}/"
    assert queued == [("apps.leads.imports.job_run", (job.pk,))] and job.state == ImportState.QUEUED
    page = client.get(response.url).content.decode()
    assert 'http-equiv="refresh"' in page and "you can leave it" in page
    imports.job_run(job.pk)  # what the worker runs
    job.refresh_from_db()
    assert (job.state, job.rows_done, job.summary["created"]) == (ImportState.CHECKED, 2, 2)
    assert not Lead.objects.exists()  # checked only
    imports.job_run(job.pk)  # a redelivered task does nothing
    assert ImportJob.objects.get().state == ImportState.CHECKED
    with django_capture_on_commit_callbacks(execute=False):
        client.post(response.url)  # "Import now": queued again
    imports.job_run(job.pk)
    job.refresh_from_db()
    assert job.state == ImportState.DONE and Lead.objects.count() == 2 and bytes(job.content) == b""
    assert 'http-equiv="refresh"' not in client.get(response.url).content.decode()


def test_an_import_job_is_its_uploaders(client, alice, adam, bob, dealer_a, dealer_b):
    client.force_login(alice)
    job_page = upload(client, "dealer,email\nA100,a@in.test\n")
    job = job_page.context["job"]
    client.force_login(bob)
    assert client.get(f"/admin/leads/lead/import/{job.pk}/").status_code == 404
    client.post(f"/admin/leads/lead/import/{job.pk}/")
    assert not Lead.objects.exists()


def test_it_refuses_an_upload_over_the_size_limit_with_a_clear_message(client, alice, dealer_a, settings):
    settings.LEADHUB_IMPORT_MAX_UPLOAD_BYTES = 20
    client.force_login(alice)
    response = client.post("/admin/leads/lead/import/", {"kind": "leads", "file": SimpleUploadedFile(
        "big.csv", b"dealer,email\nA100,a@in.test\nA100,b@in.test\n")})
    assert response.status_code == 200
    assert "the largest LeadHub takes is 0 MB. Split it into smaller files." in response.content.decode()
    assert not ImportJob.objects.exists()


def test_the_admin_imports_outcomes_through_the_same_jobs(client, alice, dealer_a):
    lead = make_lead(dealer_a)
    client.force_login(alice)
    preview = upload(client, f"lead_id,status\n{lead.pk},accepted\n", kind="outcomes")
    assert "Import now" in preview.content.decode() and Lead.objects.get().status == "new"
    client.post(f"/admin/leads/lead/import/{preview.context['job'].pk}/")
    assert Lead.objects.get().status == "accepted"
    refused = upload(client, f"lead_id,status\n{lead.pk},promoted\n", kind="outcomes")
    assert "line 2, column status" in refused.content.decode()
