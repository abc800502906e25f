"""`import_outcomes --as USERNAME` acts as that user, dealer scope included: a row
for a lead of a dealer the user does not work for is "no such lead", and one such
row keeps the whole file out (all or nothing)."""
import io

import pytest
from django.core.management import call_command

from apps.leads.models import Lead, StatusLog
from tests.conftest import make_cat_account, make_lead


def run(tmp_path, text, *args):
    """Run the command; (exit code, stdout, stderr)."""
    path = tmp_path / "outcomes.csv"
    path.write_text(text)
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("import_outcomes", str(path), *args, stdout=out, stderr=err)
    except SystemExit as exc:
        return exc.code, out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


@pytest.fixture
def lead_a(dealer_a):
    return make_lead(dealer_a)


@pytest.fixture
def lead_b(dealer_b):
    return make_lead(dealer_b, email="b@birch.test")


def statuses(*leads):
    return [Lead.objects.get(pk=lead.pk).status for lead in leads]


@pytest.mark.parametrize("username", ["alice", "adam"])  # staff and dealer admin of A
def test_it_refuses_a_row_for_another_dealers_lead_by_id(tmp_path, lead_a, lead_b, alice, adam, username):
    code, _, err = run(tmp_path, f"lead_id,status\n{lead_b.pk},accepted\n", "--as", username)
    assert code == 1
    assert "line 2, column lead_id" in err
    assert statuses(lead_b) == ["new"] and not StatusLog.objects.exists()


def test_it_refuses_a_row_for_another_dealers_lead_by_account_and_vendor_id(tmp_path, dealer_b, alice):
    account_b = make_cat_account(dealer_b)
    vendor_lead = make_lead(dealer_b, vendor_account=account_b, vendor_lead_id="00QB000001", origin="vendor")
    code, _, err = run(tmp_path, f"account,vendor_lead_id,status\n{account_b.name},00QB000001,accepted\n",
                       "--as", "alice")
    assert code == 1
    assert "line 2" in err
    assert statuses(vendor_lead) == ["new"]


def test_one_row_of_another_dealer_keeps_the_whole_file_out(tmp_path, lead_a, lead_b, alice):
    code, _, err = run(tmp_path, f"lead_id,status\n{lead_a.pk},accepted\n{lead_b.pk},accepted\n", "--as", "alice")
    assert code == 1
    assert "line 3, column lead_id" in err and "line 2" not in err
    assert statuses(lead_a, lead_b) == ["new", "new"]


def test_it_applies_the_users_own_dealers_leads(tmp_path, lead_a, lead_b, alice, bob):
    assert run(tmp_path, f"lead_id,status\n{lead_a.pk},accepted\n", "--as", "alice")[0] == 0
    assert run(tmp_path, f"lead_id,status\n{lead_b.pk},accepted\n", "--as", "bob")[0] == 0
    assert statuses(lead_a, lead_b) == ["accepted", "accepted"]
    assert list(StatusLog.objects.order_by("id").values_list("actor__username", flat=True)) == ["alice", "bob"]


def test_a_user_without_a_dealer_reaches_no_lead(tmp_path, lead_a, db):
    from tests.conftest import make_user

    make_user("drifter")
    code, _, err = run(tmp_path, f"lead_id,status\n{lead_a.pk},accepted\n", "--as", "drifter")
    assert code == 1 and "line 2, column lead_id" in err
    assert statuses(lead_a) == ["new"]


def test_a_superuser_and_no_as_reach_every_dealer(tmp_path, lead_a, lead_b, root):
    assert run(tmp_path, f"lead_id,status\n{lead_a.pk},accepted\n", "--as", "root")[0] == 0
    assert run(tmp_path, f"lead_id,status\n{lead_b.pk},accepted\n")[0] == 0
    assert statuses(lead_a, lead_b) == ["accepted", "accepted"]


def test_an_unknown_user_is_a_bad_argument(tmp_path, lead_a):
    from django.core.management import CommandError

    with pytest.raises(CommandError, match="no active user 'nobody'") as refused:
        run(tmp_path, f"lead_id,status\n{lead_a.pk},accepted\n", "--as", "nobody")
    assert refused.value.returncode == 2
    assert statuses(lead_a) == ["new"]
