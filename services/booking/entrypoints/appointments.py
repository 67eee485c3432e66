"""/v1/appointments: requests, the actions of the lifecycle, and what agents read."""
from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, NamedTuple

from flask_smorest import Blueprint
from marshmallow import Schema

from services.booking.application import commands as c
from services.booking.application.app import BookingApplication
from services.booking.entrypoints import answers
from services.booking.entrypoints import schemas as s
from services.booking.entrypoints.common import (
    READERS,
    REQUESTERS,
    WRITERS,
    booking,
    caller,
    command,
    if_match,
    respond,
)
from shared import openapi, paging
from shared.auth import roles_allowed

bp = Blueprint("appointments", __name__, url_prefix="/v1/appointments",
               description="Appointments: request, confirm, reschedule, cancel, attend, ... "
                           "Each action is POSTed to `/v1/appointments/{id}/<action>`, the "
                           "action spelled exactly as `allowed_actions` (a 409) and the history "
                           "name it (snake_case, e.g. `no_show`, `request_feedback`).")

class Action(NamedTuple):
    schema: type[Schema]     # validates the body
    command: type[Any]       # what the body is loaded into
    handler: Callable[..., dict[str, Any]]   # the BookingApplication method that handles it
    summary: str


A = BookingApplication
# action (its path segment, as allowed_actions spells it) -> how a POST there is handled
ACTIONS: dict[str, Action] = {
    "confirm": Action(s.ConfirmSchema, c.Confirm, A.confirm,
                      "Confirm / approve (exact slot and linked client)"),
    "accept_suggestion": Action(s.MessageSchema, c.AcceptSuggestion, A.accept_suggestion,
                                "Accept the client's proposed time"),
    "reschedule": Action(s.RescheduleSchema, c.Reschedule, A.reschedule, "Move to a new slot"),
    "request_reschedule": Action(s.MessageSchema, c.RequestReschedule, A.request_reschedule,
                                 "Ask the client to propose a new time"),
    "reassign": Action(s.ReassignSchema, c.Reassign, A.reassign,
                       "Reassign to an agent available at the slot"),
    "notes": Action(s.NoteSchema, c.AddNote, A.add_note,
                    "Add an internal note (never shown to the client)"),
    "details": Action(s.DetailsSchema, c.UpdateDetails, A.update_details,
                      "Update service, resources, questionnaire answers or metadata"),
    "link_client": Action(s.LinkClientSchema, c.LinkClient, A.link_client,
                          "Link the tentative client to an existing client"),
    "cancel": Action(s.CancelSchema, c.Cancel, A.cancel,
                     "Cancel (reason from the organisation's list)"),
    "reject": Action(s.RejectSchema, c.Reject, A.reject, "Reject a request (reason mandatory)"),
    "attend": Action(s.AttendSchema, c.Attend, A.attend,
                     "Mark attended, with an optional outcome (once due)"),
    "no_show": Action(s.EmptySchema, c.NoShow, A.no_show, "Mark as no-show (once due)"),
    "reopen": Action(s.MessageSchema, c.Reopen, A.reopen, "Reopen a completed appointment"),
    "request_feedback": Action(s.MessageSchema, c.RequestFeedback, A.request_feedback,
                               "Send a feedback request (at most once a day)"),
    "move": Action(s.MoveSchema, c.Move, A.move, "Move to a status of the custom workflow"),
}


@bp.route("", methods=["POST"])
@bp.arguments(s.RequestSchema)
@bp.response(201, answers.AppointmentResult)
@roles_allowed(*REQUESTERS)
@openapi.errors(409)
@command(201)
def request_appointment(args: dict[str, Any]) -> dict[str, Any]:
    """Request an appointment (window or exact slot; known or tentative client)"""
    return booking().request(caller(), c.Request(**args))


@bp.route("/for_client", methods=["POST"])
@bp.arguments(s.CreateForClientSchema)
@bp.response(201, answers.AppointmentResult)
@roles_allowed(*WRITERS)
@openapi.errors(409)
@command(201)
def create_for_client(args: dict[str, Any]) -> dict[str, Any]:
    """Create an appointment for a client, with a chosen initial status"""
    return booking().create_for_client(caller(), c.CreateForClient(**args))


