"""/v1/client_actions/{action}?token=...: what a client does through a signed link.

No bearer token: the signed link is the credential (the views are public).
Tampered or expired links are 403; a used single-use link is 409.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flask
from flask import Flask, g, request
from flask_smorest import Blueprint
from marshmallow import Schema

from services.booking.application import commands as c
from services.booking.application.app import BookingApplication
from services.booking.application.waitlist_commands import ACCEPT, AcceptOffer
from services.booking.entrypoints import answers
from services.booking.entrypoints import schemas as s
from services.booking.entrypoints.common import booking, command, respond
from shared import auth, links, logs, openapi
from shared.errors import NotFound

PREFIX = "/v1/client_actions"
bp = Blueprint("client_actions", __name__, url_prefix=PREFIX,
               description="Client self-service through signed links (no bearer token); "
                           "each action's path segment is its name as `allowed_actions` and "
                           "the history spell it (`propose_time`, `submit_feedback`, `cancel`)")
# link action -> (body schema, the command it loads, the BookingApplication method handling it)
BODIES: dict[str, tuple[type[Schema], type[Any], Callable[..., dict[str, Any]], str]] = {
    "cancel": (s.CancelSchema, c.Cancel, BookingApplication.cancel_by_link,
               "Cancel through the client's link\n\nThe reason is required when the "
               "organisation says so (one of its cancellation reasons)."),
    "propose_time": (s.ProposeTimeSchema, c.ProposeTime, BookingApplication.propose_time,
                     "Propose another time through the client's link\n\nThe organisation "
                     "accepts it (accept_suggestion) or answers otherwise."),
    "submit_feedback": (s.FeedbackSchema, c.SubmitFeedback, BookingApplication.submit_feedback,
                        "Answer the feedback survey through the client's link\n\nA rating of "
                        "1 to 5 and an optional comment; the link works once."),
    "accept_offer": (s.EmptySchema, AcceptOffer, BookingApplication.accept_offer,
                     "Accept a waitlist offer through the client's link\n\nMakes the request "
                     "(or the appointment, for a service that confirms automatically) for the "
                     "offered slot. A lapsed offer answers 410, an accepted one 409."),
}


def _claims(action: str, token: str) -> links.LinkClaims:
    if action not in BODIES:
        raise NotFound(f"no client action '{action}'")
    claims = links.verify(token, action)
    g.organisation_id = booking().link_organisation(claims)  # whose zone the answer is in
    return claims


def _link_scope(action: str) -> Callable[[], str]:
    """Idempotency keys of link actions are scoped to the appointment of the link."""
    return lambda: f"client-link:{_claims(action, request.args.get('token', '')).appointment_id}"


@bp.route("/<action>", methods=["GET"])
@auth.public
@bp.arguments(s.LinkQuery, location="query")
@bp.response(200, answers.LinkDescription)
@openapi.errors(403)
def describe(args: dict[str, Any], action: str) -> Any:
    """What the client's page shows for this link: the appointment (or the waitlist offer)
    and whether it can be used"""
    claims = _claims(action, args["token"])
    if action == ACCEPT:
        return respond(booking().describe_offer(claims))
    return respond(booking().describe_link(claims))


def _register(action: str, schema: type[Schema], command_type: type[Any],
              handler: Callable[..., dict[str, Any]], summary: str) -> None:
    """POST /v1/client_actions/<action>: one operation per action, with its own body."""
    def act(args: dict[str, Any], token: str) -> dict[str, Any]:
        claims = _claims(action, token)
        return handler(booking(), claims, command_type(**args), logs.correlation_id.get(),
                       g.get("answer"))

    act.__name__ = f"{action}_by_link"
    act.__doc__ = summary
    view = command(scope=_link_scope(action))(act)
    view = openapi.errors(403, 409, *((410,) if action == ACCEPT else ()))(view)
    view = bp.response(200, answers.AppointmentResult)(view)
    view = bp.arguments(s.LinkQuery, location="query", as_kwargs=True)(view)
    view = bp.arguments(schema)(auth.public(view))
    bp.route(f"/{action}", methods=["POST"], endpoint=act.__name__)(view)


for _action, (_schema, _command, _handler, _summary) in BODIES.items():
    _register(_action, _schema, _command, _handler, _summary)


@auth.public
def unknown_action(action: str) -> Any:
    raise NotFound(f"no client action '{action}'")


# Any other action answers 404 (not the 401 of an unknown route: a link carries no bearer
# token). Registered with Flask's own add_url_rule: not an operation of the document.
flask.Blueprint.add_url_rule(bp, "/<action>", "unknown_action", unknown_action, methods=["POST"])


LEGACY_PREFIX = "/v1/client-actions"  # the spelling of links emailed before paths were snake_case


@auth.public
def legacy_link(action: str) -> Any:
    """A link already in a client's inbox keeps working: 308 keeps the method and body."""
    query = request.query_string.decode()
    return flask.redirect(f"{PREFIX}/{action}" + (f"?{query}" if query else ""), 308)


def install_legacy_links(app: Flask) -> None:
    """Not an operation of the document: the one documented spelling is PREFIX."""
    app.add_url_rule(f"{LEGACY_PREFIX}/<action>", "legacy_client_action", legacy_link,
                     methods=["GET", "POST"])
