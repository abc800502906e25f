"""A fake Aimbase on 127.0.0.1 for tests and the demo: the Lead API (JSON and
XML, per-lead records, TopLevelError), the Lead OData API (lookup by
ExternalId) and the Disposition API, validating with the rules LeadHub uses
(rules.py), with fault injection and a /_sandbox control API.

    python -m sandboxes.aimbase --port 8004

Paths (under the prefix, default /aimbase):
    POST /marketing/api/lead?manufacturer=CODE   Authenticate: Avala-Api {username}:{token}
    GET  /odata/V2/Leads?$filter=ExternalId eq '42' or ExternalId eq '43'
    POST /api/Disposition?source=NAME            (no token, as documented)
    GET  /_sandbox/state | /_sandbox/leads | /_sandbox/activities
    POST /_sandbox/faults {"fault": "500", "path": "lead", "times": 1, ...}
    POST /_sandbox/unmapped {"details": ["Sold"]}     POST /_sandbox/reset
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from urllib.parse import parse_qs, urlsplit

# The HTTP plumbing (a tracked-thread server, a handler that can stall, reset
# and truncate) is shared by every sandbox; only the vendor behaviour is here.
from sandboxes.http import (Fault, Reply, SandboxBase, check_fault, json_reply, run_cli, stall_or_reset,
                                       truncated)

from apps.vendors.aimbase import payloads, rules

FAULTS = ("500", "502", "503", "429", "400", "401", "403", "timeout", "reset", "malformed", "truncated",
          "top_level_error", "partial", "short", "no_identifier", "xml_bomb")
FAULT_PATHS = ("lead", "odata", "disposition")
_FAULT_PARAMS = {"timeout": {"seconds", "deliver"}, "reset": {"deliver"}, "malformed": {"deliver"},
                 "truncated": {"deliver", "mid_body_reset"}, "xml_bomb": {"deliver"}, "429": {"retry_after"},
                 "400": {"message"}, "401": {"message"}, "403": {"message"},
                 "top_level_error": {"message", "with_records", "keep"}, "partial": {"fail", "field", "message"},
                 "short": {"keep"}, "no_identifier": {"at"}}
_DEFAULT_DELIVER = {"timeout": True, "malformed": True, "truncated": True, "xml_bomb": True}
# "Billion laughs": a few hundred bytes that a naive parser expands to gigabytes.
XML_BOMB = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
            + b"".join(b'<!ENTITY lol%d "%s">' % (n, b"".join(b"&lol%s;" % (b"" if n == 1 else str(n - 1).encode())
                                                             for _ in range(10))) for n in range(1, 10))
            + b"]><Leads><Lead><Id>&lol9;</Id><Status>Success</Status></Lead></Leads>")
MSG_DENIED = "Authorization has been denied for this request."
MSG_SERVER = "An unknown error occurred during the import"
_EXTERNAL_ID = re.compile(r"ExternalId eq '((?:[^']|'')*)'")


def _message(status: int, text: str, headers: dict | None = None) -> Reply:
    return json_reply(status, {"Message": text}, headers)


class AimbaseSandbox(SandboxBase):
    """Start/stop (or a ``with`` block), observe (leads(), created_count(),
    activities()), misbehave (inject(), unmap()). State is guarded by one lock."""

    log_name = "aimbase-sandbox"
    server_version = "AimbaseSandbox/1.0"

    def __init__(self, *, username: str = "sandbox-user", token: str = "sandbox-token",
                 manufacturer: str = "DEMO", crm_source: str = "LeadHub", port: int = 0, prefix: str = "/aimbase",
                 verbose: bool = False):
        self._init_sandbox(port=port, prefix=prefix.rstrip("/"), verbose=verbose)
        self.username, self.token, self.manufacturer, self.crm_source = username, token, manufacturer, crm_source
        self.reset()

    def reset(self) -> None:
        """Forget every lead, activity, fault and unmapped value."""
        with self._lock:
            self._leads: list[dict] = []
            self._activities: list[dict] = []
            self._faults: list[Fault] = []
            self._unmapped: set[str] = set()
            self._next_id = 1000

    # ---------------------------------------------------------------- control
    def inject(self, fault: str, *, path: str = "lead", times: int = 1, **params) -> None:
        """Make the next `times` authenticated requests to `path` ("lead", "odata",
        "disposition") misbehave:

        "500" | "502" | "503": that status with {"Message": "An unknown error
            occurred during the import"}; nothing created.
        "429": Retry-After: retry_after (default 1).  "400": {"Message": message}.
        "401" | "403": that status with {"Message": message} (default "Authorization
            has been denied for this request."), e.g. a user who may post leads but
            not read the Lead OData API (path="odata").
        "timeout": stall `seconds` (default 5), then answer; deliver (default True):
            the leads are created before the stall.
        "reset": RST, no answer; deliver (default False).
        "malformed": 201 "<html>Service Unavailable</html>"; deliver (default True).
        "truncated": the real answer cut in half; deliver (default True);
            mid_body_reset=True declares the full length and resets mid-body.
        "top_level_error": 201 with TopLevelError = message and no records; nothing
            created. with_records=True: the leads are handled as usual and their
            records come beside the TopLevelError (keep: only the first `keep`).
        "partial": the leads at indexes `fail` (default [0]) fail on `field`
            (default LeadSourceName) with `message` (a server-side refusal such as
            an unknown Lead Source); the rest succeed.
        "short": every lead is created, the answer holds only the first `keep`
            (default 0) records (a partial response).
        "no_identifier": the records at indexes `at` (default: all) come without
            their LeadApiIdentifier (null), in submission order.
        "xml_bomb": 201 with an entity-expansion ("billion laughs") XML body;
            deliver (default True).
        """
        check_fault(fault, times, params, faults=FAULTS, fault_params=_FAULT_PARAMS, path=path, paths=FAULT_PATHS)
        with self._lock:
            self._faults.append(Fault(fault, path, times, dict(params)))

    def unmap(self, *details: str) -> None:
        """Answer "No corresponding Aimbase status mapping" for these EntryDetail values."""
        with self._lock:
            self._unmapped.update(details)

    # ---------------------------------------------------------------- observations
    def leads(self) -> list[dict]:
        """Every lead created, in order: {"Id": ..., "lead": {...as received}}."""
        with self._lock:
            return json.loads(json.dumps(self._leads))

    def created_count(self, external_id) -> int:
        """How many leads were created with this ExternalId (1 = never twice)."""
        with self._lock:
            return sum(1 for row in self._leads if str(row["lead"].get("ExternalId")) == str(external_id))

    def activities(self) -> list[dict]:
        with self._lock:
            return json.loads(json.dumps(self._activities))

    def state(self) -> dict:
        with self._lock:
            return {"leads": len(self._leads), "activities": len(self._activities),
                    "faults": [vars(f) for f in self._faults], "unmapped": sorted(self._unmapped),
                    "by_external_id": dict(Counter(str(r["lead"].get("ExternalId")) for r in self._leads))}

    # ---------------------------------------------------------------- routing
    def _route(self, method: str, target: str, headers, body: bytes) -> Reply:
        parts = urlsplit(target)
        path = parts.path
        if self.prefix and not path.startswith(self.prefix + "/"):
            return _message(404, f"not found: {path}")
        path = path[len(self.prefix):].rstrip("/").lower()
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if path.startswith("/_sandbox/"):
            return self._control(method, path[len("/_sandbox/"):], body)
        routes = {("POST", "/marketing/api/lead"): "lead", ("GET", "/odata/v2/leads"): "odata",
                  ("POST", "/api/disposition"): "disposition"}
        kind = routes.get((method, path))
        if kind is None:
            return _message(405 if path in {p for _, p in routes} else 404, f"no route {method} {path}")
        if kind != "disposition" and headers.get("Authenticate", "") != f"Avala-Api {self.username}:{self.token}":
            return _message(401, MSG_DENIED)
        fault = self._next_fault(lambda f: f.path == kind)
        handler = {"lead": lambda commit, f: self._post_leads(query, headers, body, commit, f),
                   "odata": lambda commit, f: self._odata(query),
                   "disposition": lambda commit, f: self._disposition(query, body, commit)}[kind]
        if fault is None:
            return handler(True, None)
        return self._apply_fault(fault, handler)

    def _apply_fault(self, fault: Fault, handler) -> Reply:
        name, params = fault.name, fault.params
        deliver = params.get("deliver", _DEFAULT_DELIVER.get(name, False))
        if name in ("500", "502", "503"):
            return _message(int(name), MSG_SERVER)
        if name == "429":
            return _message(429, "Too many requests", {"Retry-After": str(params.get("retry_after", 1))})
        if name == "400":
            return _message(400, str(params.get("message", "The request is invalid.")))
        if name in ("401", "403"):
            return _message(int(name), str(params.get("message", MSG_DENIED)))
        if name in ("timeout", "reset"):
            return stall_or_reset(name, params, lambda commit: handler(commit, None), deliver)
        if name == "malformed":
            if deliver:
                handler(True, None)
            return Reply(201, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})
        if name == "xml_bomb":
            if deliver:
                handler(True, None)
            return Reply(201, XML_BOMB, {"Content-Type": "application/xml"})
        if name == "truncated":
            return truncated(handler(deliver, None), mid_body_reset=bool(params.get("mid_body_reset")))
        return handler(True, fault)  # top_level_error, partial, short, no_identifier: shaped by the lead handler

    # ---------------------------------------------------------------- Lead API
    def _post_leads(self, query: dict, headers, body: bytes, commit: bool, fault: Fault | None) -> Reply:
        xml = "xml" in headers.get("Content-Type", "").lower()
        if query.get("manufacturer") != self.manufacturer:
            return _message(400, f"Unknown manufacturer {query.get('manufacturer')!r}.")
        try:
            leads = payloads.leads_from_xml(body) if xml else json.loads(body)
        except (payloads.ResponseUnreadable, ValueError, UnicodeDecodeError) as exc:
            return _message(400, f"The request body could not be read: {exc}")
        if not isinstance(leads, list) or not leads:
            return _message(400, "The request must hold a list of one or more leads.")
        name = fault.name if fault else ""
        answer = payloads.LeadResponse(None)
        if name == "top_level_error":
            answer.top_level_error = str(fault.params.get("message", "The import could not be started."))
        if name != "top_level_error" or fault.params.get("with_records"):
            failing = set(fault.params.get("fail", [0])) if name == "partial" else set()
            with self._lock:
                for index, lead in enumerate(leads):
                    answer.records.append(self._create(lead, index in failing, fault, commit))
            if name == "short" or (name == "top_level_error" and "keep" in fault.params):
                answer.records = answer.records[: int(fault.params.get("keep", 0))]
            if name == "no_identifier":
                at = fault.params.get("at")
                for index, record in enumerate(answer.records):
                    if at is None or index in at:
                        record["LeadApiIdentifier"] = None
        encoded = payloads.response_to_xml(answer) if xml else payloads.response_to_json(answer)
        return Reply(201, encoded, {"Content-Type": "application/xml" if xml else "application/json"})

    def _create(self, lead, refused: bool, fault, commit: bool) -> dict:
        """One lead's response record (caller holds the lock)."""
        identifier = lead.get("LeadApiIdentifier") if isinstance(lead, dict) else None
        problems = rules.lead_violations(lead)
        if refused:
            problems.append(rules.Violation(str(fault.params.get("field", "LeadSourceName")), "unknown", str(
                fault.params.get("message", "The LeadSourceName is not a valid Lead Source in the system."))))
        if problems:
            return {"LeadApiIdentifier": identifier, "Id": None, "Status": "Failure",
                    "StatusMessage": "Lead failed validation",
                    "Messages": [{"Field": p.field, "Message": p.message} for p in problems]}
        self._next_id += 1
        if commit:
            self._leads.append({"Id": self._next_id, "lead": lead})
        return {"LeadApiIdentifier": identifier, "Id": str(self._next_id), "Status": "Success",
                "StatusMessage": "Lead successfully received", "Messages": []}

    def _odata(self, query: dict) -> Reply:
        wanted = [value.replace("''", "'") for value in _EXTERNAL_ID.findall(query.get("$filter", ""))]
        if query.get("$filter") and not wanted:
            return _message(400, "The sandbox understands $filter=ExternalId eq '...' [or ...] only.")
        with self._lock:
            rows = [{"Id": r["Id"], "ExternalId": r["lead"].get("ExternalId")} for r in self._leads
                    if not wanted or str(r["lead"].get("ExternalId")) in wanted]
        return json_reply(200, {"value": rows})

    # ---------------------------------------------------------------- Disposition API
    def _disposition(self, query: dict, body: bytes, commit: bool) -> Reply:
        if query.get("source") != self.crm_source:
            return _message(400, f"Unknown source {query.get('source')!r}.")
        try:
            activity = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _message(400, f"The request body could not be read: {exc}")
        problems = rules.disposition_violations(activity)
        if problems:
            return _message(400, " ".join(p.message for p in problems))
        with self._lock:
            known = {str(r["Id"]) for r in self._leads}
            if str(activity["SourceProspectId"]) not in known:
                return _message(400, f"No lead with Id {activity['SourceProspectId']}.")
            if activity["EntryDetail"] in self._unmapped:
                return json_reply(200, {"Success": False, "Message": "No corresponding Aimbase status mapping for "
                                   f"EntryType: {activity['EntryType']}, EntryDetail: {activity['EntryDetail']}"})
            if commit:
                self._activities.append(activity)
        return json_reply(200, {"Success": True, "Message": "Activity recorded"})

    # ---------------------------------------------------------------- /_sandbox
    def _control(self, method: str, name: str, body: bytes) -> Reply:
        if method == "GET" and name in ("state", "leads", "activities"):
            return json_reply(200, {"state": self.state, "leads": self.leads, "activities": self.activities}[name]())
        if method != "POST":
            return _message(405, f"{method} /_sandbox/{name} is not supported")
        try:
            data = json.loads(body or b"{}")
            if not isinstance(data, dict):
                raise ValueError("expected a JSON object")
            if name == "faults":
                self.inject(str(data.pop("fault", "")), **data)
            elif name == "unmapped":
                self.unmap(*[str(d) for d in data.get("details") or []])
            elif name == "reset":
                self.reset()
            else:
                return _message(404, f"no control endpoint {name}")
        except (ValueError, TypeError) as exc:
            return _message(400, str(exc))
        return json_reply(200, self.state())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.aimbase",
                                     description="Sandbox Aimbase (Lead, OData and Disposition APIs) on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8004, help="port on 127.0.0.1 (0 = any free port)")
    parser.add_argument("--username", default="sandbox-user")
    parser.add_argument("--token", default="sandbox-token")
    parser.add_argument("--manufacturer", default="DEMO")
    parser.add_argument("--crm-source", default="LeadHub", help="the Disposition API's ?source= value")
    parser.add_argument("--prefix", default="/aimbase")
    parser.add_argument("--unmapped", default="", help="comma-separated EntryDetail values without a mapping")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    sandbox = AimbaseSandbox(username=args.username, token=args.token, manufacturer=args.manufacturer,
                             crm_source=args.crm_source, port=args.port, prefix=args.prefix, verbose=args.verbose)
    sandbox.unmap(*[d.strip() for d in args.unmapped.split(",") if d.strip()])
    return run_cli(sandbox, lambda: f"Aimbase sandbox running: base_url={sandbox.base_url} username={sandbox.username} "
                                    f"manufacturer={sandbox.manufacturer} source={sandbox.crm_source}",
                   name="Aimbase")


if __name__ == "__main__":
    sys.exit(main())
