"""The commands on an appointment: one BookingApplication method per typed command.

Each takes its command (commands.py) and the same steps, through the helpers of
BookingBase (base.py): load the appointment (`_load`: tenancy, If-Match), resolve the
directory ids the command names, ask the workflow authority (`_allow`, status actions
only), call the aggregate, save (`_save`). A client acting through a signed link is
found by `_by_link`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from services.booking.application import commands as c
from services.booking.application.base import BookingBase, Caller, check_version
from services.booking.application.ports import Answer
from services.booking.domain.appointment import Appointment
from services.booking.domain.directory import Client, Service
from services.booking.domain.transitions import intended_status
from services.booking.domain.values import Slot
from shared import links
from shared.errors import Conflict


@dataclass(frozen=True)
class References:
    """The directory entries a new appointment names, as the references it keeps."""
    service: Service
    client: dict[str, Any]
    agent: dict[str, Any] | None
    resources: list[dict[str, Any]] | None


class AppointmentCommands(BookingBase):
    # -- a new appointment ---------------------------------------------------------------

    def request(self, caller: Caller, cmd: c.Request) -> dict[str, Any]:
        """request: window or slot; known or tentative client; may confirm at once."""
        org = self._organisation_for(caller)
        refs = self._resolve(caller, cmd.service_id, cmd.client_id, cmd.tentative_client,
                             cmd.agent_id, cmd.resource_ids)
        ctx = self._context(caller, org, None)
        d = self.workflow.definition(caller.organisation_id, refs.service.workflow_id, None)
        at_once = bool(refs.service.automatic and cmd.slot and refs.agent
                       and ctx.is_free(refs.agent["id"], Slot.of(cmd.slot)))
        t = self._transition(caller, d, None, "request",
                             intended_status(d, "request", None, confirm_at_once=at_once))
        appointment = Appointment.request(
            ctx, t, service=refs.service.reference(), client=refs.client, source=cmd.source,
            slot=cmd.slot, window=cmd.window, agent=refs.agent, resources=refs.resources,
            questionnaire=cmd.questionnaire, metadata=cmd.metadata, message=cmd.message)
        return self._save(caller, "appointment", appointment, org=org)

    def create_for_client(self, caller: Caller, cmd: c.CreateForClient) -> dict[str, Any]:
        """create for client: the agent chooses the initial status."""
        org = self._organisation_for(caller)
        refs = self._resolve(caller, cmd.service_id, cmd.client_id, None, cmd.agent_id,
                             cmd.resource_ids)
        d = self.workflow.definition(caller.organisation_id, refs.service.workflow_id, None,
                                     "create")
        t = self._transition(caller, d, None, "create", intended_status(d, "create", cmd.status))
        appointment = Appointment.create_for_client(
            self._context(caller, org, None), t, service=refs.service.reference(),
            client=refs.client, slot=cmd.slot, agent=refs.agent, resources=refs.resources,
            questionnaire=cmd.questionnaire, metadata=cmd.metadata, note=cmd.note,
            message=cmd.message, source=cmd.source)
        return self._save(caller, "appointment", appointment, org=org)

    def save_tentative_client(self, caller: Caller, appointment_id: uuid.UUID,
                              expected_version: int | None = None) -> dict[str, Any]:
        """Save the tentative client as a new client and link it, in one transaction."""
        appointment = self.appointment(caller.organisation_id, appointment_id)
        tentative = appointment.client
        if not tentative.get("tentative"):
            raise Conflict("the client of this appointment is already linked")
        fields = {k: tentative.get(k) for k in ("name", "email", "phone")}
        client = Client.register(caller.organisation_id, fields,
                                 self._meta(caller.actor, caller.correlation_id))
        assert isinstance(client, Client)
        check_version(appointment, expected_version)
        org = self._organisation_for(caller)
        appointment.link_client(self._context(caller, org, str(appointment.id)),
                                client=client.reference())
        return self._save(caller, "appointment", appointment, client, org=org)

    def _resolve(self, caller: Caller, service_id: uuid.UUID, client_id: uuid.UUID | None,
                 tentative: c.TentativeClient | None, agent_id: uuid.UUID | None,
                 resource_ids: list[uuid.UUID] | None) -> References:
        """The directory entries a new appointment names -> the references it keeps."""
        org_id = caller.organisation_id
        service = self._usable(org_id, "service", service_id, "service_id")
        client: dict[str, Any] = {}
        if client_id is not None:
            client = self._usable(org_id, "client", client_id, "client_id").reference()
        if tentative is not None:
            client = {"id": None, "name": tentative.name, "email": tentative.email,
                      "phone": tentative.phone, "tentative": True}
        agent = self._agent(caller, agent_id)
        resources = None if resource_ids is None else \
            [self._usable(org_id, "resource", r, "resource_ids").reference() for r in resource_ids]
        return References(service, client, agent, resources)

    # -- on an existing appointment --------------------------------------------------------

    def confirm(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Confirm,
                expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        agent = self._agent(caller, cmd.agent_id)
        a.confirm(*self._allow(caller, org, a, "confirm"), slot=cmd.slot, agent=agent,
                  message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def accept_suggestion(self, caller: Caller, appointment_id: uuid.UUID,
                          cmd: c.AcceptSuggestion,
                          expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.accept_suggestion(*self._allow(caller, org, a, "accept_suggestion"), message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def reschedule(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reschedule,
                   expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.reschedule(*self._allow(caller, org, a, "reschedule"), slot=cmd.slot, message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def request_reschedule(self, caller: Caller, appointment_id: uuid.UUID,
                           cmd: c.RequestReschedule,
                           expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.request_reschedule(*self._allow(caller, org, a, "request_reschedule"), message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def cancel(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Cancel,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.cancel(*self._allow(caller, org, a, "cancel"), reason=cmd.reason, message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def reject(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reject,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.reject(*self._allow(caller, org, a, "reject"), reason=cmd.reason, message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def attend(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Attend,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.attend(*self._allow(caller, org, a, "attend"), time_taken_minutes=cmd.time_taken_minutes,
                 completion_reason=cmd.completion_reason, remark=cmd.remark)
        return self._save(caller, "appointment", a, org=org)

    def no_show(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.NoShow,
                expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.no_show(*self._allow(caller, org, a, "no_show"), reason=cmd.reason)
        return self._save(caller, "appointment", a, org=org)

    def reopen(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reopen,
               expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.reopen(*self._allow(caller, org, a, "reopen"), message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def request_feedback(self, caller: Caller, appointment_id: uuid.UUID,
                         cmd: c.RequestFeedback,
                         expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.request_feedback(*self._allow(caller, org, a, "request_feedback"), message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def move(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Move,
             expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.move(*self._allow(caller, org, a, "move", cmd.status), status=cmd.status,
               reason=cmd.reason, message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def expire_hold(self, caller: Caller, appointment_id: uuid.UUID,
                    expected_version: int | None = None, reason: str | None = None
                    ) -> dict[str, Any]:
        """A request's hold lapsed (the timer worker's command: application/timers.py)."""
        a, org = self._load(caller, appointment_id, expected_version)
        a.expire_hold(self._context(caller, org, str(a.id)), reason=reason)
        return self._save(caller, "appointment", a, org=org)

    def reassign(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.Reassign,
                 expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        agent = self._agent(caller, cmd.agent_id)
        assert agent is not None
        a.reassign(self._context(caller, org, str(a.id)), agent=agent, message=cmd.message)
        return self._save(caller, "appointment", a, org=org)

    def add_note(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.AddNote,
                 expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.add_note(self._context(caller, org, str(a.id)), text=cmd.text)
        return self._save(caller, "appointment", a, org=org)

    def edit_note(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.EditNote,
                  expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        a.edit_note(self._context(caller, org, str(a.id)), note_id=cmd.note_id, text=cmd.text)
        return self._save(caller, "appointment", a, org=org)

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
        return self._save(caller, "appointment", a, org=org)

    def link_client(self, caller: Caller, appointment_id: uuid.UUID, cmd: c.LinkClient,
                    expected_version: int | None = None) -> dict[str, Any]:
        a, org = self._load(caller, appointment_id, expected_version)
        client = self._usable(caller.organisation_id, "client", cmd.client_id, "client_id")
        a.link_client(self._context(caller, org, str(a.id)), client=client.reference())
        return self._save(caller, "appointment", a, org=org)

    # -- what a client does through a signed link (single use) ---------------------------

    def cancel_by_link(self, claims: links.LinkClaims, cmd: c.Cancel,
                       correlation_id: str = "", answer: Answer | None = None) -> dict[str, Any]:
        caller, a, org = self._by_link(claims, correlation_id, answer)
        a.cancel(*self._allow(caller, org, a, "cancel"), reason=cmd.reason, message=cmd.message,
                 link_id=claims.jti)
        return self._save(caller, "appointment", a, org=org)

    def propose_time(self, claims: links.LinkClaims, cmd: c.ProposeTime,
                     correlation_id: str = "", answer: Answer | None = None) -> dict[str, Any]:
        caller, a, org = self._by_link(claims, correlation_id, answer)
        a.propose_time(*self._allow(caller, org, a, "propose_time"), slot=cmd.slot,
                       message=cmd.message, link_id=claims.jti)
        return self._save(caller, "appointment", a, org=org)

    def submit_feedback(self, claims: links.LinkClaims, cmd: c.SubmitFeedback,
                        correlation_id: str = "", answer: Answer | None = None) -> dict[str, Any]:
        caller, a, org = self._by_link(claims, correlation_id, answer)
        a.submit_feedback(*self._allow(caller, org, a, "submit_feedback"), rating=cmd.rating,
                          comment=cmd.comment, link_id=claims.jti)
        return self._save(caller, "appointment", a, org=org)
