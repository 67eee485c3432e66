"""BookingBase: booking's event store and the steps every command shares.

Reads, directory commands and appointment commands (reads.py, directory_commands.py,
appointment_commands.py) build on it, and BookingApplication (app.py) is all of them.
A command on an appointment takes the same steps through the helpers here: load
(`_load`: tenancy and If-Match) -> resolve directory ids (`_usable`, `_agent`) -> ask
the workflow authority (`_allow`) -> call the aggregate -> save (`_save`: events, side
tables and the idempotent answer in one transaction).
"""
from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from eventsourcing.application import AggregateNotFoundError, Application, Recording, Repository
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from services.booking.application import cache, timers, waitlist_timers
from services.booking.application.clock import Clock
from services.booking.application.ports import (
    Answer,
    CalendarRow,
    EntryRow,
    Erasure,
    SideWrites,
    Tables,
    saving_for,
)
from services.booking.application.workflow_client import WorkflowPort
from services.booking.domain import errors
from services.booking.domain.appointment import Appointment, Context
from services.booking.domain.directory import KINDS, DirectoryEntry, within_working_hours
from services.booking.domain.meta import Meta
from services.booking.domain.organisation import Organisation, organisation_uuid
from services.booking.domain.transitions import Transition, intended_status
from services.booking.domain.values import Slot
from services.booking.domain.waitlist import WaitlistEntry
from shared import links
from shared.domain import lifecycle
from shared.domain.lifecycle import Definition
from shared.errors import Invalid, NotFound

A = TypeVar("A", bound=Aggregate)
SYSTEM = {"id": "booking", "role": "system"}


@dataclass(frozen=True)
class Caller:
    organisation_id: str
    actor: dict[str, str]
    correlation_id: str = ""
    answer: Answer | None = None   # the first answer to record under an Idempotency-Key
    # The organisation as the HTTP layer read it for the answer's zone (read once a request).
    organisation: Organisation | None = field(default=None, compare=False, repr=False)


