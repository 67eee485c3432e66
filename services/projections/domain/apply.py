"""One event -> the rows it puts into each view (pure; see docs/contracts.md).

Appointment events carry the aggregate's state after the event, so the
appointment row is rebuilt from the snapshot alone; the change feeds the
history (every event, described by shared/history.py against the state the
previous version's entry kept). Directory events carry their own snapshots. An appointment
event refers to its organisation: a preferred window is placed with the
organisation's settings as the views know them (from the organisation's own
events), or with the copy an event stored before carries in change.organisation.
"""
from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from services.projections.domain import timing
from services.projections.domain.availability import holds
from services.projections.domain.model import (
    AppointmentRow,
    Changes,
    ClientRow,
    HistoryEntry,
    OrganisationRow,
    ResourceRow,
    Unprocessable,
    is_on_calendar,
    is_unconfirmed,
    moment,
)
from services.projections.domain.waitlist import waitlist_row
from shared import history
from shared.domain.lifecycle import holds_time
from shared.envelope import CloudEvent

TYPE = re.compile(r"^(appointment|organisation|resource|service|client|waitlist)\.[a-z_]+\.v1$")


def apply(event: CloudEvent, organisation: OrganisationRow | None = None,
          before: dict[str, Any] | None = None) -> Changes:
    """The view changes of `event`; Unprocessable when the event is not usable.

    `organisation`: what the views know of the event's organisation (None: nothing yet).
    `before`: an appointment's state after its previous version, from that version's
    history entry (None: not applied; for version 1: there is none).
    """
    match = TYPE.match(event.type if isinstance(event.type, str) else "")
    if not match:
        raise Unprocessable(f"unknown event type {event.type!r}")
    for name in ("aggregateversion", "position"):
        value = getattr(event, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise Unprocessable(f"{name} must be a non-negative integer, got {value!r}")
    if not isinstance(event.subject, str) or not event.subject:
        raise Unprocessable("subject is empty")
    family = match.group(1)
    try:
        if family == "appointment":
            return _appointment(event, organisation, before)
        return _FAMILIES[family](event)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        if isinstance(e, Unprocessable):
            raise
        raise Unprocessable(f"bad data in {event.type}: {type(e).__name__}: {e}") from e


def _appointment(event: CloudEvent, known: OrganisationRow | None,
                 before: dict[str, Any] | None) -> Changes:
    change, snap = _obj(event.data, "change"), _obj(event.data, "appointment")
    if snap["id"] != event.subject:
        raise Unprocessable("appointment.id differs from the event subject")
    if snap["organisation_id"] != event.orgid:
        raise Unprocessable("appointment.organisation_id differs from orgid")
    if int(snap["version"]) != event.aggregateversion:
        raise Unprocessable("appointment.version differs from aggregateversion")
    # An event stored before organisation_version brings its own copy of the settings
    org = _organisation(change.get("organisation"), event) if change.get("organisation") else None
    row = _appointment_row(snap, change, event.aggregateversion, org or known)
    history = _history(change, snap, event, before)
    return Changes(event.subject, event.aggregateversion, event.orgid, appointment=row,
                   history=history, organisation=org)


def _appointment_row(s: dict[str, Any], change: dict[str, Any], version: int,
                     org: OrganisationRow | None) -> AppointmentRow:
    status, kind = _str(s["status"]), _str(s["status_kind"])
    slot, window = s.get("slot"), s.get("window")
    slot_start = moment(slot["start"]) if slot else None
    slot_end = moment(slot["end"]) if slot else None
    window_date = date.fromisoformat(window["date"]) if window else None
    start_at, end_at = slot_start, slot_end
    if start_at is None and window and window_date is not None:
        start_at, end_at = place_window(window_date, window.get("part_of_day"), org)
    service, client = s.get("service") or {}, s.get("client") or {}
    resources = [dict(r) for r in s.get("resources") or []]
    requested_at = moment(s.get("requested_at"))
    outcome = s.get("outcome")
    sort_at = start_at or requested_at or moment(s.get("updated_at"))
    if sort_at is None:
        raise Unprocessable("appointment has neither slot, window nor requested_at")
    workflow = s.get("workflow") or {}
    return AppointmentRow(
        id=s["id"], organisation_id=s["organisation_id"], version=version, status=status,
        status_kind=kind, workflow_id=workflow.get("id"), workflow_version=workflow.get("version"),
        service_id=service.get("id"), service_name=service.get("name"),
        client_id=client.get("id"), client_name=client.get("name"),
        client_email=client.get("email"), client_phone=client.get("phone"),
        tentative=bool(client.get("tentative")), agent_id=s.get("agent_id"),
        resource_ids=[_str(r["id"]) for r in resources], resources=resources,
        slot_start=slot_start, slot_end=slot_end, window_date=window_date,
        window_part=window.get("part_of_day") if window else None,
        start_at=start_at, end_at=end_at, sort_at=sort_at, proposal=s.get("proposal"),
        source=s.get("source"), outcome=outcome,
        completion_reason=(outcome or {}).get("completion_reason"), feedback=s.get("feedback"),
        feedback_requested_on=_date(s.get("feedback_requested_on")), requested_at=requested_at,
        confirmed_at=moment(s.get("confirmed_at")), updated_at=moment(s.get("updated_at")),
        unconfirmed=is_unconfirmed(status, kind), on_calendar=is_on_calendar(status, kind),
        blocks_time=(holds_time(status, kind) or holds(s)) and slot_start is not None,
        status_name=s.get("status_name") or change.get("status_name") or None,
        status_colour=s.get("status_colour") or change.get("status_colour") or None)


def place_window(day: date, part: str | None,
                 org: OrganisationRow | None) -> tuple[datetime, datetime]:
    """A preferred window's hours in the organisation's zone (defaults while it is unknown)."""
    return timing.window_bounds(day, part, org.timezone if org else None,
                                org.parts_of_day if org else None)


def _history(change: dict[str, Any], snap: dict[str, Any], event: CloudEvent,
             before: dict[str, Any] | None) -> HistoryEntry:
    """Every event is an entry (status changes, reassignments, notes, details, links used,
    client linked, feedback), described by the one shared description of a change.
    Without the previous version's state (applied out of order), the entry lists what the
    event set, with values before only where the event carries them."""
    actor = change.get("actor") or {}
    workflow = change.get("workflow") or {}
    at = moment(event.time) or _required_time()
    prior = None if event.aggregateversion == 1 else (before if before is not None else {})
    described = history.describe(change, prior, snap, at=at.isoformat())
    return HistoryEntry(
        appointment_id=event.subject, version=event.aggregateversion,
        organisation_id=event.orgid, event_id=event.id, action=_str(change["action"]),
        from_status=change.get("from_status"), to_status=_str(change.get("to_status") or
                                                              snap["status"]),
        status_kind=change.get("status_kind"), actor_id=actor.get("id"),
        actor_role=actor.get("role"), reason=change.get("reason"), message=change.get("message"),
        at=at, workflow_id=workflow.get("id"),
        workflow_version=workflow.get("version"), correlation_id=event.correlationid or None,
        changes=described["changes"], source=described["source"],
        link_id=described["link_id"], state=history.state_of(snap))


def _organisation(o: dict[str, Any] | None, event: CloudEvent) -> OrganisationRow:
    o = _obj({"organisation": o}, "organisation")
    if o["id"] != event.orgid:
        raise Unprocessable("organisation.id differs from orgid")
    tz = o.get("timezone") or "UTC"
    timing.zone(tz)  # raises on an unknown zone
    retention = o.get("retention_days")
    return OrganisationRow(
        id=o["id"], name=o.get("name"), timezone=tz,
        retention_days=int(retention) if retention is not None else None,
        parts_of_day=dict(o.get("parts_of_day") or timing.DEFAULT_PARTS_OF_DAY),
        as_of=moment(event.time) or _required_time())


def _organisation_event(event: CloudEvent) -> Changes:
    org = _organisation(_obj(event.data, "organisation"), event)
    return Changes(event.subject, event.aggregateversion, event.orgid, organisation=org)


def _resource_event(event: CloudEvent) -> Changes:
    r = _obj(event.data, "resource")
    _owned(r, event)
    hours = r.get("working_hours") or {}
    for day, ranges in hours.items():
        if day not in timing.WEEKDAYS:
            raise Unprocessable(f"working_hours has an unknown day {day!r}")
        for begin, end in ranges:
            timing.parse_hhmm(begin), timing.parse_hhmm(end)
    row = ResourceRow(id=r["id"], organisation_id=r["organisation_id"],
                      version=event.aggregateversion, kind=_str(r.get("kind") or "agent"),
                      name=r.get("name"), active=bool(r.get("active", True)), working_hours=hours)
    return Changes(event.subject, event.aggregateversion, event.orgid, resource=row)


def _client_event(event: CloudEvent) -> Changes:
    c = _obj(event.data, "client")
    _owned(c, event)
    row = ClientRow(id=c["id"], organisation_id=c["organisation_id"],
                    version=event.aggregateversion, name=c.get("name"), email=c.get("email"),
                    phone=c.get("phone"), active=bool(c.get("active", True)),
                    erased=bool(c.get("erased")))
    if event.type != "client.erased.v1":
        return Changes(event.subject, event.aggregateversion, event.orgid, client=row)
    appointments = _obj(event.data, "change").get("appointment_ids") or []
    return Changes(event.subject, event.aggregateversion, event.orgid, client=row,
                   erased_client=row.id, erased_appointments=tuple(map(_str, appointments)))


def _service_event(event: CloudEvent) -> Changes:
    _obj(event.data, "service")  # no view shows services on their own (names come in snapshots)
    return Changes(event.subject, event.aggregateversion, event.orgid)


def _owned(snap: dict[str, Any], event: CloudEvent) -> None:
    if snap["id"] != event.subject:
        raise Unprocessable("snapshot id differs from the event subject")
    if snap["organisation_id"] != event.orgid:
        raise Unprocessable("snapshot organisation_id differs from orgid")


def _obj(data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key) if isinstance(data, dict) else None
    if not isinstance(value, dict):
        raise Unprocessable(f"data.{key} is missing or not an object")
    return value


def _str(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise Unprocessable(f"expected a non-empty string, got {value!r}")
    return value


def _date(value: Any) -> date | None:
    return date.fromisoformat(value) if value else None


def _required_time() -> datetime:
    raise Unprocessable("event time is missing")


def _waitlist_event(event: CloudEvent) -> Changes:
    w = _obj(event.data, "waitlist")
    _owned(w, event)
    return Changes(event.subject, event.aggregateversion, event.orgid,
                   waitlist=waitlist_row(w, event.aggregateversion))


_FAMILIES = {"organisation": _organisation_event,
             "resource": _resource_event, "client": _client_event, "service": _service_event,
             "waitlist": _waitlist_event}
