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

import hashlib
import json
from datetime import UTC
import psycopg

from django.db import connection, models, transaction
from django.utils import timezone
from psycopg.types.json import Json, Jsonb

from apps.core import runcontext

from .history import CREATED, record_lead_history
from .models import Lead

# Field classes (exactly these, not subclasses such as CountryField) whose Python
# value the database driver takes as it is.
_PLAIN = (models.CharField, models.EmailField, models.TextField, models.BooleanField,
          models.PositiveSmallIntegerField, models.IntegerField, models.ForeignKey)


class JSONText(str):
    """A JSON document already encoded — a vendor item exactly as the vendor's
    page held it — stored as it is instead of being decoded and re-encoded."""


def _json_converter(field):
    if connection.vendor == "postgresql":

        wrapper = Json if field.db_type(connection) == "json" else Jsonb

        def as_is(text):
            return text

        def convert(value):
            return wrapper(value, dumps=as_is) if type(value) is JSONText else field.get_db_prep_save(value, connection)
    else:
        def convert(value):
            return str(value) if type(value) is JSONText else field.get_db_prep_save(value, connection)
    return convert


def _datetime_converter(field):
    if connection.vendor == "sqlite":

        def convert(value):  # what Django's SQLite backend stores: naive UTC, ISO with a space
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.isoformat(" ")
        return convert
    if connection.vendor == "postgresql":
        return lambda value: value  # psycopg takes aware datetimes as they are
    return lambda value: field.get_db_prep_save(value, connection)


def _converter(field):
    if isinstance(field, models.JSONField):
        return _json_converter(field)
    if type(field) is models.DateTimeField:
        return _datetime_converter(field)
    return lambda value: field.get_db_prep_save(value, connection)


