"""The waitlist view's query and answer (marshmallow -> OpenAPI)."""
from __future__ import annotations

from datetime import datetime

from marshmallow import Schema, fields, validate
from webargs.fields import DelimitedList

from services.projections.domain.waitlist import STATUSES
from services.projections.entrypoints.schemas import FreshArgs
from shared import paging

ID_LENGTH = 100   # characters of an id filter


class WaitlistArgs(paging.query(datetime, str), FreshArgs):  # type: ignore[misc]
    """`limit` (1-200, default 50) and `cursor` (shared/paging.py), in join order."""
    service_id = fields.String(validate=validate.Length(min=1, max=ID_LENGTH))
    status = DelimitedList(fields.String(validate=validate.OneOf(STATUSES)),
                           validate=validate.Length(min=1, max=len(STATUSES)),
                           metadata={"description": "comma separated: "
                                                    + ", ".join(STATUSES)})


class Offer(Schema):
    slot = fields.Dict(metadata={"description": "{start, end}: the slot held for the client"})
    agent_id = fields.String()
    until = fields.DateTime(metadata={"description": "the hold's end"})


class WaitlistClient(Schema):
    id = fields.String(allow_none=True, metadata={"description": "null: a tentative contact"})
    name = fields.String(allow_none=True, metadata={"description": "'erased' once erased"})
    tentative = fields.Boolean()


class WaitlistEntry(Schema):
    id = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"enum": list(STATUSES)})
    service = fields.Dict(metadata={"description": "{id, name}"})
    client = fields.Nested(WaitlistClient)
    agent_id = fields.String(allow_none=True, metadata={"description": "the agent wished for"})
    date = fields.Date(allow_none=True, metadata={"description": "the local day wished for"})
    part_of_day = fields.String(allow_none=True)
    source = fields.String(allow_none=True)
    offer = fields.Nested(Offer, allow_none=True, metadata={
        "description": "the open offer (status offered), else null"})
    appointment_id = fields.String(allow_none=True, metadata={
        "description": "the request or appointment an accepted offer made"})
    joined_at = fields.DateTime()
    updated_at = fields.DateTime(allow_none=True)


WaitlistPage = paging.envelope(WaitlistEntry)
