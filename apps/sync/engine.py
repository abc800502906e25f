"""Vendor sync, the same for every vendor: pull, reconcile, push.

Pull: each page a vendor answers is stored (InboxPage, committed) before it is
processed; processing a page and marking it processed is one transaction, and
upserts are keyed on (account, vendor lead id), so a crash anywhere loses
nothing and repeats nothing: the next run first finishes the stored pages.

Push: a status change queues an OutboxItem in its own transaction. Items are
claimed with a conditional UPDATE (pending -> sending), so two workers never
send the same item; the push lock keeps one sender per account, so updates of
one lead go out in order. The outbox owns retries, backoff and alerts.

Vendor specifics live behind the adapter (apps/vendors/core/base.py).
"""
from __future__ import annotations

import contextvars
import logging
import queue
import threading
import psycopg
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db import connections
from django.db.models import Exists, OuterRef, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from apps.core import runcontext
from apps.core.backoff import backoff_seconds
from apps.leads.models import EventKind, Lead, LeadEvent, PendingVendorValue
from apps.leads.pending import pending_for_account
from apps.leads.signals import leads_arrived
from apps.vendors.core.base import HOLD, LOOKUP, SUBMIT_KIND, PageUnreadable, SendOutcome, VendorError
from apps.vendors.core.http import VendorHTTP, call_with_retries

from . import alerts, held
from .events import outbox_items_failed
from .locks import account_lock, new_holder
from .models import AccountSyncState, InboxPage, OutboxItem, OutboxState, PageState, RunState, SyncRun
from .outbox import record_outbox_history

log = logging.getLogger("leadhub.sync")
CLAIM_LEASE = timedelta(seconds=settings.LEADHUB_OUTBOX_CLAIM_SECONDS)  # a dead sender's items come back after it
MAX_PAGES_PER_RUN = 2000  # 200,000 leads: a guard against a vendor that never says "empty"


