"""The commands on an existing appointment: one BookingApplication method per command.

Each takes its typed command (commands.py) and the same steps, through helpers of
BookingApplication: load the appointment (`_load`: tenancy, If-Match), resolve the
directory ids the command names, ask the workflow authority (`_allow`, status actions
only), call the aggregate, save (`_save`). A client acting through a signed link is
found by `_by_link`.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from services.booking.application import commands as c
from services.booking.application.ports import Answer
from shared import links

if TYPE_CHECKING:
    from eventsourcing.domain import Aggregate

    from services.booking.application.app import Caller
    from services.booking.domain.appointment import Appointment, Context
    from services.booking.domain.organisation import Organisation
    from services.booking.domain.transitions import Transition


class AppointmentCommands:
    """Mixed into BookingApplication, which provides the shared steps below."""
    if TYPE_CHECKING:
        def _load(self, caller: Caller, appointment_id: uuid.UUID,
                  expected_version: int | None) -> tuple[Appointment, Organisation]: ...

        def _by_link(self, claims: links.LinkClaims, correlation_id: str,
                     answer: Answer | None) -> tuple[Caller, Appointment, Organisation]: ...

        def _allow(self, caller: Caller, org: Organisation, appointment: Appointment,
                   action: str, status: str | None = None) -> tuple[Context, Transition]: ...

        def _context(self, caller: Caller, org: Organisation, exclude: str | None) -> Context: ...

        def _agent(self, caller: Caller, agent_id: uuid.UUID | None) -> dict[str, Any] | None: ...

        def _usable(self, organisation_id: str, kind: str, entry_id: Any, field: str) -> Any: ...

        def _save(self, caller: Caller, kind: str, primary: Any,
                  *others: Aggregate) -> dict[str, Any]: ...

    def confirm(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Confirm,
                expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        agent = self._agent(caller, cmd.agent_id)
        a.confirm(*self._allow(caller, org, a, "confirm"), slot=cmd.slot, agent=agent,
                  message=cmd.message)
        return self._save(caller, "appointment", a)

    def accept_suggestion(self, caller: Caller, appointment_id: uuid.UUID,
                          cmd: c.AcceptSuggestion,
                          expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.accept_suggestion(*self._allow(caller, org, a, "accept_suggestion"), message=cmd.message)
        return self._save(caller, "appointment", a)

    def reschedule(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reschedule,
                   expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.reschedule(*self._allow(caller, org, a, "reschedule"), slot=cmd.slot, message=cmd.message)
        return self._save(caller, "appointment", a)

    def request_reschedule(self, caller: Caller, appointment_id: uuid.UUID,
                           cmd: c.RequestReschedule,
                           expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.request_reschedule(*self._allow(caller, org, a, "request_reschedule"), message=cmd.message)
        return self._save(caller, "appointment", a)

    def cancel(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Cancel,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.cancel(*self._allow(caller, org, a, "cancel"), reason=cmd.reason, message=cmd.message)
        return self._save(caller, "appointment", a)

    def reject(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reject,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.reject(*self._allow(caller, org, a, "reject"), reason=cmd.reason, message=cmd.message)
        return self._save(caller, "appointment", a)

    def attend(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Attend,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.attend(*self._allow(caller, org, a, "attend"), time_taken_minutes=cmd.time_taken_minutes,
                 completion_reason=cmd.completion_reason, remark=cmd.remark)
        return self._save(caller, "appointment", a)

    def no_show(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.NoShow,
                expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.no_show(*self._allow(caller, org, a, "no_show"))
        return self._save(caller, "appointment", a)

    def reopen(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reopen,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.reopen(*self._allow(caller, org, a, "reopen"), message=cmd.message)
        return self._save(caller, "appointment", a)

    def request_feedback(self, caller: Caller, appointment_id: uuid.UUID,
                         cmd: c.RequestFeedback,
                         expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.request_feedback(*self._allow(caller, org, a, "request_feedback"), message=cmd.message)
        return self._save(caller, "appointment", a)

    def move(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Move,
             expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.move(*self._allow(caller, org, a, "move", cmd.status), status=cmd.status,
               reason=cmd.reason, message=cmd.message)
        return self._save(caller, "appointment", a)

    def reassign(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reassign,
                 expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        agent = self._agent(caller, cmd.agent_id)
        assert agent is not None
        a.reassign(self._context(caller, org, str(a.id)), agent=agent, message=cmd.message)
        return self._save(caller, "appointment", a)

    def add_note(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.AddNote,
                 expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.add_note(self._context(caller, org, str(a.id)), text=cmd.text)
        return self._save(caller, "appointment", a)

    def edit_note(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.EditNote,
                  expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.edit_note(self._context(caller, org, str(a.id)), note_id=cmd.note_id, text=cmd.text)
        return self._save(caller, "appointment", a)

    def update_details(self, caller: Caller, appointment_id: uuid.UUID,
                       cmd: c.UpdateDetails,
                       expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        org_id = caller.organisation_id
        service = None if cmd.service_id is None else \
            self._usable(org_id, "service", cmd.service_id, "service_id").reference()
        resources = None if cmd.resource_ids is None else \
            [self._usable(org_id, "resource", r, "resource_ids").reference() for r in cmd.resource_ids]
        a.update_details(self._context(caller, org, str(a.id)), service=service,
                         resources=resources, questionnaire=cmd.questionnaire,
                         metadata=cmd.metadata)
        return self._save(caller, "appointment", a)

    def link_client(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.LinkClient,
                    expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        client = self._usable(caller.organisation_id, "client", cmd.client_id, "client_id")
        a.link_client(self._context(caller, org, str(a.id)), client=client.reference())
        return self._save(caller, "appointment", a)

    # -- what a client does through a signed link (single use) ---------------------------

    def cancel_by_link(self, claims: links.LinkClaims, cmd: c.Cancel,
                       correlation_id: str = "", answer: Answer | None = None) -> dict[str, Any]:
        caller, a, org = self._by_link(claims, correlation_id, answer)
        a.cancel(*self._allow(caller, org, a, "cancel"), reason=cmd.reason, message=cmd.message,
                 link_id=claims.jti)
        return self._save(caller, "appointment", a)

    def propose_time(self, claims: links.LinkClaims, cmd: c.ProposeTime,
                     correlation_id: str = "", answer: Answer | None = None) -> dict[str, Any]:
        caller, a, org = self._by_link(claims, correlation_id, answer)
        a.propose_time(*self._allow(caller, org, a, "propose_time"), slot=cmd.slot,
                       message=cmd.message, link_id=claims.jti)
        return self._save(caller, "appointment", a)

    def submit_feedback(self, claims: links.LinkClaims, cmd: c.SubmitFeedback,
                        correlation_id: str = "", answer: Answer | None = None) -> dict[str, Any]:
        caller, a, org = self._by_link(claims, correlation_id, answer)
        a.submit_feedback(*self._allow(caller, org, a, "submit_feedback"), rating=cmd.rating,
                          comment=cmd.comment, link_id=claims.jti)
        return self._save(caller, "appointment", a)
