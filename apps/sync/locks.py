"""One pull per account at a time, across every process and machine.

The lock is a row taken with a single conditional UPDATE ("free, expired, or
already mine"), which both SQLite and PostgreSQL execute atomically, so two
workers can never both succeed. It is a lease: a worker that dies simply lets
it expire, and a long run renews it page by page.
"""
from __future__ import annotations

import os
import socket
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from .models import AccountLock

def default_lease() -> timedelta:
    """How long a lock outlives a silent holder (LEADHUB_LOCK_LEASE_SECONDS): after
    a worker dies, the next run of its account waits at most this long."""
    return timedelta(seconds=settings.LEADHUB_LOCK_LEASE_SECONDS)


def new_holder() -> str:
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Lease:
    def __init__(self, account_id: int, name: str, holder: str, lease: timedelta):
        self.account_id, self.name, self.holder, self.lease = account_id, name, holder, lease
        self.held = False
        self.renewed_at = None  # monotonic time of the last acquire/renew

    def acquire(self) -> bool:
        try:
            with transaction.atomic():
                AccountLock.objects.get_or_create(account_id=self.account_id, name=self.name)
        except IntegrityError:
            pass  # created by a concurrent worker: fine, we compete on the UPDATE below
        now = timezone.now()
        taken = AccountLock.objects.filter(account_id=self.account_id, name=self.name).filter(
            Q(expires_at__lte=now) | Q(holder=self.holder) | Q(holder="")
        ).update(holder=self.holder, expires_at=now + self.lease)
        self.held = taken == 1
        self.renewed_at = time.monotonic()
        return self.held

    def renew(self, *, force: bool = True) -> bool:
        """Extend the lease; False if it was lost (expired and taken by another).

        `force=False` (once per page of a pull or push) renews only when a tenth
        of the lease has passed since the last renewal: a page takes
        milliseconds, and a statement per page was measurable on a 10,000-lead
        pull, while a tenth of the lease leaves nine tenths of margin."""
        if not force and self.held and self.renewed_at is not None \
                and time.monotonic() - self.renewed_at < self.lease.total_seconds() / 10:
            return True
        renewed = AccountLock.objects.filter(account_id=self.account_id, name=self.name, holder=self.holder).update(
            expires_at=timezone.now() + self.lease)
        self.held = renewed == 1
        self.renewed_at = time.monotonic()
        return self.held

    def release(self) -> None:
        AccountLock.objects.filter(account_id=self.account_id, name=self.name, holder=self.holder).update(
            holder="", expires_at=timezone.now())
        self.held = False


@contextmanager
def account_lock(account_id: int, name: str, *, holder: str | None = None, lease: timedelta | None = None):
    """Yield a Lease whose `held` says whether this caller got the lock."""
    lock = Lease(account_id, name, holder or new_holder(), lease or default_lease())
    lock.acquire()
    try:
        yield lock
    finally:
        if lock.held:
            lock.release()
