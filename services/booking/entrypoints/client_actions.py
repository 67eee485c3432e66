"""/v1/client-actions/{action}?token=...: what a client does through a signed link.

No bearer token: the signed link is the credential (the views are public).
Tampered or expired links are 403; a used single-use link is 409.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import g, request
from flask_smorest import Blueprint, abort
from marshmallow import Schema, ValidationError

from services.booking.application import commands as c
from services.booking.application.app import BookingApplication
from services.booking.entrypoints import schemas as s
from services.booking.entrypoints.common import booking, command, respond
from shared import auth, links, logs, openapi
from shared.errors import NotFound

PREFIX = "/v1/client-actions"
bp = Blueprint("client_actions", __name__, url_prefix=PREFIX,
               description="Client self-service through signed links (no bearer token)")
# link action -> (body schema, the command it loads, the BookingApplication method handling it)
BODIES: dict[str, tuple[type[Schema], type[Any], Callable[..., dict[str, Any]]]] = {
    "cancel": (s.CancelSchema, c.Cancel, BookingApplication.cancel_by_link),
    "propose_time": (s.ProposeTimeSchema, c.ProposeTime, BookingApplication.propose_time),
    "submit_feedback": (s.FeedbackSchema, c.SubmitFeedback, BookingApplication.submit_feedback),
}


def _claims(action: str, token: str) -> links.LinkClaims:
    if action not in BODIES:
        raise NotFound(f"no client action '{action}'")
    return links.verify(token, action)


def _link_scope() -> str:
    """Idempotency keys of link actions are scoped to the appointment of the link."""
    action = (request.view_args or {}).get("action", "")
    return f"client-link:{_claims(action, request.args.get('token', '')).appointment_id}"


@bp.route("/<action>", methods=["GET"])
@auth.public
@bp.arguments(s.LinkQuery, location="query")
@bp.doc(security=[])
@openapi.errors(403)
def describe(args: dict[str, Any], action: str) -> Any:
    """What the client's page shows for this link: the appointment and whether it can be used"""
    return respond(booking().describe_link(_claims(action, args["token"])))


@bp.route("/<action>", methods=["POST"])
@auth.public
@bp.arguments(s.LinkQuery, location="query", as_kwargs=True)
@bp.doc(security=[])
@openapi.errors(403, 409)
@command(scope=_link_scope)
def act(action: str, token: str) -> dict[str, Any]:
    """Act through a signed link: cancel, propose_time or submit_feedback

    Bodies: cancel {reason, message}; propose_time {slot, message};
    submit_feedback {rating 1-5, comment}.
    """
    claims = _claims(action, token)
    schema, command_type, handler = BODIES[action]
    try:
        cmd = command_type(**schema().load(request.get_json(silent=True) or {}))
    except ValidationError as e:
        abort(422, messages={"json": e.messages})
    return handler(booking(), claims, cmd, logs.correlation_id.get(), g.get("answer"))
