"""E-mail alerts to an account's alert addresses (the dealer's CRM/IT team).

Cat's document: "After Retry failure, it is recommended to trigger an email alert
to dealer CRM team to review the error including error details". Alerts carry
the error and what is queued, never credentials.
"""
from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail

log = logging.getLogger("leadhub.sync")


def recipients(account) -> list[str]:
    return account.alert_email_list or [address for _, address in settings.ADMINS]


def send_alert(account, subject: str, details: str) -> bool:
    """Send one alert; returns whether anyone was mailed. Never raises: a broken
    mail server must not stop the sync that is reporting the problem."""
    to = recipients(account)
    if not to:
        log.warning("account=%s alert with no recipients: %s", account.name, subject)
        return False
    body = (f"LeadHub sync alert for vendor account {account.name} ({account.get_vendor_display()}), "
            f"dealer {account.dealer.code}.\n\n{details}\n\n"
            "Sync health in the admin shows the queue and the errors; the outbox has a 'Retry now' action.")
    try:
        send_mail(f"[LeadHub] {account.name}: {subject}", body, settings.DEFAULT_FROM_EMAIL, to)
    except Exception:  # noqa: BLE001 - reported, never raised (see docstring)
        log.exception("account=%s could not send alert %r", account.name, subject)
        return False
    log.warning("account=%s alert sent to %d address(es): %s", account.name, len(to), subject)
    return True
