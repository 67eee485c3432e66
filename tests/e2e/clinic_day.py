"""A scripted day at a clinic, played over HTTP against a running system.

    python -m tests.e2e.clinic_day [--booking URL] [--workflow URL] [--notifier URL]
                                   [--projections URL] [--org NAME] [--custom-org NAME]

Defaults are the ports of `make run` (8001-8004). The script issues its own bearer
tokens with `shared.auth.issue`, so JWT_SECRET must match the system's (the default
of shared.config matches a plain `make run`). Organisation names get a short random
suffix, so the day can be played again and again against the same system.

Organisation A ("Sunny Clinic", Europe/Zurich) lives through the built-in
lifecycle: widget requests with tentative clients (one linked to an existing
client, one saved as a new client), approvals, an automatic confirmation, a
reschedule, a request to reschedule answered by the client through the link in the
development mailbox, a reassignment, an internal note, a cancellation, a
rejection, attendance with an outcome, a no-show that is reopened and attended,
another that stays a no-show, and feedback through the survey link.
Organisation B ("Summit Health") defines and publishes a five-step workflow
(Calenso) and moves one request through it to "Confirmed" and another straight to
"Declined".

`run_day` answers a `DayResult`: every appointment with the status it must end in,
the messages its events must cause (the rules of DOMAIN.md, "Notifications"), its
expected status history, and the refusals met on the way. The end-to-end test
(test_clinic_day.py) checks all of it against booking, projections and notifier;
run as a script, it checks statuses, refusals and message counts and prints them.
"""
from __future__ import annotations

import argparse
import re
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import requests

from shared import auth, links

DEFAULT_URLS = {"booking": "http://127.0.0.1:8001", "workflow": "http://127.0.0.1:8002",
                "notifier": "http://127.0.0.1:8003", "projections": "http://127.0.0.1:8004"}
TIMEZONE = "Europe/Zurich"
TZ = ZoneInfo(TIMEZONE)
DUE_LEAD = timedelta(seconds=8)        # the "due" visits start this far in the future
EVERY_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
CANCEL_REASONS = ["Client request", "Doctor unavailable", "Other"]
REJECT_REASONS = ["Fully booked", "Not eligible"]
CUSTOM_CANCEL_REASONS = ["Requirements not met", "Client request"]

# The custom workflow of organisation B (Calenso's example).
CUSTOM_STATUSES: list[dict[str, Any]] = [
    {"key": "request_received", "name": "Request received", "position": 10, "kind": "start",
     "description": "the request arrived; not confirmed yet", "colour": "#fdd835"},
    {"key": "consultation", "name": "Consultation with management", "position": 20,
     "kind": "step", "description": "management is consulted", "colour": "#fb8c00"},
    {"key": "approved", "name": "Approved by management", "position": 30, "kind": "step",
     "description": "management said yes", "colour": "#7cb342"},
    {"key": "resources_checked", "name": "Resources checked", "position": 40, "kind": "step",
     "description": "room and staff are available", "colour": "#00acc1"},
    {"key": "confirmed", "name": "Confirmed", "position": 50, "kind": "confirmation",
     "description": "the appointment is confirmed", "colour": "#1e88e5"},
    {"key": "declined", "name": "Declined", "position": 60, "kind": "cancellation",
     "description": "a requirement was not met", "colour": "#e53935"},
]
KINDS: dict[str, str] = {"requested": "start", "reschedule_requested": "step", "scheduled": "confirmation",
         "attended": "completion", "no_show": "completion", "reopened": "step",
         "feedback_pending": "step", "feedback_received": "final", "cancelled": "cancellation",
         "rejected": "cancellation", **{s["key"]: s["kind"] for s in CUSTOM_STATUSES}}
# action -> the type of the event it stores (booking README, "Events")
EVENT_TYPES = {
    "request": "requested", "create": "created_for_client", "confirm": "confirmed",
    "accept_suggestion": "suggestion_accepted", "reschedule": "rescheduled",
    "request_reschedule": "reschedule_requested", "propose_time": "time_proposed",
    "reassign": "reassigned", "add_note": "note_added", "link_client": "client_linked",
    "cancel": "cancelled", "reject": "rejected", "attend": "attended", "no_show": "no_show",
    "reopen": "reopened", "request_feedback": "feedback_requested",
    "submit_feedback": "feedback_submitted", "move": "moved_to_status"}
SILENT = ("add_note", "link_client")          # never notify anyone
NOT_IN_HISTORY = ("reassign", "add_note", "link_client")
LINK = re.compile(r"https?://[^\s\"'<>]+/v1/client-actions/(\w+)\?token=([A-Za-z0-9_.\-]+)")


# -- what the day expects -------------------------------------------------------------------

@dataclass(frozen=True)
class Contact:
    """Someone (or something) that can be told: a client, a resource, an organisation."""
    name: str
    email: str | None
    phone: str | None
    id: str | None = None


