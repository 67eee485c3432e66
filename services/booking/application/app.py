"""BookingApplication: every use case of booking over one event store.

Each command on an appointment is a typed command (commands.py) handled by the
method of its name (appointment_commands.py), and takes the same steps through the
helpers here: load (`_load`: tenancy and If-Match) -> resolve directory ids -> ask
the workflow authority (`_allow`) -> call the aggregate -> save (`_save`: events,
side tables and the idempotent answer in one transaction).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application, Recording
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Notification, OperationalError

from services.booking.application import commands as c
from services.booking.application.appointment_commands import AppointmentCommands
from services.booking.application.clock import Clock
from services.booking.application.ports import Answer, CalendarRow, EntryRow, SideWrites, Tables
from services.booking.application.workflow_client import WorkflowPort
from services.booking.domain import errors
from services.booking.domain.appointment import Appointment, Context
from services.booking.domain.directory import (
    KINDS,
    Client,
    DirectoryEntry,
    Service,
    within_working_hours,
)
from services.booking.domain.meta import Meta
from services.booking.domain.organisation import Organisation, organisation_uuid
from services.booking.domain.transitions import Transition, intended_status
from services.booking.domain.values import Slot
from shared import lifecycle, links
from shared.errors import Conflict, Invalid, NotFound, Unavailable
from shared.lifecycle import Definition, allowed_actions

A = TypeVar("A", bound=Aggregate)
SYSTEM = {"id": "booking", "role": "system"}


@dataclass(frozen=True)
class References:
    """The directory entries a new appointment names, as the references it keeps."""
    service: Service
    client: dict[str, Any]
    agent: dict[str, Any] | None
    resources: list[dict[str, Any]] | None


@dataclass(frozen=True)
class Caller:
    organisation_id: str
    actor: dict[str, str]
    correlation_id: str = ""
    answer: Answer | None = None   # the first answer to record under an Idempotency-Key


class BookingApplication(AppointmentCommands, Application[uuid.UUID]):
    log_section_size = 1000

    def __init__(self, env: dict[str, str] | None = None, *, workflow: WorkflowPort, clock: Clock,
                 tables: Tables | None = None) -> None:
        super().__init__(env)
        self.workflow = workflow
        self.clock = clock
        # PostgreSQL tables are given; the in-memory recorder carries its own.
        self.tables: Tables = tables or self.recorder.tables  # type: ignore[attr-defined]

    def close(self) -> None:
        close_tables = getattr(self.tables, "close", None)
        if close_tables:
            close_tables()
        super().close()

    # -- reads ---------------------------------------------------------------------------

    def appointment(self, organisation_id: str, appointment_id: uuid.UUID,
                    version: int | None = None) -> Appointment:
        return self._get(organisation_id, appointment_id, Appointment, version)

    def organisation(self, organisation_id: str) -> Organisation:
        """The settings; defaults (not yet saved) for an organisation never seen before."""
        try:
            return self._get(organisation_id, organisation_uuid(organisation_id), Organisation)
        except NotFound:
            return Organisation.start(organisation_id, self._meta(SYSTEM, ""))

    def entry(self, organisation_id: str, kind: str, entry_id: uuid.UUID) -> DirectoryEntry:
        return self._get(organisation_id, entry_id, KINDS[kind])

    def entries(self, organisation_id: str, kind: str, email: str | None = None,
                phone: str | None = None) -> list[dict[str, Any]]:
        return self.tables.entries(organisation_id, kind, email, phone)

    def available_agents(self, organisation_id: str, appointment_id: uuid.UUID,
                         slot: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        appointment = self.appointment(organisation_id, appointment_id)
        if not (slot or appointment.slot):
            raise errors.SlotRequired("available agents")
        at = Slot.of(slot or appointment.slot or {})
        tz = self.organisation(organisation_id).tz
        busy = self.tables.busy_agents(organisation_id, at, str(appointment.id))
        return [a for a in self.entries(organisation_id, "resource")
                if a["kind"] == "agent" and a.get("active", True) and a["id"] not in busy
                and a["id"] != appointment.agent_id
                and within_working_hours(a["working_hours"], tz, at)]

    def client_matches(self, organisation_id: str, appointment_id: uuid.UUID) -> list[dict[str, Any]]:
        client = self.appointment(organisation_id, appointment_id).client
        if not client.get("tentative"):
            return []
        return self.entries(organisation_id, "client", client.get("email"), client.get("phone"))

    def notifications(self, after: int, limit: int,
                      organisation_id: str | None = None) -> list[Notification]:
        """Stored events after position `after`: one organisation's, or (None) everyone's."""
        limit = min(limit, self.log_section_size)
        if organisation_id is None:
            return list(self.notification_log.select(after + 1, limit))
        recorder: Any = self.recorder  # BookingRecorder or MemoryRecorder
        return list(recorder.select_organisation_notifications(organisation_id, after, limit))

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[uuid.UUID]]:
        """Every save names its one organisation beside its events (the feed's scope)."""
        orgs = {getattr(o, "organisation_id", None) for o in objs if o is not None}
        if len(orgs) != 1 or None in orgs:
            raise ValueError(f"a save belongs to exactly one organisation, not {orgs}")
        side = kwargs["side"] = kwargs.get("side") or SideWrites()
        side.organisation_id = orgs.pop()
        return super().save(*objs, **kwargs)

    # -- directory -----------------------------------------------------------------------

    def update_organisation(self, caller: Caller, fields: dict[str, Any],
                            expected_version: int | None = None) -> dict[str, Any]:
        org = self._organisation_for(caller)
        _check_version(org, expected_version)
        org.update(fields, self._meta(caller.actor, caller.correlation_id))
        return self._save(caller, "organisation", org)

    def register(self, caller: Caller, kind: str, fields: dict[str, Any]) -> dict[str, Any]:
        self._organisation_for(caller)
        self._check_workflow(caller, fields)
        entry = KINDS[kind].register(caller.organisation_id, fields,
                                     self._meta(caller.actor, caller.correlation_id))
        return self._save(caller, kind, entry)

    def update_entry(self, caller: Caller, kind: str, entry_id: uuid.UUID, fields: dict[str, Any],
                     expected_version: int | None = None) -> dict[str, Any]:
        entry = self.entry(caller.organisation_id, kind, entry_id)
        _check_version(entry, expected_version)
        self._check_workflow(caller, fields)
        entry.update(fields, self._meta(caller.actor, caller.correlation_id))
        return self._save(caller, kind, entry)

    # -- appointments --------------------------------------------------------------------

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
        return self._save(caller, "appointment", appointment)

    def create_for_client(self, caller: Caller, cmd: c.CreateForClient) -> dict[str, Any]:
        """create for client: the agent chooses the initial status."""
        org = self._organisation_for(caller)
        refs = self._resolve(caller, cmd.service_id, cmd.client_id, None, cmd.agent_id,
                             cmd.resource_ids)
        d = self.workflow.definition(caller.organisation_id, refs.service.workflow_id, None)
        t = self._transition(caller, d, None, "create", intended_status(d, "create", cmd.status))
        appointment = Appointment.create_for_client(
            self._context(caller, org, None), t, service=refs.service.reference(),
            client=refs.client, slot=cmd.slot, agent=refs.agent, resources=refs.resources,
            questionnaire=cmd.questionnaire, metadata=cmd.metadata, note=cmd.note,
            message=cmd.message, source=cmd.source)
        return self._save(caller, "appointment", appointment)

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
        _check_version(appointment, expected_version)
        org = self._organisation_for(caller)
        appointment.link_client(self._context(caller, org, str(appointment.id)),
                                client=client.reference())
        return self._save(caller, "appointment", appointment, client)

    def describe_link(self, claims: links.LinkClaims) -> dict[str, Any]:
        appointment = self._get(None, _uuid(claims.appointment_id), Appointment)
        org = self.organisation(appointment.organisation_id)
        used = claims.jti in appointment.used_links
        try:
            d = self.workflow.definition(org.organisation_id, appointment.workflow["id"],
                                         appointment.workflow["version"])
            possible: bool | None = not used and claims.action in allowed_actions(
                d, appointment.status)
        except Unavailable:
            possible = None   # unknown for now; trying it will tell
        s = appointment.snapshot()
        return {
            "action": claims.action,
            "possible": possible,
            "used": used,
            "appointment": {k: s[k] for k in ("id", "status", "slot", "window", "proposal")}
            | {"service": s["service"].get("name"), "client": s["client"].get("name")},
            "organisation": {k: org.settings[k] for k in ("name", "timezone", "email", "phone")},
            "cancellation_reasons": org.settings["cancellation_reasons"],
            "reason_required": org.settings["cancel_reason_required"],
        }

    # -- the path every appointment command shares ---------------------------------------

    def _load(self, caller: Caller, appointment_id: uuid.UUID,
              expected_version: int | None) -> tuple[Appointment, Organisation]:
        """The caller's appointment at the version it expects (If-Match), and its organisation."""
        appointment = self.appointment(caller.organisation_id, appointment_id)
        _check_version(appointment, expected_version)
        return appointment, self._organisation_for(caller)

    def _by_link(self, claims: links.LinkClaims, correlation_id: str,
                 answer: Answer | None) -> tuple[Caller, Appointment, Organisation]:
        """The appointment of an unused link, and the client acting on it."""
        appointment = self._get(None, _uuid(claims.appointment_id), Appointment)
        appointment.ensure_link_unused(claims.jti)
        actor = {"id": appointment.client.get("id") or "tentative-client", "role": "client"}
        caller = Caller(appointment.organisation_id, actor, correlation_id, answer)
        return caller, appointment, self._organisation_for(caller)

    def _allow(self, caller: Caller, org: Organisation, appointment: Appointment, action: str,
               status: str | None = None) -> tuple[Context, Transition]:
        """The command's context and the status change the workflow allows for `action`."""
        wf = appointment.workflow
        d = self.workflow.definition(caller.organisation_id, wf["id"], wf["version"])
        to = intended_status(d, action, status,
                             reconfirm_reschedules=org.settings["reschedule_needs_reconfirmation"])
        return (self._context(caller, org, str(appointment.id)),
                self._transition(caller, d, appointment.status, action, to))

    def _agent(self, caller: Caller, agent_id: uuid.UUID | None) -> dict[str, Any] | None:
        if agent_id is None:
            return None
        agent = self._usable(caller.organisation_id, "resource", agent_id, "agent_id")
        if agent.fields["kind"] != "agent":
            raise Invalid("agent_id", "this resource is not an agent")
        return dict(agent.reference())

    def _transition(self, caller: Caller, d: Definition, from_status: str | None, action: str,
                    to_status: str) -> Transition:
        verdict = self.workflow.validate(caller.organisation_id, d, from_status, action, to_status)
        if not verdict.allowed:
            raise errors.TransitionNotAllowed(action, from_status, to_status,
                                              verdict.allowed_actions, verdict.workflow)
        status = d.status(verdict.to_status)
        return Transition(action, from_status, verdict.to_status, verdict.status_kind,
                          verdict.workflow, status.name if status else verdict.to_status)

    def _save(self, caller: Caller, kind: str, primary: Any, *others: Aggregate) -> dict[str, Any]:
        body = {kind: primary.snapshot(), "version": primary.version}
        side = SideWrites(answer=caller.answer)
        if caller.answer is not None:
            caller.answer.body = body
        for aggregate in (primary, *others):
            if isinstance(aggregate, Appointment):
                side.calendar.append(_calendar_row(aggregate))
            if isinstance(aggregate, DirectoryEntry):
                side.entries.append(EntryRow(str(aggregate.id), aggregate.organisation_id,
                                             aggregate.kind, aggregate.snapshot()))
        try:
            recordings = self.save(primary, *others, side=side)
        except IntegrityError as e:
            if self.tables.is_overlap(e):
                raise errors.AgentNotAvailable(str(getattr(primary, "agent_id", ""))) from e
            raise errors.StaleVersion(self.repository.get(primary.id).version) from e
        except OperationalError as e:   # a lock or statement timeout: never wait longer
            raise Unavailable("the event store is busy; try again",
                              headers={"Retry-After": "1"}) from e
        # Nothing changed (e.g. settings equal to the current ones): nothing recorded.
        body["position"] = recordings[-1].notification.id if recordings else None
        return body

    # -- helpers -------------------------------------------------------------------------

    def _get(self, organisation_id: str | None, aggregate_id: uuid.UUID, cls: type[A],
             version: int | None = None) -> A:
        """The aggregate, or NotFound when missing, of another kind or another organisation."""
        aggregate: Any
        try:
            aggregate = self.repository.get(aggregate_id, version=version)
        except AggregateNotFoundError:
            aggregate = None
        if not isinstance(aggregate, cls) or (version and aggregate.version != version) or (
                organisation_id is not None
                and getattr(aggregate, "organisation_id", None) != organisation_id):
            raise NotFound(f"no {cls.__name__.lower()} {aggregate_id}"
                           + (f" at version {version}" if version else ""))
        return aggregate

    def _organisation_for(self, caller: Caller) -> Organisation:
        """The organisation, created with defaults (and saved) on first use."""
        try:
            return self._get(caller.organisation_id, organisation_uuid(caller.organisation_id),
                             Organisation)
        except NotFound:
            org = Organisation.start(caller.organisation_id,
                                     self._meta(caller.actor, caller.correlation_id))
            try:
                self.save(org)
            except IntegrityError:   # created meanwhile by a concurrent first command
                return self._get(caller.organisation_id, org.id, Organisation)
            return org

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

    def _usable(self, organisation_id: str, kind: str, entry_id: Any, field: str) -> Any:
        try:
            entry = self.entry(organisation_id, kind, _uuid(entry_id))
        except NotFound as e:
            raise Invalid(field, f"no {kind} {entry_id} in this organisation") from e
        if not entry.active:
            raise Invalid(field, f"{kind} {entry_id} is not active")
        return entry

    def _check_workflow(self, caller: Caller, fields: dict[str, Any]) -> None:
        if fields.get("workflow_id"):
            self.workflow.definition(caller.organisation_id, fields["workflow_id"], None)

    def _context(self, caller: Caller, org: Organisation, exclude: str | None) -> Context:
        return Context(self._meta(caller.actor, caller.correlation_id), org,
                       self._availability(org, exclude))

    def _availability(self, org: Organisation, exclude: str | None) -> Callable[[str, Slot], bool]:
        def is_free(agent_id: str, slot: Slot) -> bool:
            try:
                agent = self.entry(org.organisation_id, "resource", _uuid(agent_id))
            except NotFound:
                return False
            return (agent.active and agent.fields["kind"] == "agent"
                    and within_working_hours(agent.fields["working_hours"], org.tz, slot)
                    and agent_id not in self.tables.busy_agents(org.organisation_id, slot, exclude))
        return is_free

    def _meta(self, actor: dict[str, str], correlation_id: str) -> Meta:
        return Meta(actor, correlation_id, self.clock.now())


def _check_version(aggregate: Aggregate, expected: int | None) -> None:
    if expected is not None and expected != aggregate.version:
        raise errors.StaleVersion(aggregate.version)


def _calendar_row(a: Appointment) -> CalendarRow:
    """The agent's time this appointment holds (none unless lifecycle.holds_time)."""
    holds = a.slot and a.agent_id and lifecycle.holds_time(a.status, a.status_kind)
    return CalendarRow(str(a.id), a.organisation_id, a.agent_id if holds else None, a.slot)


def _uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as e:
        raise NotFound(f"no such id {value}") from e
