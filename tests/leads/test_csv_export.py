"""Streaming CSV export: same columns from the admin and the command, scoped,
filtered, formula-safe."""
import csv
import io

from django.core.management import call_command

from apps.leads.csv_export import HEADER
from apps.leads.models import Lead
from tests.conftest import make_cat_account, make_lead

REQUIRED_HEADER = ["id", "dealer", "vendor", "account", "vendor_lead_id", "first_name", "last_name", "email", "phone",
                   "company", "status", "stage", "owner", "created_at", "updated_at"]


def read(text):
    return list(csv.DictReader(io.StringIO(text)))


def test_the_header_has_every_required_column():
    assert set(REQUIRED_HEADER) <= set(HEADER)


def test_the_admin_download_follows_scope_filters_and_search(client, alice, dealer_a, dealer_b):
    account = make_cat_account(dealer_a)
    make_lead(dealer_a, first_name="Kept", email="kept@a.test", vendor_account=account, vendor_lead_id="V1")
    make_lead(dealer_a, first_name="Filtered", email="other@a.test")
    make_lead(dealer_b, first_name="Theirs", email="kept@b.test", vendor_account=make_cat_account(dealer_b),
              vendor_lead_id="V1")
    client.force_login(alice)
    response = client.get("/admin/leads/lead/download-csv/", {"vendor": "cat", "q": "kept"})
    assert response.status_code == 200 and response.streaming
    rows = read(b"".join(response.streaming_content).decode())
    assert [(r["first_name"], r["dealer"], r["vendor"], r["account"], r["vendor_lead_id"]) for r in rows] == [
        ("Kept", "A100", "cat", "a100-cat", "V1")]
    assert "download-csv/?" in client.get("/admin/leads/lead/", {"q": "kept"}).content.decode()


def test_the_command_writes_the_same_columns_with_filters(tmp_path, dealer_a, dealer_b):
    make_lead(dealer_a, first_name="=HYPERLINK(\"x\")", last_name="-1", company="@SUM(A1)")
    make_lead(dealer_b, first_name="Other")
    out = tmp_path / "leads.csv"
    call_command("export_leads", "-o", str(out), "--dealer", "a100", stdout=io.StringIO())
    rows = read(out.read_text())
    assert list(rows[0]) == HEADER and len(rows) == 1
    assert (rows[0]["first_name"], rows[0]["last_name"], rows[0]["company"]) == ("'=HYPERLINK(\"x\")", "'-1",
                                                                                 "'@SUM(A1)")


def test_the_command_refuses_an_unknown_dealer(tmp_path, db):
    import pytest
    from django.core.management import CommandError

    with pytest.raises(CommandError) as excinfo:
        call_command("export_leads", "-o", str(tmp_path / "x.csv"), "--dealer", "NOPE")
    assert excinfo.value.returncode == 2


def test_postgresqls_copy_writes_the_same_cells_as_the_python_path(dealer_a, alice, stages_a):
    """On PostgreSQL the export is COPY's own CSV (apps/leads/csv_export.copy_sql): the
    cells must be exactly those of lead_rows, formula guard and empty values included."""
    import pytest
    from django.db import connection
    from django.utils import timezone

    from apps.leads.csv_export import copy_blocks, lead_rows, write_leads_csv
    from apps.leads.models import Lead

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's (make test runs this again on PostgreSQL)")
    account = make_cat_account(dealer_a)
    make_lead(dealer_a, first_name="=cmd|' /C calc'!A0", last_name="+1", company="@SUM(A1)", email="",
              city="\tTab", postal_code="\r\nCR", state_province="-2", product_interest='Quote "this", and\nthat',
              source="ünïcödé 日本", campaign="'already quoted", owner=alice, sales_stage=stages_a[0], probability=10,
              vendor_account=account, vendor_lead_id="00Q'1", next_follow_up_at=timezone.now().replace(microsecond=0))
    make_lead(dealer_a, first_name="", last_name="", company="", email="plain@a.test")
    python_rows = [[str(cell) for cell in row] for row in lead_rows(Lead.objects.all())]  # as csv.writer writes
    copied = b"".join(copy_blocks(Lead.objects.all())).decode()
    assert list(csv.reader(io.StringIO(copied))) == python_rows
    out = io.StringIO()
    assert write_leads_csv(Lead.objects.filter(email="plain@a.test"), out) == 1


