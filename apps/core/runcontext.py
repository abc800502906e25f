"""The sync run a line of work belongs to: account and run id, for every log
line (structured logs) and every audit history row the run writes.

engine.pull/push/reconcile are wrapped in `scoped` (so nothing leaks into the
next task a worker runs) and call `bind(account, run)` once the run exists.
`SyncContextFilter` puts the values on every log record; `name_history_row`
names the run as the reason of audit history rows written without a user.
"""
from __future__ import annotations

import contextvars
import functools
import logging

_current: contextvars.ContextVar[dict | None] = contextvars.ContextVar("leadhub_sync_run", default=None)


def bind(account, run) -> None:
    """From now on (until the scoped call returns) work belongs to this run."""
    _current.set({"account": account.name, "vendor": account.vendor, "run_id": run.pk if run else None})


def current() -> dict | None:
    return _current.get()


def scoped(fn):
    """Run `fn` in its own sync context: whatever it binds ends with it."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        token = _current.set(None)
        try:
            return fn(*args, **kwargs)
        finally:
            _current.reset(token)
    return wrapper


def describe() -> str:
    """'sync a100-cat run 12', or '' outside a sync run."""
    ctx = _current.get()
    return f"sync {ctx['account']} run {ctx['run_id']}" if ctx else ""


def name_history_row(sender, instance, history_instance, **kwargs):
    """An audit row written by a sync run without a user or a reason of its own
    is named after the run (simple-history's pre_create_historical_record)."""
    if history_instance.history_user_id is None and not history_instance.history_change_reason:
        history_instance.history_change_reason = describe() or None


class SyncContextFilter(logging.Filter):
    """Adds `account`, `vendor`, `run_id` (None outside a run) and `sync` (the
    short text for plain lines) to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        ctx = _current.get() or {}
        record.account = ctx.get("account")
        record.vendor = ctx.get("vendor")
        record.run_id = ctx.get("run_id")
        record.sync = f" [account={ctx['account']} run={ctx['run_id']}]" if ctx else ""
        return True