class LeadRows:
    """Builds INSERT value lists for Lead rows; no database access."""

    def __init__(self):
        self.fields = [f for f in Lead._meta.concrete_fields if not isinstance(f, models.AutoField)]
        self.names = [f.attname for f in self.fields]
        self.position = {name: i for i, name in enumerate(self.names)}
        self.converters = {f.attname: _converter(f) for f in self.fields if type(f) not in _PLAIN}
        now = timezone.now()
        defaults = []
        for field in self.fields:
            if field.attname in ("created_at", "updated_at"):
                value = now
            elif field.has_default():
                value = field.get_default()
                if isinstance(field, models.JSONField):
                    # Encoded once here, not by the driver for every row.
                    value = JSONText(json.dumps(value))
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

    One multi-row VALUES statement per ROWS_PER_STATEMENT rows (on PostgreSQL,
    COPY into a staging table: see _insert_postgresql). Each new lead gets its
    "created" audit history row in the same transaction, copied by one
    INSERT ... SELECT (apps/leads/history.py) and named after the sync run
    doing it; the new ids come from the INSERT's RETURNING.
    """
    return len(insert_lead_rows_ids(builder, rows))


def insert_lead_rows_ids(builder: LeadRows, rows: list[list], *, reason: str = "", user=None) -> list[int]:
    """insert_lead_rows, returning the new leads' ids (in row order, conflicts
    left out); their history rows carry `reason` and `user` when given."""
    table = connection.ops.quote_name(Lead._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in builder.fields)
    # In the caller's transaction when there is one (a pull's page): no savepoint,
    # whose two extra round trips per page bought nothing here.
    with transaction.atomic(savepoint=False):
        if connection.vendor == "postgresql":
            new_ids = _insert_postgresql(table, columns, rows)
        else:
            new_ids = _insert_values(table, columns, len(builder.fields), rows)
        record_lead_history(new_ids, history_type=CREATED, user=user,
                            reason=reason or runcontext.describe() or "bulk insert")
    return new_ids


def _insert_values(table: str, columns: str, width: int, rows: list[list]) -> list[int]:
    """Multi-row INSERT ... VALUES; the ids of the rows that were new.

    On SQLite through the driver's own cursor with its "?" placeholders: Django's
    wrapper rewrites "%s" to "?" with a regular expression over the statement,
    which for 200 rows x ~48 columns cost a twentieth of a 10,000-lead pull."""
    sqlite = connection.vendor == "sqlite"
    mark = "?" if sqlite else "%s"
    one_row = "(" + ", ".join([mark] * width) + ")"
    new_ids = []
    connection.ensure_connection()
    cursor = connection.connection.cursor() if sqlite else connection.cursor()
    try:
        for start in range(0, len(rows), ROWS_PER_STATEMENT):
            chunk = rows[start:start + ROWS_PER_STATEMENT]
            # Only quoted names from the model's metadata are formatted in; every value is a parameter.
            cursor.execute(f"INSERT INTO {table} ({columns}) VALUES {', '.join([one_row] * len(chunk))} "  # nosec B608
                           "ON CONFLICT DO NOTHING RETURNING id", [value for row in chunk for value in row])
            new_ids += [row[0] for row in cursor.fetchall()]  # skipped conflicts return nothing
    finally:
        cursor.close()
    return new_ids


def _insert_postgresql(table: str, columns: str, rows: list[list]) -> list[int]:
    """COPY the rows straight into the leads table with ids drawn from its
    sequence first; the new ids are those. If a row is already there (a
    reconciliation of the same account inserting the same lead at that moment),
    the COPY is undone and the rows go the careful way (_insert_postgresql_staged).

    Why COPY: it is PostgreSQL's bulk path. Django's cursor binds parameters on
    the client (psycopg's ClientCursor), so a multi-row VALUES of 100 rows x ~60
    columns was re-parsed in Python on every call and the server parsed a
    megabyte of literals. COPY into a staging table then INSERT ... SELECT ... ON
    CONFLICT wrote every row twice; when the pull already knows which leads are
    new (it looked, under the account's pull lock), straight COPY halves that
    (bench/README.md has the figures)."""

    connection.ensure_connection()
    with transaction.atomic(savepoint=False), psycopg.Cursor(connection.connection) as cursor:
        # The identifiers below are the model's quoted table and column names.
        cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
                       [Lead._meta.db_table, len(rows)])
        ids = [row[0] for row in cursor.fetchall()]
        try:
            with transaction.atomic():
                with cursor.copy(f"COPY {table} ({connection.ops.quote_name('id')}, {columns}) FROM STDIN") as copy:
                    for lead_id, row in zip(ids, rows, strict=True):
                        copy.write_row([lead_id, *row])
            return ids
        except psycopg.errors.UniqueViolation:
            pass  # the savepoint is rolled back; the drawn ids stay unused (a gap, as any rollback leaves)
        return _insert_postgresql_staged(cursor, table, columns, rows)


def _insert_postgresql_staged(cursor, table: str, columns: str, rows: list[list]) -> list[int]:
    """COPY the rows into a session-local staging table, then one
    INSERT ... SELECT ... ON CONFLICT DO NOTHING; the ids of the rows that were
    new. The staging table is a TEMP table (this connection only) with the
    leads' column types and no constraints; its name carries a hash of the
    column list, so a migration that changes the columns gets a new one."""

    stage = "lead_stage_" + hashlib.sha1(columns.encode(), usedforsecurity=False).hexdigest()[:10]
    # The SQL below is built only from the model's quoted table and column names
    # and this hash; every value goes through COPY.
    cursor.execute(f"CREATE TEMP TABLE IF NOT EXISTS {stage} ON COMMIT DELETE ROWS AS "
                   f"SELECT {columns} FROM {table} WITH NO DATA")  # nosec B608
    with cursor.copy(f"COPY {stage} ({columns}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM {stage} "  # nosec B608
                   "ON CONFLICT DO NOTHING RETURNING id")
    new_ids = [row[0] for row in cursor.fetchall()]  # skipped conflicts return nothing
    cursor.execute(f"DELETE FROM {stage}")  # nosec B608 - rows of a savepoint must not wait for the outer commit
    return new_ids
