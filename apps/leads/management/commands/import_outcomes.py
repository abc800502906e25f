"""python manage.py import_outcomes FILE.csv [--dry-run] [--as USERNAME]: apply a CSV
of outcomes through the status service (vendor rules, status log, vendor push),
all rows or none. Exit 0 when every row is fine, 1 with the row errors on stderr,
2 for an unreadable file or bad flags."""
import sys

from django.contrib.auth import get_user_model

from apps.accounts.admin_scoping import dealers_with_perm
from apps.core.commands import LeadHubCommand
from apps.leads.outcomes_import import ImportFileError, import_outcomes


class Command(LeadHubCommand):
    help = "Import outcomes (status changes) from CSV; all rows or none."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check every row, change nothing.")
        parser.add_argument("--as", dest="username", help="Record the changes as this user (default: 'import').")

    def handle(self, *args, file, dry_run, username, **options):
        actor = None
        if username:
            actor = get_user_model().objects.filter(username=username, is_active=True).first()
            if actor is None:
                raise self.usage_error(f"no active user {username!r}")
        try:
            with open(file, "rb") as handle:
                data = handle.read()
            # --as USERNAME acts as that person in every way, scope included: a
            # row for a lead of a dealer they do not work for is "no such lead".
            dealer_ids = dealers_with_perm(actor, "leads.change_lead") if actor else None
            result = import_outcomes(data, actor=actor, actor_label="" if actor else f"import {file}",
                                     dealer_ids=dealer_ids, dry_run=dry_run)
        except OSError as exc:
            raise self.usage_error(f"cannot read {file}: {exc.strerror}") from None
        except ImportFileError as exc:
            raise self.usage_error(f"{file}: {exc}") from None
        for error in result.errors:
            self.stderr.write(str(error))
        verb = "would change" if dry_run else ("changed" if result.committed else "changed nothing; would change")
        self.stdout.write(f"{result.rows} rows: {verb} {result.changed}, {result.unchanged} already so, "
                          f"{len(result.errors)} errors")
        if result.errors:
            sys.exit(1)
