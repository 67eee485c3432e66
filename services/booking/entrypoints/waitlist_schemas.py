"""The waitlist's request bodies, query and answers (OpenAPI), README "Reminders, holds
and the waitlist" for the limits."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.booking.domain.waitlist import STATUSES
from services.booking.entrypoints.answers import (
    Answer,
    ClientRef,
    Instant,
    Nullable,
    ServiceRef,
    SlotAnswer,
)
from services.booking.entrypoints.schemas import Source, TentativeClientSchema
from shared import paging
from shared.input import Day, Text


class JoinWaitlistSchema(Schema):
    service_id = fields.UUID(required=True)
    client_id = fields.UUID()
    tentative_client = fields.Nested(TentativeClientSchema, data_key="client")
    agent_id = fields.UUID()
    date = Day(metadata={"description": "only slots on this day (organisation's time zone)"})
    part_of_day = Text(64, 1, metadata={"description": "one of the organisation's parts_of_day"})
    source = Source("api")

    @validates_schema
    def _one_client(self, data: dict[str, Any], **_: Any) -> None:
        if (data.get("client_id") is None) == (data.get("tentative_client") is None):
            raise ValidationError("give exactly one of: client_id, client", "client_id")


class WaitlistQuery(paging.query(int, maximum=100)):  # type: ignore[misc]
    service_id = fields.UUID()
    status = fields.String(validate=validate.OneOf(STATUSES))


class Offer(Answer):
    slot = fields.Nested(SlotAnswer)
    agent_id = fields.String(metadata={"format": "uuid"})
    until = Instant("the hold's end; ")


class WaitlistEntry(Answer):
    id = fields.String(metadata={"format": "uuid"})
    organisation_id = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    service = fields.Nested(ServiceRef)
    client = fields.Nested(ClientRef)
    agent_id = Nullable(fields.String(metadata={"format": "uuid"}))
    date = Nullable(fields.String(metadata={"format": "date"}))
    part_of_day = Nullable(fields.String())
    source = fields.String()
    offer = Nullable(fields.Nested(Offer))
    appointment_id = Nullable(fields.String(metadata={
        "format": "uuid", "description": "the request or appointment an accepted offer made"}))
    joined_at = Instant()
    updated_at = Instant()


class WaitlistEntryResult(Answer):
    entry = fields.Nested(WaitlistEntry)
    version = fields.Integer()
    position = Nullable(fields.Integer())


class OfferDescription(Answer):
    action = fields.String()
    possible = fields.Boolean()
    used = fields.Boolean()
    offer = Nullable(fields.Nested(Offer))
    service = fields.String()
    organisation = fields.Dict()
