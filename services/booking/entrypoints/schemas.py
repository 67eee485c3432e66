"""Request bodies (marshmallow): bad input is a 422 naming the field and the reason."""
from __future__ import annotations

import uuid
from typing import Any

from marshmallow import Schema, ValidationError, fields, post_load, validate, validates_schema

from services.booking.application.commands import TentativeClient
from services.booking.domain.values import HHMM, WEEKDAYS
from shared import input as limits
from shared import paging
from shared.input import Details as DetailsField
from shared.input import Email, Instant, Phone, StrictBoolean, StrictInteger, Text

MAX_REMINDERS, MAX_REMINDER_OFFSET = 5, 30 * 24 * 60
hhmm = validate.Regexp(HHMM, error="must be a time HH:MM")
Interval = fields.List(fields.String(validate=hhmm), validate=validate.Length(equal=2))


def Reasons() -> fields.List:
    return fields.List(Text(limits.REASON, 1), validate=validate.Length(max=limits.LIST_ITEMS))


def Ids() -> fields.List:
    return fields.List(fields.UUID(), validate=validate.Length(max=limits.LIST_ITEMS))


def Message() -> fields.String:
    return Text(limits.MESSAGE)


def Source(default: str) -> fields.String:
    return fields.String(load_default=default,
                         validate=validate.OneOf(["widget", "phone", "agent", "api"]))


class SlotSchema(Schema):
    start = Instant(required=True)
    end = Instant(required=True)

    @validates_schema
    def _ordered(self, data: dict[str, Any], **_: Any) -> None:
        if data["end"] <= data["start"]:
            raise ValidationError("must be after start", "end")


class WindowSchema(Schema):
    date = fields.Date(required=True)
    part_of_day = Text(64, required=True)


class TentativeClientSchema(Schema):
    name = Text(limits.NAME, 1, required=True)
    email = Email(load_default=None)
    phone = Phone(load_default=None)

    @validates_schema
    def _reachable(self, data: dict[str, Any], **_: Any) -> None:
        if not data.get("email") and not data.get("phone"):
            raise ValidationError("give an email or a phone number", "email")

    @post_load
    def _command(self, data: dict[str, Any], **_: Any) -> TentativeClient:
        return TentativeClient(**data)


def _one_of(data: dict[str, Any], *names: str) -> None:
    if sum(data.get(n) is not None for n in names) != 1:
        raise ValidationError(f"give exactly one of: {', '.join(names)}", names[0])


class Details(Schema):
    questionnaire = DetailsField()
    metadata = DetailsField()


class RequestSchema(Details):
    service_id = fields.UUID(required=True)
    client_id = fields.UUID()
    tentative_client = fields.Nested(TentativeClientSchema, data_key="client")
    agent_id = fields.UUID()
    resource_ids = Ids()
    slot = fields.Nested(SlotSchema)
    window = fields.Nested(WindowSchema)
    source = Source("api")
    message = Message()

    @validates_schema
    def _choices(self, data: dict[str, Any], **_: Any) -> None:
        _one_of(data, "client_id", "tentative_client")
        _one_of(data, "slot", "window")


class CreateForClientSchema(Details):
    service_id = fields.UUID(required=True)
    client_id = fields.UUID(required=True)
    agent_id = fields.UUID()
    resource_ids = Ids()
    slot = fields.Nested(SlotSchema, required=True)
    status = Text(64, 1, required=True)
    note = Text(limits.NOTE, 1)
    message = Message()
    source = Source("agent")


class MessageSchema(Schema):
    message = Message()


class ConfirmSchema(MessageSchema):
    slot = fields.Nested(SlotSchema)
    agent_id = fields.UUID()


class RescheduleSchema(MessageSchema):
    slot = fields.Nested(SlotSchema, required=True)


class ReassignSchema(MessageSchema):
    agent_id = fields.UUID(required=True)


class NoteSchema(Schema):
    text = Text(limits.NOTE, 1, required=True)


class DetailsSchema(Details):
    service_id = fields.UUID()
    resource_ids = Ids()


class LinkClientSchema(Schema):
    client_id = fields.UUID(required=True)


class EmptySchema(Schema):
    pass


class CancelSchema(MessageSchema):
    reason = Text(limits.REASON, 1)


class RejectSchema(MessageSchema):
    reason = Text(limits.REASON, 1, required=True)


class AttendSchema(Schema):
    time_taken_minutes = StrictInteger(validate=validate.Range(min=0, max=24 * 60))
    completion_reason = Text(limits.REASON)
    remark = Text(limits.NOTE)


class MoveSchema(CancelSchema):
    status = Text(64, 1, required=True)


class ProposeTimeSchema(MessageSchema):
    slot = fields.Nested(SlotSchema, required=True)


class FeedbackSchema(Schema):
    rating = StrictInteger(required=True, validate=validate.Range(min=1, max=5))
    comment = Text(limits.NOTE)


