"""Model fields shared by the apps."""
from __future__ import annotations

from django.db import models
from django.db.backends.postgresql.operations import get_json_dumps
from psycopg.types.json import Json


class RawJSONField(models.JSONField):
    """A JSONField stored as PostgreSQL `json` rather than `jsonb`: for documents
    kept as a vendor sent them and read whole, never queried by key.

    Why: `json` keeps the vendor's own text (key order, number formatting,
    duplicate keys), and storing it only validates the text, where `jsonb`
    decomposes every document into its binary form. For a Cat pull that
    conversion was a third of the database server's time (10,000 leads of
    ~3 KB: ~1.1 s of ~3 s; bench/README.md). The price: `json` has no equality
    operator and no key operators such as `?` / `@>`, so the column must not be
    used in DISTINCT, GROUP BY, UNION or key lookups (nothing does: a test
    keeps it that way, tests/leads/test_raw_payload_field.py). Other databases
    store JSON as text already: unchanged there.
    """

    def db_type(self, connection):
        if connection.vendor == "postgresql":
            return "json"
        return super().db_type(connection)

    def get_db_prep_value(self, value, connection, prepared=False):
        if connection.vendor != "postgresql":
            return super().get_db_prep_value(value, connection, prepared)

        if not prepared:
            value = self.get_prep_value(value)
        return Json(value, dumps=get_json_dumps(self.encoder))  # as Django's own jsonb adaptation, as json

    def from_db_value(self, value, expression, connection):
        # psycopg decodes `json` columns itself (Django registers a text loader
        # for `jsonb` only), so the value is already the Python object.
        if connection.vendor == "postgresql":
            return value
        return super().from_db_value(value, expression, connection)
