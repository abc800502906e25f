"""Capillary LMS Leads v2 request rules, as plain functions over plain data.

Every function returns [Violation(field, code, message)]; the payload builder,
the adapter (before anything is queued), `validate_payload capillary` and the
sandbox Capillary server use the same functions, so what LeadHub sends and what
the sandbox accepts cannot drift apart. Quotes are from
shared/vendor-docs/capillary-lms-leads-v2.md; decisions in docs/vendors/capillary.md.
"""
from __future__ import annotations

import re

from apps.core.violations import Violation

STATUSES = ("OPEN", "WON", "LOST", "ON_HOLD", "DELETED")  # "Enums for status"
TYPES = ("SKU", "CATEGORY", "BRAND", "CUSTOM")  # "Enums for type"
ID_TYPES = ("EMAIL", "MOBILE")  # idType: "either EMAIL or MOBILE"
# "YYYY-MM-DDThh:mm:ssTZD", e.g. 2018-10-05T08:00:00+05:30; the follow-up sample
# answers with "2019-04-16T05:19:06Z", so Z is a TZD too.
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(Z|[+-]\d{2}:\d{2})$")
MAX_REASON_LENGTH = 255  # not in the document: LeadHub's own column width

# The message kinds LeadHub sends, and the rules for each (validate_outbound).
KIND_CREATE = "submit"  # POST /leads (apps.sync.outbox.SUBMIT_KIND)
KIND_STATUS = "status_update"  # PUT /leads/{id}/status
KIND_FOLLOWUP = "followup"  # POST /leads/{id}/followup
KIND_UPDATE = "lead_update"  # PUT /leads/{id}
KIND_REASON = "reason"  # POST /leads/reasons (one element of the array)
KIND_SUBSTATUS = "substatus"  # POST /leads/substatus


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _text(value) -> bool:
    return isinstance(value, str) and value.strip() != ""


def _datetime(payload: dict, key: str, found: list, *, required: bool = False, prefix: str = "") -> None:
    value = payload.get(key)
    name = prefix + key
    if value is None:
        if required:
            found.append(Violation(name, "required", f"{name} is mandatory (YYYY-MM-DDThh:mm:ssTZD)."))
        return
    if not isinstance(value, str) or not DATETIME_RE.match(value):
        found.append(Violation(name, "format", f"{name} must be a date-time like 2018-10-05T08:00:00+05:30, "
                                               f"not {value!r}."))


def _int(payload: dict, key: str, found: list, *, required: bool = False, prefix: str = "") -> None:
    value = payload.get(key)
    name = prefix + key
    if value is None:
        if required:
            found.append(Violation(name, "required", f"{name} is mandatory (an integer)."))
    elif not _is_int(value):
        found.append(Violation(name, "type", f"{name} must be an integer, not {value!r}."))


def _status(payload: dict, key: str, found: list, *, required: bool, prefix: str = "") -> None:
    value = payload.get(key)
    name = prefix + key
    if value is None:
        if required:
            found.append(Violation(name, "required", f"{name} is mandatory: one of {', '.join(STATUSES)}."))
    elif value not in STATUSES:
        found.append(Violation(name, "choice", f"{name} {value!r} is not one of {', '.join(STATUSES)}."))


def _not_object(payload, what: str) -> list[Violation]:
    if not isinstance(payload, dict):
        return [Violation("body", "type", f"{what} must be a JSON object, not {type(payload).__name__}.")]
    return []


