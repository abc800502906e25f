"""Format checks every vendor's rules share (plain functions, no Django models)."""
from __future__ import annotations

import ipaddress

from django.core.exceptions import ValidationError
from django.core.validators import validate_email


def is_ip_literal(text: str) -> bool:
    """An IPv4 or IPv6 address as written: no zone ("%eth0"), no surrounding
    spaces, no host name ("localhost")."""
    if "%" in text or text != text.strip():
        return False
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def is_email_address(text: str) -> bool:
    """An e-mail address with no spaces around it."""
    if text != text.strip():
        return False
    try:
        validate_email(text)
    except ValidationError:
        return False
    return True
