"""A CAP submission going out: one POST per lead, and CAP's answer read into a
SendOutcome. The engine marks, orders, retries and holds; this reads what CAP
said (docs/vendors/cap.md, the answer table)."""
from __future__ import annotations

from apps.vendors.core.base import SendOutcome, VendorError

from .client import CapClient, read_answer


def send_one(client: CapClient, item) -> SendOutcome:
    try:
        raw = client.submit(item.payload)
    except VendorError as exc:
        if exc.received_status is not None and 200 <= exc.received_status < 300:
            # CAP said 202 before the body was cut: accepted, references unknown.
            return SendOutcome.sent(status=exc.received_status,
                                    response={"status": exc.received_status, "messages": [], "result": {},
                                              "unreadable_body": exc.message})
        # A 5xx answered by CAP created nothing (docs/vendors/cap.md); a request
        # that left without an answer may have.
        reached = exc.reached is not False and (exc.received_status or 0) < 500
        return SendOutcome.retry_later(exc.message, status=exc.received_status, may_have_reached=reached,
                                       response={"not_sent" if exc.reached is False else "error": exc.message})
    answer = read_answer(raw)
    response = answer.as_response()
    if answer.kind == "accepted":
        return SendOutcome.sent(status=answer.status, response=response)
    if answer.kind == "retry":
        return SendOutcome.retry_later(f"CAP answered {answer.status}: {answer.text}", status=answer.status,
                                       retry_after=raw.retry_after(), response=response)
    if answer.kind == "credentials":
        return SendOutcome.refused(f"CAP refused the API key (401: {answer.text}); fix the account's API key, "
                                   "then use Retry now on the outbox: the lead is kept.",
                                   status=401, response=response, credentials_refused=True)
    return SendOutcome.refused(f"CAP refused the lead ({answer.status}): {answer.text}", status=answer.status,
                               response=response)
