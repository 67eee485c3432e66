"""The waitlist's use cases: join, list, leave; offer a freed slot, lapse it, accept it.

Staff and the widget join and manage entries; the timer worker offers freed slots and
lapses offers (application/waitlist_timers.py) as the system actor; the client accepts
through a signed link (`accept_offer`), which makes the request (or the scheduled
appointment, for a service that confirms automatically) for the offered slot.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from services.booking.application import commands as c
from services.booking.application.base import BookingBase, Caller, check_version, to_uuid
from services.booking.application.ports import Answer
from services.booking.domain import errors
from services.booking.domain.appointment import Appointment
from services.booking.domain.transitions import intended_status
from services.booking.domain.values import Slot
from services.booking.domain.waitlist import ACCEPTED, WAITING, WaitlistEntry
from shared import links
from shared.errors import NotFound

ACCEPT = "accept_offer"


@dataclass(frozen=True)
class JoinWaitlist:
    service_id: uuid.UUID
    client_id: uuid.UUID | None = None
    tentative_client: c.TentativeClient | None = None
    agent_id: uuid.UUID | None = None
    date: date | None = None
    part_of_day: str | None = None
    source: str = "api"


@dataclass(frozen=True)
class AcceptOffer:
    """accept_offer: no body; the link names the offer."""


def offer_link_subject(entry_id: str, number: int) -> str:
    """What an offer's link is bound to: one entry's one offer."""
    return f"waitlist:{entry_id}:{number}"


class WaitlistCommands(BookingBase):
    def join_waitlist(self, caller: Caller, cmd: JoinWaitlist) -> dict[str, Any]:
        org = self._organisation_for(caller)
        org_id = caller.organisation_id
        service = self._usable(org_id, "service", cmd.service_id, "service_id")
        if cmd.client_id is not None:
            client = self._usable(org_id, "client", cmd.client_id, "client_id").reference()
        else:
            t = cmd.tentative_client
            assert t is not None
            client = {"id": None, "name": t.name, "email": t.email, "phone": t.phone,
                      "tentative": True}
        agent = self._agent(caller, cmd.agent_id)
        entry = WaitlistEntry.join(
            self._meta(caller.actor, caller.correlation_id), org_id,
            service=service.reference(), client=client,
            agent_id=agent["id"] if agent else None,
            date=cmd.date.isoformat() if cmd.date else None, part_of_day=cmd.part_of_day,
            parts_of_day=org.settings["parts_of_day"], tz=org.tz, source=cmd.source)
        return self._save(caller, "entry", entry, org=org)

    def waitlist_entry(self, organisation_id: str | None,
                       entry_id: uuid.UUID) -> WaitlistEntry:
        return self._get(organisation_id, entry_id, WaitlistEntry)

    def waitlist_page(self, organisation_id: str, service_id: str | None, status: str | None,
                      after: int, limit: int) -> list[tuple[int, dict[str, Any]]]:
        return self.tables.waitlist(organisation_id, service_id, status, after, limit)

    def leave_waitlist(self, caller: Caller, entry_id: uuid.UUID,
                       expected_version: int | None = None) -> dict[str, Any]:
        entry = self.waitlist_entry(caller.organisation_id, entry_id)
        check_version(entry, expected_version)
        entry.leave(self._meta(caller.actor, caller.correlation_id))
        return self._save(caller, "entry", entry)

    # -- the timer worker's commands (system actor) --------------------------------------

    def offer_slot(self, caller: Caller, service_id: str, agent_id: str,
                   slot: dict[str, str], reason: str | None = None) -> str | None:
        """Offer a freed slot to the first waiting entry that wants it; its id (None: the
        time is taken or past, or nobody wants it)."""
        org_id, s = caller.organisation_id, Slot.of(slot)
        meta = self._meta(caller.actor, caller.correlation_id)
        if s.start <= meta.now or agent_id in self.tables.busy_agents(org_id, s, None):
            return None
        org = self.organisation(org_id)
        after = 0
        while rows := self.tables.waitlist(org_id, service_id, WAITING, after, 100):
            for _, snapshot in rows:
                entry = self.waitlist_entry(org_id, to_uuid(snapshot["id"]))
                if entry.wants(service_id, agent_id, slot, org_id,
                               org.settings["parts_of_day"], org.tz):
                    until = meta.now + timedelta(minutes=org.setting("hold_minutes"))
                    entry.make_offer(meta, slot, agent_id, until, reason)
                    try:
                        self._save(caller, "entry", entry)
                    except errors.AgentNotAvailable:   # taken meanwhile
                        return None
                    return str(entry.id)
            after = rows[-1][0]
        return None

    def lapse_offer(self, caller: Caller, entry_id: uuid.UUID,
                    reason: str | None = None) -> datetime | None:
        """End an offer whose time ran out; when it is not due yet, its time (None: done)."""
        entry = self.waitlist_entry(caller.organisation_id, entry_id)
        until, meta = entry.offered_until(), self._meta(caller.actor, caller.correlation_id)
        if until is None:
            return None                    # accepted or left meanwhile
        if until > meta.now:
            return until
        entry.lapse(meta, reason)
        self._save(caller, "entry", entry)
        return None

    # -- the client, through the offer's signed link --------------------------------------

    def waitlist_offer_link(self, entry: WaitlistEntry, ttl: int | None = None) -> str:
        assert entry.offer is not None
        return links.url(offer_link_subject(str(entry.id), entry.offer["number"]), ACCEPT, ttl)

    def offer_by_link(self, claims: links.LinkClaims) -> WaitlistEntry:
        _, entry_id, number = _subject(claims)
        entry = self._get(None, to_uuid(entry_id), WaitlistEntry)
        entry.ensure_offer(number)
        return entry

    def link_organisation(self, claims: links.LinkClaims) -> str:
        """The organisation of what a signed link names: an offer's entry or an appointment."""
        if claims.action == ACCEPT:
            return self._get(None, to_uuid(_subject(claims)[1]), WaitlistEntry).organisation_id
        return self._get(None, to_uuid(claims.appointment_id), Appointment).organisation_id

    def describe_offer(self, claims: links.LinkClaims) -> dict[str, Any]:
        """What the client's page shows for an offer's link."""
        _, entry_id, number = _subject(claims)
        entry = self._get(None, to_uuid(entry_id), WaitlistEntry)
        org = self.organisation(entry.organisation_id)
        offer = entry.snapshot()["offer"]
        live = entry.offer is not None and entry.offer["number"] == number
        return {"action": claims.action, "possible": live, "used": entry.status == ACCEPTED,
                "offer": offer if live else None, "service": entry.service.get("name"),
                "organisation": {k: org.settings[k] for k in ("name", "timezone", "email",
                                                               "phone")}}

    def accept_offer(self, claims: links.LinkClaims, _cmd: AcceptOffer, correlation_id: str,
                     answer: Answer | None) -> dict[str, Any]:
        entry = self.offer_by_link(claims)
        offer = entry.offer
        assert offer is not None
        actor = {"id": entry.client.get("id") or "tentative-client", "role": "client"}
        caller = Caller(entry.organisation_id, actor, correlation_id, answer)
        org = self._organisation_for(caller)
        service = self._usable(caller.organisation_id, "service", entry.service["id"],
                               "service_id")
        agent = self._agent(caller, to_uuid(offer["agent_id"]))
        assert agent is not None
        ctx = self._context(caller, org, str(entry.id))   # the offer's own hold is no obstacle
        d = self.workflow.definition(caller.organisation_id, service.workflow_id, None)
        at_once = bool(service.automatic and ctx.is_free(agent["id"], Slot.of(offer["slot"])))
        t = self._transition(caller, d, None, "request",
                             intended_status(d, "request", None, confirm_at_once=at_once))
        appointment = Appointment.request(
            ctx, t, service=service.reference(), client=dict(entry.client), source=entry.source,
            slot=offer["slot"], agent=agent)
        entry.accept(ctx.meta, str(appointment.id))
        return self._save(caller, "appointment", appointment, entry, org=org)


def _subject(claims: links.LinkClaims) -> tuple[str, str, int]:
    parts = claims.appointment_id.split(":")
    if len(parts) != 3 or parts[0] != "waitlist" or not parts[2].isdigit():
        raise NotFound("this link names no waitlist offer")
    return parts[0], parts[1], int(parts[2])
