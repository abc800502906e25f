"""CSV cells: the spreadsheet formula injection guard for every CSV LeadHub
writes, and the one reading of a yes/no cell for every CSV it reads.

OWASP: a cell beginning with = + - @ tab CR or LF may be run as a formula by
Excel or LibreOffice; prefixing a single quote makes it text. Vendor data and
staff input both reach exports, so every exported string goes through here.
(django-import-export's own escape option strips only a leading "=".)
"""
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n",
                    # The full-width forms: spreadsheets in East Asian locales read
                    # them as the operators themselves.
                    "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Spreadsheets skip leading spaces before a formula (" =1+1" is a formula in
# Excel and LibreOffice), so the trigger is looked for after them: the ordinary
# space, the no-break space and the ideographic space.
LEADING_SPACES = " \u00a0\u3000"


def is_formula_like(value) -> bool:
    return isinstance(value, str) and value.lstrip(LEADING_SPACES).startswith(FORMULA_TRIGGERS)


def neutralize_cell(value):
    """`value` with a leading ' when a spreadsheet could read it as a formula
    (the same rule as csv_export.copy_sql's SQL, which a test holds equal)."""
    if is_formula_like(value):
        return "'" + value
    return value


YES_NO = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


def yes_no(text) -> bool | None:
    """True / False for a yes or no cell (any case, surrounding spaces ignored);
    None for anything else, which the caller reports as an error."""
    return YES_NO.get(str(text).strip().lower())
