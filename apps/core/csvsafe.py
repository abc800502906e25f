"""Spreadsheet formula injection guard for every CSV LeadHub writes.

OWASP: a cell beginning with = + - @ tab CR or LF may be run as a formula by
Excel or LibreOffice; prefixing a single quote makes it text. Vendor data and
staff input both reach exports, so every exported string goes through here.
(django-import-export's own escape option strips only a leading "=".)
"""
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralize_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value
