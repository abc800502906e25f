"""The user name django-axes counts login failures under.

Counted ignoring case and surrounding spaces: otherwise "alice", "Alice" and
"ALICE " would each get their own five attempts against the same account.
Logging in itself stays as Django does it (user names are matched exactly):
LeadHub creates user names in one case, and changing authentication semantics
would let two accounts differing only in case become ambiguous.
"""
from __future__ import annotations


def lockout_username(request, credentials) -> str | None:
    """AXES_USERNAME_CALLABLE: the submitted user name, folded."""
    source = credentials if credentials else getattr(request, "POST", {})
    username = (source or {}).get("username")
    return username.strip().casefold() if isinstance(username, str) else username
