"""Import jobs: a CSV uploaded in the admin is checked, then imported, by a
django-q2 task (or at once, in the request, when the file is small), with its
progress on the job's page. The uploader may leave the page and come back: the
"Imports" list shows their jobs.

Both kinds go through the same code as the commands: leads through
apps/leads/lead_import.py (`import_leads`), outcomes through
apps/leads/outcomes_import.py (`import_outcomes`). A job is safe to run twice
(a redelivered task finds it claimed and does nothing; a worker that died is
taken over once its claim is older than the task timeout).
"""
from __future__ import annotations

import io
import logging
import time
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_q import tasks as django_q_tasks  # looked up per call: tests swap async_task

from apps.accounts.admin_scoping import dealers_with_perm
from apps.core.csvread import CsvFileError

from .lead_import import import_lead_file
from .models import ImportJob, ImportKind, ImportState
from .outcomes_import import ImportFileError, import_outcomes

log = logging.getLogger("leadhub.imports")
PROBLEMS_KEPT = 1000
PROGRESS_EVERY_SECONDS = 1.0


class UploadRefused(ValueError):
    """The upload itself is refused (too large, empty); the message says why."""


def job_create(*, kind: str, user, file_name: str, content: bytes) -> ImportJob:
    """A new job checking `content` (nothing is imported before the uploader has
    seen the check and asked for it)."""
    limit = settings.LEADHUB_IMPORT_MAX_UPLOAD_BYTES
    if len(content) > limit:
        raise UploadRefused(f"The file is {len(content) / 2**20:.1f} MB; the largest LeadHub takes is "
                            f"{limit / 2**20:.0f} MB. Split it into smaller files.")
    if not content:
        raise UploadRefused("The file is empty.")
    return ImportJob.objects.create(kind=kind, created_by=user, file_name=file_name[:255], content=content,
                                    size=len(content))


def job_start(job: ImportJob, *, write: bool) -> None:
    """Queue the job (check only, or import): a small file runs at once, in the
    request; a larger one in the background once the transaction commits."""
    ImportJob.objects.filter(pk=job.pk).update(
        write=write, state=ImportState.QUEUED, phase="", rows_done=0, problem_count=0, problems=[], summary={},
        started_at=None, finished_at=None)
    if job.size <= settings.LEADHUB_IMPORT_INLINE_BYTES:
        job_run(job.pk)
        return

    def enqueue():
        django_q_tasks.async_task("apps.leads.imports.job_run", job.pk, task_name=f"import-{job.pk}", group="import")

    transaction.on_commit(enqueue)


def job_run(job_id: int) -> None:
    """Run the job if it is queued (or its worker died): check, then write when
    the job asks for it. Never raises for a problem of the file: the job says it."""
    now = timezone.now()
    stale = now - timedelta(seconds=settings.Q_CLUSTER.get("timeout", 300))
    claimed = (ImportJob.objects.filter(pk=job_id, state=ImportState.QUEUED)
               | ImportJob.objects.filter(pk=job_id, state=ImportState.RUNNING, started_at__lt=stale)
               ).update(state=ImportState.RUNNING, started_at=now, phase="checking")
    if not claimed:
        return  # done already, or another worker has it
    job = ImportJob.objects.select_related("created_by").get(pk=job_id)
    last = [0.0]

    def progress(phase: str, done: int, problems: int) -> None:
        if time.monotonic() - last[0] >= PROGRESS_EVERY_SECONDS:
            last[0] = time.monotonic()
            ImportJob.objects.filter(pk=job_id).update(phase="writing" if phase == "written" else "checking",
                                                      rows_done=done, problem_count=problems)

    try:
        if job.kind == ImportKind.LEADS:
            state, problems, summary = _run_leads(job, progress)
        else:
            state, problems, summary = _run_outcomes(job)
    except Exception as exc:  # noqa: BLE001 - recorded on the job, which the uploader sees
        log.exception("import job %s failed", job_id)
        state, problems, summary = ImportState.FAILED, [f"LeadHub could not finish this import "
                                                        f"({exc.__class__.__name__}): tell your IT."], {}
    fields = {"state": state, "phase": "", "problems": problems[:PROBLEMS_KEPT], "problem_count": len(problems),
              "summary": summary, "finished_at": timezone.now(), "rows_done": summary.get("rows", 0)}
    if state == ImportState.DONE:
        fields["content"] = b""  # imported: the file's rows are leads now
    ImportJob.objects.filter(pk=job_id).update(**fields)


def _run_leads(job: ImportJob, progress):
    try:
        result = import_lead_file(io.BytesIO(bytes(job.content)), user=job.created_by, dry_run=not job.write,
                                  reason=f"CSV import {job.file_name}"[:100], progress=progress)
    except CsvFileError as exc:
        return ImportState.REFUSED, [str(p) for p in exc.problems], {}
    summary = {"rows": result.rows, "created": result.created, "updated": result.updated,
               "unchanged": result.unchanged, "written_rows": result.written_rows,
               "longest_write_seconds": round(result.longest_write_seconds, 3)}
    if result.problems:
        return ImportState.REFUSED, [str(p) for p in result.problems], summary
    return (ImportState.DONE if job.write else ImportState.CHECKED), [], summary


def _run_outcomes(job: ImportJob):
    user = job.created_by
    try:
        result = import_outcomes(bytes(job.content), actor=user, dealer_ids=dealers_with_perm(user, "leads.change_lead"),
                                 dry_run=not job.write)
    except ImportFileError as exc:
        return ImportState.REFUSED, str(exc).splitlines(), {}
    summary = {"rows": result.rows, "changed": result.changed, "unchanged": result.unchanged}
    if result.errors:
        return ImportState.REFUSED, [str(e) for e in result.errors], summary
    return (ImportState.DONE if job.write else ImportState.CHECKED), [], summary


def jobs_for(user):
    """The import jobs a user sees: their own; IT (superusers) sees every one."""
    jobs = ImportJob.objects.select_related("created_by").defer("content")
    return jobs if user.is_superuser else jobs.filter(created_by=user)
