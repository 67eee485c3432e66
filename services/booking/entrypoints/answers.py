"""The JSON bodies booking answers, described for the OpenAPI document.

Views return `respond(...)` (a Response), so these schemas document the
answers and never filter them; `tests/security/test_fuzz_openapi.py` checks
real answers against them (schemathesis response conformance).
"""
from __future__ import annotations

from marshmallow import Schema, fields


def Nullable(field: fields.Field) -> fields.Field:
    field.allow_none = True
    return field


class SlotAnswer(Schema):
    start = fields.String(metadata={"format": "date-time"})
    end = fields.String(metadata={"format": "date-time"})


class WindowAnswer(Schema):
    date = fields.String(metadata={"format": "date"})
    part_of_day = fields.String()
    start = fields.String(metadata={"description": "start of the part of day, HH:MM"})
    end = fields.String(metadata={"description": "end of the part of day, HH:MM"})


class ServiceRef(Schema):
    id = fields.String(metadata={"format": "uuid"})
    name = fields.String()
    duration_minutes = fields.Integer()


class ClientRef(Schema):
    id = Nullable(fields.String(metadata={"description": "null while the client is tentative"}))
    name = fields.String()
    email = Nullable(fields.String())
    phone = Nullable(fields.String())
    tentative = fields.Boolean()


class WorkflowRef(Schema):
    id = fields.String()
    version = fields.Integer()


class Appointment(Schema):
    id = fields.String(metadata={"format": "uuid"})
    organisation_id = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"description": "status key (built-in or custom workflow)"})
    status_kind = fields.String(metadata={"description": "request, confirmation, completion, "
                                                         "cancellation or rejection"})
    status_name = fields.String(metadata={"description": "display name of the status"})
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
    outcome = Nullable(fields.Dict())
    feedback = Nullable(fields.Dict())
    feedback_requested_on = Nullable(fields.String(metadata={"format": "date"}))
    requested_at = fields.String(metadata={"format": "date-time"})
    confirmed_at = Nullable(fields.String(metadata={"format": "date-time"}))
    updated_at = fields.String(metadata={"format": "date-time"})


class AppointmentResult(Schema):
    appointment = fields.Nested(Appointment)
    version = fields.Integer()
    position = Nullable(fields.Integer(metadata={
        "description": "notification id of the last stored event (give it as min_position to "
                       "the read models); null when nothing changed"}))


class InternalNote(Schema):
    id = fields.String()
    text = fields.String()
    at = fields.String(metadata={"format": "date-time"})
    author = fields.Dict(metadata={"description": "who wrote it: id and role"})


class Notes(Schema):
    notes = fields.List(fields.Nested(InternalNote))
    version = fields.Integer()


class OrganisationSettings(Schema):
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


class OrganisationResult(Schema):
    organisation = fields.Nested(OrganisationSettings)
    version = fields.Integer()
    position = Nullable(fields.Integer())


class Entry(Schema):
    """A service, resource or client of the directory (fields as written, with defaults)."""
    id = fields.String(metadata={"format": "uuid"})
    organisation_id = fields.String()
    version = fields.Integer()
    name = fields.String()
    active = fields.Boolean()


def entry_result(kind: str) -> type[Schema]:
    """`{<kind>: {...}, version, position}`: one entry as created, changed or read."""
    return Schema.from_dict({kind: fields.Nested(Entry), "version": fields.Integer(),
                             "position": Nullable(fields.Integer())},
                            name=f"{kind.capitalize()}Result")


def entry_list(path: str) -> type[Schema]:
    """`{<path>: [...]}`: the entries of one kind, by name."""
    return Schema.from_dict({path: fields.List(fields.Nested(Entry))},
                            name=f"{path.capitalize()}List")


class Agents(Schema):
    agents = fields.List(fields.Nested(Entry), metadata={
        "description": "active agent resources free at the slot"})


class Clients(Schema):
    clients = fields.List(fields.Nested(Entry))


class LinkAppointment(Schema):
    id = fields.String(metadata={"format": "uuid"})
    status = fields.String()
    slot = Nullable(fields.Nested(SlotAnswer))
    window = Nullable(fields.Nested(WindowAnswer))
    proposal = Nullable(fields.Nested(SlotAnswer))
    service = fields.String(metadata={"description": "the service's name"})
    client = fields.String(metadata={"description": "the client's name"})


class LinkDescription(Schema):
    action = fields.String()
    possible = Nullable(fields.Boolean(metadata={
        "description": "null when the workflow cannot be asked right now"}))
    used = fields.Boolean()
    appointment = fields.Nested(LinkAppointment)
    organisation = fields.Dict()
    cancellation_reasons = fields.List(fields.String())
    reason_required = fields.Boolean()


class FeedEvent(Schema):
    topic = fields.String()
    key = fields.String()
    event = fields.Dict(metadata={"description": "the CloudEvent (structured JSON)"})


class Feed(Schema):
    events = fields.List(fields.Nested(FeedEvent))
    next_after = fields.Integer(metadata={"description": "give it as `after` for the next page"})
