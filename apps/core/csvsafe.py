"""CSV cells: the spreadsheet formula injection guard for every CSV LeadHub
writes, and the one reading of a yes/no cell for every CSV it reads.

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


YES_NO = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


def yes_no(text) -> bool | None:
    """True / False for a yes or no cell (any case, surrounding spaces ignored);
    None for anything else, which the caller reports as an error."""
    return YES_NO.get(str(text).strip().lower())
