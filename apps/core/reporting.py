"""What error e-mails and debug tracebacks may show.

Django's SafeExceptionReporterFilter hides settings named like secrets and the
variables of functions marked @sensitive_variables. LeadHub goes further, so a
vendor credential can never reach an admin's mailbox from any frame, including
those inside `requests`: every frame variable and POST field whose name looks
like a credential is replaced, dictionaries are cleaned by key, and any value
carrying an HTTP Basic or Bearer authorisation has the credential cut out.
"""
from __future__ import annotations

import re

from django.views.debug import SafeExceptionReporterFilter

_AUTHORIZATION = re.compile(r"\b(Bearer|Basic)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)


class LeadHubExceptionReporterFilter(SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        "API|TOKEN|KEY|SECRET|PASS|SIGNATURE|AUTH|CREDENTIAL|COOKIE|SESSION", flags=re.IGNORECASE)

    def cleanse_setting(self, key, value):
        value = super().cleanse_setting(key, value)
        if value is self.cleansed_substitute or isinstance(value, (int, float, bool, type(None))):
            return value
        try:
            text = str(value) if isinstance(value, str) else repr(value)
        except Exception:  # noqa: BLE001 - a broken repr must not break the report
            return value
        if _AUTHORIZATION.search(text):
            return _AUTHORIZATION.sub(lambda m: f"{m.group(1)} {self.cleansed_substitute}", text)
        return value

    def get_traceback_frame_variables(self, request, tb_frame):
        return [(name, self.cleanse_setting(name, value))
                for name, value in super().get_traceback_frame_variables(request, tb_frame)]

    def get_post_parameters(self, request):
        params = super().get_post_parameters(request)
        if not params:
            return params
        cleaned = params.copy()
        for key in cleaned:
            if self.hidden_settings.search(key):
                cleaned[key] = self.cleansed_substitute
        return cleaned
