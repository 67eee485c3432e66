"""GET /v1/events: the stored events as CloudEvents, from a position on (rebuilds, audits).

One organisation's events, selected in the query (services/booking/adapters/pg_store.py);
only the `platform` role reads every organisation's.
"""
from __future__ import annotations

import json
from typing import Any

from flask_smorest import Blueprint

from services.booking.adapters.cloudevents import to_messages
from services.booking.entrypoints import answers
from services.booking.entrypoints import schemas as s
from services.booking.entrypoints.common import booking, respond
from shared import auth
from shared.auth import roles_allowed

bp = Blueprint("events", __name__, url_prefix="/v1/events",
               description="The event store as CloudEvents (roles service, auditor, platform)")


@bp.route("", methods=["GET"])
@bp.arguments(s.EventsQuery, location="query")
@bp.response(200, answers.Feed)
@roles_allowed("service", "auditor", auth.PLATFORM)
def events(args: dict[str, Any]) -> Any:
    """Stored events as CloudEvents, oldest first

    The events with position > `after`: the caller's organisation's (the platform
    role: every organisation's). Page on with `next_after`."""
    app = booking()
    principal = auth.current()
    scope = None if principal.has(auth.PLATFORM) else principal.org
    notifications = app.notifications(args["after"], args["limit"], scope)
    out = [{"topic": topic, "key": key, "event": json.loads(ce.to_json())}
           for topic, key, ce in to_messages(app, notifications)]
    last = notifications[-1].id if notifications else args["after"]
    return respond({"events": out, "next_after": last})
