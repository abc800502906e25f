"""python manage.py import_leads FILE.csv [--dry-run] [--as USERNAME]: the admin's
lead import for operators and scripts (apps/leads/lead_import.py): the same
columns, checks, all-or-nothing rule and dealer scoping (--as: that user's
dealers and people; without it, every dealer). One line per problem on stderr
(line, column, rule). Exit 0 on success, 1 when a row has a problem (nothing
written), 2 for bad arguments or a file that cannot be read as CSV."""
import sys

from django.contrib.auth import get_user_model

from apps.core.commands import LeadHubCommand
from apps.core.csvread import CsvFileError
from apps.leads.lead_import import import_lead_file


class Command(LeadHubCommand):
    help = "Import leads from CSV (the admin's lead import); all rows or none."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--dry-run", action="store_true", help="Check every row, write nothing.")
        parser.add_argument("--as", dest="username",
                            help="Import as this user: only their dealers and people (default: every dealer).")

    def handle(self, *args, file, dry_run, username, **options):
        user = None
        if username:
            user = get_user_model().objects.filter(username=username, is_active=True).first()
            if user is None:
                raise self.usage_error(f"no active user {username!r}")
        try:
            with open(file, "rb") as handle:
                result = import_lead_file(handle, user=user, dry_run=dry_run,
                                          reason=f"CSV import {file}"[:100])
        except OSError as exc:
            raise self.usage_error(f"cannot read {file}: {exc.strerror}") from None
        except CsvFileError as exc:
            for problem in exc.problems:
                self.stderr.write(f"{file}: {problem}")
            raise self.usage_error(f"{file} cannot be read as a lead CSV ({len(exc.problems)} problem(s) above)")
        for problem in result.problems:
            self.stderr.write(str(problem))
        if result.problems:
            written = f"; {result.written_rows} rows written before it" if result.written_rows else ""
            self.stdout.write(f"{result.rows} rows: {len(result.problems)} problem(s), nothing written{written}"
                              if not result.written_rows else
                              f"{result.rows} rows: stopped at a conflict{written}")
            sys.exit(1)
        verb = "would create" if dry_run else "created"
        self.stdout.write(f"{result.rows} rows: {verb} {result.created}, "
                          f"{'would update' if dry_run else 'updated'} {result.updated}, "
                          f"{result.unchanged} unchanged")
