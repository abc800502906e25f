"""The one shape every business rule reports its findings in.

A rule is a plain function over plain data that returns a list of Violations.
The admin forms, the dealer screens, the CSV importers, ``validate_payload`` and
the outbound payload builders all call the same functions and show the same
Violations, so a rule is written once and enforced everywhere.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Violation:
    """One broken rule.

    field: the name of the field at fault, as the caller knows it (a payload key
        for vendor rules, a model field for domain rules); "" for the whole object.
    code: a stable machine name for the rule (``required``, ``max_length``,
        ``invalid_choice``, ``comment_required_for_reason``...), for tests and
        for mapping onto form fields.
    message: one sentence a dealer can act on; it names the rule.
    detail: where a vendor's rule was put in staff's words (message), the
        vendor's own wording: its field name and document reference, shown
        as a secondary line under the message. "" when message says it all.
    """

    field: str
    code: str
    message: str
    detail: str = ""

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