class AvailabilityQuery(Schema):
    start = Instant()
    end = Instant()


class VersionQuery(Schema):
    version = fields.Integer(validate=validate.Range(min=1))
    as_of = Instant(metadata={"description": "the state at this instant (ISO 8601 with an "
                                             "offset): the last version whose event time is "
                                             "at or before it; not with version"})

    @validates_schema
    def _one_moment(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("version") is not None and data.get("as_of") is not None:
            raise ValidationError("give version or as_of, not both", "as_of")


class LinkQuery(Schema):
    token = Text(2_000, required=True)


class EventsQuery(paging.query(int, default=100, maximum=1000)):  # type: ignore[misc]
    after = fields.Integer(load_default=0, validate=validate.Range(min=0), metadata={
        "description": "the first page starts after this position (0: the beginning); "
                       "the next pages follow `next_cursor`"})


# -- directory ---------------------------------------------------------------------------

class RemindersSchema(Schema):
    """When reminders go out before an appointment's start, and on which channels."""
    offsets_minutes = fields.List(
        StrictInteger(validate=validate.Range(min=1, max=MAX_REMINDER_OFFSET)), required=True,
        validate=validate.Length(max=MAX_REMINDERS),
        metadata={"description": "minutes before the start, 1..43200 (30 days), at most 5; "
                                 "[] sends none"})
    channels = fields.List(fields.String(validate=validate.OneOf(["email", "sms"])),
                           required=True, validate=validate.Length(max=2),
                           metadata={"description": "a subset of email, sms"})

    @validates_schema
    def _distinct(self, data: dict[str, Any], **_: Any) -> None:
        for name in ("offsets_minutes", "channels"):
            if len(set(data[name])) != len(data[name]):
                raise ValidationError("must not repeat a value", name)


class OrganisationSchema(Schema):
    name = Text(limits.NAME, 1)
    timezone = Text(64)
    email = Email(allow_none=True)
    phone = Phone(allow_none=True)
    address = Text(limits.ADDRESS, allow_none=True)
    channels = fields.Dict(keys=fields.String(validate=validate.OneOf(["email", "sms"])),
                           values=StrictBoolean())
    retention_days = StrictInteger(validate=validate.Range(min=1, max=36500))
    parts_of_day = fields.Dict(keys=Text(64, 1), values=Interval,
                               validate=validate.Length(max=limits.LIST_ITEMS))
    cancellation_reasons = Reasons()
    cancel_reason_required = StrictBoolean()
    rejection_reasons = Reasons()
    reschedule_needs_reconfirmation = StrictBoolean()
    no_show_after_minutes = StrictInteger(
        allow_none=True, validate=validate.Range(min=0, max=10080), metadata={
            "description": "minutes after a slot's end when an appointment still scheduled or "
                           "reopened becomes no_show (reason automatic); null: off"})
    late_cancellation_notice_hours = StrictInteger(
        allow_none=True, validate=validate.Range(min=0, max=720), metadata={
            "description": "a cancellation fewer hours than this before the start records the "
                           "outcome late_cancellation; null: off"})
    hold_minutes = StrictInteger(validate=validate.Range(min=1, max=1440), metadata={
        "description": "how long a request for an exact slot with an agent holds that time"})
    reminders = fields.Nested(RemindersSchema, metadata={
        "description": "default {\"offsets_minutes\": [1440, 120], \"channels\": [\"email\", \"sms\"]}"})


class ServiceSchema(Schema):
    name = Text(limits.NAME, 1, required=True)
    duration_minutes = StrictInteger(validate=validate.Range(min=1, max=24 * 60))
    confirmation_mode = fields.String(validate=validate.OneOf(["automatic", "manual"]))
    workflow_id = Text(100, 1, allow_none=True)
    active = StrictBoolean()
    reminders = fields.Nested(RemindersSchema, allow_none=True, metadata={
        "description": "this service's reminders; null (the default): the organisation's"})


class ResourceSchema(Schema):
    name = Text(limits.NAME, 1, required=True)
    kind = fields.String(validate=validate.OneOf(["agent", "location", "equipment"]))
    email = Email(allow_none=True)
    phone = Phone(allow_none=True)
    address = Text(limits.ADDRESS, allow_none=True)
    working_hours = fields.Dict(keys=fields.String(validate=validate.OneOf(WEEKDAYS)),
                                values=fields.List(Interval, validate=validate.Length(max=24)))
    active = StrictBoolean()


class ClientSchema(Schema):
    name = Text(limits.NAME, 1, required=True)
    email = Email(allow_none=True)
    phone = Phone(allow_none=True)
    active = StrictBoolean()


EntryPageQuery: type[Schema] = paging.query(str, uuid.UUID)  # by (name, id)


class ClientQuery(EntryPageQuery):  # type: ignore[valid-type,misc]
    email = Text(limits.EMAIL)
    phone = Text(20)

