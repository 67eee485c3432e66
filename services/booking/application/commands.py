"""What each command on an appointment carries: one frozen dataclass per action.

The HTTP layer loads each from the request body with its marshmallow schema
(entrypoints/schemas.py) and hands it to the BookingApplication method of the same
name. Ids refer to the organisation's directory; the application turns them into the
references the appointment keeps. A slot is `{"start": datetime, "end": datetime}`, a
preferred window `{"date": date, "part_of_day": str}`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

SlotData = dict[str, datetime]
WindowData = dict[str, Any]


# -- a new appointment ---------------------------------------------------------------------

@dataclass(frozen=True)
class TentativeClient:
    """A client not (yet) in the directory, as a widget request names them."""
    name: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class Request:
    """A window or an exact slot; a known (`client_id`) or a tentative client."""
    service_id: uuid.UUID
    source: str = "api"
    client_id: uuid.UUID | None = None
    tentative_client: TentativeClient | None = None
    slot: SlotData | None = None
    window: WindowData | None = None
    agent_id: uuid.UUID | None = None
    resource_ids: list[uuid.UUID] | None = None
    questionnaire: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    message: str | None = None


@dataclass(frozen=True)
class CreateForClient:
    """An agent books for a known client at an exact slot, choosing the initial status."""
    service_id: uuid.UUID
    client_id: uuid.UUID
    slot: SlotData
    status: str
    source: str = "agent"
    agent_id: uuid.UUID | None = None
    resource_ids: list[uuid.UUID] | None = None
    questionnaire: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    note: str | None = None
    message: str | None = None


# -- on an existing appointment ------------------------------------------------------------


@dataclass(frozen=True)
class Confirm:
    slot: SlotData | None = None
    agent_id: uuid.UUID | None = None
    message: str | None = None


@dataclass(frozen=True)
class AcceptSuggestion:
    message: str | None = None


@dataclass(frozen=True)
class Reschedule:
    slot: SlotData
    message: str | None = None


@dataclass(frozen=True)
class RequestReschedule:
    message: str | None = None


@dataclass(frozen=True)
class Cancel:
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Reject:
    reason: str
    message: str | None = None


@dataclass(frozen=True)
class Attend:
    time_taken_minutes: int | None = None
    completion_reason: str | None = None
    remark: str | None = None


@dataclass(frozen=True)
class NoShow:
    reason: str | None = None   # "automatic" when time marks it (application/timers.py)


@dataclass(frozen=True)
class Reopen:
    message: str | None = None


@dataclass(frozen=True)
class RequestFeedback:
    message: str | None = None


@dataclass(frozen=True)
class Move:
    status: str
    reason: str | None = None
    message: str | None = None


@dataclass(frozen=True)
class Reassign:
    agent_id: uuid.UUID
    message: str | None = None


@dataclass(frozen=True)
class AddNote:
    text: str


@dataclass(frozen=True)
class EditNote:
    note_id: str
    text: str


@dataclass(frozen=True)
class UpdateDetails:
    service_id: uuid.UUID | None = None
    resource_ids: list[uuid.UUID] | None = None
    questionnaire: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None


@dataclass(frozen=True)
class LinkClient:
    client_id: uuid.UUID


# -- through a client's signed link ------------------------------------------------------

@dataclass(frozen=True)
class ProposeTime:
    slot: SlotData
    message: str | None = None


@dataclass(frozen=True)
class SubmitFeedback:
    rating: int
    comment: str | None = None
