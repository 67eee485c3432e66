"""What every change of an appointment shares: the command's `Context`, the rules that
need the appointment's own state (bookable, confirmable, due, unused link) and
`_status_change`, the part every event's change begins with (changes.py, docs/contracts.md).

Status changes (appointment_status.py) and changes that keep the status
(appointment_details.py) build on AppointmentRules; Appointment (appointment.py) is all
of them, with the state declared here and the events.
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.booking.domain import errors
from services.booking.domain.changes import NewAgent, NewNote, StatusChange, StatusOf
from services.booking.domain.meta import Meta
from services.booking.domain.organisation import Organisation
from services.booking.domain.transitions import Transition
from services.booking.domain.values import Slot, iso
from shared.errors import Conflict

CLOSED_KINDS = ("cancellation", "completion", "final")


@dataclass(frozen=True)
class Context:
    """What a command needs besides the appointment: who/when, the org, availability."""
    meta: Meta
    organisation: Organisation
    is_free: Callable[[str, Slot], bool]


class AppointmentRules:
    # The appointment's state the rules read (set by Appointment.__init__ and follow).
    status: str
    status_kind: str
    status_name: str
    status_colour: str | None
    workflow: dict[str, Any]
    client: dict[str, Any]
    agent_id: str | None
    resources: list[dict[str, Any]]
    slot: dict[str, str] | None
    used_links: list[str]

    def ensure_link_unused(self, link_id: str) -> None:
        if link_id in self.used_links:
            raise errors.LinkAlreadyUsed()

    @staticmethod
    def _ensure_bookable(ctx: Context, action: str, slot: dict[str, str] | None,
                         agent_id: str | None) -> None:
        if slot is None:
            raise errors.SlotRequired(action)
        if agent_id and not ctx.is_free(agent_id, Slot.of(slot)):
            raise errors.AgentNotAvailable(agent_id)

    def _ensure_confirmable(self, ctx: Context, action: str, slot: dict[str, str] | None,
                            agent_id: str | None) -> None:
        if self.client.get("tentative"):
            raise errors.ClientNotLinked()
        self._ensure_bookable(ctx, action, slot, agent_id)

    def _ensure_due(self, ctx: Context, action: str) -> None:
        if self.slot is None:
            raise errors.SlotRequired(action)
        if ctx.meta.now < Slot.of(self.slot).start:
            raise errors.NotDue(action, self.slot["start"])

    @staticmethod
    def _custom(t: Transition) -> bool:
        return t.workflow["id"] != "builtin"

    def _agent_fields(self, agent: dict[str, Any]) -> NewAgent:
        others = [r for r in self.resources if r["kind"] != "agent"]
        return NewAgent(agent_id=agent["id"], previous_agent_id=self.agent_id,
                        resources=[agent] + others)

    @staticmethod
    def _new_note(ctx: Context, text: str) -> NewNote:
        return NewNote(id=uuid.uuid4().hex, text=text, author=dict(ctx.meta.actor),
                       at=iso(ctx.meta.now))

    def _status_change(self, ctx: Context, t: Transition | str, reason: str | None = None,
                       message: str | None = None) -> StatusChange:
        """Who, why and which status, for the change an event records: a status change the
        workflow allowed (`t`), or a change that keeps the status (`t`: its action). The
        command adds the keys of its event (changes.py) and triggers it."""
        if isinstance(t, Transition) and t.from_status != self.status:
            raise Conflict(f"the appointment is in status '{self.status}', "
                                  f"not '{t.from_status}'")
        status = t.change() if isinstance(t, Transition) else StatusOf(
            from_status=self.status, to_status=self.status, status_kind=self.status_kind,
            status_name=self.status_name, status_colour=self.status_colour,
            workflow=self.workflow)
        action = t.action if isinstance(t, Transition) else t
        return StatusChange(**ctx.meta.stamp(action), **status, reason=reason, message=message,
                            organisation_version=ctx.organisation.version)