GUARD_CASES = [
    ("=1+1", "'=1+1"), ("+44 20 7946 0000", "'+44 20 7946 0000"), ("-2", "'-2"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\tTab", "'\tTab"), ("\rCR", "'\rCR"), ("\nLF", "'\nLF"),
    ("  =HYPERLINK(\"x\")", "'  =HYPERLINK(\"x\")"), ("\u00a0+1", "'\u00a0+1"), ("\u3000@x", "'\u3000@x"),
    ("\uff1d1+1", "'\uff1d1+1"), ("\uff0b1", "'\uff0b1"), ("\uff0d1", "'\uff0d1"), ("\uff20SUM", "'\uff20SUM"),
    ("  \t x", "'  \t x"),
    ("Doe Paving", "Doe Paving"), ("  plain", "  plain"), ("a=b", "a=b"), ("'quoted", "'quoted"), ("", ""),
    ("Łukasz", "Łukasz"),
]


def test_the_formula_guard_covers_leading_spaces_and_full_width_forms():
    from apps.core.csvsafe import neutralize_cell

    assert [neutralize_cell(cell) for cell, _ in GUARD_CASES] == [guarded for _, guarded in GUARD_CASES]


def test_postgresqls_copy_guards_the_same_cells(dealer_a):
    import pytest
    from django.db import connection

    from apps.leads.csv_export import copy_blocks
    from apps.leads.models import Lead

    if connection.vendor != "postgresql":
        pytest.skip("COPY is PostgreSQL's (make test runs this again on PostgreSQL)")
    for cell, _ in GUARD_CASES:
        make_lead(dealer_a, company=cell, email="")
    copied = list(csv.DictReader(io.StringIO(b"".join(copy_blocks(Lead.objects.all())).decode())))
    assert [row["company"] for row in copied] == [guarded for _, guarded in GUARD_CASES]


def test_the_browser_download_is_utf8_with_a_bom_for_excel(client, alice, dealer_a):
    make_lead(dealer_a, first_name="Łukasz", email="l@a.test")
    client.force_login(alice)
    response = client.get("/admin/leads/lead/download-csv/")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    body = b"".join(chunk if isinstance(chunk, bytes) else chunk.encode() for chunk in response.streaming_content)
    assert body.startswith(b"\xef\xbb\xbfid,")
    assert read(body.decode("utf-8-sig"))[0]["first_name"] == "Łukasz"


def test_the_command_writes_plain_utf8_unless_asked_for_excel(tmp_path, dealer_a):
    make_lead(dealer_a, first_name="Łukasz")
    plain, excel = tmp_path / "plain.csv", tmp_path / "excel.csv"
    call_command("export_leads", "-o", str(plain), stdout=io.StringIO())
    call_command("export_leads", "-o", str(excel), "--excel", stdout=io.StringIO())
    assert plain.read_bytes().startswith(b"id,")
    assert excel.read_bytes() == b"\xef\xbb\xbf" + plain.read_bytes()


def test_the_python_download_guards_the_table_of_cells(client, alice, dealer_a):
    # The SQLite path of "Download CSV" (csv.writer over lead_rows); on PostgreSQL
    # the COPY test above holds the SQL guard to the same table.
    from django.db import connection

    from apps.leads.csv_export import streamed_csv
    from apps.leads.models import Lead

    for cell, _ in GUARD_CASES:
        make_lead(dealer_a, company=cell, email="")
    if connection.vendor == "postgresql":
        return  # the same table is checked through COPY by test_postgresqls_copy_guards_the_same_cells
    text = "".join(streamed_csv(Lead.objects.order_by("id")))
    assert [row["company"] for row in read(text)] == [guarded for _, guarded in GUARD_CASES]


def test_import_exports_csv_download_has_the_bom_and_guards_the_table_of_cells(client, alice, dealer_a):
    from apps.leads.admin import LeadAdmin
    from apps.leads.resources import ExcelCSV
    from tests.accounts.test_admin_scoping import _all_export_fields

    formats = LeadAdmin(Lead, None).get_export_formats()
    for cell, _ in GUARD_CASES:
        make_lead(dealer_a, company=cell, email="")
    make_lead(dealer_a, first_name="Łukasz", email="l@a.test")
    client.force_login(alice)
    response = client.post("/admin/leads/lead/export/", {"format": str(formats.index(ExcelCSV)), "resource": "0",
                                                         **_all_export_fields()})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response.content.startswith(b"\xef\xbb\xbf")
    rows = sorted(read(response.content.decode("utf-8-sig")), key=lambda row: int(row["id"]))
    assert [row["company"] for row in rows if row["first_name"] != "Łukasz"] == [g for _, g in GUARD_CASES]
    assert [row["first_name"] for row in rows if row["first_name"] == "Łukasz"] == ["Łukasz"]
