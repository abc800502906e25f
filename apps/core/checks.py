"""System checks for LeadHub's own settings (ids leadhub.E0xx / leadhub.W0xx)."""
import os

from django.conf import settings
from django.core import checks

from .crypto import _fernet


@checks.register()
def check_credentials_keys(app_configs, **kwargs):
    try:
        _fernet()
    except Exception as exc:  # ImproperlyConfigured with the fix in its text
        return [checks.Error(str(exc), id="leadhub.E001")]
    return []


@checks.register()
def check_q_broker(app_configs, **kwargs):
    if settings.Q_REDIS_URL:
        try:
            import redis  # noqa: F401 - optional (leadhub[redis]): whether it is installed is the check
        except ImportError:
            return [
                checks.Error(
                    "Q_REDIS_URL is set but the redis package is not installed.",
                    hint="pip install 'leadhub[redis]'",
                    id="leadhub.E002",
                )
            ]
    return []


# Time a claimed webhook delivery may need beyond one POST's worst case (the
# connect timeout plus the deadline): recording its outcome, a slow database.
WEBHOOK_LEASE_MARGIN = 30


@checks.register()
def check_webhook_timing(app_configs, **kwargs):
    """A delivery's claim must outlive its POST (or a second worker takes it while
    it is being sent), and a sender run must end well before django-q kills it."""
    errors = []
    post = settings.LEADHUB_HTTP_CONNECT_TIMEOUT + settings.LEADHUB_WEBHOOK_TIMEOUT
    if settings.LEADHUB_WEBHOOK_CLAIM_SECONDS < post + WEBHOOK_LEASE_MARGIN:
        errors.append(checks.Error(
            f"LEADHUB_WEBHOOK_CLAIM_SECONDS ({settings.LEADHUB_WEBHOOK_CLAIM_SECONDS}) must exceed one POST's "
            f"longest time, LEADHUB_HTTP_CONNECT_TIMEOUT + LEADHUB_WEBHOOK_TIMEOUT ({post:g} s), by at least "
            f"{WEBHOOK_LEASE_MARGIN} s: otherwise a delivery can be sent twice at once.",
            hint=f"Set LEADHUB_WEBHOOK_CLAIM_SECONDS to {int(post) + WEBHOOK_LEASE_MARGIN} or more.",
            id="leadhub.E003"))
    q_timeout = settings.Q_CLUSTER.get("timeout")
    if q_timeout and settings.LEADHUB_WEBHOOK_RUN_SECONDS + post + WEBHOOK_LEASE_MARGIN > q_timeout:
        errors.append(checks.Error(
            f"LEADHUB_WEBHOOK_RUN_SECONDS ({settings.LEADHUB_WEBHOOK_RUN_SECONDS:g}) plus one POST ({post:g} s) and "
            f"a margin of {WEBHOOK_LEASE_MARGIN} s exceeds Q_TIMEOUT ({q_timeout}): django-q would kill the "
            "webhook sender mid-POST.",
            hint="Lower LEADHUB_WEBHOOK_RUN_SECONDS or raise Q_TIMEOUT (and Q_RETRY above it).",
            id="leadhub.E004"))
    return errors


@checks.register(checks.Tags.security, deploy=True)
def check_keys_come_from_environment(app_configs, **kwargs):
    """In production every machine must share the same keys: they must come from the
    environment, not from a file generated on one machine's var/ directory."""
    warnings = []
    if not os.environ.get("SECRET_KEY"):
        warnings.append(
            checks.Warning(
                "SECRET_KEY is not set; a key generated into var/ is in use.",
                hint="Set SECRET_KEY in the environment of every web and worker process.",
                id="leadhub.W001",
            )
        )
    if not os.environ.get("LEADHUB_CREDENTIALS_KEYS"):
        warnings.append(
            checks.Warning(
                "LEADHUB_CREDENTIALS_KEYS is not set; vendor credentials are encrypted "
                "with a key generated into var/ on this machine only.",
                hint="Set LEADHUB_CREDENTIALS_KEYS on every process (see README, Configuration).",
                id="leadhub.W002",
            )
        )
    return warnings
