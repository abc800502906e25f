"""The outcome import writes in short transactions (groups of rows), checked
whole first: all or nothing for the file, roll forward after a concurrent change."""
import pytest
from django.db import connection

from apps.leads import outcomes_import
from apps.leads.models import Lead
from apps.leads.outcomes_import import import_outcomes
from tests.conftest import make_lead


@pytest.fixture
def small_groups(monkeypatch):
    monkeypatch.setattr(outcomes_import, "BATCH_ROWS", 2)


@pytest.fixture
def leads(dealer_a):
    return [make_lead(dealer_a, email=f"l{i}@a.test") for i in range(5)]


def csv_rows(*rows):
    return "lead_id,status\n" + "".join(f"{pk},{status}\n" for pk, status in rows)


def test_a_problem_in_the_last_group_keeps_every_group_unwritten(leads, alice, small_groups):
    data = csv_rows(*[(lead.pk, "accepted") for lead in leads[:4]], (leads[4].pk, "promoted"))
    result = import_outcomes(data, actor=alice)
    assert [(e.row, e.column) for e in result.errors] == [(6, "status")]
    assert not result.committed
    assert set(Lead.objects.values_list("status", flat=True)) == {"new"}


def test_it_checks_and_writes_each_group_in_a_transaction_of_its_own(leads, alice, small_groups, monkeypatch):
    real = outcomes_import._apply_group
    transactions = []

    def recording(group, *args, **kwargs):
        # The savepoints open around this group: the test's own transaction is the
        # only one shared; each group has its own innermost one.
        transactions.append((tuple(connection.savepoint_ids), len(group)))
        return real(group, *args, **kwargs)

    monkeypatch.setattr(outcomes_import, "_apply_group", recording)
    result = import_outcomes(csv_rows(*[(lead.pk, "accepted") for lead in leads]), actor=alice)
    assert result.committed and result.changed == 5
    assert [size for _, size in transactions] == [2, 2, 1, 2, 2, 1]  # 3 groups checked, then 3 written
    assert len({ids for ids, _ in transactions}) == 6  # never one transaction around two groups
    assert set(Lead.objects.values_list("status", flat=True)) == {"accepted"}


def test_a_leads_rows_stay_together_and_in_order_across_groups(leads, alice, small_groups):
    first = leads[0]
    data = csv_rows((first.pk, "accepted"), (leads[1].pk, "accepted"), (leads[2].pk, "accepted"),
                    (leads[3].pk, "accepted"), (first.pk, "on_hold"))
    result = import_outcomes(data, actor=alice)
    assert result.committed and result.changed == 5, result.errors
    assert Lead.objects.get(pk=first.pk).status == "on_hold"
    assert list(first.status_logs.order_by("id").values_list("to_status", flat=True)) == ["accepted", "on_hold"]


def test_a_change_between_check_and_write_stops_there_and_a_second_run_changes_nothing_twice(
        leads, alice, small_groups, monkeypatch):
    real = outcomes_import._run_groups

    def someone_else_closes_the_last_lead(*args, commit, **kwargs):
        if commit:  # between the check and the write
            Lead.objects.filter(pk=leads[4].pk).update(status="disqualified")
        return real(*args, commit=commit, **kwargs)

    monkeypatch.setattr(outcomes_import, "_run_groups", someone_else_closes_the_last_lead)
    data = csv_rows(*[(lead.pk, "accepted") for lead in leads])
    result = import_outcomes(data, actor=alice)
    assert not result.committed and result.changed == 4
    assert [e.row for e in result.errors] == [6]
    assert "4 rows were written before it: import the same file again to finish" in result.errors[0].message
    assert Lead.objects.filter(status="accepted").count() == 4
    monkeypatch.setattr(outcomes_import, "_run_groups", real)
    again = import_outcomes(data, actor=alice)
    assert again.unchanged == 4 and [e.row for e in again.errors] == [6]  # the written rows are not applied twice

