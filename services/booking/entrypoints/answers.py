"""The JSON bodies booking answers, described for the OpenAPI document.

Views return `respond(...)` (a Response), so these schemas document the
answers and never filter them; `tests/security/test_fuzz_openapi.py` checks
real answers against them (schemathesis response conformance).
"""
from __future__ import annotations

import functools

from marshmallow import INCLUDE, Schema, fields

from shared.instants import DESCRIBED


class Answer(Schema):
    """An answer may carry more keys than described (documented: additionalProperties)."""

    class Meta:
        unknown = INCLUDE


def Nullable(field: fields.Field) -> fields.Field:
    field.allow_none = True
    return field


def Instant(description: str = "") -> fields.String:
    """An instant of an answer (shared/instants.py renders it)."""
    return fields.String(metadata={"format": "date-time",
                                   "description": f"{description}{DESCRIBED}"})


class SlotAnswer(Answer):
    start = Instant()
    end = Instant()


class WindowAnswer(Answer):
    date = fields.String(metadata={"format": "date"})
    part_of_day = fields.String()
    start = fields.String(metadata={"description": "start of the part of day, HH:MM"})
    end = fields.String(metadata={"description": "end of the part of day, HH:MM"})


class ServiceRef(Answer):
    id = fields.String(metadata={"format": "uuid"})
    name = fields.String()
    duration_minutes = fields.Integer()


class ClientRef(Answer):
    id = Nullable(fields.String(metadata={"description": "null while the client is tentative"}))
    name = fields.String()
    email = Nullable(fields.String())
    phone = Nullable(fields.String())
    tentative = fields.Boolean()


class WorkflowRef(Answer):
    id = fields.String()
    version = fields.Integer()


class Appointment(Answer):
    id = fields.String(metadata={"format": "uuid"})
    organisation_id = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"description": "status key (built-in or custom workflow)"})
    status_kind = fields.String(metadata={"description": "request, confirmation, completion, "
                                                         "cancellation or rejection"})
    status_name = fields.String(metadata={"description": "display name of the status"})
    status_colour = fields.String(metadata={
        "description": "#rrggbb of the status in the workflow version it was checked against "
                       "(absent while the status was recorded before events carried it)"})
    workflow = fields.Nested(WorkflowRef)
    service = fields.Nested(ServiceRef)
    client = fields.Nested(ClientRef)
    agent_id = Nullable(fields.String(metadata={"format": "uuid"}))
    resources = fields.List(fields.Dict())
    slot = Nullable(fields.Nested(SlotAnswer))
    window = Nullable(fields.Nested(WindowAnswer))
    proposal = Nullable(fields.Nested(SlotAnswer, metadata={
        "description": "a time the client proposed through a link"}))
    source = fields.String()
    questionnaire = fields.Dict()
    metadata = fields.Dict()
    outcome = Nullable(fields.Dict(metadata={
        "description": "attend's outcome; on a cancellation inside the organisation's "
                       "late_cancellation_notice_hours {kind: late_cancellation, ...}"}))
    feedback = Nullable(fields.Dict())
    hold_until = Instant("only while a request for an exact slot holds its agent's time "
                         "(hold_minutes): until when; ")
    feedback_requested_on = Nullable(fields.String(metadata={"format": "date"}))
    requested_at = Instant()
    confirmed_at = Nullable(Instant())
    updated_at = Instant()


class AppointmentResult(Answer):
    appointment = fields.Nested(Appointment)
    version = fields.Integer()
    position = Nullable(fields.Integer(metadata={
        "description": "notification id of the last stored event (give it as min_position to "
                       "the read models); null when nothing changed"}))


class InternalNote(Answer):
    id = fields.String()
    text = fields.String()
    at = Instant()
    author = fields.Dict(metadata={"description": "who wrote it: id and role"})


class Notes(Answer):
    """Every note of the appointment in one page (bounded by the appointment)."""
    items = fields.List(fields.Nested(InternalNote), required=True)
    next_cursor = fields.String(required=True, allow_none=True, metadata={
        "description": "always null: one page"})
    version = fields.Integer(metadata={"description": "the appointment's version (ETag)"})


