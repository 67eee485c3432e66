"""A waitlist event -> the entry's row (pure). Booking's `waitlist.*.v1` events carry the
entry after the event (`data.waitlist`, docs/schemas/waitlist.v1.json), so the row comes
from that snapshot alone; its open offer is the slot it holds for the client."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from services.projections.domain.model import Unprocessable, WaitlistRow, moment

STATUSES = ("waiting", "offered", "accepted", "left")


def waitlist_row(w: dict[str, Any], version: int) -> WaitlistRow:
    if int(w["version"]) != version:
        raise Unprocessable("waitlist.version differs from aggregateversion")
    if w["status"] not in STATUSES:
        raise Unprocessable(f"unknown waitlist status {w['status']!r}")
    offer, service, client = w.get("offer"), w["service"], w["client"]
    if (offer is None) != (w["status"] != "offered"):
        raise Unprocessable("an offered entry, and only one, has an offer")
    slot = offer["slot"] if offer else {}
    return WaitlistRow(
        id=w["id"], organisation_id=w["organisation_id"], version=version, status=w["status"],
        service_id=str(service["id"]), service_name=service.get("name"),
        agent_id=w.get("agent_id"),
        wish_date=date.fromisoformat(w["date"]) if w.get("date") else None,
        part_of_day=w.get("part_of_day"), client_id=client.get("id"),
        client_name=client.get("name"), tentative=bool(client.get("tentative")),
        source=w.get("source"), offer_start=moment(slot.get("start")),
        offer_end=moment(slot.get("end")), offer_agent_id=offer["agent_id"] if offer else None,
        offer_until=moment(offer["until"]) if offer else None,
        appointment_id=w.get("appointment_id"),
        joined_at=moment(w["joined_at"]) or _missing("joined_at"),
        updated_at=moment(w.get("updated_at")))


def _missing(name: str) -> datetime:
    raise Unprocessable(f"waitlist.{name} is missing")
