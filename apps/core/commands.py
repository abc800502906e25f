"""Base for LeadHub's management commands.

Operators script these commands, so a wrong or missing argument gives exactly
one line on stderr and exit status 2 (argparse would print the whole usage
first), and a failure of the work itself exits 1. Errors found after parsing
(an unknown dealer code, an invalid URL) are raised with `usage_error`, which
Django prints as one "CommandError: ..." line with exit status 2.
"""
from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser

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

    @staticmethod
    def usage_error(message: str) -> CommandError:
        return CommandError(message, returncode=USAGE_ERROR)