@dataclass(frozen=True)
class Actor:
    """Who calls: an organisation, a subject, roles (the bearer token's claims)."""
    org: str
    subject: str
    roles: tuple[str, ...]

    @property
    def as_recorded(self) -> dict[str, str]:
        role = next(r for r in ("manager", "agent", "service", "widget", "auditor")
                    if r in self.roles)
        return {"id": self.subject, "role": role}


@dataclass
class Visit:
    """One appointment of the day and everything it must end up as."""
    name: str
    id: str
    organisation: str
    client: Contact
    org_contact: Contact
    resources: list[Contact] = field(default_factory=list)   # agent and location, as booked
    status: str = ""
    messages: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    history: list[dict[str, Any]] = field(default_factory=list)   # oldest first
    reasons: dict[str, str] = field(default_factory=dict)         # event type -> reason
    said: list[tuple[str, str, str]] = field(default_factory=list)  # event, to status, message
    snapshot: dict[str, Any] = field(default_factory=dict)        # booking's last answer

    @property
    def notifications(self) -> int:
        return sum(self.messages.values())

    @property
    def kind(self) -> str:
        return KINDS[self.status]


@dataclass
class Check:
    """A refusal (or other rule) met on the way, with booking's answer."""
    name: str
    passed: bool
    expected: str
    status: int | None = None
    body: Any = None


@dataclass
class DayResult:
    org: str
    custom_org: str
    today: date                      # local day of the due visits
    day: date                        # local day of the planned visits (tomorrow)
    visits: dict[str, Visit] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)
    position: int = 0                # highest booking position answered
    ids: dict[str, str] = field(default_factory=dict)        # directory names -> ids
    links: dict[str, str] = field(default_factory=dict)      # client links used
    link_sources: dict[str, str] = field(default_factory=dict)   # "mailbox" or "signed"
    contacts: dict[str, Contact] = field(default_factory=dict)   # people and places by name
    due_slot: dict[str, str] = field(default_factory=dict)       # of the visits that fell due

    def expected_statuses(self) -> dict[str, str]:
        return {v.id: v.status for v in self.visits.values()}

    def expected_notifications(self) -> dict[str, int]:
        return {v.id: v.notifications for v in self.visits.values()}

    def of(self, org: str) -> list[Visit]:
        return [v for v in self.visits.values() if v.organisation == org]


class DayError(AssertionError):
    """A step of the day got an answer it cannot go on with."""


# -- HTTP ------------------------------------------------------------------------------------

class Api:
    def __init__(self, urls: dict[str, str], timeout: float = 20.0) -> None:
        self.urls = {k: v.rstrip("/") for k, v in urls.items()}
        self.timeout = timeout
        self.sessions: dict[Actor, requests.Session] = {}
        self.anonymous = requests.Session()
        self.position = 0

    def session(self, who: Actor) -> requests.Session:
        if who not in self.sessions:
            s = requests.Session()
            s.headers["Authorization"] = "Bearer " + auth.issue(who.org, list(who.roles),
                                                                 subject=who.subject)
            self.sessions[who] = s
        return self.sessions[who]

    def call(self, who: Actor | None, method: str, service: str, path: str,
             json: Any = None, params: dict[str, Any] | None = None,
             expect: tuple[int, ...] | None = (200,)) -> requests.Response:
        s = self.session(who) if who else self.anonymous
        url = path if path.startswith("http") else self.urls[service] + path
        r = s.request(method, url, json=json, params=params, timeout=self.timeout)
        if expect is not None and r.status_code not in expect:
            raise DayError(f"{method} {url} {json or ''} -> {r.status_code} (expected "
                           f"{expect}): {r.text[:2000]}")
        if r.ok and service == "booking" and r.headers.get("content-type", "").startswith(
                "application/json"):
            body = r.json()
            if isinstance(body, dict) and isinstance(body.get("position"), int):
                self.position = max(self.position, body["position"])
        return r

    def get(self, who: Actor, service: str, path: str, **params: Any) -> Any:
        return self.call(who, "GET", service, path, params=params or None).json()


