"""Fast insertion of many new leads (vendor pulls, imports).

Django's bulk_create prepares every field of every row through several layers;
for the Lead table (about 45 columns) that cost dominated a Cat pull (measured
with bench/cat_pull.py: 8.9 s for 10,000 leads with bulk_create). Here a
LeadRows builder turns column dicts into database values (pure Python, so a
vendor pull can do it in its prefetch thread), and insert_lead_rows writes them
with one executemany of INSERT ... ON CONFLICT DO NOTHING: the unique (vendor
account, vendor lead id) constraint makes a repeated insert a no-op, so a page
processed twice never duplicates a lead.

Column dicts use Lead attribute names (dealer_id, vendor_account_id, ...);
model defaults fill the rest as Model() would. save() is not called: callers
give what save() would compute (phone_normalized: see normalize_phone).
"""
from __future__ import annotations

from django.db import connection, models
from django.utils import timezone

from apps.core import runcontext

from .history import CREATED, record_lead_history
from .models import Lead

# Field classes (exactly these, not subclasses such as CountryField) whose Python
# value the database driver takes as it is.
_PLAIN = (models.CharField, models.EmailField, models.TextField, models.BooleanField,
          models.PositiveSmallIntegerField, models.IntegerField, models.ForeignKey)


class LeadRows:
    """Builds INSERT value lists for Lead rows; no database access."""

    def __init__(self):
        self.fields = [f for f in Lead._meta.concrete_fields if not isinstance(f, models.AutoField)]
        self.names = [f.attname for f in self.fields]
        self.position = {name: i for i, name in enumerate(self.names)}
        self.converters = {f.attname: (lambda value, f=f: f.get_db_prep_save(value, connection))
                           for f in self.fields if type(f) not in _PLAIN}
        now = timezone.now()
        defaults = []
        for field in self.fields:
            if field.attname in ("created_at", "updated_at"):
                value = now
            elif field.has_default():
                value = field.get_default()
            else:
                value = None if field.null else ""
            convert = self.converters.get(field.attname)
            defaults.append(value if convert is None or value is None else convert(value))
        self.template = defaults

    def row(self, columns: dict) -> list:
        out = self.template.copy()
        for name, value in columns.items():  # hot loop: only the columns given
            try:
                index = self.position[name]
            except KeyError:
                raise ValueError(f"Lead has no column {name}") from None
            convert = self.converters.get(name)
            out[index] = value if convert is None or value is None else convert(value)
        return out


ROWS_PER_STATEMENT = 200  # x ~45 columns: well under SQLite's and PostgreSQL's parameter limits


def insert_lead_rows(builder: LeadRows, rows: list[list]) -> int:
    """INSERT prepared rows; returns how many were new (conflicts are skipped).

    One multi-row VALUES statement per ROWS_PER_STATEMENT rows: on PostgreSQL
    executemany costs a round trip per row (measured: half of a pull's time).
    Each new lead gets its "created" audit history row in the same transaction,
    copied by one INSERT ... SELECT (apps/leads/history.py), named after the
    sync run doing it.
    """
    table = connection.ops.quote_name(Lead._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in builder.fields)
    one_row = "(" + ", ".join(["%s"] * len(builder.fields)) + ")"
    new_ids = []
    with connection.cursor() as cursor:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start:start + ROWS_PER_STATEMENT]
            # Only quoted names from the model's metadata are formatted in; every value is a parameter.
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one_row] * len(chunk))} "  # nosec B608
                           "ON CONFLICT DO NOTHING RETURNING id", [value for row in chunk for value in row])
            new_ids += [row[0] for row in cursor.fetchall()]  # skipped conflicts return nothing
    record_lead_history(new_ids, history_type=CREATED, reason=runcontext.describe() or "bulk insert")
    return len(new_ids)