@bp.route("/<uuid:appointment_id>", methods=["GET"])
@bp.arguments(s.VersionQuery, location="query")
@bp.response(200, answers.AppointmentResult)
@roles_allowed(*READERS)
@openapi.versioned
def get_appointment(args: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """One appointment (or its state at an earlier ?version= or ?as_of= instant), with its ETag"""
    org = caller().organisation_id
    a = booking().appointment_as_of(org, appointment_id, args["as_of"]) if args.get("as_of") \
        else booking().appointment(org, appointment_id, args.get("version"))
    return respond({"appointment": a.snapshot(), "version": a.version})


@bp.route("/<uuid:appointment_id>/notes", methods=["GET"])
@bp.response(200, answers.Notes)
@roles_allowed(*READERS)
@openapi.versioned
def list_notes(appointment_id: uuid.UUID) -> Any:
    """The internal notes of an appointment"""
    a = booking().appointment(caller().organisation_id, appointment_id)
    return respond({**paging.whole(sorted(a.notes.values(), key=lambda n: n["at"])),
                    "version": a.version})


@bp.route("/<uuid:appointment_id>/notes/<note_id>", methods=["POST"])
@bp.arguments(s.NoteSchema)
@bp.response(200, answers.AppointmentResult)
@roles_allowed(*WRITERS)
@openapi.errors(409)
@openapi.if_match
@command()
def edit_note(args: dict[str, Any], appointment_id: uuid.UUID, note_id: str) -> dict[str, Any]:
    """Edit an internal note"""
    return booking().edit_note(caller(), appointment_id, c.EditNote(note_id=note_id, **args),
                               if_match())


@bp.route("/<uuid:appointment_id>/save_tentative_client", methods=["POST"])
@bp.arguments(s.EmptySchema)
@bp.response(200, answers.AppointmentResult)
@roles_allowed(*WRITERS)
@openapi.errors(409)
@openapi.if_match
@command()
def save_tentative_client(args: dict[str, Any], appointment_id: uuid.UUID) -> dict[str, Any]:
    """Save the tentative client as a new client and link it"""
    return booking().save_tentative_client(caller(), appointment_id, if_match())


@bp.route("/<uuid:appointment_id>/available_agents", methods=["GET"])
@bp.arguments(s.AvailabilityQuery, location="query")
@bp.response(200, paging.envelope(answers.ResourceEntry))
@roles_allowed(*WRITERS)
def available_agents(args: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """Agents available at the appointment's slot (or ?start=&end=), for reassigning

    Active agent resources free at the slot, in one page (`next_cursor` null)."""
    slot = {"start": args["start"], "end": args["end"]} if args.get("start") and args.get("end") \
        else None
    agents = booking().available_agents(caller().organisation_id, appointment_id, slot)
    return respond(paging.whole(agents))


@bp.route("/<uuid:appointment_id>/client_matches", methods=["GET"])
@bp.response(200, paging.envelope(answers.ClientEntry))
@roles_allowed(*WRITERS)
def client_matches(appointment_id: uuid.UUID) -> Any:
    """Existing clients matching the tentative client by email or phone, in one page"""
    return respond(paging.whole(booking().client_matches(caller().organisation_id,
                                                         appointment_id)))


def _register(path: str, action: Action) -> None:
    def view(args: dict[str, Any], appointment_id: uuid.UUID) -> dict[str, Any]:
        return action.handler(booking(), caller(), appointment_id, action.command(**args),
                              if_match())

    view.__name__ = action.handler.__name__
    view.__doc__ = action.summary
    wrapped = openapi.errors(409)(openapi.if_match(command()(view)))
    wrapped = roles_allowed(*WRITERS)(wrapped)
    wrapped = bp.response(200, answers.AppointmentResult)(wrapped)
    wrapped = bp.arguments(action.schema)(wrapped)
    bp.route(f"/<uuid:appointment_id>/{path}", methods=["POST"], endpoint=view.__name__)(wrapped)


for _path, _action in ACTIONS.items():
    _register(_path, _action)