def poll(check: Callable[[], Any], timeout: float = 45.0, interval: float = 0.3) -> Any:
    """`check()` once it is truthy; None after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found or None
        time.sleep(interval)


# -- time --------------------------------------------------------------------------------------

def slot_at(day: date, hhmm: str, minutes: int) -> dict[str, str]:
    start = datetime.combine(day, datetime.strptime(hhmm, "%H:%M").time(), TZ)
    return {"start": start.isoformat(), "end": (start + timedelta(minutes=minutes)).isoformat()}


def due_slot() -> dict[str, str]:
    """A slot starting a few seconds from now (a short one, so it is soon in the past)."""
    start = (datetime.now(UTC) + DUE_LEAD).replace(microsecond=0)
    return {"start": start.isoformat(), "end": (start + timedelta(seconds=2)).isoformat()}


def wait_until(moment: datetime) -> None:
    delay = (moment - datetime.now(UTC)).total_seconds()
    if delay > 0:
        time.sleep(delay)


def avoid_midnight() -> None:
    """The due visits must start and end on one local day (within working hours)."""
    now = datetime.now(TZ)
    if now.hour == 23 and now.minute >= 58:
        wait_until((now + timedelta(days=1)).replace(hour=0, minute=0, second=5))


# -- the day -------------------------------------------------------------------------------------

class Day:
    def __init__(self, urls: dict[str, str], org: str, custom_org: str) -> None:
        avoid_midnight()
        self.api = Api(urls)
        today = datetime.now(TZ).date()
        self.result = DayResult(org, custom_org, today, today + timedelta(days=1))
        self.day = self.result.day
        # Organisation A
        self.manager = Actor(org, "maria.manager", ("manager",))
        self.desk = Actor(org, "frank.frontdesk", ("agent",))
        self.widget = Actor(org, "booking-widget", ("widget",))
        # Organisation B
        self.b_manager = Actor(custom_org, "olga.operations", ("manager",))
        self.b_desk = Actor(custom_org, "paul.frontdesk", ("agent",))
        self.b_widget = Actor(custom_org, "booking-widget", ("widget",))
        tag = uuid.uuid4().hex[:6]
        self.sunny = Contact("Sunny Clinic", f"desk-{tag}@sunny.example", "+41445550100")
        self.summit = Contact("Summit Health", f"office-{tag}@summit.example", "+41445550200")
        self.anna = Contact("Anna Keller", f"anna.keller-{tag}@example.com", "+41791110001")
        self.ben = Contact("Ben Meier", f"ben.meier-{tag}@example.com", "+41791110002")
        self.cara = Contact("Cara Rossi", f"cara.rossi-{tag}@example.com", "+41791110003")
        self.dora = Contact("Dora Huber", f"dora.huber-{tag}@example.com", "+41791110004")
        self.emil = Contact("Emil Frei", f"emil.frei-{tag}@example.com", "+41791110005")
        self.finn = Contact("Finn Graf", f"finn.graf-{tag}@example.com", "+41791110006")
        self.alice = Contact("Dr Alice Brunner", f"alice-{tag}@sunny.example", "+41791110101")
        self.bob = Contact("Dr Bob Weber", f"bob-{tag}@sunny.example", "+41791110102")
        # The branch has an email address but no phone: it gets the email only.
        self.branch = Contact("Sunny Clinic Bahnhofstrasse", f"branch-{tag}@sunny.example", None)
        self.carl = Contact("Dr Carl Steiner", f"carl-{tag}@summit.example", "+41791110201")

    # -- the script as a whole ---------------------------------------------------------------
    def play(self) -> DayResult:
        self.set_up_sunny_clinic()
        self.widget_requests_arrive()
        self.book_visits_that_fall_due()
        self.automatic_confirmation()
        self.cancel_and_reject()
        self.custom_workflow()
        self.attend_no_show_reopen()        # waits until the due visits start
        self.approve_widget_requests()
        self.reschedule_and_reassign()
        self.client_proposes_a_time()
        self.left_open()
        self.feedback()
        # The day ends once the due visits are over (the client's view lists them as past).
        wait_until(datetime.fromisoformat(self.due["end"]) + timedelta(milliseconds=500))
        self.result.due_slot = self.due
        self.result.position = self.api.position
        self.result.contacts = {
            "sunny": self.sunny, "summit": self.summit, "anna": self.anna, "ben": self.ben,
            "cara": self.cara, "dora": self.dora, "emil": self.emil, "finn": self.finn,
            "alice": self.alice, "bob": self.bob, "branch": self.branch, "carl": self.carl}
        return self.result

    # -- organisation A: settings and directory ----------------------------------------------
    def set_up_sunny_clinic(self) -> None:
        self.api.call(self.manager, "PATCH", "booking", "/v1/organisation", json={
            "name": self.sunny.name, "timezone": TIMEZONE, "email": self.sunny.email,
            "phone": self.sunny.phone, "address": "Seestrasse 10, 8002 Zürich",
            "channels": {"email": True, "sms": True}, "retention_days": 365,
            "cancellation_reasons": CANCEL_REASONS, "cancel_reason_required": True,
            "rejection_reasons": REJECT_REASONS, "reschedule_needs_reconfirmation": False})
        ids = self.result.ids
        ids["consultation"] = self._register(self.manager, "services", "service", {
            "name": "Consultation", "duration_minutes": 30, "confirmation_mode": "manual"})
        ids["quick_check"] = self._register(self.manager, "services", "service", {
            "name": "Quick check", "duration_minutes": 15, "confirmation_mode": "automatic"})
        for key, who in (("alice", self.alice), ("bob", self.bob)):
            ids[key] = self._register(self.manager, "resources", "resource", {
                "name": who.name, "kind": "agent", "email": who.email, "phone": who.phone,
                "working_hours": EVERY_DAY})
        ids["branch"] = self._register(self.manager, "resources", "resource", {
            "name": self.branch.name, "kind": "location", "email": self.branch.email,
            "address": "Bahnhofstrasse 1, 8001 Zürich", "working_hours": EVERY_DAY})
        ids["anna"] = self._register(self.desk, "clients", "client", {
            "name": self.anna.name, "email": self.anna.email, "phone": self.anna.phone})
        self.alice = _with_id(self.alice, ids["alice"])
        self.bob = _with_id(self.bob, ids["bob"])
        self.branch = _with_id(self.branch, ids["branch"])
        self.anna = _with_id(self.anna, ids["anna"])

    def _register(self, who: Actor, path: str, kind: str, body: dict[str, Any]) -> str:
        return str(self.api.call(who, "POST", "booking", f"/v1/{path}", json=body,
                                 expect=(201,)).json()[kind]["id"])

    # -- the widget's requests of the morning (tentative clients) ---------------------------
    def widget_requests_arrive(self) -> None:
        ids, day = self.result.ids, self.day
        # Someone who is in fact an existing client asks for a morning (Interworky, Kalix).
        tentative = Contact(self.anna.name, self.anna.email, self.anna.phone)
        self.request("window_linked_rescheduled_reassigned", self.widget, tentative, {
            "service_id": ids["consultation"], "source": "widget",
            "window": {"date": day.isoformat(), "part_of_day": "morning"},
            "resource_ids": [ids["branch"]],
            "client": {"name": tentative.name, "email": tentative.email,
                       "phone": tentative.phone},
            "questionnaire": {"reason_for_visit": "back pain"}}, "requested", [self.branch])
        # A new client asks for an exact slot with Dr Brunner.
        self.request("slot_new_client_proposed_time", self.widget, self.ben, {
            "service_id": ids["consultation"], "source": "widget", "agent_id": ids["alice"],
            "resource_ids": [ids["branch"]], "slot": slot_at(day, "10:00", 30),
            "client": {"name": self.ben.name, "email": self.ben.email,
                       "phone": self.ben.phone}}, "requested", [self.alice, self.branch])
        # Two more: one will be rejected, one stays open (tentative) at the end of the day.
        self.request("rejected", self.widget, self.cara, {
            "service_id": ids["consultation"], "source": "widget",
            "window": {"date": day.isoformat(), "part_of_day": "afternoon"},
            "client": {"name": self.cara.name, "email": self.cara.email,
                       "phone": self.cara.phone}}, "requested", [])
        self.request("tentative_open", self.widget, self.dora, {
            "service_id": ids["consultation"], "source": "widget",
            "window": {"date": day.isoformat(), "part_of_day": "evening"},
            "client": {"name": self.dora.name, "email": self.dora.email,
                       "phone": self.dora.phone}}, "requested", [])

    # -- visits that start in a few seconds (attended, no-show) ------------------------------
    def book_visits_that_fall_due(self) -> None:
        ids = self.result.ids
        self.due = due_slot()
        attended = self.request("attended_with_feedback", self.desk, self.anna, {
            "service_id": ids["consultation"], "client_id": ids["anna"], "source": "phone",
            "agent_id": ids["alice"], "resource_ids": [ids["branch"]], "slot": self.due},
            "requested", [self.alice, self.branch])
        self.act(attended, self.desk, "confirm", {"message": "See you in a moment."},
                 "scheduled")
        early = self.api.call(self.desk, "POST", "booking",
                              f"/v1/appointments/{attended.id}/attend",
                              json={"time_taken_minutes": 20}, expect=None)
        self.refusal("attend before the start time is refused", early, (409, 422),
                     lambda b: "due" in str(b.get("detail", "")).lower())
        for name, agent, resources in (
                ("no_show_reopened_attended", ids["bob"], [self.bob, self.branch]),
                ("no_show", None, [self.branch])):
            body = {"service_id": ids["consultation"], "client_id": ids["anna"],
                    "slot": self.due, "status": "scheduled", "resource_ids": [ids["branch"]],
                    "note": "Booked at the front desk", "message": "Booked for you today."}
            if agent:
                body["agent_id"] = agent
            self.create_for_client(name, body, resources)

    # -- approving them (Kalix: link an existing client or save a new one first) ------------
    def approve_widget_requests(self) -> None:
        ids, day, visits = self.result.ids, self.day, self.result.visits
        linked = visits["window_linked_rescheduled_reassigned"]
        matches = self.api.get(self.desk, "booking",
                               f"/v1/appointments/{linked.id}/client-matches")["clients"]
        self.check("client-matches suggests the existing client by email",
                   [m["id"] for m in matches] == [ids["anna"]], f"[{ids['anna']}]",
                   body=matches)
        not_yet = self.api.call(self.desk, "POST", "booking",
                                f"/v1/appointments/{linked.id}/confirm",
                                json={"slot": slot_at(day, "09:00", 30)}, expect=None)
        self.refusal("approving before the client is linked is refused", not_yet, (409,),
                     lambda b: "link" in str(b.get("detail", "")))
        self.act(linked, self.desk, "link-client", {"client_id": ids["anna"]}, "requested")
        linked.client = self.anna
        linked.resources = [self.alice, self.branch]
        self.act(linked, self.manager, "confirm", {
            "slot": slot_at(day, "09:00", 30), "agent_id": ids["alice"],
            "message": "Dr Brunner will see you."}, "scheduled")

        new = visits["slot_new_client_proposed_time"]
        matches = self.api.get(self.desk, "booking", f"/v1/appointments/{new.id}/client-matches")
        self.check("a new client has no match", matches["clients"] == [], "[]", body=matches)
        saved = self.act(new, self.desk, "save-tentative-client", {}, "requested")
        self.ben = _with_id(self.ben, saved["client"]["id"])
        new.client = self.ben
        self.check("save-tentative-client links a new client",
                   saved["client"]["tentative"] is False and bool(saved["client"]["id"]),
                   "client.tentative false with an id", body=saved["client"])
        self.act(new, self.manager, "confirm", {"slot": slot_at(day, "10:00", 30)}, "scheduled")

    # -- automatic confirmation --------------------------------------------------------------
    def automatic_confirmation(self) -> None:
        ids = self.result.ids
        self.request("automatic_confirmation", self.desk, self.anna, {
            "service_id": ids["quick_check"], "client_id": ids["anna"], "source": "agent",
            "agent_id": ids["bob"], "resource_ids": [ids["branch"]],
            "slot": slot_at(self.day, "11:00", 15)}, "scheduled", [self.bob, self.branch])

    # -- reschedule (with a message), an internal note, a reassignment -----------------------
    def reschedule_and_reassign(self) -> None:
        visit, ids = self.result.visits["window_linked_rescheduled_reassigned"], self.result.ids
        self.act(visit, self.desk, "reschedule", {
            "slot": slot_at(self.day, "09:30", 30),
            "message": "Dr Brunner is in surgery at 9; we moved you to 9:30."}, "scheduled")
        self.act(visit, self.desk, "notes", {"text": "Client mentioned a penicillin allergy."},
                 "scheduled", action="add_note")
        agents = self.api.get(self.desk, "booking",
                              f"/v1/appointments/{visit.id}/available-agents")["agents"]
        self.check("available agents at the slot list the other agent only",
                   [a["id"] for a in agents] == [ids["bob"]], f"[{ids['bob']}]", body=agents)
        chosen = next(a["id"] for a in agents)
        visit.resources = [self.bob, self.branch]
        self.act(visit, self.desk, "reassign", {
            "agent_id": chosen, "message": "Dr Weber will see you instead."}, "scheduled")

    # -- request-reschedule; the client proposes a time through the link; accept ------------
    def client_proposes_a_time(self) -> None:
        visit = self.result.visits["slot_new_client_proposed_time"]
        self.act(visit, self.desk, "request-reschedule", {
            "message": "Dr Brunner cannot make it at 10; please pick another time."},
            "reschedule_requested")
        link = self.client_link(visit, "propose_time", "reschedule_requested")
        page = self.api.call(None, "GET", "booking", link).json()
        self.check("the propose-time page says the link can be used",
                   page.get("possible") is True and page.get("used") is False,
                   "possible true, used false", body=page)
        proposal = slot_at(self.day, "15:00", 30)
        self.client_act(visit, link, "propose_time", {
            "slot": proposal, "message": "Afternoon suits me better."}, "requested")
        again = self.api.call(None, "POST", "booking", link, json={
            "slot": slot_at(self.day, "16:00", 30)}, expect=None)
        self.refusal("a used propose-time link is refused", again, (409,),
                     lambda b: "used" in str(b.get("detail", "")))
        answer = self.act(visit, self.desk, "accept-suggestion",
                          {"message": "15:00 it is."}, "scheduled")
        self.check("the accepted proposal becomes the slot",
                   _same_slot(answer["slot"], proposal), str(proposal), body=answer["slot"])

    # -- cancellation with a reason from the list; rejection with a mandatory reason ---------
    def cancel_and_reject(self) -> None:
        ids = self.result.ids
        visit = self.request("cancelled", self.desk, self.anna, {
            "service_id": ids["consultation"], "client_id": ids["anna"], "source": "phone",
            "agent_id": ids["alice"], "resource_ids": [ids["branch"]],
            "slot": slot_at(self.day, "12:00", 30)}, "requested", [self.alice, self.branch])
        self.act(visit, self.desk, "confirm", {}, "scheduled")
        for what, body in (("without a reason", {"message": "Sorry"}),
                           ("with a reason not on the list", {"reason": "Rain"})):
            r = self.api.call(self.desk, "POST", "booking",
                              f"/v1/appointments/{visit.id}/cancel", json=body, expect=None)
            self.refusal(f"a cancellation {what} is refused", r, (422,),
                         lambda b: "reason" in (b.get("errors") or {}))
        self.act(visit, self.desk, "cancel", {
            "reason": "Doctor unavailable", "message": "Dr Brunner is ill today; call us."},
            "cancelled")

        visit = self.result.visits["rejected"]
        r = self.api.call(self.desk, "POST", "booking", f"/v1/appointments/{visit.id}/reject",
                          json={"message": "No"}, expect=None)
        self.refusal("a rejection without a reason is refused", r, (422,),
                     lambda b: "reason" in (b.get("errors") or {}))
        self.act(visit, self.manager, "reject", {
            "reason": "Fully booked", "message": "We are fully booked this week."}, "rejected")

    # -- left open: a request to reschedule nobody answered yet ----------------------------
    def left_open(self) -> None:
        ids = self.result.ids
        visit = self.request("reschedule_requested_open", self.desk, self.anna, {
            "service_id": ids["consultation"], "client_id": ids["anna"], "source": "phone",
            "agent_id": ids["alice"], "resource_ids": [ids["branch"]],
            "slot": slot_at(self.day, "14:00", 30)}, "requested", [self.alice, self.branch])
        self.act(visit, self.desk, "confirm", {}, "scheduled")
        self.act(visit, self.desk, "request-reschedule", {
            "message": "Could you come another day?"}, "reschedule_requested")

    # -- organisation B: a five-step custom workflow -------------------------------------------
    def custom_workflow(self) -> None:
        ids, day = self.result.ids, self.day
        self.api.call(self.b_manager, "PATCH", "booking", "/v1/organisation", json={
            "name": self.summit.name, "timezone": TIMEZONE, "email": self.summit.email,
            "phone": self.summit.phone, "cancellation_reasons": CUSTOM_CANCEL_REASONS})
        wf = self.api.call(self.b_manager, "POST", "workflow", "/v1/workflows", json={
            "name": "Management approval", "statuses": CUSTOM_STATUSES}, expect=(201,)).json()
        ids["workflow"] = wf["id"]
        published = self.api.call(self.b_manager, "POST", "workflow",
                                  f"/v1/workflows/{wf['id']}/publish", expect=(201,)).json()
        self.check("the workflow is published as version 1", published["version"] == 1, "1",
                   body=published)
        ids["b_service"] = self._register(self.b_manager, "services", "service", {
            "name": "Management consultation", "duration_minutes": 60,
            "confirmation_mode": "manual", "workflow_id": wf["id"]})
        ids["carl"] = self._register(self.b_manager, "resources", "resource", {
            "name": self.carl.name, "kind": "agent", "email": self.carl.email,
            "phone": self.carl.phone, "working_hours": EVERY_DAY})
        self.carl = _with_id(self.carl, ids["carl"])
        ids["emil"] = self._register(self.b_desk, "clients", "client", {
            "name": self.emil.name, "email": self.emil.email, "phone": self.emil.phone})
        self.emil = _with_id(self.emil, ids["emil"])

        visit = self.request("custom_confirmed", self.b_desk, self.emil, {
            "service_id": ids["b_service"], "client_id": ids["emil"], "source": "phone",
            "agent_id": ids["carl"], "slot": slot_at(day, "10:00", 60)},
            "request_received", [self.carl], org=self.summit)
        self.check("a new request enters the start status of the published version",
                   visit.snapshot["workflow"] == {"id": wf["id"], "version": 1},
                   f"workflow {wf['id']} v1", body=visit.snapshot["workflow"])
        self.act(visit, self.b_desk, "move", {
            "status": "consultation", "message": "We are discussing your request."},
            "consultation")
        self.act(visit, self.b_desk, "move", {"status": "approved"}, "approved")
        back = self.api.call(self.b_desk, "POST", "booking", f"/v1/appointments/{visit.id}/move",
                             json={"status": "consultation"}, expect=None)
        self.refusal("a backwards move is refused, naming the allowed actions", back, (409,),
                     lambda b: "move" in (b.get("allowed_actions") or []))
        self.act(visit, self.b_desk, "move", {"status": "resources_checked"}, "resources_checked")
        self.act(visit, self.b_manager, "move", {
            "status": "confirmed", "message": "Management approved; see you then."}, "confirmed")

        visit = self.request("custom_declined", self.b_widget, self.finn, {
            "service_id": ids["b_service"], "source": "widget",
            "window": {"date": day.isoformat(), "part_of_day": "afternoon"},
            "client": {"name": self.finn.name, "email": self.finn.email,
                       "phone": self.finn.phone}}, "request_received", [], org=self.summit)
        r = self.api.call(self.b_desk, "POST", "booking", f"/v1/appointments/{visit.id}/move",
                          json={"status": "declined"}, expect=None)
        self.refusal("a move to a cancellation status without a reason is refused", r, (422,),
                     lambda b: "reason" in (b.get("errors") or {}))
        self.act(visit, self.b_manager, "move", {
            "status": "declined", "reason": "Requirements not met",
            "message": "Management could not approve this request."}, "declined")

    # -- the due visits: attend with an outcome; no-show, reopen, attend; no-show ------------
    def attend_no_show_reopen(self) -> None:
        visits = self.result.visits
        wait_until(datetime.fromisoformat(self.due["start"]) + timedelta(milliseconds=500))
        self.act(visits["attended_with_feedback"], self.desk, "attend", {
            "time_taken_minutes": 25, "completion_reason": "Treatment completed",
            "remark": "Follow-up in six weeks."}, "attended")
        visit = visits["no_show_reopened_attended"]
        self.act(visit, self.desk, "no-show", {}, "no_show")
        self.act(visit, self.desk, "reopen", {"message": "The client arrived late."},
                 "reopened")
        self.act(visit, self.desk, "attend", {
            "time_taken_minutes": 10, "completion_reason": "Short consultation"}, "attended")
        self.act(visits["no_show"], self.desk, "no-show", {}, "no_show")

    # -- feedback through the survey link ------------------------------------------------------
    def feedback(self) -> None:
        visit = self.result.visits["attended_with_feedback"]
        self.act(visit, self.desk, "request-feedback", {}, "feedback_pending")
        again = self.api.call(self.desk, "POST", "booking",
                              f"/v1/appointments/{visit.id}/request-feedback", json={},
                              expect=None)
        self.refusal("a second feedback request the same day is refused", again, (409,),
                     lambda b: "requested_on" in b)
        link = self.client_link(visit, "submit_feedback", "feedback_requested")
        self.client_act(visit, link, "submit_feedback", {
            "rating": 5, "comment": "Kind staff, no waiting."}, "feedback_received")

    # -- building blocks -----------------------------------------------------------------------
    def request(self, name: str, who: Actor, client: Contact, body: dict[str, Any],
                status: str, resources: list[Contact], org: Contact | None = None) -> Visit:
        answer = self.api.call(who, "POST", "booking", "/v1/appointments", json=body,
                               expect=(201,)).json()["appointment"]
        visit = Visit(name, answer["id"], who.org, client, org or self.sunny, resources)
        self.result.visits[name] = visit
        self._arrived(visit, "request", who, answer, status, body)
        return visit

    def create_for_client(self, name: str, body: dict[str, Any],
                          resources: list[Contact]) -> Visit:
        answer = self.api.call(self.desk, "POST", "booking", "/v1/appointments/for-client",
                               json=body, expect=(201,)).json()["appointment"]
        visit = Visit(name, answer["id"], self.desk.org, self.anna, self.sunny, resources)
        self.result.visits[name] = visit
        self._arrived(visit, "create", self.desk, answer, body["status"], body)
        return visit

    def act(self, visit: Visit, who: Actor, path: str, body: dict[str, Any], status: str,
            action: str | None = None) -> dict[str, Any]:
        answer = self.api.call(who, "POST", "booking", f"/v1/appointments/{visit.id}/{path}",
                               json=body).json()["appointment"]
        self._arrived(visit, action or path.replace("-", "_"), who, answer, status, body)
        return answer

    def client_act(self, visit: Visit, link: str, action: str, body: dict[str, Any],
                   status: str) -> dict[str, Any]:
        answer = self.api.call(None, "POST", "booking", link, json=body).json()["appointment"]
        client = Actor(visit.organisation, visit.client.id or "tentative-client", ("client",))
        self._arrived(visit, action, client, answer, status, body, role="client")
        return answer

    def _arrived(self, visit: Visit, action: str, who: Actor, answer: dict[str, Any],
                 status: str, body: dict[str, Any], role: str | None = None) -> None:
        """Booking answered an action: check the status, note what must follow."""
        action = {"save_tentative_client": "link_client", "notes": "add_note"}.get(action, action)
        if answer["status"] != status or answer["status_kind"] != KINDS[status]:
            raise DayError(f"{visit.name}: {action} led to {answer['status']} "
                           f"({answer['status_kind']}), expected {status} ({KINDS[status]})")
        visit.status, visit.snapshot = status, answer
        event = f"appointment.{EVENT_TYPES[action]}.v1"
        actor = {"id": who.subject, "role": role} if role else who.as_recorded
        if action not in NOT_IN_HISTORY:
            visit.history.append({"action": action, "to_status": status, "actor": actor,
                                  "reason": body.get("reason"), "message": body.get("message")})
        if body.get("reason"):
            visit.reasons[event] = body["reason"]
        if body.get("message") and not role:
            visit.said.append((event, status, body["message"]))
        if action in SILENT:
            return
        told = [visit.client, visit.org_contact]
        if KINDS[status] == "confirmation":
            told += visit.resources
        for contact in told:
            for channel, address in (("email", contact.email), ("sms", contact.phone)):
                if address:
                    visit.messages[(event, channel, address)] += 1

    def client_link(self, visit: Visit, action: str, occasion: str) -> str:
        """The client's link for `action` from the email of the `occasion` event in the
        development mailbox (signed here only when no mailbox message carries it)."""
        event = f"appointment.{occasion}.v1"

        reader = self.manager if visit.organisation == self.result.org else self.b_manager

        def find() -> str | None:
            deliveries = self.api.get(reader, "notifier", "/v1/deliveries",
                                      appointment_id=visit.id, limit=1000)
            wanted = {d["id"] for d in deliveries if d["event_type"] == event
                      and d["recipient_kind"] == "client" and d["channel"] == "email"}
            mails = self.api.get(reader, "notifier", "/v1/mailbox",
                                 appointment_id=visit.id, limit=1000)
            for mail in mails:
                if mail["delivery_id"] in wanted:
                    for found_action, token in LINK.findall(mail["body_text"]):
                        if found_action == action:
                            return f"{self.api.urls['booking']}/v1/client-actions/{action}" \
                                   f"?token={token}"
            return None

        link = poll(find, timeout=45)
        self.result.link_sources[action] = "mailbox" if link else "signed"
        if not link:
            link = (f"{self.api.urls['booking']}/v1/client-actions/{action}"
                    f"?token={links.sign(visit.id, action)}")
        self.result.links[action] = link
        return link

    def check(self, name: str, passed: bool, expected: str, status: int | None = None,
              body: Any = None) -> None:
        self.result.checks.append(Check(name, bool(passed), expected, status, body))

    def refusal(self, name: str, r: requests.Response, statuses: tuple[int, ...],
                rule: Callable[[dict[str, Any]], bool]) -> None:
        try:
            body = r.json()
        except ValueError:
            body = {"text": r.text}
        passed = r.status_code in statuses and isinstance(body, dict) and rule(body)
        self.check(name, passed, f"HTTP {' or '.join(map(str, statuses))}", r.status_code, body)


def _with_id(contact: Contact, id_: str) -> Contact:
    return Contact(contact.name, contact.email, contact.phone, id_)


def _same_slot(a: dict[str, str], b: dict[str, str]) -> bool:
    return all(datetime.fromisoformat(a[k]) == datetime.fromisoformat(b[k]) for k in a)


def link_token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def run_day(urls: dict[str, str], org: str, custom_org: str) -> DayResult:
    """Play the whole day against the system at `urls`; organisation A is `org`,
    organisation B (custom workflow) `custom_org`. Raises DayError when a step that
    the rest depends on fails."""
    return Day(urls, org, custom_org).play()


# -- the command line ----------------------------------------------------------------------------

def report(urls: dict[str, str], result: DayResult, wait: float = 60.0) -> bool:
    """Print statuses, message counts and refusals; whether everything matched."""
    api = Api(urls)
    ok = True
    print(f"\nOrganisations: {result.org} (built-in lifecycle), {result.custom_org} (custom "
          f"workflow); planned day {result.day}, due visits on {result.today}")
    print(f"{'appointment':<40} {'status (expected)':<40} messages (expected)")
    for visit in result.visits.values():
        who = Actor(visit.organisation, "clinic-day-report", ("manager",))
        status = api.get(who, "booking", f"/v1/appointments/{visit.id}")["appointment"]["status"]

        def count(v: Visit = visit, w: Actor = who) -> int | None:
            n = len(api.get(w, "notifier", "/v1/mailbox", appointment_id=v.id, limit=1000))
            return n if n >= v.notifications else None
        sent = poll(count, timeout=wait) or len(api.get(
            who, "notifier", "/v1/mailbox", appointment_id=visit.id, limit=1000))
        good = status == visit.status and sent == visit.notifications
        ok &= good
        print(f"{'  ' if good else '! '}{visit.name:<38} {status + ' (' + visit.status + ')':<40}"
              f" {sent} ({visit.notifications})")
    print("\nRules met on the way:")
    for c in result.checks:
        ok &= c.passed
        answer = f"HTTP {c.status}" if c.status is not None else "got it"
        print(f"  {'ok  ' if c.passed else 'FAIL'} {c.name}: {answer} (expected {c.expected})")
    print(f"\nClient links taken from: {result.link_sources}; booking position {result.position}")
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description="Play a scripted day at a clinic over HTTP")
    for service, url in DEFAULT_URLS.items():
        parser.add_argument(f"--{service}", default=url, help=f"{service} base URL ({url})")
    parser.add_argument("--org", default="sunny-clinic", help="organisation A (a suffix is added)")
    parser.add_argument("--custom-org", default="summit-health",
                        help="organisation B with the custom workflow (a suffix is added)")
    args = parser.parse_args()
    urls = {s: getattr(args, s) for s in DEFAULT_URLS}
    suffix = uuid.uuid4().hex[:8]
    started = time.monotonic()
    result = run_day(urls, f"{args.org}-{suffix}", f"{args.custom_org}-{suffix}")
    print(f"played in {time.monotonic() - started:.1f} s")
    sys.exit(0 if report(urls, result) else 1)


if __name__ == "__main__":
    main()