def check_create(payload) -> list[Violation]:
    """POST /leads ("Add Lead")."""
    found = _not_object(payload, "A new lead")
    if found:
        return found
    if not _text(payload.get("leadFor")):
        found.append(Violation("leadFor", "required", "leadFor is mandatory: the SKU, brand, category or custom "
                                                      "item the lead is for."))
    if payload.get("type") is not None and payload["type"] not in TYPES:
        found.append(Violation("type", "choice", f"type {payload['type']!r} is not one of {', '.join(TYPES)}."))
    # "userId ... If this is left blank, then you need to pass idType and
    # identifier as mandatory parameters"
    _int(payload, "userId", found)
    if payload.get("userId") is None:
        if payload.get("idType") not in ID_TYPES:
            found.append(Violation("idType", "required", "Without a userId, idType (EMAIL or MOBILE) and identifier "
                                                         "are mandatory."))
        if not _text(payload.get("identifier")):
            found.append(Violation("identifier", "required", "Without a userId, the customer's identifier (e-mail "
                                                             "or mobile number) is mandatory."))
    _status(payload, "status", found, required=False)
    for key in ("nextFollowUp", "createdOn", "lastUpdatedOn", "lastFollowUp"):
        _datetime(payload, key, found)
    for key in ("createdBy", "lastUpdatedBy", "orgSourceId"):
        _int(payload, key, found)
    for key in ("owner", "subStatus"):
        if payload.get(key) is not None and not _text(payload[key]):
            found.append(Violation(key, "type", f"{key} must be a non-empty string."))
    if payload.get("extendedFields") is not None and not isinstance(payload["extendedFields"], dict):
        found.append(Violation("extendedFields", "type", "extendedFields must be an object of key-value pairs."))
    for index, log in enumerate(_list(payload, "statusLogDetails", found)):
        prefix = f"statusLogDetails[{index}]."
        if not isinstance(log, dict):
            found.append(Violation(prefix[:-1], "type", f"{prefix[:-1]} must be an object."))
            continue
        _status(log, "status", found, required=True, prefix=prefix)
        _int(log, "reasonId", found, required=True, prefix=prefix)
        _int(log, "createdBy", found, prefix=prefix)
    for index, followup in enumerate(_list(payload, "followUpDetails", found)):
        prefix = f"followUpDetails[{index}]."
        if not isinstance(followup, dict):
            found.append(Violation(prefix[:-1], "type", f"{prefix[:-1]} must be an object."))
            continue
        found += _followup_fields(followup, prefix=prefix, mandatory=False)
    return found


def _list(payload: dict, key: str, found: list) -> list:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        found.append(Violation(key, "type", f"{key} must be a list."))
        return []
    return value


def _followup_fields(payload: dict, *, prefix: str = "", mandatory: bool) -> list[Violation]:
    found: list[Violation] = []
    _datetime(payload, "followedUpOn", found, required=mandatory, prefix=prefix)
    _int(payload, "createdBy", found, required=mandatory, prefix=prefix)
    _int(payload, "followedUpBy", found, prefix=prefix)
    for key in ("nextFollowUp", "scheduledFollowUp"):
        _datetime(payload, key, found, prefix=prefix)
    if payload.get("notes") is not None and not isinstance(payload["notes"], str):
        found.append(Violation(prefix + "notes", "type", f"{prefix}notes must be a string."))
    return found


def check_followup(payload) -> list[Violation]:
    """POST /leads/{leadId}/followup: "followedUpOn*", "createdBy*" ("All
    parameters marked by * are mandatory")."""
    return _not_object(payload, "A follow-up") or _followup_fields(payload, mandatory=True)


def check_status_update(payload) -> list[Violation]:
    """PUT /leads/{leadId}/status: "status*", "reasonId*"."""
    found = _not_object(payload, "A status update")
    if found:
        return found
    _status(payload, "status", found, required=True)
    _int(payload, "reasonId", found, required=True)
    _int(payload, "createdBy", found)
    _datetime(payload, "createdOn", found)
    if payload.get("subStatus") is not None and not _text(payload["subStatus"]):
        found.append(Violation("subStatus", "type", "subStatus must be a non-empty string when given."))
    return found