class BookingBase(Application[uuid.UUID]):
    log_section_size = 1000
    # A client's personal data is sealed in stored events with their key (keys.py).
    env = {"MAPPER_TOPIC": "services.booking.adapters.sealing:SealingMapper"}

    def __init__(self, env: dict[str, str] | None = None, *, workflow: WorkflowPort, clock: Clock,
                 tables: Tables | None = None) -> None:
        super().__init__(env)
        self.workflow = workflow
        self.clock = clock
        # PostgreSQL tables are given; the in-memory recorder carries its own.
        self.tables: Tables = tables or self.recorder.tables  # type: ignore[attr-defined]
        self.mapper.keys = self.tables.keys  # type: ignore[attr-defined]
        self.repository.keys = self.tables.keys  # type: ignore[attr-defined]

    def construct_repository(self) -> Repository[uuid.UUID]:
        """Aggregates cached per process, fast-forwarded on every load (cache.py)."""
        return cache.SealedRepository(self.events, cache.cache_size())

    def close(self) -> None:
        close_tables = getattr(self.tables, "close", None)
        if close_tables:
            close_tables()
        super().close()

    # -- loading by id and saving ---------------------------------------------------------

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

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[uuid.UUID]]:
        """Every save names its one organisation beside its events (the feed's scope)."""
        orgs = {getattr(o, "organisation_id", None) for o in objs if o is not None}
        if len(orgs) != 1 or None in orgs:
            raise ValueError(f"a save belongs to exactly one organisation, not {orgs}")
        side = kwargs["side"] = kwargs.get("side") or SideWrites()
        side.organisation_id = orgs.pop()
        token = saving_for.set(side.organisation_id)
        try:
            return super().save(*objs, **kwargs)
        finally:
            saving_for.reset(token)

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
        """The organisation, created with defaults (and saved) on first use; the one the
        caller carries when it is stored already."""
        known = caller.organisation
        if (known is not None and known.organisation_id == caller.organisation_id
                and not known.pending_events):
            return known
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

    # -- the path every appointment command shares ---------------------------------------

    def _load(self, caller: Caller, appointment_id: uuid.UUID,
              expected_version: int | None) -> tuple[Appointment, Organisation]:
        """The caller's appointment at the version it expects (If-Match), and its organisation."""
        appointment = self.appointment(caller.organisation_id, appointment_id)
        check_version(appointment, expected_version)
        return appointment, self._organisation_for(caller)

    def _by_link(self, claims: links.LinkClaims, correlation_id: str,
                 answer: Answer | None) -> tuple[Caller, Appointment, Organisation]:
        """The appointment of an unused link, and the client acting on it."""
        appointment = self._get(None, to_uuid(claims.appointment_id), Appointment)
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
                          verdict.workflow, status.name if status else verdict.to_status,
                          status.colour if status else None)

    def _save(self, caller: Caller, kind: str, primary: Any, *others: Aggregate,
              org: Organisation | None = None,
              erase: Erasure | None = None) -> dict[str, Any]:
        body = {kind: primary.snapshot(), "version": primary.version}
        side = SideWrites(answer=caller.answer, erase=erase)
        if caller.answer is not None:
            caller.answer.body = body
        for aggregate in (primary, *others):
            if isinstance(aggregate, Appointment):
                side.calendar.append(_calendar_row(aggregate))
                org = org or self.organisation(aggregate.organisation_id)
                side.timers += timers.plan(aggregate, org)
            if isinstance(aggregate, WaitlistEntry):
                side.calendar.append(waitlist_timers.calendar_row(aggregate))
                side.waitlist.append(waitlist_timers.listed(aggregate))
                side.timers += waitlist_timers.plan(aggregate)
            if isinstance(aggregate, DirectoryEntry):
                side.entries.append(EntryRow(str(aggregate.id), aggregate.organisation_id,
                                             aggregate.kind, aggregate.snapshot()))
        # A slot an appointment or an offer no longer holds goes to the waitlist.
        side.timers += waitlist_timers.freed(self.tables, (primary, *others), side.calendar,
                                             self.clock.now())
        # Rows that free time first: time handed over in this save is free when taken.
        side.calendar.sort(key=lambda row: row.agent_id is not None)
        try:
            recordings = self.save(primary, *others, side=side)
        except IntegrityError as e:
            if self.tables.is_overlap(e):
                raise errors.AgentNotAvailable(str(getattr(primary, "agent_id", ""))) from e
            raise errors.StaleVersion(self.repository.get(primary.id).version) from e
        # Nothing changed (e.g. settings equal to the current ones): nothing recorded.
        body["position"] = recordings[-1].notification.id if recordings else None
        return body

    def _usable(self, organisation_id: str, kind: str, entry_id: Any, field: str) -> Any:
        try:
            entry = self.entry(organisation_id, kind, to_uuid(entry_id))
        except NotFound as e:
            raise Invalid(field, f"no {kind} {entry_id} in this organisation") from e
        if not entry.active:
            raise Invalid(field, f"{kind} {entry_id} is not active")
        return entry

    def _context(self, caller: Caller, org: Organisation, exclude: str | None) -> Context:
        return Context(self._meta(caller.actor, caller.correlation_id), org,
                       self._availability(org, exclude))

    def _availability(self, org: Organisation, exclude: str | None) -> Callable[[str, Slot], bool]:
        def is_free(agent_id: str, slot: Slot) -> bool:
            try:
                agent = self.entry(org.organisation_id, "resource", to_uuid(agent_id))
            except NotFound:
                return False
            return (agent.active and agent.fields["kind"] == "agent"
                    and within_working_hours(agent.fields["working_hours"], org.tz, slot)
                    and agent_id not in self.tables.busy_agents(org.organisation_id, slot, exclude))
        return is_free

    def _meta(self, actor: dict[str, str], correlation_id: str) -> Meta:
        return Meta(actor, correlation_id, self.clock.now())


def check_version(aggregate: Aggregate, expected: int | None) -> None:
    if expected is not None and expected != aggregate.version:
        raise errors.StaleVersion(aggregate.version)


def _calendar_row(a: Appointment) -> CalendarRow:
    """The agent's time this appointment holds (none unless lifecycle.holds_time)."""
    holds = a.slot and a.agent_id and (lifecycle.holds_time(a.status, a.status_kind)
                                       or a.held_until() is not None)
    return CalendarRow(str(a.id), a.organisation_id, a.agent_id if holds else None, a.slot)


def to_uuid(value: Any) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as e:
        raise NotFound(f"no such id {value}") from e
