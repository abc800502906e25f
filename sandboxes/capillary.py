"""A fake Capillary LMS Leads v2 on 127.0.0.1, for tests and local runs.

Speaks the document's paths under <prefix>/v2 with HTTP Basic, validates every
request with apps/vendors/capillary/rules.py (the rules LeadHub builds with),
keeps the organisation's reasons, sub-statuses and leads in memory, and can
misbehave on request (5xx, 429 with Retry-After, timeouts, resets, malformed
and truncated bodies).

Python API: CapillarySandbox(...).start() / .stop() or a ``with`` block;
add_lead(), update_lead() (a change made "in Capillary"), inject(fault, ...),
on_search (a hook run after each search, to change the list between pages).
Control API: POST /_sandbox/leads, POST /_sandbox/update, POST /_sandbox/faults,
GET /_sandbox/state. CLI: python -m sandboxes.capillary --port 8002.
"""
from __future__ import annotations

import argparse
import base64
import json
import re
import sys
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

from sandboxes.http import Fault, Reply, SandboxBase, json_reply, run_cli, stall_or_reset, truncated

from apps.vendors.capillary import rules

FAULTS = ("500", "503", "429", "timeout", "reset", "malformed", "truncated")
FAULT_PATHS = ("search", "write", "lists", "any")
# The organisation's lists a demo sandbox starts with (the document's samples).
DEMO_REASONS = ("Item not available in store", "Best price availabe at another store",
                "Interested in our brand products")
DEMO_SUBSTATUSES = (("ON_HOLD", "YetToDecide"), ("LOST", "InvalidPhoneNumber"), ("OPEN", "Quoted"))
START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone(timedelta(hours=5, minutes=30)))


def _fmt(value: datetime) -> str:
    return value.replace(microsecond=0).isoformat()


def _json(status: int, data, headers=None) -> Reply:
    return json_reply(status, data, headers, ensure_ascii=True)


def _errors(status: int, violations_or_text) -> Reply:
    if isinstance(violations_or_text, str):
        errors = [{"code": status, "message": violations_or_text}]
    else:
        errors = [{"code": v.code, "message": f"{v.field}: {v.message}"} for v in violations_or_text]
    return _json(status, {"errors": errors, "warnings": []})


