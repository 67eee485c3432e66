"""Messages into words: Jinja2 templates, times in the organisation's zone.

Each template (`templates/<recipient kind>/<occasion>.j2`) defines four
blocks: `subject`, `text` (plain-text email), `html` (the HTML email's body)
and `sms`. The same file is loaded by two environments: the HTML one
autoescapes, the plain one does not, so a name like "O'Brien <ob@x>" is
escaped in HTML and left alone in text and SMS.
"""
from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template
from markupsafe import Markup

from services.notifier.domain.model import Message, Rendered
from services.notifier.domain.planning import occasion, stored_organisation
from shared.envelope import CloudEvent

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def _env(autoescape: bool) -> Environment:
    # auto_reload off: the templates ship with the code, so a compiled one is kept for
    # the process instead of stat()ing its file on every message.
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=autoescape,
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                      auto_reload=False)
    # Shared pieces (link lists, appointment details, headlines) as `m.<macro>`.
    env.globals["m"] = env.get_template("_macros.j2").module
    return env


class Renderer:
    def __init__(self) -> None:
        self._plain = _env(autoescape=False)
        self._html = _env(autoescape=True)

    def render(self, message: Message, event: CloudEvent, links: dict[str, str],
               appointment_url: str | None, organisation: dict[str, Any] | None = None) -> Rendered:
        values = context(event, message, links, appointment_url, organisation)
        name = f"{message.template}.j2"
        plain = self._plain.get_template(name)
        if message.channel == "sms":
            return Rendered(text=_tidy(_block(plain, "sms", values)))
        html = self._html.get_template(name)
        subject = " ".join(_block(plain, "subject", values).split())
        body = Markup(_block(html, "html", values))
        page = self._html.get_template("_layout.html.j2").render(subject=subject, body=body,
                                                                 **values)
        return Rendered(text=_tidy(_block(plain, "text", values)), subject=subject, html=page)


def _block(template: Template, block: str, values: dict[str, Any]) -> str:
    return "".join(template.blocks[block](template.new_context(values)))


def _tidy(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def context(event: CloudEvent, message: Message, links: dict[str, str],
            appointment_url: str | None, organisation: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    """Everything a template may use, precomputed (times already local).

    `organisation`: its settings (default: the copy of an event stored with one).
    """
    change = event.data.get("change") or {}
    appointment = event.data.get("appointment") or _offered(event.data.get("waitlist"))
    organisation = organisation or stored_organisation(event) or {}
    tz = zone(organisation.get("timezone"))
    resources = appointment.get("resources") or []
    agent = next((r for r in resources if r.get("kind") == "agent"), None)
    location = next((r for r in resources if r.get("kind") == "location"), None)
    client = appointment.get("client") or {}
    return {
        "recipient": {"kind": message.recipient_kind, "name": message.recipient_name},
        "organisation": {"name": organisation.get("name") or appointment.get("organisation_id", ""),
                         "timezone": str(tz), "phone": organisation.get("phone"),
                         "email": organisation.get("email")},
        "client": {"name": client.get("name") or "there", "email": client.get("email"),
                   "phone": client.get("phone"), "tentative": bool(client.get("tentative"))},
        "service": (appointment.get("service") or {}).get("name") or "appointment",
        "status": appointment.get("status_name")
        or humanise(appointment.get("status") or change.get("to_status") or ""),
        "status_kind": change.get("status_kind"),
        "action": change.get("action"),
        "occasion": occasion(change),
        "by_client": (change.get("actor") or {}).get("role") == "client",
        "when": when(appointment, organisation, tz),
        "when_short": when(appointment, organisation, tz, short=True),
        "previous_when": slot_text(change.get("previous_slot"), tz),
        "proposal_when": slot_text(appointment.get("proposal"), tz),
        "agent": agent.get("name") if agent else None,
        "location": ({"name": location.get("name"), "address": location.get("address")}
                     if location else None),
        "reason": change.get("reason"),
        "message": change.get("message"),
        "feedback": appointment.get("feedback"),
        "links": links,
        "offer_until": slot_text({"start": (appointment.get("offer") or {}).get("until")}, tz)
        if appointment.get("offer") else None,
        "appointment_url": appointment_url,
        "appointment_id": appointment.get("id", event.subject),
    }


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def humanise(key: str) -> str:
    return key.replace("_", " ").capitalize()


def slot_text(slot: dict[str, Any] | None, tz: ZoneInfo, short: bool = False) -> str | None:
    """'Monday 23 November 2026, 10:00–10:30 CET' in the organisation's zone."""
    if not slot or not slot.get("start"):
        return None
    start = datetime.fromisoformat(slot["start"]).astimezone(tz)
    if short:
        return f"{start:%a} {start.day} {start:%b %H:%M}"
    text = f"{start:%A} {start.day} {start:%B %Y}, {start:%H:%M}"
    if slot.get("end"):
        text += f"–{datetime.fromisoformat(slot['end']).astimezone(tz):%H:%M}"
    return f"{text} {start.tzname()}"


def when(appointment: dict[str, Any], organisation: dict[str, Any], tz: ZoneInfo,
         short: bool = False) -> str:
    """The slot if there is one, else the preferred window ('morning, 09:00–12:00')."""
    text = slot_text(appointment.get("slot"), tz, short)
    if text:
        return text
    window = appointment.get("window") or {}
    if not window.get("date"):
        return "a time to be agreed"
    day = datetime.fromisoformat(window["date"])
    part = window.get("part_of_day") or ""
    hours = (organisation.get("parts_of_day") or {}).get(part)
    label = humanise(part).lower()
    if hours and not short:
        label += f" ({hours[0]}–{hours[1]})"
    if short:
        return f"{day:%a} {day.day} {day:%b}, {label}"
    return f"{day:%A} {day.day} {day:%B %Y}, {label}"


def _offered(entry: Any) -> dict[str, Any]:
    """A waitlist entry's offer, shaped like the appointment it would make."""
    if not isinstance(entry, dict):
        return {}
    offer = entry.get("offer") or {}
    return {"id": entry.get("id"), "organisation_id": entry.get("organisation_id"),
            "client": entry.get("client"), "service": entry.get("service"),
            "slot": offer.get("slot"), "offer": offer, "resources": []}
