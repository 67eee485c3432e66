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
from shared import auth, paging
from shared.auth import roles_allowed

bp = Blueprint("events", __name__, url_prefix="/v1/events",
               description="The event store as CloudEvents (roles service, auditor, platform)")


@bp.route("", methods=["GET"])
@bp.arguments(s.EventsQuery, location="query")
@bp.response(200, paging.envelope(answers.FeedEvent))
@roles_allowed("service", "auditor", auth.PLATFORM)
def events(args: dict[str, Any]) -> Any:
    """Stored events as CloudEvents, oldest first

    The events with position > `after` (or after `cursor`): the caller's organisation's
    (the platform role: every organisation's). `next_cursor` is null once the page
    reached the newest event; to follow new ones later, start again with `after` set to
    the last event's `position`."""
    app = booking()
    principal = auth.current()
    scope = None if principal.has(auth.PLATFORM) else principal.org
    start, limit = (args["cursor"][0] if args.get("cursor") else args["after"]), args["limit"]
    # One more than the page tells whether another follows (the log reads at most a
    # section: a page of a whole section may be followed by an empty one).
    notifications = app.notifications(start, limit + 1, scope)
    more = len(notifications) > limit or len(notifications) == app.log_section_size
    shown = notifications[:limit]
    items = [{"topic": topic, "key": key, "event": json.loads(ce.to_json())}
             for topic, key, ce in to_messages(app, shown)]
    return respond({"items": items,
                    "next_cursor": paging.encode((shown[-1].id,)) if more and shown else None},
                   local_times=False)  # CloudEvents as published: UTC
