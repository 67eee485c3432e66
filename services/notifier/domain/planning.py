"""Who gets what: the pure rules from DOMAIN.md, section "Notifications".

`plan(event, organisation)` turns one appointment event (docs/contracts.md)
into the messages to send. No I/O: links are named here and signed later.

The organisation's settings (name, addresses, channels, time zone) are not in
the event: it refers to them by version (`change.organisation_version`) and
they come with the organisation's own events. Events stored before that carry
a copy in `change.organisation`, which is used for them.
"""
from __future__ import annotations

from typing import Any

from services.notifier.domain.model import CHANNELS, Message, OrganisationUnknown
from shared.envelope import CloudEvent

# What the notifier keeps of an organisation's settings (from its own events).
ORGANISATION_FIELDS = ("name", "timezone", "email", "phone", "address", "channels",
                       "parts_of_day", "reminders")

# Changes that never notify anyone (internal notes above all).
SILENT = frozenset({"note_added", "note_edited", "details_updated", "client_linked"})

# Per occasion: the client's template and the signed links it carries.
CLIENT_LINKS: dict[str, tuple[str, ...]] = {
    "requested": ("cancel",),
    "in_progress": ("cancel",),
    "time_proposed": ("cancel",),
    "confirmed": ("cancel", "propose_time"),
    "accepted": ("cancel", "propose_time"),
    "rescheduled": ("cancel", "propose_time"),
    "reassigned": ("cancel", "propose_time"),
    "reschedule_requested": ("propose_time", "cancel"),
    "cancelled": (),
    "rejected": (),
    "attended": (),
    "no_show": (),
    "reopened": (),
    "feedback_requested": ("submit_feedback",),
    "feedback_submitted": (),
    "status_changed": (),
}
# The organisation gets a generic "update" except where it needs more.
ORGANISATION_TEMPLATES = {"requested": "requested", "time_proposed": "requested",
                          "feedback_submitted": "feedback_submitted"}
# Resources (agent, location) hear about confirmed bookings only.
RESOURCE_KINDS = ("agent", "location")

_BY_ACTION = {
    "reject": "rejected", "accept_suggestion": "accepted", "reschedule": "rescheduled",
    "reassign": "reassigned", "reassigned": "reassigned",
    "request_reschedule": "reschedule_requested", "propose_time": "time_proposed",
    "attend": "attended", "no_show": "no_show", "reopen": "reopened",
    "request_feedback": "feedback_requested", "submit_feedback": "feedback_submitted",
}
_BY_KIND = {"confirmation": "confirmed", "start": "requested", "step": "in_progress",
            "cancellation": "cancelled"}


def occasion(change: dict[str, Any]) -> str | None:
    """What the change means for the people told about it (None: tell nobody)."""
    action = change.get("action")
    if not action or action in SILENT:
        return None
    kind = change.get("status_kind")
    if action == "reject":
        return "rejected"
    if kind == "cancellation":
        return "cancelled"
    if action in _BY_ACTION:
        return _BY_ACTION[action]
    if change.get("from_status") == change.get("to_status"):
        return None  # an unknown action that changed no status
    return _BY_KIND.get(kind or "", "status_changed")


def organisation_settings(snapshot: Any) -> dict[str, Any]:
    """What the notifier keeps of an organisation event's snapshot."""
    if not isinstance(snapshot, dict) or not snapshot.get("id"):
        raise ValueError("data.organisation is missing or has no id")
    return {"id": snapshot["id"], **{k: snapshot.get(k) for k in ORGANISATION_FIELDS}}


def stored_organisation(event: CloudEvent) -> dict[str, Any] | None:
    """The copy of the settings an event stored before organisation_version carries."""
    change = event.data.get("change") or {}
    copy = change.get("organisation")
    return copy if isinstance(copy, dict) else None


def organisation_version(event: CloudEvent) -> int:
    """The version of the organisation's settings the event was decided with."""
    version = (event.data.get("change") or {}).get("organisation_version")
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def plan(event: CloudEvent, organisation: dict[str, Any] | None = None) -> list[Message]:
    """The messages one appointment event causes, client first.

    `organisation`: its settings (default: the copy of an event stored with one);
    OrganisationUnknown when there are messages to plan and neither is there,
    so nothing is ever planned without the organisation's channel settings.
    One message per (channel, address): when two recipients share an address
    the first one planned (client, organisation, resources) gets it.
    """
    data = event.data
    change: dict[str, Any] = data.get("change") or {}
    appointment: dict[str, Any] = data.get("appointment") or {}
    key = occasion(change)
    if key is None or not appointment:
        return []
    if organisation is None:
        organisation = stored_organisation(event)
    if organisation is None:
        raise OrganisationUnknown(f"the settings of organisation {event.orgid!r}")
    switched_on = {c: (organisation.get("channels") or {}).get(c, True) is not False
                   for c in CHANNELS}
    client: dict[str, Any] = appointment.get("client") or {}

    recipients: list[tuple[str, dict[str, Any], str, tuple[str, ...]]] = [
        ("client", client, f"client/{key}", CLIENT_LINKS.get(key, ())),
        ("organisation", organisation,
         f"organisation/{ORGANISATION_TEMPLATES.get(key, 'update')}", ()),
    ]
    if change.get("status_kind") == "confirmation":
        recipients += [("resource", r, "resource/booked", ())
                       for r in appointment.get("resources") or []
                       if r.get("kind") in RESOURCE_KINDS]

    messages: list[Message] = []
    taken: set[tuple[str, str]] = set()
    for kind, who, template, links in recipients:
        for channel in CHANNELS:
            if not switched_on[channel]:
                continue
            to = _address(who, channel)
            if to is not None:
                if (channel, to.lower()) in taken:
                    continue
                taken.add((channel, to.lower()))
            ref = str(who.get("id") or ("tentative" if who.get("tentative") else kind))
            messages.append(Message(kind, channel, to, template, ref, str(who.get("name") or ""),
                                    links if kind == "client" else ()))
    return messages


def _address(who: dict[str, Any], channel: str) -> str | None:
    value = who.get("email" if channel == "email" else "phone")
    return value.strip() if isinstance(value, str) and value.strip() else None


def plan_offer(event: CloudEvent, organisation: dict[str, Any] | None = None) -> list[Message]:
    """A waitlist offer (`waitlist.offered.v1`): the client, by email and SMS, with the
    link that accepts it. Nothing else of the waitlist is sent."""
    entry: dict[str, Any] = event.data.get("waitlist") or {}
    if event.type != "waitlist.offered.v1" or not entry:
        return []
    if organisation is None:
        raise OrganisationUnknown(f"the settings of organisation {event.orgid!r}")
    client: dict[str, Any] = entry.get("client") or {}
    ref = str(client.get("id") or "tentative")
    return [Message("client", channel, _address(client, channel), "client/waitlist_offer", ref,
                    str(client.get("name") or ""), ("accept_offer",))
            for channel in CHANNELS
            if (organisation.get("channels") or {}).get(channel, True) is not False]


def link_subject(event: CloudEvent) -> str:
    """What an event's links are bound to: the appointment, or one waitlist offer
    (booking's `waitlist:<entry id>:<offer number>`)."""
    if event.type.startswith("waitlist."):
        number = ((event.data.get("change") or {}).get("offer") or {}).get("number")
        return f"waitlist:{event.subject}:{number}"
    return event.subject