class RemindersAnswer(Answer):
    offsets_minutes = fields.List(fields.Integer(), metadata={
        "description": "minutes before the start"})
    channels = fields.List(fields.String(), metadata={"description": "email and/or sms"})


class OrganisationSettings(Answer):
    id = fields.String()
    version = fields.Integer()
    name = fields.String()
    timezone = fields.String()
    email = Nullable(fields.String())
    phone = Nullable(fields.String())
    address = Nullable(fields.String())
    channels = fields.Dict(keys=fields.String(), values=fields.Boolean())
    retention_days = fields.Integer()
    parts_of_day = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    cancellation_reasons = fields.List(fields.String())
    cancel_reason_required = fields.Boolean()
    rejection_reasons = fields.List(fields.String())
    reschedule_needs_reconfirmation = fields.Boolean()
    no_show_after_minutes = Nullable(fields.Integer())
    late_cancellation_notice_hours = Nullable(fields.Integer())
    hold_minutes = fields.Integer()
    reminders = fields.Nested(RemindersAnswer, metadata={
        "description": "absent for an organisation created before reminders existed: the "
                       "default (1440 and 120 minutes, email and sms) applies"})


class OrganisationResult(Answer):
    organisation = fields.Nested(OrganisationSettings)
    version = fields.Integer()
    position = Nullable(fields.Integer())


class Entry(Answer):
    """A service, resource or client of the directory (fields as written, with defaults)."""
    id = fields.String(metadata={"format": "uuid"})
    organisation_id = fields.String()
    version = fields.Integer()
    name = fields.String()
    active = fields.Boolean()


class ServiceEntry(Entry):
    duration_minutes = fields.Integer()
    confirmation_mode = fields.String(metadata={"description": "automatic or manual"})
    workflow_id = Nullable(fields.String(metadata={"description": "null: the built-in one"}))
    reminders = Nullable(fields.Nested(RemindersAnswer, metadata={
        "description": "null (or absent): the organisation's reminders"}))


class ResourceEntry(Entry):
    kind = fields.String(metadata={"description": "agent, location or equipment"})
    email = Nullable(fields.String())
    phone = Nullable(fields.String())
    address = Nullable(fields.String())
    working_hours = fields.Dict(keys=fields.String(), values=fields.List(
        fields.List(fields.String())), metadata={"description": "weekday -> [[HH:MM, HH:MM]]"})


class ClientEntry(Entry):
    email = Nullable(fields.String())
    phone = Nullable(fields.String())


ENTRIES: dict[str, type[Entry]] = {"service": ServiceEntry, "resource": ResourceEntry,
                                   "client": ClientEntry}


@functools.cache  # one schema per kind, however many operations answer it
def entry_result(kind: str) -> type[Schema]:
    """`{<kind>: {...}, version, position}`: one entry as created, changed or read."""
    return Answer.from_dict({kind: fields.Nested(ENTRIES[kind]), "version": fields.Integer(),
                             "position": Nullable(fields.Integer())},
                            name=f"{kind.capitalize()}Result")


class LinkAppointment(Answer):
    id = fields.String(metadata={"format": "uuid"})
    status = fields.String()
    slot = Nullable(fields.Nested(SlotAnswer))
    window = Nullable(fields.Nested(WindowAnswer))
    proposal = Nullable(fields.Nested(SlotAnswer))
    service = fields.String(metadata={"description": "the service's name"})
    client = fields.String(metadata={"description": "the client's name"})


class LinkDescription(Answer):
    action = fields.String()
    possible = Nullable(fields.Boolean(metadata={
        "description": "null when the workflow cannot be asked right now"}))
    used = fields.Boolean()
    appointment = fields.Nested(LinkAppointment)
    organisation = fields.Dict()
    cancellation_reasons = fields.List(fields.String())
    reason_required = fields.Boolean()


class FeedEvent(Answer):
    topic = fields.String()
    key = fields.String()
    event = fields.Dict(metadata={"description": "the CloudEvent (structured JSON)"})

