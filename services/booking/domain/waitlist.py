"""The waitlist: a client waiting for a service to have a free slot (README "Reminders,
holds and the waitlist").

One aggregate per entry. A client (directory client or tentative contact) waits for a
service, optionally an agent, a day and a part of day. When a matching slot is freed,
the first waiting entry in join order is offered it (`Offered`: the slot, the agent and
a hold until `offer.until`; while offered the entry holds the agent's time in the
calendar); the offer is accepted through a signed link (`Accepted`, naming the new
appointment) or lapses (`OfferLapsed`: waiting again, never offered that slot again).
`Left`: the entry was removed. Every event's `change` is explicit (docs/contracts.md):
the state after an event is derived from that change alone.
"""
from __future__ import annotations

import uuid
from copy import deepcopy
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from services.booking.domain.changes import (
    AcceptedChange,
    JoinedChange,
    OfferedChange,
    OfferLapsedChange,
    Stamp,
    WaitlistOffer,
)
from services.booking.domain.meta import Meta
from services.booking.domain.values import Slot, clock_time, iso, local_day
from shared.errors import Conflict, Invalid
from shared.event_names import name_events

WAITING, OFFERED, ACCEPTED, LEFT = "waiting", "offered", "accepted", "left"
STATUSES = (WAITING, OFFERED, ACCEPTED, LEFT)


class OfferGone(Conflict):
    """The offer a link was for lapsed or went to someone else."""
    status = 410
    title = "Offer gone"


def slot_key(organisation_id: str, agent_id: str, slot: dict[str, str]) -> str:
    """Names one agent's slot (timer keys, the slots an entry passed on)."""
    return f"{organisation_id}:{agent_id}:{Slot.of(slot).start.isoformat()}"