@dataclass
class Summary:
    """What a run did. `errors` fail the run (a vendor error, a refused update, a
    run that could not start); `notes` are reported and do not (an item flagged
    for review on a page, values still waiting for a mapping). Both are shown on
    the run and printed by `sync`."""

    account: str
    fetched: int = 0
    created: int = 0
    updated: int = 0
    pushed: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"account": self.account, "fetched": self.fetched, "created": self.created,
                "updated": self.updated, "pushed": self.pushed, "failed": self.failed, "errors": self.errors,
                "notes": self.notes}

    def failed_run(self) -> bool:
        return self.failed > 0 or bool(self.errors)

    def reported(self) -> list[str]:
        """Errors, then notes: what the run's row keeps."""
        return self.errors + self.notes

    def add(self, other: "Summary") -> "Summary":
        for name in ("fetched", "created", "updated", "pushed", "failed"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.errors += other.errors
        self.notes += other.notes
        return self


def _state(account) -> AccountSyncState:
    state, _ = AccountSyncState.objects.get_or_create(account=account)
    return state


def _http(account, run) -> VendorHTTP:
    return VendorHTTP(vendor=account.vendor, account=account.name, run_id=run.pk if run else None)


# ----------------------------------------------------------------------------------------
# Pull
# ----------------------------------------------------------------------------------------

@runcontext.scoped
def pull(account, *, holder: str | None = None) -> Summary:
    """Pull everything new from the vendor; one pull per account at a time."""
    summary = Summary(account.name)
    adapter = account.adapter()
    with account_lock(account.pk, "pull", holder=holder) as lock:
        if not lock.held:
            summary.errors.append("another pull of this account is running; skipped")
            SyncRun.objects.create(account=account, kind="pull", state=RunState.SKIPPED,
                                   finished_at=timezone.now(), errors=summary.errors)
            return summary
        run = SyncRun.objects.create(account=account, kind="pull", worker=lock.holder)
        runcontext.bind(account, run)  # account and run id on every log line and audit row
        AccountSyncState.objects.update_or_create(account=account, defaults={"last_pull_started_at": run.started_at})
        http = _http(account, run)
        transport_failures = []

        def note_transport_failure(exc: VendorError) -> None:
            # A timeout or a reset (no HTTP status) may have cost a page the vendor
            # already counts as delivered (a destructive read), even when a retry
            # then succeeds.
            if exc.status is None:
                transport_failures.append(exc.message)

        def call(fn, *args, **kwargs):
            return call_with_retries(fn, *args, **kwargs, on_transient=note_transport_failure)

        possible_loss = _abandoned_runs(account, run) > 0
        _finish_stored_pages(account, adapter, run, summary)
        cursor = dict(_state(account).cursor or {})
        pages = PrefetchedPages(adapter, http, call=call, cursor=cursor)
        try:
            for raw, parsed in pages:
                page = store_page(account, "pull", raw, run)
                if not _process_page(page, adapter, run, summary, parsed=parsed):
                    possible_loss = True
                    if adapter.resumable_feed:
                        # An incremental feed must not move past a page it could
                        # not apply: stop, and the next run asks for it again.
                        summary.errors.append(f"stopped at unreadable page {page.pk}; the next run resumes there")
                        break
                lock.renew(force=False)
            if pages.hit_limit:
                summary.errors.append(f"stopped after {MAX_PAGES_PER_RUN} pages; the next run continues")
        except VendorError as exc:
            summary.errors.append(exc.message)
            note_transport_failure(exc)
        finally:
            # A prefetched page that was never stored counts as possibly lost.
            possible_loss = pages.close() or possible_loss
            http.close()
        possible_loss = possible_loss or bool(transport_failures)
        # What waited for a mapping, with the mappings as they are now: a dealer
        # admin's save queues apply_pending, which skips while this pull holds
        # the lock; here, at the end, it is done instead (and after a lost task).
        _apply_pending(account, adapter, summary)
        _finish_run(run, summary, "pull")
    if possible_loss and adapter.supports_historic:
        days = settings.LEADHUB_HISTORIC_DAYS
        log.warning("account=%s run=%s a page may have been lost; reconciling the last %d days",
                    account.name, run.pk, days)
        today = timezone.localdate()
        recovered = reconcile(account, today - timedelta(days=days), today)
        summary.created += recovered.created
        summary.fetched += recovered.fetched
        summary.errors += recovered.errors
        summary.notes += recovered.notes
    if summary.created:
        # What LeadHub does to every new lead (assignment rules) runs as a job right
        # after the pull, never inside it: the pull's speed is the vendor's.
        transaction.on_commit(lambda: leads_arrived.send(sender=Lead, account=account))
    return summary


class PrefetchedPages:
    """A vendor's pages, (raw, parsed), two stages ahead of the thread that writes
    them: one thread only talks HTTP (the vendor works on the next page while we
    parse), one parses and prepares. Only the HTTP stage counts pages against
    MAX_PAGES_PER_RUN, so stopping there is not mistaken for a lost page."""

    def __init__(self, adapter, http, *, call, cursor):
        self._received = Prefetched(adapter.fetch_pages(http, call=call, cursor=cursor), limit=MAX_PAGES_PER_RUN)
        self._parsed = Prefetched(_parsed(adapter, self._received), limit=None)

    def __iter__(self):
        return iter(self._parsed)

    @property
    def hit_limit(self) -> bool:
        return self._received.hit_limit

    def close(self) -> bool:
        """Stop both stages; True if a page may have been received and not stored."""
        parsed_pending = self._parsed.close()
        received_pending = self._received.close()
        return parsed_pending or received_pending


class Prefetched:
    """Iterate an iterator in a thread of its own, one item ahead.

    PrefetchedPages chains two, so a pull costs about the slowest of fetching,
    parsing and writing instead of their sum. The main thread stores each page
    before processing it. If the loop ends early (an error, a kill), a page a
    thread was holding was received but never stored: close() reports that, and
    the pull reconciles (a vendor with a destructive read is asked for its
    historic leads).
    """

    _END = object()

    def __init__(self, iterator, *, limit: int | None):
        self._queue: queue.Queue = queue.Queue(maxsize=1)
        self._stop = threading.Event()
        self.hit_limit = False
        self._consumed_all = False
        # In a copy of the run's context: its log lines carry the account and run too.
        self._thread = threading.Thread(target=contextvars.copy_context().run, args=(self._fetch, iterator, limit),
                                        daemon=True, name="leadhub-prefetch")
        self._thread.start()

    def _fetch(self, iterator, limit):

        try:
            for count, item in enumerate(iterator, start=1):
                if not self._put(("item", item)):
                    return
                if limit is not None and count >= limit:  # stop here: never fetch a page nobody will store
                    self.hit_limit = True
                    break
            self._put(("end", None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consuming thread
            self._put(("error", exc))
        finally:
            connections.close_all()  # this thread's own (unused for queries) connections

    def _put(self, message) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(message, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self):
        while True:
            kind, value = self._queue.get()
            if kind == "end":
                self._consumed_all = True
                return
            if kind == "error":
                self._consumed_all = True
                raise value
            yield value

    def close(self) -> bool:
        """Stop the fetcher; True if a page may have been received and not stored."""
        if self._consumed_all:
            self._thread.join()
            return False
        self._stop.set()
        self._thread.join(timeout=60)
        return True


def store_page(account, kind: str, raw, run) -> InboxPage:
    """Store a page as received (committed on return: it is durable before it is
    processed). On PostgreSQL the body goes as a binary parameter: through
    Django's cursor, which binds on the client, each ~300 KB Cat page became a
    600 KB hex literal for Python to build and the server to parse again."""
    page = InboxPage(account=account, kind=kind, request=raw.request, status_code=raw.status_code,
                     body=raw.body, run=run)
    if connection.vendor != "postgresql":
        page.save(force_insert=True)
        return page

    fields = [f for f in InboxPage._meta.concrete_fields if f is not InboxPage._meta.pk]
    qn = connection.ops.quote_name
    connection.ensure_connection()
    with transaction.atomic(), psycopg.Cursor(connection.connection) as cursor:
        # Quoted names from the model's metadata; every value is a parameter.
        cursor.execute(f"INSERT INTO {qn(InboxPage._meta.db_table)} ({', '.join(qn(f.column) for f in fields)}) "  # nosec B608
                       f"VALUES ({', '.join(['%s'] * len(fields))}) RETURNING {qn(InboxPage._meta.pk.column)}",
                       [bytes(raw.body) if f.name == "body" else f.get_db_prep_save(getattr(page, f.attname), connection)
                        for f in fields])
        page.pk = cursor.fetchone()[0]
    page._state.adding = False
    return page


def _abandoned_runs(account, run) -> int:
    """Pull runs left 'running' by a worker that died (we hold the pull lock, so
    no other pull is alive). What such a worker had received but not stored may
    be lost from the vendor's destructive read: the caller reconciles."""
    dead = SyncRun.objects.filter(account=account, kind="pull", state=RunState.RUNNING).exclude(pk=run.pk)
    return dead.update(state=RunState.FAILED, finished_at=timezone.now(),
                       errors=["the worker running this pull stopped before it finished"])


def _parsed(adapter, raws):
    """(raw, ParsedPage or the PageUnreadable) for each page: the parsing and the
    pure preparation happen in the prefetch thread, overlapping the database
    writes of the previous page (which release the GIL)."""
    for raw in raws:
        try:
            yield raw, adapter.prepare_page(raw.body)
        except PageUnreadable as exc:
            yield raw, exc


def _finish_stored_pages(account, adapter, run, summary) -> None:
    """Process pages a crashed run stored but did not process."""
    for page in InboxPage.objects.filter(account=account, state=PageState.PENDING).order_by("id"):
        log.info("account=%s run=%s finishing stored page %s", account.name, run.pk, page.pk)
        _process_page(page, adapter, run, summary)


def _process_page(page: InboxPage, adapter, run, summary, parsed=None) -> bool:
    """Apply one stored page; False when it could not be read (it stays stored).
    `parsed`: the page already parsed (a ParsedPage) or found unreadable."""
    try:
        if isinstance(parsed, PageUnreadable):
            raise parsed
        if parsed is None:
            parsed = adapter.prepare_page(bytes(page.body))
    except PageUnreadable as exc:
        InboxPage.objects.filter(pk=page.pk).update(state=PageState.FAILED, error=str(exc),
                                                    processed_at=timezone.now())
        summary.errors.append(f"unreadable page {page.pk}: {exc}")
        return False
    with transaction.atomic():
        result = adapter.apply_page(parsed, kind=page.kind)
        InboxPage.objects.filter(pk=page.pk).update(state=PageState.PROCESSED, processed_at=timezone.now(),
                                                    item_count=len(parsed.items), error="; ".join(result.notes)[:5000])
        if parsed.cursor is not None:
            AccountSyncState.objects.update_or_create(account_id=page.account_id, defaults={"cursor": parsed.cursor})
    summary.fetched += len(parsed.items)
    summary.created += result.created
    summary.updated += result.updated
    summary.notes += [f"page {page.pk}: {note}" for note in result.notes]
    return True


@runcontext.scoped
def apply_pending(account, *, holder: str | None = None) -> Summary:
    """Apply what the account's leads still wait for (apps.leads.pending: values
    the vendor sent that the dealer had not mapped), with the dealer's mappings
    as they are now: the job a dealer admin's mapping save queues. Under the
    account's pull lock, so it never races a pull over the same leads; when a
    pull holds it, that pull does this as it ends. Safe to run twice: a value
    applied is no longer pending. Nothing is sent back to the account."""
    summary = Summary(account.name)
    if not PendingVendorValue.objects.filter(account=account).exists():
        return summary
    with account_lock(account.pk, "pull", holder=holder) as lock:
        if not lock.held:
            summary.notes.append("waiting for a mapping: a pull of this account is running; it applies them as it "
                                 "ends")
            return summary
        run = SyncRun.objects.create(account=account, kind="mapping", worker=lock.holder)
        runcontext.bind(account, run)
        _apply_pending(account, account.adapter(), summary)
        run.state = RunState.FAILED if summary.failed_run() else RunState.OK
        run.finished_at = timezone.now()
        run.updated, run.errors = summary.updated, summary.reported()[:200]
        run.save()
    return summary


def _apply_pending(account, adapter, summary) -> None:
    """adapter.apply_pending for each lead with pending values of the account, a
    transaction per lead (one lead's failure keeps the others' work)."""
    rows_by_lead: dict[int, list] = {}
    for row in pending_for_account(account):
        rows_by_lead.setdefault(row.lead_id, []).append(row)
    for lead_id, rows in rows_by_lead.items():
        try:
            with transaction.atomic():
                settled = adapter.apply_pending(rows[0].lead, rows)
        except Exception as exc:  # noqa: BLE001 - reported on the run; the other leads go on
            log.exception("account=%s could not apply the pending values of lead %s", account.name, lead_id)
            summary.errors.append(f"lead {lead_id}: pending values not applied: {exc}")
            continue
        if settled:
            summary.updated += 1
    left = sum(len(rows) for rows in rows_by_lead.values()) and _count_pending(account)
    if left:
        summary.notes.append(f"waiting for a mapping: {left} value(s) of this account's leads (Sync health lists "
                             "them)")


def _count_pending(account) -> int:
    return PendingVendorValue.objects.filter(account=account).count()


@runcontext.scoped
def reconcile(account, start: date, end: date) -> Summary:
    """Import every lead the vendor says it delivered between start and end that
    LeadHub does not have (Cat: GET /leads/historic)."""
    summary = Summary(account.name)
    adapter = account.adapter()
    if not adapter.supports_historic:
        summary.errors.append(f"{account.vendor} has no historic endpoint")
        return summary
    if start > end:
        summary.errors.append(f"--since {start} is after --until {end}")
        return summary
    with account_lock(account.pk, "historic") as lock:
        if not lock.held:
            summary.errors.append("another reconciliation of this account is running; skipped")
            return summary
        run = SyncRun.objects.create(account=account, kind="historic", worker=lock.holder)
        runcontext.bind(account, run)
        http = _http(account, run)
        try:
            for raw in adapter.fetch_historic_pages(http, start, end, call=call_with_retries):
                page = store_page(account, "historic", raw, run)
                _process_page(page, adapter, run, summary)
                lock.renew(force=False)
        except VendorError as exc:
            summary.errors.append(exc.message)
        finally:
            http.close()
        _finish_run(run, summary, "historic")
    return summary


# ----------------------------------------------------------------------------------------
# Push
# ----------------------------------------------------------------------------------------

@runcontext.scoped
def push(account, *, holder: str | None = None) -> Summary:
    """Send every due outbox item of the account, in order, in batches."""
    summary = Summary(account.name)
    adapter = account.adapter()
    holder = holder or new_holder()
    with account_lock(account.pk, "push", holder=holder) as lock:
        if not lock.held:
            summary.errors.append("another push of this account is running; skipped")
            return summary
        run = SyncRun.objects.create(account=account, kind="push", worker=holder)
        runcontext.bind(account, run)
        release_expired_claims(account)
        rebuild_blocked(account)
        http = _http(account, run)
        try:
            while True:
                claimed = claim_due(account, holder, settings.LEADHUB_OUTBOX_BATCH)
                if not claimed:
                    break
                struggling = _send_claimed(account, adapter, http, claimed, summary)
                lock.renew(force=False)
                if struggling:
                    break  # the vendor could not take a message now: leave the rest to the backoff
        finally:
            http.close()
        _finish_run(run, summary, "push")
    return summary


# The sending policy, the same for every vendor (docs/architecture.md, "Sending"):
# - a lead's messages go in order: claim_due takes only a lead's oldest
#   unfinished item, so a later one waits behind one to be retried;
# - every item is marked (unconfirmed_since, committed) just before its request
#   leaves; only a definite answer clears the mark, so after a crash or
#   a lost answer the vendor's unconfirmed_policy decides: resend, look up, or
#   hold for a person (never a blind resend of what must not exist twice);
# - the first request the vendor cannot take now (a transient failure) or whose
#   credentials it refuses ends the batch: the messages after it are not sent;
# - IT is alerted once when retries run out, once per credentials outage, and
#   for every message held because its answer was lost.

def _send_claimed(account, adapter, http, items, summary) -> bool:
    """Send claimed items group by group (adapter.requests); True when the vendor
    could not take one now (the caller stops the push)."""
    to_send, held = [], []
    for item in items:
        policy = adapter.unconfirmed_policy(item) if item.unconfirmed_before else None
        if policy == HOLD:
            held.append(item)
            continue
        item.unconfirmed = policy == LOOKUP
        to_send.append(item)
    if held:
        _hold(account, adapter, held, summary, why="an earlier attempt was not answered (the worker sending it "
                                                   "stopped, or the answer was lost)")
    groups = adapter.requests(to_send)
    for index, group in enumerate(groups):
        # Marked (committed) just before the request leaves: after a crash or a lost
        # answer the mark says the vendor may have this; items never sent are unmarked.
        OutboxItem.objects.filter(pk__in=[item.pk for item in group]).update(
            unconfirmed_since=Coalesce("unconfirmed_since", Value(timezone.now())))
        try:
            outcomes = adapter.send(http, group)
        except VendorError as exc:
            outcomes = [SendOutcome.from_error(exc)] * len(group)
        _record_outcomes(account, group, outcomes, summary, adapter)
        stopper = next((o for o in outcomes if not o.ok and (not o.permanent or o.credentials_refused)), None)
        if stopper is not None:
            rest = [item for later in groups[index + 1:] for item in later]
            if rest and stopper.credentials_refused:
                # The same credentials would be refused for each: they fail alike and
                # are kept (Retry now once the account is fixed).
                _record_outcomes(account, rest, [SendOutcome.refused(
                    f"not sent: {account.get_vendor_display()} refused the account's credentials on an earlier "
                    f"message ({stopper.message})", status=stopper.status, credentials_refused=True,
                    response={"not_sent": True})] * len(rest), summary, adapter)
            elif rest:
                _defer_untried(account, rest, stopper)
            return True
    return False


def _defer_untried(account, items, stopper: SendOutcome) -> None:
    """Items not sent because the vendor could not take an earlier one: back to
    the queue without an attempt counted, their mark as it was before this claim."""
    delay = backoff_seconds(1, base=settings.LEADHUB_OUTBOX_BASE_SECONDS, cap=settings.LEADHUB_OUTBOX_MAX_SECONDS,
                            retry_after=stopper.retry_after)
    message = (f"not sent: {account.get_vendor_display()} could not take an earlier message now "
               f"({stopper.message})")[:1000]
    for item in items:
        OutboxItem.objects.filter(pk=item.pk).update(
            state=OutboxState.PENDING, claimed_by="", claimed_until=None, last_error=message,
            unconfirmed_since=item.unconfirmed_before, next_attempt_at=timezone.now() + timedelta(seconds=delay))


def _hold(account, adapter, items, summary, *, why: str) -> None:
    """Items the vendor may have received without LeadHub reading the answer,
    whose vendor must not get them twice (unconfirmed_policy HOLD): failed, kept,
    shown on the lead and alerted; "Retry now" resends once a person checked."""
    vendor = account.get_vendor_display()
    outcomes = [SendOutcome.refused(
        f"{vendor} may have received this {'lead' if item.kind == SUBMIT_KIND else 'message'} but its answer was "
        f"lost ({why}). Not resent automatically, so that it never arrives twice: {adapter.hold_advice(item)}",
        response={"answer_lost": True, "why": why}) for item in items]
    _record_outcomes(account, items, outcomes, summary, adapter, report_refused=False)
    alerts.send_alert(account, "answer lost", (
        f"LeadHub sent these messages to {vendor} but did not read its answer, so {vendor} may or may not have "
        "them. They were not resent automatically.\n\n"
        + "\n".join(f"- lead {item.lead_id} (outbox {item.pk}): {adapter.hold_advice(item)}" for item in items)))


def release_expired_claims(account) -> int:
    """Items a dead worker was sending go back to the queue, still marked
    unconfirmed: the vendor may or may not have received them, and the vendor's
    unconfirmed_policy decides what happens next (docs/architecture.md)."""
    return OutboxItem.objects.filter(account=account, state=OutboxState.SENDING,
                                     claimed_until__lt=timezone.now()).update(
        state=OutboxState.PENDING, claimed_by="", claimed_until=None)


def rebuild_blocked(account) -> None:
    """Blocked items (an unmapped value, a rule the lead did not meet) are rebuilt
    from the lead as it is now; once the dealer fixed the cause they are queued
    (apps/sync/held.py)."""
    held.recheck_account(account)


def claim_due(account, holder: str, limit: int) -> list[OutboxItem]:
    """Claim up to `limit` due items of the account, oldest first, and of each
    lead only its oldest unfinished item (pending or being sent): a lead's next
    update waits until the one before it was answered. So one request never
    names a lead twice (Cat's POST /leads is keyed on leadId and says nothing of
    two updates of one lead in one array; a strict receiver refuses the whole
    array), and an update whose sending failed for now (pending, retried later)
    holds back the lead's later ones, so the vendor gets them in the order they
    were made (docs/vendors/cat.md).

    `item.unconfirmed_before` is the item's mark from before this claim (None: no
    earlier attempt is in doubt); _send_claimed marks each request's items just
    before it leaves."""
    now = timezone.now()
    # Held-back items are left out in SQL, not after the LIMIT: a lead with many
    # items waiting behind a failed one must not fill the batch's window and
    # starve every other lead's due updates.
    earlier_open = OutboxItem.objects.filter(account=account, lead_id=OuterRef("lead_id"), id__lt=OuterRef("id"),
                                             state__in=[OutboxState.PENDING, OutboxState.SENDING])
    due = dict(OutboxItem.objects.filter(account=account, state=OutboxState.PENDING, next_attempt_at__lte=now)
               .filter(~Exists(earlier_open)).order_by("id").values_list("id", "unconfirmed_since")[:limit])
    if not due:
        return []
    OutboxItem.objects.filter(id__in=list(due), state=OutboxState.PENDING).update(
        state=OutboxState.SENDING, claimed_by=holder, claimed_until=now + CLAIM_LEASE)
    items = list(OutboxItem.objects.filter(id__in=list(due), state=OutboxState.SENDING, claimed_by=holder)
                 .select_related("lead").order_by("id"))
    for item in items:
        item.unconfirmed_before = due[item.pk]
        item.unconfirmed = False
    return items


def _record_outcomes(account, items, outcomes, summary, adapter=None, *, report_refused: bool = True) -> bool:
    """Record each item's outcome. `report_refused=False` (_hold): the items'
    "refusals" are LeadHub's own hold after a lost answer, the vendor refused
    nothing, so no outbox_items_failed (webhooks' lead.vendor_report_failed)."""
    adapter = adapter or account.adapter()
    now = timezone.now()
    transient = False
    exhausted, lost, refused_credentials, refused = [], [], [], []
    settled: dict[str, list[int]] = {}  # history reason -> items that reached a final state
    reported: list[int] = []  # leads of this account whose status report it accepted
    for item, outcome in zip(items, outcomes, strict=True):
        answered = {"response": outcome.response} if outcome.response is not None else {}
        if outcome.ok:
            with transaction.atomic():
                OutboxItem.objects.filter(pk=item.pk).update(state=OutboxState.SENT, sent_at=now, claimed_by="",
                                                             claimed_until=None, last_error="",
                                                             last_status_code=outcome.status,
                                                             unconfirmed_since=None,
                                                             attempts=item.attempts + 1, **answered)
                adapter.after_sent(item, outcome)
                LeadEvent.objects.create(lead_id=item.lead_id, kind=EventKind.PUSH_SENT, actor_label=account.name,
                                         summary=f"Reported to {account.get_vendor_display()}: "
                                                 f"{adapter.describe_outbox_item(item)}"[:500],
                                         details={"outbox": item.pk, "payload": item.payload,
                                                  **answered})
            settled.setdefault(f"Sent to {account.name}", []).append(item.pk)
            if item.status_log_id is not None and item.lead.vendor_account_id == account.pk:
                reported.append(item.lead_id)
            summary.pushed += 1
        elif not outcome.permanent and outcome.may_have_reached and adapter.unconfirmed_policy(item) == HOLD:
            lost.append((item, outcome))  # never retried blindly: held for a person below
        elif outcome.permanent:
            with transaction.atomic():  # the failure, its timeline entry and its webhook event commit together
                OutboxItem.objects.filter(pk=item.pk).update(state=OutboxState.FAILED, claimed_by="",
                                                             claimed_until=None, last_error=outcome.message,
                                                             last_status_code=outcome.status, unconfirmed_since=None,
                                                             attempts=item.attempts + 1, **answered)
                LeadEvent.objects.create(lead_id=item.lead_id, kind=EventKind.PUSH_FAILED, actor_label=account.name,
                                         summary=f"{account.get_vendor_display()} refused the update: "
                                                 f"{outcome.message}"[:500],
                                         details={"outbox": item.pk, "status": outcome.status,
                                                  "payload": item.payload, **answered})
                item.state, item.last_error, item.last_status_code = (OutboxState.FAILED, outcome.message,
                                                                      outcome.status)
                item.attempts += 1
                if report_refused:  # webhooks' lead.vendor_report_failed (apps/sync/events.py)
                    outbox_items_failed.send(sender=OutboxItem, account=account, items=[item])
            settled.setdefault(f"Refused by {account.name}", []).append(item.pk)
            refused.append(item)
            summary.failed += 1
            summary.errors.append(f"lead {item.lead_id}: {outcome.message}")
            if outcome.credentials_refused:
                refused_credentials.append((item, outcome))
        else:
            transient = True
            attempts = item.attempts + 1
            delay = backoff_seconds(attempts, base=settings.LEADHUB_OUTBOX_BASE_SECONDS,
                                    cap=settings.LEADHUB_OUTBOX_MAX_SECONDS, retry_after=outcome.retry_after)
            # The mark stays only when the vendor may have acted on the request.
            mark = {} if outcome.may_have_reached else {"unconfirmed_since": item.unconfirmed_before}
            OutboxItem.objects.filter(pk=item.pk).update(state=OutboxState.PENDING, claimed_by="",
                                                         claimed_until=None, attempts=attempts, **answered, **mark,
                                                         last_error=outcome.message, last_status_code=outcome.status,
                                                         next_attempt_at=now + timedelta(seconds=delay))
            summary.errors.append(f"lead {item.lead_id}: {outcome.message} (attempt {attempts}, retrying)")
            # The lead's later items wait behind this one (claim_due): say why on them.
            OutboxItem.objects.filter(account=account, lead_id=item.lead_id, state=OutboxState.PENDING,
                                      id__gt=item.pk).update(
                last_error=f"held back: waits behind outbox {item.pk} of this lead, which failed for now "
                           f"({outcome.message})"[:1000])
            if attempts >= settings.LEADHUB_RETRY_ATTEMPTS and item.alerted_at is None:
                exhausted.append((item, outcome))
    for reason, ids in settled.items():
        record_outbox_history(ids, reason=reason)
    if reported:  # the feedback SLA's stop (apps/reports/measures.py): one UPDATE per batch
        Lead.objects.filter(pk__in=reported, first_reported_at__isnull=True).update(first_reported_at=now)
    if summary.pushed:  # the credentials work again: the next outage alerts anew (one UPDATE, often of nothing)
        AccountSyncState.objects.filter(account=account, credentials_alerted_at__isnull=False).update(
            credentials_alerted_at=None)
    if exhausted:
        _alert_exhausted(account, exhausted)
    if refused_credentials:
        _alert_credentials(account, refused_credentials)
    if lost:
        _hold(account, adapter, [item for item, _ in lost], summary,
              why="; ".join(sorted({outcome.message for _, outcome in lost})))
    return transient


def _alert_credentials(account, refused) -> None:
    """One alert per credentials outage (until a message goes through again)."""
    state = _state(account)
    if state.credentials_alerted_at is not None:
        return
    item, outcome = refused[0]
    status = f" ({outcome.status})" if outcome.status else ""
    if alerts.send_alert(account, f"{account.get_vendor_display()} refused the credentials{status}", (
            f"{outcome.message}\n\n{len(refused)} message(s) were not delivered and are kept; fix the account's "
            "credentials, then use Retry now on the outbox: "
            + ", ".join(f"lead {i.lead_id} (outbox {i.pk})" for i, _ in refused))):
        AccountSyncState.objects.filter(pk=state.pk).update(credentials_alerted_at=timezone.now())
        OutboxItem.objects.filter(pk__in=[i.pk for i, _ in refused]).update(alerted_at=timezone.now())


def _alert_exhausted(account, exhausted) -> None:
    queued = OutboxItem.objects.filter(account=account, state__in=[OutboxState.PENDING, OutboxState.SENDING]).count()
    lines = [f"- lead {item.lead_id} (outbox {item.pk}): {outcome.message}" for item, outcome in exhausted]
    details = (f"{len(exhausted)} update(s) failed {settings.LEADHUB_RETRY_ATTEMPTS} times and stay queued "
               f"({queued} queued in all); LeadHub keeps retrying at most every "
               f"{settings.LEADHUB_OUTBOX_MAX_SECONDS / 60:.0f} minutes.\n\n" + "\n".join(lines))
    if alerts.send_alert(account, "updates could not be delivered", details):
        OutboxItem.objects.filter(pk__in=[item.pk for item, _ in exhausted]).update(alerted_at=timezone.now())


def retry_now(queryset, *, user=None) -> int:
    """The admin's "Retry now": due immediately, with a fresh count of attempts;
    the audit history names who pressed it."""
    ids = list(queryset.filter(state__in=[OutboxState.PENDING, OutboxState.FAILED]).values_list("pk", flat=True))
    # A person's decision to send again: a held item (its answer lost) is resent.
    count = OutboxItem.objects.filter(pk__in=ids, state__in=[OutboxState.PENDING, OutboxState.FAILED]).update(
        state=OutboxState.PENDING, next_attempt_at=timezone.now(), attempts=0, alerted_at=None,
        unconfirmed_since=None)
    record_outbox_history(ids, reason="Retry now", user=user)
    return count


# ----------------------------------------------------------------------------------------
# Runs and health
# ----------------------------------------------------------------------------------------

def _finish_run(run: SyncRun, summary: Summary, kind: str) -> None:
    now = timezone.now()
    ok = not summary.failed_run()
    run.state = RunState.OK if ok else RunState.FAILED
    run.finished_at = now
    for name in ("fetched", "created", "updated", "pushed", "failed"):
        setattr(run, name, getattr(summary, name))
    run.errors = summary.reported()[:200]
    run.save()
    state = _state(run.account)
    if ok:
        stamp = {"pull": "last_pull_ok_at", "push": "last_push_ok_at", "historic": "last_historic_ok_at"}[kind]
        setattr(state, stamp, now)
        state.consecutive_failures = 0
        state.alerted_at = None
    else:
        state.consecutive_failures += 1
        state.last_error = "; ".join(summary.errors)[:2000]
        state.last_error_at = now
        if kind in ("pull", "historic") and state.alerted_at is None:
            sent = alerts.send_alert(run.account, f"{kind} failed", f"Run {run.pk} failed after retries:\n\n"
                                     + "\n".join(f"- {e}" for e in summary.errors[:50]))
            if sent:
                state.alerted_at = now
    state.save()
    log.info("account=%s run=%s %s %s fetched=%d created=%d updated=%d pushed=%d failed=%d errors=%d",
             run.account.name, run.pk, kind, run.state, summary.fetched, summary.created, summary.updated,
             summary.pushed, summary.failed, len(summary.errors))