def check_lead_update(payload) -> list[Violation]:
    """PUT /leads/{leadId}: extendedFields and owner, nothing else."""
    found = _not_object(payload, "A lead update")
    if found:
        return found
    unknown = sorted(set(payload) - {"extendedFields", "owner"})
    if unknown:
        found.append(Violation(unknown[0], "unknown", f"PUT /leads/{{id}} takes extendedFields and owner only, "
                                                      f"not {', '.join(unknown)}."))
    if not ({"extendedFields", "owner"} & set(payload)):
        found.append(Violation("body", "required", "Send extendedFields or owner."))
    if "extendedFields" in payload and not isinstance(payload["extendedFields"], dict):
        found.append(Violation("extendedFields", "type", "extendedFields must be an object of key-value pairs."))
    if "owner" in payload and not _text(payload["owner"]):
        found.append(Violation("owner", "type", "owner must be the staff user's username."))
    return found


def check_reason(payload) -> list[Violation]:
    """One element of POST /leads/reasons: "reason*"."""
    found = _not_object(payload, "A reason")
    if found:
        return found
    reason = payload.get("reason")
    if not _text(reason):
        found.append(Violation("reason", "required", "reason is mandatory: a meaningful reason text."))
    elif len(reason) > MAX_REASON_LENGTH:
        found.append(Violation("reason", "length", f"reason is longer than {MAX_REASON_LENGTH} characters."))
    return found


def check_substatus(payload) -> list[Violation]:
    """POST /leads/substatus: "status*", "subStatus*"."""
    found = _not_object(payload, "A sub-status")
    if found:
        return found
    _status(payload, "status", found, required=True)
    if not _text(payload.get("subStatus")):
        found.append(Violation("subStatus", "required", "subStatus is mandatory: the new sub-status's name."))
    return found


CHECKS = {KIND_CREATE: check_create, KIND_STATUS: check_status_update, KIND_FOLLOWUP: check_followup,
          KIND_UPDATE: check_lead_update, KIND_REASON: check_reason, KIND_SUBSTATUS: check_substatus}


def check_message(message) -> list[Violation]:
    """One element of a `validate_payload capillary` file: {"kind": K, "payload": {...}}
    with K one of CHECKS (the OutboxItem's kind and payload, as LeadHub stores them)."""
    if not isinstance(message, dict) or set(message) - {"kind", "payload", "leadId"}:
        return [Violation("message", "type", 'Each element must be {"kind": ..., "payload": {...}}.')]
    check = CHECKS.get(message.get("kind"))
    if check is None:
        return [Violation("kind", "choice", f"kind {message.get('kind')!r} is not one of {', '.join(CHECKS)}.")]
    return check(message.get("payload"))


# --- the organisation's own lists -------------------------------------------------------

def reason_id_violations(code: str, known_ids: set[int], *, field: str = "vendor_code") -> list[Violation]:
    """A dealer's mapping to a Capillary reason id: an integer the organisation has
    ("These reason ids are required to create or update leads")."""
    text = str(code or "").strip()
    if not re.fullmatch(r"-?\d+", text):
        return [Violation(field, "format", f"A Capillary reason id is a number, not {code!r}.")]
    # Before the lists were ever fetched (no account yet) a number is accepted;
    # Capillary itself refuses an unknown id when the change is sent.
    if known_ids and int(text) not in known_ids:
        return [Violation(field, "unknown", f"Reason id {text} is not one of the organisation's reasons "
                                            f"(known: {', '.join(str(i) for i in sorted(known_ids))}); "
                                            "refresh the Capillary lists or create the reason first.")]
    return []


def substatus_violations(status: str, sub_status: str, known: set[tuple[str, str]],
                         *, field: str = "vendor_sub_status") -> list[Violation]:
    """subStatus: "Use only names that are created using leads/substatus API",
    and a sub-status belongs to one status ("Retrieves all the sub-statuses
    added (for each status)")."""
    if not sub_status or not known:
        return []  # nothing fetched yet: Capillary refuses an unknown one when it is sent
    if (status, sub_status) not in known:
        names = sorted(name for st, name in known if st == status)
        return [Violation(field, "unknown", f"{sub_status!r} is not a sub-status of {status} in this organisation "
                                            f"(known: {', '.join(names) or 'none'}); create it first.")]
    return []