class WaitlistEntry(Aggregate):
    class Joined(Aggregate.Created):
        organisation_id: str
        change: JoinedChange

    def __init__(self, organisation_id: str, change: JoinedChange, timestamp: datetime) -> None:
        self.organisation_id = organisation_id
        self.service: dict[str, Any] = deepcopy(change["service"])
        self.client: dict[str, Any] = deepcopy(change["client"])
        self.agent_id: str | None = change["agent_id"]
        self.date: str | None = change["date"]
        self.part_of_day: str | None = change["part_of_day"]
        self.source: str = change["source"]
        self.joined_at = iso(timestamp)
        self.updated_at = iso(timestamp)
        self.status = WAITING
        self.offer: WaitlistOffer | None = None
        self.offers = 0                            # how many offers so far (links name one)
        self.passed: list[str] = []                # slot keys offered and lapsed
        self.appointment_id: str | None = None

    @classmethod
    def join(cls, meta: Meta, organisation_id: str, *, service: dict[str, Any],
             client: dict[str, Any], agent_id: str | None, date: str | None,
             part_of_day: str | None, parts_of_day: dict[str, list[str]], tz: Any,
             source: str) -> WaitlistEntry:
        if date is not None and date < local_day(meta.now, tz).isoformat():
            raise Invalid("date", "is in the past")
        if part_of_day is not None and part_of_day not in parts_of_day:
            raise Invalid("part_of_day", "not one of the organisation's parts of day: "
                          + ", ".join(parts_of_day))
        change = JoinedChange(**meta.stamp("joined"), service=service, client=client,
                              agent_id=agent_id, date=date, part_of_day=part_of_day,
                              source=source)
        return cls._create(cls.Joined, id=uuid.uuid4(), organisation_id=organisation_id,
                           change=change, timestamp=meta.now)

    # -- the events ----------------------------------------------------------------------

    @event("Offered")
    def _offered(self, change: OfferedChange, timestamp: datetime) -> None:
        self.status, self.offer = OFFERED, deepcopy(change["offer"])
        self.offers = change["offer"]["number"]
        self.updated_at = iso(timestamp)

    @event("OfferLapsed")
    def _offer_lapsed(self, change: OfferLapsedChange, timestamp: datetime) -> None:
        self.status, self.offer = WAITING, None
        self.passed.append(change["slot_key"])
        self.updated_at = iso(timestamp)

    @event("Accepted")
    def _accepted(self, change: AcceptedChange, timestamp: datetime) -> None:
        self.status, self.offer = ACCEPTED, None
        self.appointment_id = change["appointment_id"]
        self.updated_at = iso(timestamp)

    @event("Left")  # removed from the waitlist (by staff)
    def _left(self, change: Stamp, timestamp: datetime) -> None:
        self.status, self.offer = LEFT, None
        self.updated_at = iso(timestamp)

    # -- commands ------------------------------------------------------------------------

    def make_offer(self, meta: Meta, slot: dict[str, str], agent_id: str, until: datetime,
                   reason: str | None = None) -> None:
        offer = WaitlistOffer(number=self.offers + 1, slot=Slot.of(slot).as_dict(),
                              agent_id=agent_id, until=iso(until))
        self._offered(change=OfferedChange(**meta.stamp("offered"), reason=reason, offer=offer),
                      timestamp=meta.now)

    def lapse(self, meta: Meta, reason: str | None = None) -> None:
        assert self.offer is not None
        key = slot_key(self.organisation_id, self.offer["agent_id"], self.offer["slot"])
        self._offer_lapsed(change=OfferLapsedChange(**meta.stamp("offer_lapsed"), reason=reason,
                                                    slot_key=key), timestamp=meta.now)

    def ensure_offer(self, number: int) -> WaitlistOffer:
        """The open offer a link names, or why not (409 used, 410 lapsed)."""
        if self.status == ACCEPTED:
            raise Conflict("this offer was already accepted")
        if self.status != OFFERED or self.offer is None or self.offer["number"] != number:
            raise OfferGone("this offer has lapsed; the slot went to the next in line")
        return self.offer

    def accept(self, meta: Meta, appointment_id: str) -> None:
        self._accepted(change=AcceptedChange(**meta.stamp("accepted"),
                                             appointment_id=appointment_id), timestamp=meta.now)

    def leave(self, meta: Meta) -> None:
        if self.status in (ACCEPTED, LEFT):
            raise Conflict(f"this entry is already {self.status}")
        self._left(change=meta.stamp("left"), timestamp=meta.now)

    # -- reads ---------------------------------------------------------------------------

    def offered_until(self) -> datetime | None:
        return datetime.fromisoformat(self.offer["until"]) if self.offer else None

    def wants(self, service_id: str, agent_id: str, slot: dict[str, str],
              organisation_id: str, parts_of_day: dict[str, list[str]], tz: Any) -> bool:
        """Would this waiting entry take that agent's slot?"""
        s = Slot.of(slot)
        if self.status != WAITING or self.service["id"] != service_id \
                or (self.agent_id and self.agent_id != agent_id) \
                or slot_key(organisation_id, agent_id, slot) in self.passed:
            return False
        if self.date and local_day(s.start, tz).isoformat() != self.date:
            return False
        if self.part_of_day:
            begin, end = parts_of_day.get(self.part_of_day, ("00:00", "00:00"))
            start = s.start.astimezone(tz).time()
            return clock_time(begin) <= start < clock_time(end)
        return True

    def snapshot(self) -> dict[str, Any]:
        return deepcopy({
            "id": str(self.id), "organisation_id": self.organisation_id,
            "version": self.version, "status": self.status, "service": self.service,
            "client": self.client, "agent_id": self.agent_id, "date": self.date,
            "part_of_day": self.part_of_day, "source": self.source,
            "offer": ({k: v for k, v in self.offer.items() if k != "number"}
                      if self.offer else None),
            "appointment_id": self.appointment_id, "joined_at": self.joined_at,
            "updated_at": self.updated_at})


name_events(WaitlistEntry, "waitlist", formerly="services.booking.domain.waitlist:WaitlistEntry")
