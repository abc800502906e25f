"""CSV outcomes go through the same status service and Cat rules as the browser."""
import pytest

from apps.leads.models import Lead, StatusLog
from apps.leads.outcomes_import import ImportFileError, import_outcomes
from apps.sync import engine
from apps.sync.models import OutboxItem


@pytest.fixture
def leads(sandbox, cat_account, alice, cat_mapped):
    sandbox.generate_leads(3, dealer_code="A100")
    engine.pull(cat_account)
    Lead.objects.update(owner=alice)
    return list(Lead.objects.order_by("id"))


def csv_of(*rows, header="lead_id,status,reason,comment,customer_contacted"):
    return "\n".join([header, *rows]) + "\n"


def test_it_applies_every_row_through_the_status_service(leads, alice, cat_mapped):
    reject = cat_mapped["reasons"]["rejection"].label  # mapped to "For Another Dealer"
    data = csv_of(f"{leads[0].pk},accepted,,called,yes",
                  f"{leads[1].pk},Rejected,{reject},Outside our territory,no",
                  f"{leads[2].pk},disqualified,{cat_mapped['reasons']['disqualification'].label},,")
    result = import_outcomes(data, actor=alice)
    assert (result.changed, result.errors, result.committed) == (3, [], True)
    assert [Lead.objects.get(pk=lead.pk).status for lead in leads] == ["accepted", "rejected", "disqualified"]
    assert set(StatusLog.objects.values_list("source", flat=True)) == {"import"}
    assert OutboxItem.objects.filter(state="pending").count() == 3  # queued for Cat like any change


def test_one_bad_row_keeps_nothing_and_names_column_and_rule(leads, alice, cat_mapped):
    reject = cat_mapped["reasons"]["rejection"]
    reject.requires_comment = False  # only Cat's rule is left to require the comment
    reject.save()
    data = csv_of(f"{leads[0].pk},accepted,,,", f"{leads[1].pk},rejected,{reject.label},,")
    result = import_outcomes(data, actor=alice)
    assert not result.committed and result.changed == 1
    [error] = result.errors
    assert (error.row, error.column) == (3, "comment")
    assert error.message.startswith("Add a comment: Cat needs one when the reason is")
    assert "rejectedReasonComments" in error.message and "For Another Dealer" in error.message  # and Cat's words
    assert Lead.objects.get(pk=leads[0].pk).status == "new"  # the good row was rolled back too
    assert not OutboxItem.objects.exists() and not StatusLog.objects.exists()


def test_a_dry_run_checks_everything_and_changes_nothing(leads, alice):
    result = import_outcomes(csv_of(f"{leads[0].pk},accepted,,,"), actor=alice, dry_run=True)
    assert (result.changed, result.committed) == (1, False)
    assert Lead.objects.get(pk=leads[0].pk).status == "new"


def test_reimporting_the_same_file_changes_nothing(leads, alice):
    data = csv_of(f"{leads[0].pk},accepted,,,", f"{leads[1].pk},on hold,,,")
    assert import_outcomes(data, actor=alice).changed == 2
    again = import_outcomes(data, actor=alice)
    assert (again.changed, again.unchanged, again.errors) == (0, 2, [])
    assert StatusLog.objects.count() == 2


def test_rows_by_account_and_vendor_lead_id(leads, alice, cat_account):
    data = csv_of(f"{cat_account.name},{leads[0].vendor_lead_id},accepted", header="account,vendor_lead_id,status")
    assert import_outcomes(data, actor=alice).changed == 1


@pytest.mark.parametrize("row,column,text", [
    ("999999,accepted,,,", "lead_id", "no lead"),
    ("{pk},promoted,,,", "status", "not a status"),
    ("{pk},rejected,No such reason,x,", "reason", "has no reason"),
    ("{pk},accepted,,,maybe", "customer_contacted", "write yes or no"),
])
def test_bad_values_are_reported_per_row_and_column(leads, alice, row, column, text):
    result = import_outcomes(csv_of(row.format(pk=leads[0].pk)), actor=alice)
    assert [(e.row, e.column) for e in result.errors][:1] == [(2, column)]
    assert text in result.errors[0].message


