"""The query API of the read models. Every answer is scoped to the caller's
organisation; another organisation's ids answer 404.

Read-your-writes: every query takes `min_position` (a booking position, as
returned by booking's command API). The query waits up to 5 s until every
event at or below that position is applied (shared/freshness.py: a prefix, not
only the event at it); if they are not by then the answer is
504 `application/problem+json` with `Retry-After: 1` and the position, and no
stale data is returned (a frontend simply retries).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from flask_smorest import Blueprint
from marshmallow import RAISE

from services.projections.adapters import queries
from services.projections.bootstrap import Settings, wire
from services.projections.domain import statistics
from services.projections.domain.availability import availability as availability_of
from services.projections.domain.timing import zone
from services.projections.entrypoints import render, schemas
from services.projections.entrypoints import waitlist_schemas as ws
from shared import auth, db, deadletters, http, kafka, openapi, paging, read_your_writes
from shared.errors import NotFound
from shared.freshness import Freshness
from shared.history import for_viewer
from shared.instants import rendered

blp = Blueprint("projections", __name__, url_prefix="/v1",
                description="Read models: calendar, lists, queue, waitlist, history, "
                            "availability, statistics")
STAFF = ("agent", "manager", "auditor")  # the organisation's people; statistics: managers, auditors


@dataclass
class Wiring:
    settings: Settings
    pool: Any
    freshness: Freshness


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    pool = wire(settings).pool
    # Queries read the views; Kafka feeds them through the consumer (its own process).
    servers = settings.bootstrap_servers
    app = http.create_app("projections", [blp],
                          {"database": lambda: db.is_reachable(settings.database_url)},
                          informative_checks={
                              **({"kafka": lambda: kafka.is_reachable(servers)} if servers else {}),
                              "dead_letters": deadletters.ready(settings.database_url)})
    app.extensions["projections"] = Wiring(settings, pool, Freshness(
        settings.database_url, pool, servers, settings.group_id, settings.topics,
        settings.read_your_writes_timeout))
    return app


def _wiring() -> Wiring:
    return current_app.extensions["projections"]


def _fresh(args: dict[str, Any]) -> Wiring:
    """Wait until every event up to `min_position` is applied (read-your-writes),
    then hand out the wiring."""
    w = _wiring()
    read_your_writes.wait_or_504(w.freshness, args.get("min_position"))
    return w


def _timezone(conn: Any, org: str) -> tuple[str, dict[str, Any] | None]:
    row = queries.organisation(conn, org)
    return (row["timezone"] if row else "UTC"), row


def _answer_zone() -> ZoneInfo:
    with _wiring().pool.connection() as conn:
        return zone(_timezone(conn, auth.current().org)[0])


# Every view's answer, its instants in the organisation's zone: the one place projections
# renders them (the rows, like the events, keep UTC).
local_times = rendered(_answer_zone)


@blp.get("/calendar")
@auth.roles_allowed(*STAFF)
@blp.arguments(schemas.CalendarArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, schemas.Page)
@local_times
def calendar(args: dict[str, Any]) -> dict[str, Any]:
    """Calendar: appointments in a date range, optionally for one agent or resource.

    Requested (unconfirmed) and tentative ones are flagged (`requested`,
    `tentative`); cancelled, rejected and no-show ones are left out.
    A window request is placed at its part of day in the organisation's time zone.
    Ordered by (start, id), paged like the appointment list (up to 2000 a page).
    """
    w, org = _fresh(args), auth.current().org
    with w.pool.connection() as conn:
        tz, _ = _timezone(conn, org)
        start, end = render.bounds(args["from_"], args["to"], tz)
        assert start is not None and end is not None  # both required by CalendarArgs
        rows = queries.calendar(conn, org, start, end, args.get("agent_id"),
                                args.get("resource_id"), args["limit"] + 1, args.get("cursor"))
    return _page(rows, args["limit"])


@blp.get("/appointments")
@auth.roles_allowed(*STAFF)
@blp.arguments(schemas.ListArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, schemas.Page)
@local_times
def appointment_list(args: dict[str, Any]) -> dict[str, Any]:
    """Appointment list by status, agent, service, client and date, paged.

    Ordered by (start, id): the slot's start, else the window's, else the
    request time. Pass `next_cursor` back as `cursor` for the next page.
    """
    w, org = _fresh(args), auth.current().org
    with w.pool.connection() as conn:
        tz, _ = _timezone(conn, org)
        day: date | None = args.get("date")
        start, end = render.bounds(day or args.get("from_"), day or args.get("to"), tz)
        rows = queries.appointments(
            conn, org, statuses=args.get("status"), agent_id=args.get("agent_id"),
            service_id=args.get("service_id"), client_id=args.get("client_id"), start=start,
            end=end, after=args.get("cursor"), limit=args["limit"])
    return _page(rows, args["limit"])


@blp.get("/queue")
@auth.roles_allowed(*STAFF)
@blp.arguments(schemas.QueueArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, schemas.Page)
@local_times
def queue(args: dict[str, Any]) -> dict[str, Any]:
    """Request queue: unconfirmed appointments (start and step statuses, incl.
    `reschedule_requested`); `include_confirmed=true` shows confirmed ones too.

    Ordered by (start, id), paged like the appointment list.
    """
    w, org = _fresh(args), auth.current().org
    with w.pool.connection() as conn:
        rows = queries.appointments(
            conn, org, agent_id=args.get("agent_id"), service_id=args.get("service_id"),
            unconfirmed_only=True, include_confirmed=args["include_confirmed"],
            after=args.get("cursor"), limit=args["limit"])
    return _page(rows, args["limit"])


@blp.get("/waitlist")
@auth.roles_allowed(*STAFF)
@blp.arguments(ws.WaitlistArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, ws.WaitlistPage)
def waitlist(args: dict[str, Any]) -> dict[str, Any]:
    """The waitlist in join order, with each entry's open offer (`?service_id=`, `?status=`)

    Clients waiting for a freed slot of a service; the offered slot is held (see
    `held_by` in the availability). Paged like the appointment list."""
    w, org = _fresh(args), auth.current().org
    with w.pool.connection() as conn:
        rows = queries.waitlist(conn, org, service_id=args.get("service_id"),
                                statuses=args.get("status"), after=args.get("cursor"),
                                limit=args["limit"])
    return paging.page(rows, args["limit"], key=lambda r: (r["joined_at"], r["id"]),
                       item=render.waitlist_entry)


@blp.get("/appointments/<appointment_id>/history")
@auth.roles_allowed(*STAFF)
@blp.arguments(schemas.FreshArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, schemas.History)
@local_times
def history(args: dict[str, Any], appointment_id: str) -> dict[str, Any]:
    """History of one appointment, newest first

    Every change (status changes, reassignments, detail updates, notes, links
    used, client linked, feedback) with who, when, reason, message and every
    field's value before and after."""
    w, principal = _fresh(args), auth.current()
    with w.pool.connection() as conn:
        if not queries.appointment_exists(conn, principal.org, appointment_id):
            raise NotFound(f"no appointment {appointment_id}")
        rows = queries.history(conn, principal.org, appointment_id)
    roles = set(principal.roles)
    return {"appointment_id": appointment_id,
            "items": [for_viewer(render.history_item(r), roles) for r in rows]}


