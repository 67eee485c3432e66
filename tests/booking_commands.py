"""Drive booking's commands by action name and body, as the HTTP layer does (for scenarios
that go through many actions): the body becomes the action's command, handled by the
BookingApplication method of that name."""
from __future__ import annotations

import uuid
from typing import Any

from services.booking.application import commands as c
from services.booking.application.app import BookingApplication, Caller
from shared import links

COMMANDS: dict[str, type[Any]] = {
    "confirm": c.Confirm, "accept_suggestion": c.AcceptSuggestion, "reschedule": c.Reschedule,
    "request_reschedule": c.RequestReschedule, "cancel": c.Cancel, "reject": c.Reject,
    "attend": c.Attend, "no_show": c.NoShow, "reopen": c.Reopen,
    "request_feedback": c.RequestFeedback, "move": c.Move, "reassign": c.Reassign,
    "add_note": c.AddNote, "edit_note": c.EditNote, "update_details": c.UpdateDetails,
    "link_client": c.LinkClient, "propose_time": c.ProposeTime,
    "submit_feedback": c.SubmitFeedback,
}


def command(action: str, params: dict[str, Any]) -> Any:
    return COMMANDS[action](**params)


def act(app: BookingApplication, caller: Caller, appointment_id: uuid.UUID, action: str,
        params: dict[str, Any], expected_version: int | None = None) -> dict[str, Any]:
    handler = getattr(app, action)
    return dict(handler(caller, appointment_id, command(action, params), expected_version))


def by_link(app: BookingApplication, claims: links.LinkClaims, params: dict[str, Any],
            correlation_id: str = "", answer: Any = None) -> dict[str, Any]:
    handler: Any = {"cancel": app.cancel_by_link, "propose_time": app.propose_time,
                    "submit_feedback": app.submit_feedback}[claims.action]
    return handler(claims, command(claims.action, params), correlation_id, answer)
