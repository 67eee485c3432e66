"""Query parameters and answers of the query API (marshmallow -> OpenAPI)."""
from __future__ import annotations

from datetime import date, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from webargs.fields import DelimitedList

from services.projections.domain.statistics import PERIODS
from shared import openapi, paging
from shared.input import Day, within_years
from shared.instants import DESCRIBED
from shared.read_your_writes import min_position_field

MAX_RANGE_DAYS = 366


class DayOrTime(fields.Field):
    """An ISO 8601 date (a day in the organisation's time zone) or a date-time
    with a UTC offset."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any
                     ) -> date | datetime:
        if not isinstance(value, str):
            raise ValidationError("must be an ISO 8601 date or date-time")
        try:
            if len(value) == 10:
                day = date.fromisoformat(value)
                within_years(day)
                return day
            parsed = datetime.fromisoformat(value.replace(" ", "+"))
        except ValueError:
            raise ValidationError("must be an ISO 8601 date or date-time") from None
        if parsed.tzinfo is None:
            raise ValidationError("a date-time needs a UTC offset, e.g. 2026-11-23T09:00:00Z")
        within_years(parsed)
        return parsed


class AwareDateTime(DayOrTime):
    """A date-time with a UTC offset (or naive: then in the organisation's time zone)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        try:
            parsed = datetime.fromisoformat(str(value).replace(" ", "+"))
        except ValueError:
            raise ValidationError("must be an ISO 8601 date-time") from None
        if len(str(value)) == 10:
            raise ValidationError("must be a date-time, not a date")
        within_years(parsed.replace(tzinfo=None) if parsed.tzinfo is None else parsed)
        return parsed


class FreshArgs(Schema):
    min_position = min_position_field()


class RangeArgs(FreshArgs):
    from_ = DayOrTime(data_key="from", metadata={"description": "start (date: that local day)"})
    to = DayOrTime(metadata={"description": "end (date: inclusive local day; date-time: "
                                            "exclusive)"})

    @validates_schema
    def _ordered(self, data: dict[str, Any], **kwargs: Any) -> None:
        start, end = data.get("from_"), data.get("to")
        if start is None or end is None:
            return
        if type(start) is not type(end):
            raise ValidationError("give from and to both as dates or both as date-times", "to")
        if end < start:
            raise ValidationError("must not be before from", "to")
        if (end - start).days > MAX_RANGE_DAYS:
            raise ValidationError(f"the range may span at most {MAX_RANGE_DAYS} days", "to")


class CalendarArgs(paging.query(datetime, str, default=500, maximum=2000),  # type: ignore[misc]
                   RangeArgs):
    agent_id = fields.String(validate=validate.Length(min=1))
    resource_id = fields.String(validate=validate.Length(min=1),
                                metadata={"description": "any assigned resource (or agent)"})

    @validates_schema
    def _required(self, data: dict[str, Any], **kwargs: Any) -> None:
        for name, key in (("from_", "from"), ("to", "to")):
            if data.get(name) is None:
                raise ValidationError("is required", key)


class PageArgs(paging.query(datetime, str), FreshArgs):  # type: ignore[misc]
    """`limit` and `cursor` (shared/paging.py), ordered by (start, id)."""


class ListArgs(PageArgs, RangeArgs):
    status = DelimitedList(fields.String(validate=validate.Length(min=1)),
                           metadata={"description": "comma separated statuses"})
    agent_id = fields.String(validate=validate.Length(min=1))
    service_id = fields.String(validate=validate.Length(min=1))
    client_id = fields.String(validate=validate.Length(min=1))
    date = Day(metadata={"description": "one local day (instead of from/to)"})

    @validates_schema
    def _one_way(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("date") and (data.get("from_") or data.get("to")):
            raise ValidationError("give either date or from/to", "date")


class QueueArgs(PageArgs):
    include_confirmed = fields.Boolean(load_default=False)
    agent_id = fields.String(validate=validate.Length(min=1))
    service_id = fields.String(validate=validate.Length(min=1))


class AvailabilityArgs(FreshArgs):
    at = AwareDateTime(required=True, metadata={"description": "the moment (naive: local)"})
    duration_minutes = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1440))
    kind = fields.String(load_default="agent",
                         validate=validate.OneOf(["agent", "location", "equipment"]))
    exclude_appointment_id = fields.String(metadata={
        "description": "the appointment being reassigned does not count as busy"})


