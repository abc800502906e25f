"""A sandbox CAP Gateway lead submission server: the vendor, faked over real HTTP.

Source: /work/shared/vendor-docs/cap-gateway-lead-submission.txt. It serves, on
127.0.0.1 only, under base_url (http://127.0.0.1:<port><prefix>):

    POST /lead-submission/v1/external     one enquiry; X-API-Key; checked with cap/rules.py
    POST /_sandbox/faults                 {"fault": name, "times": n, ...params}
    POST /_sandbox/campaigns              {"campaignId": guid, "required_fields": "phoneNumber,postcode"}
    GET  /_sandbox/state                  enquiries accepted, faults queued

Answers as the document shows: 202 {"success": true, "messages": [], "result":
{"requestReferenceId", "enquiryReferenceCode"}}; 400 with the rule messages
(result.enquiryReferenceCode null); 401 for a wrong or missing X-API-Key. The
body is checked with rules.validate_submission, the function LeadHub runs
before sending, plus the campaign's own required fields. Like real CAP (as far
as its document says), the sandbox does NOT de-duplicate: the same
externalReferenceId twice makes two enquiries (submissions_for() counts them),
which is what the fault tests watch.

Faults (inject(name, times=1, **params)), taken in order, one per request:
"500"/"502"/"503"; "429" (retry_after, default 1); "timeout" (seconds, default
5; deliver, default True: the enquiry is made, then the answer stalls);
"reset" (deliver, default False); "malformed" (an HTML body; deliver default
True, with status 202 when delivered, else 502); "truncated" (half the JSON
answer; deliver default True; mid_body_reset=True declares the full length and
resets the connection part-way).

    python -m sandboxes.cap --port 8003 --api-key demo-key --campaign GUID
"""
from __future__ import annotations

import argparse
import json
import secrets
import sys
import uuid
from collections import Counter
from datetime import datetime, timezone
from urllib.parse import urlsplit

from sandboxes.http import (Fault, Reply, SandboxBase, check_fault, control_body, json_reply, run_cli,
                                       stall_or_reset, truncated)

from apps.vendors.cap import rules
from apps.vendors.cap.client import SUBMIT_PATH

CONTROL_PREFIX = "/_sandbox"
FAULTS = ("500", "502", "503", "429", "timeout", "reset", "malformed", "truncated")
_FAULT_PARAMS = {"429": {"retry_after"}, "timeout": {"seconds", "deliver"}, "reset": {"deliver"},
                 "malformed": {"deliver"}, "truncated": {"deliver", "mid_body_reset"}}
_DEFAULT_DELIVER = {"timeout": True, "reset": False, "malformed": True, "truncated": True}
DEMO_CAMPAIGN = "966c7488-bfa7-45b5-8510-d26ba3008879"  # the document's example campaignId


def _answer(status: int, messages: list[str], request_id: str | None, code: str | None) -> Reply:
    return json_reply(status, {"success": status == 202, "messages": messages,
                                "result": {"requestReferenceId": request_id, "enquiryReferenceCode": code}})


