"""A Report as CSV or JSON: what the report pages' downloads and `manage.py report`
write, so both carry the same numbers in the same shape."""
from __future__ import annotations

import csv
import io
import json

from apps.core.csvsafe import neutralize_cell

UTF8_BOM = "\ufeff"


def report_json(report, *, dealer: str, since, until) -> str:
    """{"report": NAME, "dealer": CODE, "since", "until", "rows": [...]}."""
    return json.dumps({"report": report.name, "dealer": dealer, "since": since.isoformat(),
                       "until": until.isoformat(), "rows": report.rows}, ensure_ascii=False, default=str)


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return value
    # The same guard as the lead download: a cell a spreadsheet would run as a
    # formula starts with ' (apps/core/csvsafe.py).
    return neutralize_cell(str(value))


def report_csv(report, *, excel_bom: bool = False) -> str:
    """Every key of the rows as a column (the finest grain the report has), the
    report's own columns first."""
    keys = [key for key, _ in report.columns]
    for row in report.rows:
        keys += [key for key in row if key not in keys]
    out = io.StringIO()
    if excel_bom:
        out.write(UTF8_BOM)
    writer = csv.writer(out)
    writer.writerow(keys)
    for row in report.rows:
        writer.writerow([_cell(row.get(key)) for key in keys])
    return out.getvalue()
