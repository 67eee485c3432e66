"""What every booking view shares: the caller, If-Match, ETag answers, Idempotency-Key."""
from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from flask import Response, current_app, g, jsonify, request

from services.booking.application import idempotency
from services.booking.application.app import BookingApplication, Caller
from services.booking.domain.organisation import Organisation
from shared import auth, instants, logs, openapi
from shared.preconditions import if_match as if_match  # the views' one import

F = TypeVar("F", bound=Callable[..., Any])
ROLE_ORDER = ("manager", "agent", "service", "widget", "auditor")  # the role an event records
WRITERS = ("agent", "manager")
READERS = ("agent", "manager", "auditor")
AUDITORS = ("auditor", "manager")  # the audit trail (internal notes included)
REQUESTERS = (*WRITERS, "widget")  # who may request an appointment


def booking() -> BookingApplication:
    app: BookingApplication = current_app.extensions["booking"]
    return app


def caller() -> Caller:
    principal = auth.current()
    role = next(r for r in ROLE_ORDER if r in principal.roles)
    return Caller(principal.org, {"id": principal.subject, "role": role},
                  logs.correlation_id.get(), g.get("answer"), g.get("organisation"))


def respond(body: dict[str, Any], status: int = 200, replayed: bool = False,
            local_times: bool = True, zone: ZoneInfo | None = None) -> Response:
    """The answer, its instants in the organisation's zone (`zone`, else `answer_zone()`;
    shared/instants.py): the one place booking renders them (`local_times=False`:
    CloudEvents, kept in UTC)."""
    if local_times:
        body = instants.local(body, zone or answer_zone())
    response = jsonify(body)
    response.status_code = status
    if "version" in body:
        response.headers["ETag"] = f'"{body["version"]}"'
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return response


def answer_zone() -> ZoneInfo:
    return answer_organisation().tz


def answer_organisation() -> Organisation:
    """The organisation an answer belongs to: the caller's, or for a signed link (no
    caller) the one of what it names (client_actions sets `g.organisation_id`)."""
    organisation_id = g.get("organisation_id") or auth.current().org
    return booking().organisation(organisation_id)


def command(status: int = 200, scope: Callable[[], str] | None = None) -> Callable[[F], F]:
    """A view that runs a command and returns its body: answered with `status` and
    an ETag, and idempotent under Idempotency-Key (the first answer is replayed; the
    same key with another body is 422).

    The command stores its answer through `caller().answer`, in the same
    transaction as its events.
    """
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            key = request.headers.get("Idempotency-Key")
            fp = idempotency.fingerprint(request.method, request.path,
                                         request.query_string.decode(), request.get_data())
            where = scope() if scope else auth.current().org
            with idempotency.claim(booking().tables, where, key, fp, status) as claim:
                # Read before the command: an answer must not fail once its events are
                # stored. The command (caller()) works with this same organisation.
                org = answer_organisation()
                if claim.replay:
                    return respond(claim.replay.body, claim.replay.status, replayed=True,
                                   zone=org.tz)
                g.answer, g.organisation = claim.pending, org
                try:
                    return respond(view(*args, **kwargs), status, zone=org.tz)
                finally:
                    g.answer = g.organisation = None
        return openapi.versioned(openapi.idempotency_key(wrapper))  # type: ignore[return-value]
    return decorate
