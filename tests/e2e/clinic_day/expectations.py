"""What the day expects: the rules it plays by, the people in it, and every
appointment with the status, messages and history it must end up with."""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

EVERY_DAY = {d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
NO_REMINDERS: dict[str, list[object]] = {"offsets_minutes": [], "channels": []}
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
# The action the history records for a change that keeps the status (every change is there)
HISTORY_ACTIONS = {"reassign": "reassigned", "add_note": "note_added",
                   "link_client": "client_linked"}
LINK = re.compile(r"https?://[^\s\"'<>]+/v1/client_actions/(\w+)\?token=([A-Za-z0-9_.\-]+)")


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
