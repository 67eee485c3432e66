"""What each of booking's events records in its `change` (docs/contracts.md).

The event attribute stays a plain mapping stored as JSON (the audit chain hashes those
bytes, the sealing mapper seals paths inside it, old stores replay as they are); these
TypedDicts say which keys each event carries, so mypy refuses a missing or misspelt key
where an event is built. Each event method names its TypedDict in its signature
(`def _confirmed(self, change: ConfirmedChange, timestamp)`);
tests/unit/booking/test_booking_event_changes.py checks that stored events carry exactly
the keys declared here. Keys are listed in the order the events store them.

Events stored before `organisation_version` existed carry `organisation` (the public
settings) instead; readers of the contract handle both (docs/contracts.md).

No `from __future__ import annotations` here: TypedDict reads NotRequired at run time
(`__optional_keys__`), which tests/unit/booking/test_booking_event_changes.py compares.
"""
from typing import Any, NotRequired, TypedDict

SlotData = dict[str, str]          # {"start", "end"}: ISO 8601, UTC
Reference = dict[str, Any]         # a service, client or resource as an appointment keeps it


class Stamp(TypedDict):
    """Who acted and under which correlation id: every event of booking."""
    action: str
    actor: dict[str, str]
    correlation_id: str


class StatusOf(TypedDict):
    """The status an appointment event leads to (`Transition.change()`)."""
    from_status: str | None
    to_status: str
    status_kind: str
    status_name: str
    status_colour: NotRequired[str | None]  # absent in events recorded before it existed
    workflow: dict[str, Any]


class StatusChange(Stamp, StatusOf):
    """Who, why and which status: every appointment event (the family base)."""
    reason: str | None
    message: str | None
    organisation_version: int


# -- values some changes carry ---------------------------------------------------------

class NewNote(TypedDict):
    id: str
    text: str
    author: dict[str, str]
    at: str


class EditedNote(TypedDict):
    id: str
    text: str
    previous_text: str
    edited_by: dict[str, str]
    edited_at: str


class Outcome(TypedDict):
    kind: NotRequired[str]         # "late_cancellation" (a cancellation inside the notice)
    time_taken_minutes: int | None
    completion_reason: str | None
    remark: str | None


class Feedback(TypedDict):
    rating: int
    comment: str | None


class NewAgent(TypedDict):
    """Another agent: the new one first among the resources."""
    agent_id: str
    previous_agent_id: str | None
    resources: list[Reference]


# -- one per event family (the event classes of Appointment) ---------------------------

class Initial(TypedDict):
    """What the events creating an appointment record beside their change: its fields."""
    service: Reference
    client: Reference
    source: str
    slot: SlotData | None
    window: dict[str, str] | None      # {"date", "part_of_day"}
    agent_id: str | None
    resources: list[Reference]
    questionnaire: dict[str, Any]
    metadata: dict[str, Any]


class RequestedChange(StatusChange):
    hold_until: NotRequired[str]   # a request for an exact slot holds its agent's time


class CreatedForClientChange(RequestedChange):
    note: NotRequired[NewNote]


class ConfirmedChange(StatusChange):
    proposal: None
    slot: NotRequired[SlotData]                 # with a new slot
    previous_slot: NotRequired[SlotData | None]
    agent_id: NotRequired[str]                  # with another agent (NewAgent)
    previous_agent_id: NotRequired[str | None]
    resources: NotRequired[list[Reference]]


class SlotChange(StatusChange):
    """SuggestionAccepted (the proposal becomes the slot) and Rescheduled."""
    slot: SlotData
    previous_slot: SlotData | None
    proposal: None


class TimeProposedChange(StatusChange):
    link_id: str | None
    proposal: SlotData


class ReassignedChange(StatusChange, NewAgent):
    pass


class NoteAddedChange(StatusChange):
    note: NewNote


class NoteEditedChange(StatusChange):
    note: EditedNote


class DetailsUpdatedChange(StatusChange):
    """At least one of the four."""
    service: NotRequired[Reference]
    resources: NotRequired[list[Reference]]
    questionnaire: NotRequired[dict[str, Any]]
    metadata: NotRequired[dict[str, Any]]


class ClientLinkedChange(StatusChange):
    client: Reference
    previous_client: Reference


class CancelledChange(StatusChange):
    link_id: str | None
    outcome: NotRequired[Outcome]    # a late cancellation


class MovedToStatusChange(StatusChange):
    outcome: NotRequired[Outcome]    # a late cancellation (a status of kind cancellation)


class AttendedChange(StatusChange):
    outcome: Outcome


class ReopenedChange(StatusChange):
    outcome: None


class HoldExpiredChange(StatusChange):
    hold_until: None


class FeedbackRequestedChange(StatusChange):
    feedback_requested_on: str       # the organisation's local day


class FeedbackSubmittedChange(StatusChange):
    link_id: str | None
    feedback: Feedback


# RescheduleRequested, Rejected and NoShow record a StatusChange alone.


# -- the organisation and the directory ------------------------------------------------

class FieldsChange(Stamp):
    """Organisation and directory entries: every field on creation, the changed ones on
    update."""
    fields: dict[str, Any]


class ErasedChange(FieldsChange):
    """client.Erased: the appointments whose client data went with the client's."""
    appointment_ids: list[str]


# -- the waitlist (services/booking/domain/waitlist.py) ------------------------------------

class WaitlistOffer(TypedDict):
    """An open offer: the slot, its agent, until when it is held; links name its number."""
    number: int
    slot: dict[str, str]
    agent_id: str
    until: str


class JoinedChange(Stamp):
    """waitlist.Joined: who waits, for what."""
    service: dict[str, Any]
    client: dict[str, Any]
    agent_id: str | None
    date: str | None
    part_of_day: str | None
    source: str


class OfferedChange(Stamp):
    reason: str | None
    offer: WaitlistOffer


class OfferLapsedChange(Stamp):
    """The slot key the entry is never offered again."""
    reason: str | None
    slot_key: str


class AcceptedChange(Stamp):
    """The request or appointment the accepted offer made."""
    appointment_id: str
