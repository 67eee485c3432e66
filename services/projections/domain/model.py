"""The rows of the read models, as plain values.

`apply` (domain/apply.py) turns one event into a `Changes`: the rows it puts
into each view. Every row is a full state (from the event's snapshot) or an
append keyed by (appointment, version), so writing it twice changes nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from shared.domain.lifecycle import TAIL
from shared.history import without_personal


class Unprocessable(ValueError):
    """An event this service cannot apply (goes to the dead-letter topic)."""


def moment(value: Any) -> datetime | None:
    """An instant of an event's payload (None stays None); one without an offset is refused."""
    if value is None:
        return None
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise Unprocessable(f"time {value!r} has no UTC offset")
    return parsed


# Tail statuses of kind "step" that come *after* confirmation: not requests.
POST_CONFIRMATION_STEPS = frozenset(
    s.key for s in TAIL if s.kind == "step" and s.key != "reschedule_requested")
OFF_CALENDAR_STATUSES = frozenset({"no_show"})


def is_unconfirmed(status: str, kind: str) -> bool:
    """Request queue membership: start and step statuses incl. reschedule_requested."""
    return kind == "start" or (kind == "step" and status not in POST_CONFIRMATION_STEPS)


def is_on_calendar(status: str, kind: str) -> bool:
    """Cancelled, rejected (any cancellation kind) and no-show are left out."""
    return kind != "cancellation" and status not in OFF_CALENDAR_STATUSES


@dataclass(frozen=True)
class AppointmentRow:
    id: str
    organisation_id: str
    version: int
    status: str
    status_kind: str
    workflow_id: str | None
    workflow_version: int | None
    service_id: str | None
    service_name: str | None
    client_id: str | None
    client_name: str | None
    client_email: str | None
    client_phone: str | None
    tentative: bool
    agent_id: str | None
    resource_ids: list[str]
    resources: list[dict[str, Any]]
    slot_start: datetime | None
    slot_end: datetime | None
    window_date: date | None
    window_part: str | None
    start_at: datetime | None      # slot, or the window's hours in the org's time zone
    end_at: datetime | None
    sort_at: datetime              # start_at, else requested_at: the stable paging key
    proposal: dict[str, Any] | None
    source: str | None
    outcome: dict[str, Any] | None
    completion_reason: str | None
    feedback: dict[str, Any] | None
    feedback_requested_on: date | None
    requested_at: datetime | None
    confirmed_at: datetime | None
    updated_at: datetime | None
    unconfirmed: bool
    on_calendar: bool
    blocks_time: bool              # on the calendar with an exact slot: occupies its resources
    # As the event named and coloured the status (None: recorded before events carried them)
    status_name: str | None = None
    status_colour: str | None = None
    client_erased: bool = False    # the client was erased: no contact shows


@dataclass(frozen=True)
class HistoryEntry:
    appointment_id: str
    version: int
    organisation_id: str
    event_id: str
    action: str
    from_status: str | None
    to_status: str
    status_kind: str | None
    actor_id: str | None
    actor_role: str | None
    reason: str | None
    message: str | None
    at: datetime
    workflow_id: str | None
    workflow_version: int | None
    correlation_id: str | None
    # What shared.history.describe says the event changed: [{"field", "before", "after"}]
    changes: list[dict[str, Any]] = field(default_factory=list)
    source: str | None = None          # agent | client_link | system | api
    link_id: str | None = None         # the signed link a client used
    # The appointment's fields after the event (no client: it is in the appointment
    # row): the state the next version's entry is described against.
    state: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OrganisationRow:
    id: str
    name: str | None
    timezone: str
    retention_days: int | None
    parts_of_day: dict[str, list[str]]
    as_of: datetime                 # last writer wins by event time


@dataclass(frozen=True)
class ResourceRow:
    id: str
    organisation_id: str
    version: int
    kind: str
    name: str | None
    active: bool
    working_hours: dict[str, list[list[str]]]


@dataclass(frozen=True)
class ClientRow:
    id: str
    organisation_id: str
    version: int
    name: str | None
    email: str | None
    phone: str | None
    active: bool
    erased: bool = False


@dataclass(frozen=True)
class WaitlistRow:
    """A waitlist entry (booking's `waitlist.*.v1` events carry it whole), with its open
    offer: the slot it holds for the client until `offer_until`."""
    id: str
    organisation_id: str
    version: int
    status: str                     # waiting | offered | accepted | left
    service_id: str
    service_name: str | None
    agent_id: str | None            # the agent wished for (None: any)
    wish_date: date | None          # the day wished for, local (None: any)
    part_of_day: str | None
    client_id: str | None           # None: a tentative contact
    client_name: str | None
    tentative: bool
    source: str | None
    offer_start: datetime | None
    offer_end: datetime | None
    offer_agent_id: str | None
    offer_until: datetime | None
    appointment_id: str | None      # what an accepted offer made
    joined_at: datetime
    updated_at: datetime | None
    client_erased: bool = False


@dataclass(frozen=True)
class Changes:
    """What one event does to each view (None: nothing for that view)."""
    subject: str
    version: int
    organisation_id: str
    appointment: AppointmentRow | None = None
    history: HistoryEntry | None = None
    organisation: OrganisationRow | None = None
    resource: ResourceRow | None = None
    client: ClientRow | None = None
    erased_client: str | None = None              # client.erased.v1: whose rows to blank
    erased_appointments: tuple[str, ...] = ()     # ... and which appointments' (booking's list)
    waitlist: WaitlistRow | None = None


ERASED_NAME = "erased"


def without_client(changes: Changes) -> Changes:
    """An appointment or waitlist event's rows as they show once its client was erased (an event
    that reaches the views after the erasure: topics are not ordered between each other)."""
    a, h, w = changes.appointment, changes.history, changes.waitlist
    feedback = a.feedback if a else None
    if feedback and "comment" in feedback:
        feedback = {**feedback, "comment": None}
    return replace(
        changes,
        appointment=replace(a, client_name=ERASED_NAME, client_email=None, client_phone=None,
                            client_erased=True, feedback=feedback) if a else None,
        history=replace(h, message=None if h.actor_role == "client" else h.message,
                        changes=without_personal(h.changes),
                        state={**h.state, "questionnaire": {}, "feedback": feedback})
        if h else None,
        waitlist=replace(w, client_name=ERASED_NAME, client_erased=True) if w else None)