class CapSandbox(SandboxBase):
    """A fake CAP Gateway on 127.0.0.1. State is guarded by one lock."""

    log_name = "cap-sandbox"
    server_version = "CapSandbox/1.0"

    def __init__(self, *, api_key: str = "sandbox-key", port: int = 0, prefix: str = "/cap",
                 campaigns: dict[str, str] | None = None, verbose: bool = False):
        self._init_sandbox(port=port, prefix=prefix.rstrip("/"), verbose=verbose)
        self.api_key = api_key
        self._campaigns = dict(campaigns if campaigns is not None else {DEMO_CAMPAIGN: ""})
        self._enquiries: list[dict] = []
        self._by_reference: Counter[str] = Counter()

    # ---------------------------------------------------------------- setup
    def add_campaign(self, campaign_id: str, required_fields: str = "") -> None:
        """A campaign CAP knows, with what it requires ("phoneNumber,postcode")."""
        _, unknown = rules.parse_required_fields(required_fields)
        if unknown:
            raise ValueError(f"unknown required fields {', '.join(unknown)}; known: {', '.join(rules.REQUIRABLE)}")
        uuid.UUID(str(campaign_id))
        with self._lock:
            self._campaigns[str(campaign_id).lower()] = required_fields

    def inject(self, fault, *, times: int = 1, **params) -> None:
        name = str(fault)
        check_fault(name, times, params, faults=FAULTS, fault_params=_FAULT_PARAMS)
        with self._lock:
            self._faults.append(Fault(name, "submit", times, dict(params)))

    # ---------------------------------------------------------------- observations
    def enquiries(self) -> list[dict]:
        """Every enquiry accepted (202), in order: payload and references."""
        with self._lock:
            return json.loads(json.dumps(self._enquiries))

    def submissions_for(self, external_reference_id) -> int:
        """How many enquiries carry this externalReferenceId (more than 1: a duplicate)."""
        with self._lock:
            return self._by_reference[str(external_reference_id)]

    def state(self) -> dict:
        with self._lock:
            return {"enquiries": json.loads(json.dumps(self._enquiries)), "campaigns": dict(self._campaigns),
                    "faults": [f.as_dict() for f in self._faults]}

    # ---------------------------------------------------------------- routing
    def _route(self, method: str, target: str, headers, body: bytes) -> Reply:
        path = urlsplit(target).path
        if not (path == self.prefix or path.startswith(self.prefix + "/")):
            return _answer(404, ["Not found"], None, None)
        rel = path[len(self.prefix):]
        if (method, rel) == ("POST", SUBMIT_PATH):
            return self._submit_with_faults(headers, body)
        control = {("POST", CONTROL_PREFIX + "/faults"): self._control_faults,
                   ("POST", CONTROL_PREFIX + "/campaigns"): self._control_campaigns,
                   ("GET", CONTROL_PREFIX + "/state"): lambda _body: json_reply(200, self.state())}.get((method, rel))
        if control is not None:
            return control(body)
        return _answer(404 if method == "POST" else 405, ["Not found"], None, None)

    def _submit_with_faults(self, headers, body: bytes) -> Reply:
        if headers.get("X-API-Key") != self.api_key:
            return _answer(401, ["Unauthorized: invalid or missing API key."], None, None)
        # "The following headers are required ... Content-Type | application/json"
        media_type = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return _answer(400, [f"Content-Type must be application/json, not {media_type or 'missing'}."],
                           str(uuid.uuid4()), None)
        fault = self._next_fault(lambda f: True)
        if fault is None:
            return self._submit(body)
        name, params = fault.name, fault.params
        deliver = params.get("deliver", _DEFAULT_DELIVER.get(name, False))
        if name in ("500", "502", "503"):
            return _answer(int(name), ["Internal server error"], str(uuid.uuid4()), None)
        if name == "429":
            reply = _answer(429, ["Too many requests"], None, None)
            reply.headers["Retry-After"] = str(params.get("retry_after", 1))
            return reply
        if name in ("timeout", "reset"):
            return stall_or_reset(name, params, lambda commit: self._submit(body) if commit else _answer(
                500, ["Internal server error"], None, None), deliver)
        if name == "malformed":
            status = self._submit(body).status if deliver else 502
            return Reply(status, b"<html><body>Bad Gateway</body></html>", {"Content-Type": "text/html"})
        reply = self._submit(body) if deliver else _answer(500, ["Internal server error"], None, None)
        return truncated(reply, mid_body_reset=bool(params.get("mid_body_reset")))

    def _submit(self, body: bytes) -> Reply:
        request_id = str(uuid.uuid4())
        try:
            payload = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            return _answer(400, [f"The request body is not valid JSON: {exc}"], request_id, None)
        metadata = payload.get("metadata") if isinstance(payload, dict) else None
        campaign = str((metadata if isinstance(metadata, dict) else {}).get("campaignId") or "")
        with self._lock:
            known = self._campaigns.get(campaign.lower())
        required, _ = rules.parse_required_fields(known or "")
        problems = rules.validate_submission(payload, required=required)
        if not problems and known is None:
            problems = [rules.Violation("metadata.campaignId", "unknown_campaign",
                                        f"Campaign {campaign} does not exist.")]
        if problems:
            return _answer(400, [p.message for p in problems], request_id, None)
        code = f"ENQ-{datetime.now(timezone.utc):%y%m%d}-{secrets.token_hex(4).upper()}"
        with self._lock:
            reference = str(payload["metadata"].get("externalReferenceId"))
            self._enquiries.append({"requestReferenceId": request_id, "enquiryReferenceCode": code,
                                    "payload": payload})
            self._by_reference[reference] += 1
        return _answer(202, [], request_id, code)

    # ---------------------------------------------------------------- control
    def _control_faults(self, body: bytes) -> Reply:
        try:
            data = control_body(body)
            if "fault" not in data:
                raise ValueError("fault is required")
            params = {k: v for k, v in data.items() if k not in ("fault", "times")}
            self.inject(data["fault"], times=data.get("times", 1), **params)
        except (TypeError, ValueError) as exc:
            return json_reply(400, {"message": str(exc)})
        return json_reply(200, {"faults": self.state()["faults"]})

    def _control_campaigns(self, body: bytes) -> Reply:
        try:
            data = control_body(body)
            self.add_campaign(str(data.get("campaignId", "")), str(data.get("required_fields", "")))
        except (TypeError, ValueError) as exc:
            return json_reply(400, {"message": str(exc)})
        return json_reply(200, {"campaigns": self.state()["campaigns"]})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.cap",
                                     description="Sandbox CAP Gateway lead submission on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8003, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--api-key", default="sandbox-key")
    parser.add_argument("--prefix", default="/cap", help="path prefix of base_url (default /cap)")
    parser.add_argument("--campaign", action="append", default=[], metavar="GUID[:FIELDS]",
                        help="a campaign CAP knows, with the fields it requires, e.g. GUID:phoneNumber,postcode "
                             f"(default: the document's example campaign {DEMO_CAMPAIGN})")
    parser.add_argument("--verbose", action="store_true", help="print every request on stderr")
    args = parser.parse_args(argv)
    campaigns = {}
    for spec in args.campaign or [DEMO_CAMPAIGN]:
        guid, _, fields = spec.partition(":")
        try:
            uuid.UUID(guid)
        except ValueError:
            parser.error(f"--campaign {spec!r}: {guid!r} is not a GUID")
        campaigns[guid.lower()] = fields
    sandbox = CapSandbox(api_key=args.api_key, port=args.port, prefix=args.prefix, campaigns=campaigns,
                         verbose=args.verbose)
    return run_cli(sandbox, lambda: f"CAP sandbox running: base_url={sandbox.base_url} campaigns={','.join(campaigns)}",
                   name="CAP")


if __name__ == "__main__":
    sys.exit(main())
