"""Base for LeadHub's management commands.

Operators script these commands, so a wrong or missing argument gives exactly
one line on stderr and exit status 2 (argparse would print the whole usage
first), and a failure of the work itself exits 1. Errors found after parsing
(an unknown dealer code, an invalid URL) are raised with `usage_error`, which
Django prints as one "CommandError: ..." line with exit status 2.
"""
from __future__ import annotations

import sys
from datetime import date

from django.core.management.base import BaseCommand, CommandError, CommandParser

from .busy import is_busy_error

USAGE_ERROR = 2


class OneLineErrorParser(CommandParser):
    def error(self, message):
        if self.called_from_command_line:
            sys.stderr.write(f"{self.prog}: error: {message}\n")
            sys.exit(USAGE_ERROR)
        raise CommandError(f"Error: {message}", returncode=USAGE_ERROR)


class LeadHubCommand(BaseCommand):
    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        # Django builds a CommandParser itself; give it our one-line error.
        parser.__class__ = OneLineErrorParser
        return parser

    def execute(self, *args, **options):
        # A busy database (another process holds SQLite's write lock longer than
        # the busy timeout; PostgreSQL's lock timeout, deadlock, no connection
        # left) is one line and exit status 1, never a traceback: the command can
        # simply be run again.
        try:
            return super().execute(*args, **options)
        except CommandError:
            raise
        except Exception as exc:
            if is_busy_error(exc):
                raise CommandError(f"the database is busy ({exc}); nothing was changed by the step that failed. "
                                   "Run the command again in a moment.", returncode=1) from exc
            raise

    @staticmethod
    def usage_error(message: str) -> CommandError:
        return CommandError(message, returncode=USAGE_ERROR)


def parse_day(text: str) -> date:
    """A YYYY-MM-DD flag value; ValueError naming it otherwise (for usage_error)."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
