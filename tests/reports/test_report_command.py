"""manage.py report: the numbers of the report's page, as JSON or CSV."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta

from apps.leads import services
from tests.conftest import make_cat_account, make_lead
from tests.test_commands import manage, manage_env, run  # noqa: F401 - the fixture, shared


def test_json_has_the_documented_shape_and_the_pages_numbers(dealer_a, dealer_b, alice, reasons_a):
    account = make_cat_account(dealer_a)
    made = make_lead(dealer_a, vendor_account=account, vendor_lead_id="CAT-1")
    assert services.lead_change_status(lead=made, to_status="rejected", actor=alice, reason=reasons_a["rejection"],
                                       comment="elsewhere").ok
    make_lead(dealer_b)
    today = datetime.now().date()
    out = json.loads(run("report", "outcomes", "--dealer", "a100", "--since", str(today - timedelta(days=1)),
                         "--until", str(today + timedelta(days=1))))
    assert set(out) == {"report", "dealer", "since", "until", "rows"}
    assert (out["report"], out["dealer"]) == ("outcomes", "A100")
    [row] = out["rows"]
    assert (row["vendor"], row["status"], row["leads"]) == ("cat", "rejected", 1)
    funnel = json.loads(run("report", "funnel", "--dealer", "A100"))
    assert {r["step"]: r["leads"] for r in funnel["rows"]}["received"] == 1  # B200's lead is not A100's
    feedback = json.loads(run("report", "feedback", "--dealer", "A100", "--vendor", "cat"))
    [lead_row] = feedback["rows"]
    assert {"account", "vendor_lead_id", "received_at", "reported_at", "breached"} <= set(lead_row)
    assert lead_row["vendor_lead_id"] == "CAT-1" and lead_row["reported_at"] is None


def test_csv_has_a_header_and_neutralizes_formulas(dealer_a, alice, reasons_a):
    made = make_lead(dealer_a, source="=HYPERLINK(\"http://x\")", owner=alice)
    assert services.lead_change_status(lead=made, to_status="rejected", actor=alice, reason=reasons_a["rejection"],
                                       comment="x").ok
    rows = list(csv.DictReader(io.StringIO(run("report", "outcomes", "--dealer", "A100", "--format", "csv"))))
    assert rows[0]["vendor"] == "manual" and rows[0]["leads"] == "1"
    assert rows[0]["source"].startswith("'=")


def test_bad_flags_are_one_line_and_exit_2(manage_env):  # noqa: F811
    for args, said in ((["report", "funnel"], "--dealer"),
                       (["report", "funnel", "--dealer", "NOPE"], "no dealer with code 'NOPE'"),
                       (["report", "funnel", "--dealer", "D1", "--since", "2026-13-01"], "is not a date"),
                       (["report", "funnel", "--dealer", "D1", "--since", "2026-12-02", "--until", "2026-12-01"],
                        "is after --until"),
                       (["report", "nonsense", "--dealer", "D1"], "invalid choice")):
        done = manage(manage_env, *args)
        assert done.returncode == 2, (args, done.stderr)
        assert said in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