class StatisticsArgs(RangeArgs):
    agent_id = fields.String(validate=validate.Length(min=1))
    by_agent = fields.Boolean(load_default=False)
    period = fields.String(load_default="none", validate=validate.OneOf(PERIODS))

    @validates_schema
    def _dates(self, data: dict[str, Any], **kwargs: Any) -> None:
        for name, key in (("from_", "from"), ("to", "to")):
            if isinstance(data.get(name), datetime):
                raise ValidationError("must be a date", key)


class Ref(Schema):
    id = fields.String(allow_none=True)
    name = fields.String(allow_none=True)


class ClientRef(Ref):
    email = fields.String(allow_none=True, metadata={
        "description": "for staff roles; absent once the client is erased"})
    phone = fields.String(allow_none=True, metadata={
        "description": "E.164; for staff roles; absent once the client is erased"})


class Appointment(Schema):
    id = fields.String()
    version = fields.Integer()
    status = fields.String(metadata={"description": "status key (built-in or custom workflow)"})
    status_kind = fields.String(metadata={
        "description": "start, step, confirmation, cancellation, completion or final"})
    status_name = fields.String(metadata={
        "description": "display name of the status in the appointment's workflow version"})
    status_colour = fields.String(allow_none=True, metadata={
        "description": "#rrggbb of the status in the appointment's workflow version; null for a "
                       "custom status recorded before events carried colours"})
    requested = fields.Boolean(metadata={"description": "not confirmed yet (flagged)"})
    tentative = fields.Boolean(metadata={"description": "client not yet in the directory"})
    workflow = fields.Dict()
    service = fields.Nested(Ref)
    client = fields.Nested(ClientRef)
    agent_id = fields.String(allow_none=True)
    resources = fields.List(fields.Dict())
    slot = fields.Dict(allow_none=True, metadata={"description": f"start, end: {DESCRIBED}"})
    window = fields.Dict(allow_none=True)
    start = fields.DateTime(allow_none=True, metadata={"description": DESCRIBED})
    end = fields.DateTime(allow_none=True, metadata={"description": DESCRIBED})
    proposal = fields.Dict(allow_none=True, metadata={"description": f"start, end: {DESCRIBED}"})
    source = fields.String(allow_none=True)
    outcome = fields.Dict(allow_none=True)
    feedback = fields.Dict(allow_none=True)
    requested_at = fields.DateTime(allow_none=True, metadata={"description": DESCRIBED})
    confirmed_at = fields.DateTime(allow_none=True, metadata={"description": DESCRIBED})
    updated_at = fields.DateTime(allow_none=True, metadata={"description": DESCRIBED})
    past = fields.Boolean()


Page = paging.envelope(Appointment)  # the calendar, the list and the queue


class HistoryItem(Schema):
    version = fields.Integer()
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    status_kind = fields.String(allow_none=True)
    actor = fields.Dict()
    reason = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    at = fields.DateTime(metadata={"description": DESCRIBED})
    workflow = fields.Dict()
    correlation_id = fields.String(allow_none=True)
    source = fields.String(allow_none=True, metadata={
        "description": "agent, client_link, system or api"})
    link_id = fields.String(allow_none=True, metadata={"description": "the signed link used"})
    changes = fields.List(fields.Nested(openapi.HistoryChange), metadata={
        "description": "every field the event changed (shared/history.py); internal notes "
                       "(field note) for staff roles only"})


class History(Schema):
    appointment_id = fields.String()
    items = fields.List(fields.Nested(HistoryItem))


class ClientAppointments(Schema):
    client_id = fields.String()
    retention_days = fields.Integer(allow_none=True)
    current = fields.List(fields.Nested(Appointment))
    past = fields.List(fields.Nested(Appointment))


class ResourceAvailability(Schema):
    id = fields.String()
    kind = fields.String()
    name = fields.String(allow_none=True)
    available = fields.Boolean()
    within_working_hours = fields.Boolean()
    busy_with = fields.List(fields.String())
    held_by = fields.List(fields.String(), metadata={
        "description": "those of busy_with that hold this time: requests (booking's "
                       "hold_minutes) until they are confirmed or their hold expires, and "
                       "waitlist entries (their id) offered this slot until the offer is "
                       "accepted, lapses or the entry leaves"})


class Availability(Schema):
    at = fields.DateTime(metadata={"description": f"the moment asked about; {DESCRIBED}"})
    end = fields.DateTime(metadata={"description": DESCRIBED})
    timezone = fields.String()
    resources = fields.List(fields.Nested(ResourceAvailability))


class Statistics(Schema):
    organisation_id = fields.String()
    timezone = fields.String()
    from_ = fields.Date(data_key="from", allow_none=True)
    to = fields.Date(allow_none=True)
    overall = fields.Dict()
    groups = fields.List(fields.Dict())
