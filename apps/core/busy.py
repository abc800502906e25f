"""Telling "the database is busy, try again" apart from a real failure.

SQLite allows one writer at a time: a writer that waits longer than the busy
timeout gets ``OperationalError: database is locked``. PostgreSQL's equivalents
are a lock or statement timeout, a deadlock or serialization failure (the
transaction was rolled back and may simply be run again), and a server that has
no connection left. None of these is a bug in the request; each means "a moment
later this will work". The web answers them with a 503 page (apps.core.middleware)
and the commands with one line and exit status 1 (apps.core.commands), never a
traceback or a 500.
"""
from __future__ import annotations

from django.db import OperationalError

# SQLSTATEs of PostgreSQL's "try again" errors.
PG_RETRYABLE = {
    "40001",  # serialization_failure
    "40P01",  # deadlock_detected
    "55P03",  # lock_not_available (lock_timeout)
    "57014",  # query_canceled (statement_timeout)
    "53300",  # too_many_connections
    "57P03",  # cannot_connect_now (server starting or shutting down)
}
SQLITE_BUSY_TEXTS = ("database is locked", "database table is locked", "database is busy")
# A refused connection carries no SQLSTATE in psycopg (no result to read it
# from), only the server's words: no slot left, or a server starting/stopping.
PG_BUSY_TEXTS = ("too many clients already", "remaining connection slots are reserved",
                 "the database system is starting up", "the database system is shutting down")

RETRY_AFTER_SECONDS = 5


def is_busy_error(exc: BaseException) -> bool:
    """True when `exc` (or what it was raised from) says the database is busy."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        sqlstate = getattr(exc, "sqlstate", None) or getattr(getattr(exc, "diag", None), "sqlstate", None)
        if sqlstate in PG_RETRYABLE:
            return True
        if isinstance(exc, OperationalError) or exc.__class__.__name__ == "OperationalError":
            text = str(exc).lower()
            if any(part in text for part in SQLITE_BUSY_TEXTS + PG_BUSY_TEXTS):
                return True
        exc = exc.__cause__ or exc.__context__
    return False
