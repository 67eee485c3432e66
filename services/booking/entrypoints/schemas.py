"""Request bodies (marshmallow): bad input is a 422 naming the field and the reason."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.booking.domain.values import E164, HHMM, WEEKDAYS

Text = fields.String
phone = validate.Regexp(E164, error="must be an E.164 phone number like +441234567890")
hhmm = validate.Regexp(HHMM, error="must be a time HH:MM")
Interval = fields.List(fields.String(validate=hhmm), validate=validate.Length(equal=2))


class SlotSchema(Schema):
    start = fields.AwareDateTime(required=True)
    end = fields.AwareDateTime(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError("must be after start", "end")


class WindowSchema(Schema):
    date = fields.Date(required=True)
    part_of_day = Text(required=True)


class TentativeClientSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(load_default=None)
    phone = Text(load_default=None, validate=phone)

    @validates_schema
    def _reachable(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("email") and not data.get("phone"):
            raise ValidationError("give an email or a phone number", "email")


def _one_of(data: dict[str, Any], *names: str) -> None:
    if sum(data.get(n) is not None for n in names) != 1:
        raise ValidationError(f"give exactly one of: {', '.join(names)}", names[0])


class Details(Schema):
    questionnaire = fields.Dict(keys=Text())
    metadata = fields.Dict(keys=Text())


class RequestSchema(Details):
    service_id = fields.UUID(required=True)
    client_id = fields.UUID()
    tentative_client = fields.Nested(TentativeClientSchema, data_key="client")
    agent_id = fields.UUID()
    resource_ids = fields.List(fields.UUID())
    slot = fields.Nested(SlotSchema)
    window = fields.Nested(WindowSchema)
    source = Text(load_default="api", validate=validate.OneOf(["widget", "phone", "agent", "api"]))
    message = Text()

    @validates_schema
    def _choices(self, data: dict[str, Any], **_: Any) -> None:
        _one_of(data, "client_id", "tentative_client")
        _one_of(data, "slot", "window")


class CreateForClientSchema(Details):
    service_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    agent_id = fields.UUID()
    resource_ids = fields.List(fields.UUID())
    slot = fields.Nested(SlotSchema, required=True)
    status = Text(required=True)
    note = Text(validate=validate.Length(min=1, max=5000))
    message = Text()
    source = Text(load_default="agent", validate=validate.OneOf(["widget", "phone", "agent", "api"]))


class MessageSchema(Schema):
    message = Text()


class ConfirmSchema(MessageSchema):
    slot = fields.Nested(SlotSchema)
    agent_id = fields.UUID()


class RescheduleSchema(MessageSchema):
    slot = fields.Nested(SlotSchema, required=True)


class ReassignSchema(MessageSchema):
    agent_id = fields.UUID(required=True)


class NoteSchema(Schema):
    text = Text(required=True, validate=validate.Length(min=1, max=5000))


class DetailsSchema(Details):
    service_id = fields.UUID()
    resource_ids = fields.List(fields.UUID())


class LinkClientSchema(Schema):
    client_id = fields.UUID(required=True)


class EmptySchema(Schema):
    pass


class CancelSchema(MessageSchema):
    reason = Text(validate=validate.Length(min=1, max=500))


class RejectSchema(MessageSchema):
    reason = Text(required=True, validate=validate.Length(min=1, max=500))


class AttendSchema(Schema):
    time_taken_minutes = fields.Integer(validate=validate.Range(min=0, max=24 * 60))
    completion_reason = Text(validate=validate.Length(max=500))
    remark = Text(validate=validate.Length(max=5000))


class MoveSchema(CancelSchema):
    status = Text(required=True)


class ProposeTimeSchema(MessageSchema):
    slot = fields.Nested(SlotSchema, required=True)


class FeedbackSchema(Schema):
    rating = fields.Integer(required=True, validate=validate.Range(min=1, max=5))
    comment = Text(validate=validate.Length(max=5000))


class AvailabilityQuery(Schema):
    start = fields.AwareDateTime()
    end = fields.AwareDateTime()


class VersionQuery(Schema):
    version = fields.Integer(validate=validate.Range(min=1))


class LinkQuery(Schema):
    token = Text(required=True)


class EventsQuery(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(min=0))
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=1000))


# -- directory ---------------------------------------------------------------------------

class OrganisationSchema(Schema):
    name = Text(validate=validate.Length(min=1, max=200))
    timezone = Text()
    email = fields.Email(allow_none=True)
    phone = Text(allow_none=True, validate=phone)
    address = Text(allow_none=True)
    channels = fields.Dict(keys=Text(validate=validate.OneOf(["email", "sms"])),
                           values=fields.Boolean())
    retention_days = fields.Integer(validate=validate.Range(min=1, max=36500))
    parts_of_day = fields.Dict(keys=Text(validate=validate.Length(min=1)), values=Interval)
    cancellation_reasons = fields.List(Text(validate=validate.Length(min=1)))
    cancel_reason_required = fields.Boolean()
    rejection_reasons = fields.List(Text(validate=validate.Length(min=1)))
    reschedule_needs_reconfirmation = fields.Boolean()


class ServiceSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    duration_minutes = fields.Integer(validate=validate.Range(min=1, max=24 * 60))
    confirmation_mode = Text(validate=validate.OneOf(["automatic", "manual"]))
    workflow_id = Text(allow_none=True)
    active = fields.Boolean()


class ResourceSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    kind = Text(validate=validate.OneOf(["agent", "location", "equipment"]))
    email = fields.Email(allow_none=True)
    phone = Text(allow_none=True, validate=phone)
    address = Text(allow_none=True)
    working_hours = fields.Dict(keys=Text(validate=validate.OneOf(WEEKDAYS)),
                                values=fields.List(Interval))
    active = fields.Boolean()


class ClientSchema(Schema):
    name = Text(required=True, validate=validate.Length(min=1, max=200))
    email = fields.Email(allow_none=True)
    phone = Text(allow_none=True, validate=phone)
    active = fields.Boolean()


class ClientQuery(Schema):
    email = Text()
    phone = Text()


# -- answers (documentation of the JSON bodies) ------------------------------------------

class AppointmentResult(Schema):
    appointment = fields.Dict()
    version = fields.Integer()
    position = fields.Integer(metadata={"description": "notification id of the last stored event"})
