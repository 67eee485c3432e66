"""The stage: the cast of the day (actors, clients, staff) and the moves every
scene is made of (request, act, act through a link), each noting what must follow."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from shared import links
from tests.e2e.clinic_day.api import Api
from tests.e2e.clinic_day.clock import TZ, avoid_midnight
from tests.e2e.clinic_day.expectations import (
    EVENT_TYPES,
    HISTORY_ACTIONS,
    KINDS,
    LINK,
    SILENT,
    Actor,
    Check,
    Contact,
    DayError,
    DayResult,
    Visit,
)
from tests.waiting import first_within


class Day:
    """The cast, the record of what must follow (`result`) and the moves; the scenes
    (scenes/) play with them, in the order of script.py."""

    def __init__(self, urls: dict[str, str], org: str, custom_org: str) -> None:
        avoid_midnight()
        self.api = Api(urls)
        today = datetime.now(TZ).date()
        self.result = DayResult(org, custom_org, today, today + timedelta(days=1))
        self.planned = self.result.day   # the local day of the planned visits
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
        self.due: dict[str, str] = {}   # the slot of the visits that fall due (due_visits.py)

    # -- building blocks -----------------------------------------------------------------------
    def register(self, who: Actor, path: str, kind: str, body: dict[str, Any]) -> str:
        return str(self.api.call(who, "POST", "booking", f"/v1/{path}", json=body,
                                 expect=(201,)).json()[kind]["id"])

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
        answer = self.api.call(self.desk, "POST", "booking", "/v1/appointments/for_client",
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
        visit.history.append({"action": HISTORY_ACTIONS.get(action, action), "to_status": status,
                              "actor": actor, "reason": body.get("reason"),
                              "message": body.get("message")})
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
                                      appointment_id=visit.id, limit=1000)["items"]
            wanted = {d["id"] for d in deliveries if d["event_type"] == event
                      and d["recipient_kind"] == "client" and d["channel"] == "email"}
            mails = self.api.get(reader, "notifier", "/v1/mailbox",
                                 appointment_id=visit.id, limit=1000)["items"]
            for mail in mails:
                if mail["delivery_id"] in wanted:
                    for found_action, token in LINK.findall(mail["body_text"]):
                        if found_action == action:
                            return f"{self.api.urls['booking']}/v1/client_actions/{action}" \
                                   f"?token={token}"
            return None

        link = first_within(find, timeout=45, interval=0.3)
        self.result.link_sources[action] = "mailbox" if link else "signed"
        if not link:
            link = (f"{self.api.urls['booking']}/v1/client_actions/{action}"
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


def with_id(contact: Contact, id_: str) -> Contact:
    return Contact(contact.name, contact.email, contact.phone, id_)


def same_slot(a: dict[str, str], b: dict[str, str]) -> bool:
    return all(datetime.fromisoformat(a[k]) == datetime.fromisoformat(b[k]) for k in a)


def link_token(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]
