"""/v1/appointments: requests, the actions of the lifecycle, and what agents read."""
from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema

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
from shared.auth import roles_allowed

bp = Blueprint("appointments", __name__, url_prefix="/v1/appointments",
               description="Appointments: request, confirm, reschedule, cancel, attend, ...")

# path -> (aggregate action, body schema, summary)
ACTIONS: dict[str, tuple[str, type[Schema], str]] = {
    "confirm": ("confirm", s.ConfirmSchema, "Confirm / approve (exact slot and linked client)"),
    "accept-suggestion": ("accept_suggestion", s.MessageSchema, "Accept the client's proposed time"),
    "reschedule": ("reschedule", s.RescheduleSchema, "Move to a new slot"),
    "request-reschedule": ("request_reschedule", s.MessageSchema,
                           "Ask the client to propose a new time"),
    "reassign": ("reassign", s.ReassignSchema, "Reassign to an agent available at the slot"),
    "notes": ("add_note", s.NoteSchema, "Add an internal note (never shown to the client)"),
    "details": ("update_details", s.DetailsSchema,
                "Update service, resources, questionnaire answers or metadata"),
    "link-client": ("link_client", s.LinkClientSchema,
                    "Link the tentative client to an existing client"),
    "cancel": ("cancel", s.CancelSchema, "Cancel (reason from the organisation's list)"),
    "reject": ("reject", s.RejectSchema, "Reject a request (reason mandatory)"),
    "attend": ("attend", s.AttendSchema, "Mark attended, with an optional outcome (once due)"),
    "no-show": ("no_show", s.EmptySchema, "Mark as no-show (once due)"),
    "reopen": ("reopen", s.MessageSchema, "Reopen a completed appointment"),
    "request-feedback": ("request_feedback", s.MessageSchema,
                         "Send a feedback request (at most once a day)"),
    "move": ("move", s.MoveSchema, "Move to a status of the custom workflow"),
}


@bp.route("", methods=["POST"])
@bp.arguments(s.RequestSchema)
@bp.response(201, s.AppointmentResult)
@roles_allowed(*REQUESTERS)
@command(201)
def request_appointment(args: dict[str, Any]) -> dict[str, Any]:
    """Request an appointment (window or exact slot; known or tentative client)"""
    return booking().request(caller(), args)


@bp.route("/for-client", methods=["POST"])
@bp.arguments(s.CreateForClientSchema)
@bp.response(201, s.AppointmentResult)
@roles_allowed(*WRITERS)
@command(201)
def create_for_client(args: dict[str, Any]) -> dict[str, Any]:
    """Create an appointment for a client, with a chosen initial status"""
    return booking().create_for_client(caller(), args)


@bp.route("/<uuid:appointment_id>", methods=["GET"])
@bp.arguments(s.VersionQuery, location="query")
@bp.response(200, s.AppointmentResult)
@roles_allowed(*READERS)
def get_appointment(args: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """One appointment (or its state at an earlier ?version=), with its ETag"""
    a = booking().appointment(caller().organisation_id, appointment_id, args.get("version"))
    return respond({"appointment": a.snapshot(), "version": a.version})


@bp.route("/<uuid:appointment_id>/notes", methods=["GET"])
@roles_allowed(*READERS)
def list_notes(appointment_id: uuid.UUID) -> Any:
    """The internal notes of an appointment"""
    a = booking().appointment(caller().organisation_id, appointment_id)
    return respond({"notes": sorted(a.notes.values(), key=lambda n: n["at"]),
                    "version": a.version})


@bp.route("/<uuid:appointment_id>/notes/<note_id>", methods=["POST"])
@bp.arguments(s.NoteSchema)
@bp.response(200, s.AppointmentResult)
@roles_allowed(*WRITERS)
@command()
def edit_note(args: dict[str, Any], appointment_id: uuid.UUID, note_id: str) -> dict[str, Any]:
    """Edit an internal note"""
    return booking().act(caller(), appointment_id, "edit_note", {**args, "note_id": note_id},
                         if_match())


@bp.route("/<uuid:appointment_id>/save-tentative-client", methods=["POST"])
@bp.arguments(s.EmptySchema)
@bp.response(200, s.AppointmentResult)
@roles_allowed(*WRITERS)
@command()
def save_tentative_client(args: dict[str, Any], appointment_id: uuid.UUID) -> dict[str, Any]:
    """Save the tentative client as a new client and link it"""
    return booking().save_tentative_client(caller(), appointment_id, if_match())


@bp.route("/<uuid:appointment_id>/available-agents", methods=["GET"])
@bp.arguments(s.AvailabilityQuery, location="query")
@roles_allowed(*WRITERS)
def available_agents(args: dict[str, Any], appointment_id: uuid.UUID) -> Any:
    """Agents available at the appointment's slot (or ?start=&end=), for reassigning"""
    slot = {"start": args["start"], "end": args["end"]} if args.get("start") and args.get("end") \
        else None
    agents = booking().available_agents(caller().organisation_id, appointment_id, slot)
    return respond({"agents": agents})


@bp.route("/<uuid:appointment_id>/client-matches", methods=["GET"])
@roles_allowed(*WRITERS)
def client_matches(appointment_id: uuid.UUID) -> Any:
    """Existing clients matching the tentative client by email or phone"""
    return respond({"clients": booking().client_matches(caller().organisation_id, appointment_id)})


def _register(path: str, action: str, schema: type[Schema], summary: str) -> None:
    def view(args: dict[str, Any], appointment_id: uuid.UUID) -> dict[str, Any]:
        return booking().act(caller(), appointment_id, action, args, if_match())

    view.__name__ = action
    view.__doc__ = summary
    wrapped = command()(view)
    wrapped = roles_allowed(*WRITERS)(wrapped)
    wrapped = bp.response(200, s.AppointmentResult)(wrapped)
    wrapped = bp.arguments(schema)(wrapped)
    bp.route(f"/<uuid:appointment_id>/{path}", methods=["POST"], endpoint=action)(wrapped)


for _path, (_action, _schema, _summary) in ACTIONS.items():
    _register(_path, _action, _schema, _summary)