class CapillarySandbox(SandboxBase):
    log_name = "capillary-sandbox"
    server_version = "CapillarySandbox/1.0"
    SERVER_ERROR_TEXT = "Internal server error"

    def __init__(self, *, username: str = "sandbox-user", password: str = "sandbox-pass", port: int = 0,
                 prefix: str = "/capillary", verbose: bool = False):
        self._init_sandbox(port=port, prefix=prefix.rstrip("/"), verbose=verbose, lock=threading.RLock())
        self.username, self.password = username, password
        self.received: list[tuple[str, str, dict]] = []  # accepted writes: (method, path, body)
        self.on_search = None  # callable(sandbox) run after each answered search
        self.search_delay = 0.0  # seconds every search takes (to kill a worker mid-pull)
        self._leads: dict[int, dict] = {}
        self._reasons: list[dict] = []
        self._substatuses: list[dict] = []
        self._users: dict[tuple[str, str], int] = {}
        self._ids = {"lead": 0, "log": 0, "followup": 0, "reason": 0, "user": 368754333}
        self._clock = START

    def _error_reply(self, status: int, text: str) -> Reply:
        return _errors(status, text)

    # --------------------------------------------------------------- seeding
    def _tick(self) -> str:
        """Capillary's clock: one second per change, so lastUpdatedOn is strictly increasing."""
        self._clock += timedelta(seconds=1)
        return _fmt(self._clock)

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def add_reasons(self, texts) -> list[dict]:
        with self._lock:
            added = []
            for text in texts:
                existing = next((r for r in self._reasons if r["reason"] == text), None)
                if existing is None:
                    existing = {"id": self._next("reason"), "reason": text}
                    self._reasons.append(existing)
                added.append(existing)
            return added

    def add_substatus(self, status: str, sub_status: str) -> None:
        with self._lock:
            entry = {"status": status, "subStatus": sub_status}
            if entry not in self._substatuses:
                self._substatuses.append(entry)

    def add_lead(self, *, lead_for: str = "item001", type: str = "SKU", status: str = "OPEN",  # noqa: A002
                 reason_id: int | None = None, sub_status: str = "", followups: int = 0,
                 extended: dict | None = None, user_id: int | None = None, next_follow_up: str | None = None,
                 owner: str | None = None) -> dict:
        """A lead created in Capillary (by a store, not LeadHub); `owner`: the
        username of the staff user it is assigned to."""
        with self._lock:
            reason_id = reason_id or (self._reasons[0]["id"] if self._reasons else None)
            lead = self._new_lead({"type": type, "leadFor": lead_for, "status": status,
                                   "extendedFields": extended or {}, "orgSourceId": -1,
                                   **({"subStatus": sub_status} if sub_status else {}),
                                   **({"nextFollowUp": next_follow_up} if next_follow_up else {}),
                                   **({"owner": owner} if owner else {})},
                                  user_id or self._next("user"), created_by=15002926)
            self._log(lead, status, reason_id, sub_status, created_by=15002926)
            for n in range(followups):
                self._followup(lead, {"followedUpOn": lead["createdOn"], "notes": f"notes {n + 1}",
                                      "scheduledFollowUp": lead["createdOn"]}, created_by=15002926)
            return json.loads(json.dumps(lead))

    def generate(self, n: int) -> None:
        if not self._reasons:
            self.add_reasons(DEMO_REASONS)
        for index in range(n):
            self.add_lead(lead_for=f"sku_{900000 + index}", followups=index % 3)

    def update_lead(self, lead_id: int, *, status: str | None = None, reason_id: int | None = None,
                    sub_status: str = "", followup_notes: str | None = None, extended: dict | None = None,
                    next_follow_up: str | None = None, owner: str | None = None) -> dict:
        """A change made in Capillary: it moves the lead to the end of a lastUpdatedOn search."""
        with self._lock:
            lead = self._leads[int(lead_id)]
            if status is not None:
                lead["status"] = status
                if sub_status:
                    lead["subStatus"] = sub_status
                else:
                    lead.pop("subStatus", None)
                self._log(lead, status, reason_id or self._reasons[0]["id"], sub_status, created_by=15002926)
            if followup_notes is not None:
                self._followup(lead, {"followedUpOn": self._tick(), "notes": followup_notes}, created_by=15002926)
            if extended is not None:
                lead["extendedFields"] = dict(extended)
            if next_follow_up is not None:
                lead["nextFollowUp"] = next_follow_up
            if owner is not None:
                lead["owner"] = owner
            self._touch(lead, 15002926)
            return json.loads(json.dumps(lead))

    def _new_lead(self, body: dict, user_id: int, *, created_by: int) -> dict:
        now = self._tick()
        lead = {"id": self._next("lead"), "userId": user_id, "type": body.get("type") or "SKU",
                "leadFor": body["leadFor"], "status": body.get("status") or "OPEN",
                "createdOn": body.get("createdOn") or now, "createdBy": body.get("createdBy") or created_by,
                "lastUpdatedOn": now, "lastUpdatedBy": created_by, "followUpDetails": [], "statusLogDetails": [],
                "orgSourceId": body.get("orgSourceId", -1), "extendedFields": body.get("extendedFields") or {}}
        for key in ("nextFollowUp", "owner", "subStatus"):
            if body.get(key) is not None:
                lead[key] = body[key]
        self._leads[lead["id"]] = lead
        return lead

    def _log(self, lead, status, reason_id, sub_status, *, created_by) -> None:
        reason = next((r["reason"] for r in self._reasons if r["id"] == reason_id), None)
        entry = {"id": self._next("log"), "userId": lead["userId"], "leadId": lead["id"], "status": status,
                 "createdBy": created_by, "createdOn": self._tick(), "reasonId": reason_id, "reason": reason}
        if sub_status:
            entry["subStatus"] = sub_status
        lead["statusLogDetails"].append(entry)

    def _followup(self, lead, body: dict, *, created_by) -> None:
        entry = {"id": self._next("followup"), "userId": lead["userId"], "leadId": lead["id"],
                 "createdBy": created_by, "createdOn": self._tick(), "followedUpOn": body.get("followedUpOn"),
                 "followedUpBy": body.get("followedUpBy", created_by),
                 "scheduledFollowUp": body.get("scheduledFollowUp") or body.get("followedUpOn")}
        if body.get("notes"):
            entry["notes"] = body["notes"]
        lead["followUpDetails"].append(entry)
        lead["lastFollowUp"] = body.get("followedUpOn")
        if body.get("nextFollowUp"):
            lead["nextFollowUp"] = body["nextFollowUp"]

    def _touch(self, lead, by) -> None:
        lead["lastUpdatedOn"], lead["lastUpdatedBy"] = self._tick(), by

    # --------------------------------------------------------------- faults and state
    def inject(self, fault: str, *, times: int = 1, path: str = "any", **params) -> None:
        """The next `times` requests to `path` ("search": GET /leads, "write": any
        lead write, "lists": reasons and sub-statuses, "any") misbehave.
        "500"/"503": that status, nothing happens. "429": Retry-After
        (retry_after, default 1). "timeout": stall `seconds` (default 3); deliver
        (default True for writes) makes the effect happen first. "reset": RST,
        deliver default False. "malformed": 200 HTML (status: another status with
        that HTML; 4xx ones deliver nothing by default); "truncated": the real
        answer cut in half (both deliver by default)."""
        if fault not in FAULTS or path not in FAULT_PATHS:
            raise ValueError(f"fault one of {FAULTS}, path one of {FAULT_PATHS}")
        with self._lock:
            self._faults.append(Fault(fault, path, times, params))

    def lead(self, lead_id: int) -> dict:
        with self._lock:
            return json.loads(json.dumps(self._leads[int(lead_id)]))

    def leads(self) -> list[dict]:
        with self._lock:
            return json.loads(json.dumps(list(self._leads.values())))

    def state(self) -> dict:
        with self._lock:
            return {"leads": len(self._leads), "reasons": list(self._reasons), "substatuses": list(self._substatuses),
                    "searches": sum(1 for m, path, _ in self.requests if m == "GET" and "/v2/leads?" in path),
                    "writes": len(self.received), "faults": [f.__dict__ for f in self._faults],
                    # lead id -> status updates accepted (the scale-out test's "pushed once")
                    "status_updates": dict(Counter(path.split("/")[3] for method, path, _ in self.received
                                                   if method == "PUT" and path.endswith("/status")))}

    # --------------------------------------------------------------- routing
    def _route(self, method: str, target: str, headers, body: bytes) -> Reply:
        parts = urlsplit(target)
        if not parts.path.startswith(self.prefix + "/"):
            return _errors(404, "Not found")
        path = parts.path[len(self.prefix):]
        if path.startswith("/_sandbox/"):
            return self._control(method, path, body)
        if not self._auth_ok(headers.get("Authorization", "")):
            return _errors(401, "Invalid credentials")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if method == "GET" and path == "/v2/leads":
            return self._faulted("search", lambda commit: self._search(query))
        if path in ("/v2/leads/reasons", "/v2/leads/substatuses", "/v2/leads/substatus"):
            return self._faulted("lists", lambda commit: self._lists(method, path, body, commit))
        match = re.fullmatch(r"/v2/leads(?:/(\d+)(/status|/followup)?)?", path)
        if match is None or method not in ("POST", "PUT"):
            return _errors(404, "Not found")
        try:
            data = json.loads(body or b"null")
        except ValueError:
            return _errors(400, "Invalid JSON body")
        return self._faulted("write", lambda commit: self._write(method, match.group(1), match.group(2) or "",
                                                                 data, commit))

    def _auth_ok(self, header: str) -> bool:
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.username, self.password)

    def _faulted(self, kind: str, normal) -> Reply:
        fault = self._next_fault(lambda f: f.path in (kind, "any"))
        if fault is None:
            return normal(True)
        name, params = fault.name, fault.params
        html_status = int(params.get("status", 200)) if name == "malformed" else 200
        deliver = params.get("deliver", html_status < 400 and (
            name in ("timeout", "malformed", "truncated") and kind == "write" or name in ("malformed", "truncated")))
        if name in ("500", "503"):
            return _errors(int(name), "Internal server error")
        if name == "429":
            return _json(429, {"errors": [{"code": 429, "message": "Rate limit exceeded"}], "warnings": []},
                         {"Retry-After": str(params.get("retry_after", 1))})
        if name in ("timeout", "reset"):
            return stall_or_reset(name, params, lambda commit: normal(True) if commit else _errors(500, "late"),
                                  deliver, seconds=3)
        reply = normal(True) if deliver else _json(200, {"data": []})
        if name == "malformed":  # status: e.g. 403 from a proxy in front, with its HTML page
            return Reply(html_status, b"<html>Service Unavailable</html>", {"Content-Type": "text/html"})
        return truncated(reply, headers={"Content-Type": "application/json"})

    def _search(self, query: dict) -> Reply:
        try:
            offset, limit = int(query.get("offset", 0)), int(query.get("limit", 10))
        except ValueError:
            return _errors(400, "offset and limit are numbers")
        if offset < 0 or limit < 1:
            return _errors(400, "offset must be >= 0 and limit >= 1")
        sort_by = query.get("sortBy", "createdon")
        if sort_by not in ("createdon", "lastUpdatedOn"):
            return _errors(400, "sortBy is createdon or lastUpdatedOn")
        if query.get("status") and query["status"] not in rules.STATUSES:
            return _errors(400, "Invalid status")
        if query.get("sortOrder", "ASC").upper() not in ("ASC", "DESC"):
            return _errors(400, "sortOrder is ASC or DESC")
        with self._lock:
            leads = [lead for lead in self._leads.values()
                     if (not query.get("status") or lead["status"] == query["status"])
                     and (not query.get("userId") or str(lead["userId"]) == query["userId"])
                     and (not query.get("orgSourceId") or str(lead["orgSourceId"]) == query["orgSourceId"])
                     # No type: SKU leads only, the stricter reading of a default the
                     # document never states (Add Lead's type defaults to SKU).
                     and (query.get("type", "SKU") == "ALL" or lead["type"] == query.get("type", "SKU"))]
            key = "lastUpdatedOn" if sort_by == "lastUpdatedOn" else "createdOn"
            # Ties keep one order (by id) between calls.
            leads.sort(key=lambda lead: (datetime.fromisoformat(lead[key].replace("Z", "+00:00")), lead["id"]),
                       reverse=query.get("sortOrder", "ASC").upper() == "DESC")
            page = json.loads(json.dumps(leads[offset:offset + limit]))
        reply = _json(200, {"data": page, "warnings": [], "errors": []})
        reply.delay = self.search_delay
        if self.on_search is not None:
            self.on_search(self)
        return reply

    def _lists(self, method: str, path: str, body: bytes, commit: bool) -> Reply:
        with self._lock:
            if method == "GET" and path.endswith("/reasons"):
                return _json(200, {"data": list(self._reasons), "warnings": [], "errors": []})
            if method == "GET" and path.endswith("/substatuses"):
                return _json(200, {"data": list(self._substatuses), "warnings": [], "errors": []})
            try:
                data = json.loads(body or b"null")
            except ValueError:
                return _errors(400, "Invalid JSON body")
            if method == "POST" and path.endswith("/reasons"):
                if not isinstance(data, list) or not data:
                    return _errors(400, "Send a JSON array of reasons")
                problems = [v for entry in data for v in rules.check_reason(entry)]
                if problems:
                    return _errors(400, problems)
                self.add_reasons([entry["reason"].strip() for entry in data])
                return _json(200, {"data": list(self._reasons), "warnings": [], "errors": []})
            if method == "POST" and path.endswith("/substatus"):
                problems = rules.check_substatus(data)
                if problems:
                    return _errors(400, problems)
                self.add_substatus(data["status"], data["subStatus"].strip())
                return _json(200, {**data, "warnings": []})
        return _errors(404, "Not found")

    def _write(self, method: str, lead_id, suffix: str, data, commit: bool) -> Reply:
        with self._lock:
            if lead_id is None:
                if method != "POST":
                    return _errors(404, "Not found")
                return self._create(data)
            lead = self._leads.get(int(lead_id))
            if lead is None:
                return _errors(404, f"Lead {lead_id} not found")
            check = {("PUT", "/status"): rules.check_status_update, ("POST", "/followup"): rules.check_followup,
                     ("PUT", ""): rules.check_lead_update}.get((method, suffix))
            if check is None:
                return _errors(404, "Not found")
            problems = check(data) + self._org_violations(data)
            if problems:
                return _errors(400, problems)
            by = data.get("createdBy") or 15002926
            if suffix == "/status":
                lead["status"] = data["status"]
                if data.get("subStatus"):
                    lead["subStatus"] = data["subStatus"]
                else:
                    lead.pop("subStatus", None)
                self._log(lead, data["status"], data["reasonId"], data.get("subStatus", ""), created_by=by)
            elif suffix == "/followup":
                self._followup(lead, data, created_by=by)
            else:
                if "extendedFields" in data:
                    lead["extendedFields"] = {**lead.get("extendedFields", {}), **data["extendedFields"]}
                if "owner" in data:
                    lead["owner"] = data["owner"]
            self._touch(lead, by)
            self.received.append((method, f"/v2/leads/{lead_id}{suffix}", data))
            return _json(200, {**json.loads(json.dumps(lead)), "warnings": []})

    def _org_violations(self, data: dict) -> list:
        """The organisation's own lists: reason ids and sub-statuses must exist."""
        from apps.core.violations import Violation

        found = []
        known = {r["id"] for r in self._reasons}
        reason_ids = [data.get("reasonId")] if "reasonId" in data else []
        reason_ids += [log.get("reasonId") for log in data.get("statusLogDetails") or [] if isinstance(log, dict)]
        for reason_id in reason_ids:
            if isinstance(reason_id, int) and reason_id not in known:
                found.append(Violation("reasonId", "unknown", f"Invalid reason id {reason_id}"))
        subs = {(s["status"], s["subStatus"]) for s in self._substatuses}
        if data.get("subStatus") and data.get("status") and (data["status"], data["subStatus"]) not in subs:
            found.append(Violation("subStatus", "unknown", f"Invalid sub-status {data['subStatus']}"))
        return found

    def _create(self, data) -> Reply:
        problems = rules.check_create(data) + (self._org_violations(data) if isinstance(data, dict) else [])
        if problems:
            return _errors(400, problems)
        if data.get("userId") is not None:
            user_id = data["userId"]
        else:
            # "A new non-loyalty customer will be created if you pass a new customer identifier."
            user_key = (data["idType"], data["identifier"].strip().lower())
            user_id = self._users.get(user_key) or self._next("user")
            self._users[user_key] = user_id
        by = data.get("createdBy") or 15002926
        lead = self._new_lead(data, user_id, created_by=by)
        for entry in data.get("statusLogDetails") or []:
            self._log(lead, entry["status"], entry["reasonId"], entry.get("subStatus", ""),
                      created_by=entry.get("createdBy") or by)
        for entry in data.get("followUpDetails") or []:
            self._followup(lead, entry, created_by=by)
        self.received.append(("POST", "/v2/leads", data))
        return _json(200, {**json.loads(json.dumps(lead)), "warnings": []})

    def _control(self, method: str, path: str, body: bytes) -> Reply:
        try:
            data = json.loads(body or b"{}")
            if method == "GET" and path == "/_sandbox/state":
                return _json(200, self.state())
            if method == "POST" and path == "/_sandbox/leads":
                return _json(200, self.add_lead(**data))
            if method == "POST" and path == "/_sandbox/update":
                lead_id = data.pop("id")
                return _json(200, self.update_lead(lead_id, **data))
            if method == "POST" and path == "/_sandbox/faults":
                self.inject(data.pop("fault"), **data)
                return _json(200, self.state())
        except (ValueError, TypeError, KeyError) as exc:
            return _errors(400, f"bad control request: {exc}")
        return _errors(404, "Not found")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandboxes.capillary",
                                     description="Sandbox Capillary LMS Leads v2 on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--username", default="sandbox-user")
    parser.add_argument("--password", default="sandbox-pass")
    parser.add_argument("--prefix", default="/capillary")
    parser.add_argument("--generate", type=int, default=0, metavar="N", help="N leads made in Capillary at start")
    parser.add_argument("--search-delay", type=float, default=0.0, metavar="SECONDS",
                        help="every GET /leads answers this much later")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    sandbox = CapillarySandbox(username=args.username, password=args.password, port=args.port, prefix=args.prefix,
                               verbose=args.verbose)
    sandbox.search_delay = args.search_delay

    def setup() -> None:
        sandbox.add_reasons(DEMO_REASONS)
        for status, sub in DEMO_SUBSTATUSES:
            sandbox.add_substatus(status, sub)
        sandbox.generate(args.generate)

    return run_cli(sandbox, lambda: f"Capillary sandbox running: base_url={sandbox.base_url} "
                                    f"username={sandbox.username} leads={len(sandbox.leads())}",
                   name="Capillary", setup=setup)


if __name__ == "__main__":
    sys.exit(main())