@blp.get("/clients/<client_id>/appointments")
@auth.roles_allowed(*STAFF)
@blp.arguments(schemas.FreshArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, schemas.ClientAppointments)
@local_times
def client_appointments(args: dict[str, Any], client_id: str) -> dict[str, Any]:
    """A client's current and past appointments

    Date, time, service, resources and status; past ones only within the
    organisation's retention period."""
    w, org = _fresh(args), auth.current().org
    with w.pool.connection() as conn:
        if not queries.client_known(conn, org, client_id):
            raise NotFound(f"no client {client_id}")
        _, org_row = _timezone(conn, org)
        retention = org_row["retention_days"] if org_row else None
        rows = queries.client_appointments(conn, org, client_id, w.settings.clock(), retention)
    items = [render.appointment(r, auth.current().roles) for r in rows]
    return {"client_id": client_id, "retention_days": retention,
            "current": sorted((i for i in items if not i["past"]),
                              key=lambda i: (i["start"] or i["requested_at"], i["id"])),
            "past": [i for i in items if i["past"]]}


@blp.get("/availability")
@auth.roles_allowed(*STAFF)
@blp.arguments(schemas.AvailabilityArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, schemas.Availability)
@local_times
def availability(args: dict[str, Any]) -> dict[str, Any]:
    """Who is available at a time (for reassigning)

    Within working hours in the organisation's time zone and not busy with
    another active appointment, a request's hold or a waitlist offer's hold."""
    w, org = _fresh(args), auth.current().org
    with w.pool.connection() as conn:
        tz, _ = _timezone(conn, org)
        at: datetime = args["at"]
        if at.tzinfo is None:
            at = at.replace(tzinfo=zone(tz))
        end = at + timedelta(minutes=args["duration_minutes"])
        found = availability_of(queries.resources(conn, org, args["kind"]),
                                queries.occupying(conn, org, at, end,
                                                  args.get("exclude_appointment_id")),
                                at, end, tz)
    return {"at": at, "end": end, "timezone": tz, "resources": found}


@blp.get("/statistics")
@auth.roles_allowed("manager", "auditor")
@blp.arguments(schemas.StatisticsArgs, location="query", unknown=RAISE)
@openapi.errors(504)
@blp.response(200, schemas.Statistics)
@local_times
def statistics_view(args: dict[str, Any]) -> dict[str, Any]:
    """Statistics for managers

    Counts by status and outcome, no-show rate, mean and median time from
    request to confirmation; grouped by agent and/or period (day, ISO week,
    month of the appointment, local time)."""
    w, org = _fresh(args), auth.current().org
    with w.pool.connection() as conn:
        tz, _ = _timezone(conn, org)
        rows = queries.stat_rows(conn, org, tz, args.get("from_"), args.get("to"),
                                 args.get("agent_id"))
    return {"organisation_id": org, "timezone": tz, "from_": args.get("from_"),
            "to": args.get("to"), "overall": statistics.summarise(rows),
            "groups": statistics.grouped(rows, args["by_agent"], args["period"])
            if args["by_agent"] or args["period"] != "none" else []}


def _page(rows: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    """`limit` + 1 rows in (sort_at, id) order (shared/paging.py)."""
    return paging.page(rows, limit, key=lambda r: (r["sort_at"], r["id"]),
                       item=lambda r: render.appointment(r, auth.current().roles))
