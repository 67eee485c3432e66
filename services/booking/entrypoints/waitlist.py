"""/v1/waitlist: clients waiting for a freed slot (application/waitlist_commands.py)."""
from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint

from services.booking.application.waitlist_commands import JoinWaitlist
from services.booking.entrypoints import waitlist_schemas as ws
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

bp = Blueprint("waitlist", __name__, url_prefix="/v1/waitlist",
               description="The waitlist: freed slots offered to waiting clients in join order")


@bp.route("", methods=["POST"])
@bp.arguments(ws.JoinWaitlistSchema)
@bp.response(201, ws.WaitlistEntryResult)
@roles_allowed(*REQUESTERS)
@openapi.errors(409)
@command(201)
def join_waitlist(args: dict[str, Any]) -> dict[str, Any]:
    """Join the waitlist for a service (optionally an agent, a day, a part of day)"""
    return booking().join_waitlist(caller(), JoinWaitlist(**args))


@bp.route("", methods=["GET"])
@bp.arguments(ws.WaitlistQuery, location="query")
@bp.response(200, paging.envelope(ws.WaitlistEntry))
@roles_allowed(*READERS)
def list_waitlist(args: dict[str, Any]) -> Any:
    """The organisation's waitlist in join order (?service_id=, ?status=, paged)"""
    service_id, after = args.get("service_id"), args.get("cursor")
    rows = booking().waitlist_page(caller().organisation_id,
                                   str(service_id) if service_id else None, args.get("status"),
                                   after[0] if after else 0, args["limit"] + 1)
    return respond(paging.page(rows, args["limit"], key=lambda r: (r[0],),
                               item=lambda r: r[1]))


@bp.route("/<uuid:entry_id>", methods=["GET"])
@bp.response(200, ws.WaitlistEntryResult)
@roles_allowed(*READERS)
@openapi.versioned
def get_waitlist_entry(entry_id: uuid.UUID) -> Any:
    """One waitlist entry"""
    entry = booking().waitlist_entry(caller().organisation_id, entry_id)
    return respond({"entry": entry.snapshot(), "version": entry.version})


@bp.route("/<uuid:entry_id>", methods=["DELETE"])
@bp.response(200, ws.WaitlistEntryResult)
@roles_allowed(*WRITERS)
@openapi.errors(409)
@openapi.if_match
@command()
def leave_waitlist(entry_id: uuid.UUID) -> dict[str, Any]:
    """Take an entry off the waitlist (an open offer ends and goes to the next in line)"""
    return booking().leave_waitlist(caller(), entry_id, if_match())