def test_leads_of_other_dealers_are_not_found(leads, alice, dealer_b):
    result = import_outcomes(csv_of(f"{leads[0].pk},accepted,,,"), actor=alice, dealer_ids={dealer_b.pk})
    assert result.errors and result.errors[0].column == "lead_id"


@pytest.mark.parametrize("data,message", [
    ("", "empty"), ("lead_id,colour\n1,red\n", "column colour: LeadHub does not know this column"), ("lead_id\n1\n", "status and lead_id"),
    (b"lead_id,status\n\xff,accepted\n", "not UTF-8"),
])
def test_unreadable_files_are_refused_whole(data, message):
    with pytest.raises(ImportFileError, match=message):
        import_outcomes(data)


def test_the_command_exits_1_with_row_errors_and_2_for_bad_files(tmp_path, leads):
    import io

    from django.core.management import CommandError, call_command

    good = tmp_path / "good.csv"
    good.write_text(csv_of(f"{leads[0].pk},accepted,,,"))
    bad = tmp_path / "bad.csv"
    bad.write_text(csv_of(f"{leads[0].pk},promoted,,,"))
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("import_outcomes", str(bad), stdout=io.StringIO(), stderr=err)
    assert exited.value.code == 1 and "line 2, column status" in err.getvalue()
    with pytest.raises(CommandError) as excinfo:
        call_command("import_outcomes", str(tmp_path / "missing.csv"))
    assert excinfo.value.returncode == 2
    out = io.StringIO()
    call_command("import_outcomes", str(good), "--dry-run", stdout=out)
    assert "would change 1" in out.getvalue() and Lead.objects.get(pk=leads[0].pk).status == "new"
    call_command("import_outcomes", str(good), stdout=out)
    assert Lead.objects.get(pk=leads[0].pk).status == "accepted"


def test_the_command_as_a_user_refuses_leads_of_dealers_they_do_not_work_for(tmp_path, leads, bob):
    import io

    from django.core.management import call_command

    path = tmp_path / "outcomes.csv"
    path.write_text(csv_of(f"{leads[0].pk},accepted,,,"))  # dealer A's lead
    err = io.StringIO()
    with pytest.raises(SystemExit) as exited:
        call_command("import_outcomes", str(path), "--as", "bob", stdout=io.StringIO(), stderr=err)
    assert exited.value.code == 1
    assert "line 2, column lead_id" in err.getvalue()
    assert Lead.objects.get(pk=leads[0].pk).status == "new"


@pytest.mark.parametrize("data, message", [
    (b"lead_id,status,status\n1,accepted,accepted\n", "column status: this column appears twice"),
    (b"lead_id,status,comment\n1,accepted,\"open\n", "line 2: a quote opened on this line is never closed"),
    (b"lead_id,status\n1,accep\x00ted\n", "line 2: a NUL byte"),
    (b"lead_id,status,comment\n1,accepted," + b"x" * 10_001 + b"\n", "line 2, column comment: the cell has 10,001"),
    (b"lead_id,status\n1,accepted,closed_won\n", "line 2: 3 cells but the header has 2 columns"),
    (b"lead_id,status\n1,accepted\n2,r\xe9jet\n", "line 3: byte 4 of the line (0xE9) is not UTF-8"),
])
def test_it_refuses_a_badly_made_file_naming_the_line(data, message, leads):
    import re

    with pytest.raises(ImportFileError, match=re.escape(message)):
        import_outcomes(data)
    assert Lead.objects.get(pk=leads[0].pk).status == "new"


def test_it_reads_a_semicolon_file_with_a_bom_and_names_physical_lines(leads, alice, cat_mapped):
    data = ("\ufefflead_id;status;comment\n"
            f'{leads[0].pk};accepted;"two\nlines"\n'
            f"{leads[1].pk};promoted;\n").encode()
    result = import_outcomes(data, actor=alice)
    assert [(e.row, e.column) for e in result.errors] == [(4, "status")]
