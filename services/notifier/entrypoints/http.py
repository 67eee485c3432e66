"""The notifier's HTTP API: deliveries, the development mailbox, health.

    gunicorn ... 'services.notifier.entrypoints.http:create_app()'

GET /v1/deliveries   which message went to whom, on which channel, its state
GET /v1/reminders    reminders planned and not due yet, with their due time
GET /v1/mailbox      the development mailbox as JSON (the caller's organisation)
GET /mailbox         the same as a page for a person, newest first; the token may
                     come as ?access_token= (a browser sends no header)
Each list answers `{items, next_cursor}`, keyset-paged by `limit` and `cursor`
(shared/paging.py). Deliveries and the mailbox take `min_position`
(read-your-writes, shared/freshness.py): every event up to that booking position
is consumed (its deliveries planned), and for the mailbox every message of those
events is in it; else 504 with Retry-After.
Both mailbox routes exist only while a channel has no provider credentials
(bootstrap.dev_channels), the one condition that puts messages there.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import Flask, Response, current_app, render_template_string
from flask.views import MethodView
from flask_smorest import Blueprint
from marshmallow import Schema, fields, validate

from services.notifier import bootstrap
from services.notifier.adapters import dev_transport, reminders
from services.notifier.adapters.ledger import Ledger
from services.notifier.adapters.ledger_rows import view
from services.notifier.bootstrap import Settings
from services.notifier.domain.model import STATES
from services.notifier.domain.reminders import EVENT_TYPE as REMINDER_TYPE
from services.notifier.domain.rendering import TEMPLATES
from shared import auth, db, deadletters, kafka, openapi, paging, read_your_writes
from shared.freshness import Freshness
from shared.http import create_app as create_service_app
from shared.read_your_writes import min_position_field

READERS = ("agent", "manager", "auditor")
api = Blueprint("notifier", __name__, url_prefix="/v1", description="Deliveries of email and SMS")
mailbox = Blueprint("mailbox", __name__, description="The development mailbox (no provider "
                    "credentials for a channel): the caller's organisation's messages")


LIMITS = {"default": 100, "maximum": 1000}


class DeliveryQuery(paging.query(int, **LIMITS)):  # type: ignore[misc]
    min_position = min_position_field()
    appointment_id = fields.String(metadata={"description": "only this appointment"})
    recipient = fields.String(metadata={"description": "only this email address or phone number"})


class DeliverySchema(Schema):
    id = fields.Integer()
    appointment_id = fields.String()
    event_id = fields.String()
    event_type = fields.String()
    channel = fields.String(metadata={"enum": ["email", "sms"]})
    recipient_kind = fields.String(metadata={"enum": ["client", "organisation", "resource"]})
    recipient = fields.String(allow_none=True, metadata={"description": "null when skipped"})
    template = fields.String()
    subject = fields.String()
    state = fields.String(metadata={"enum": list(STATES)})
    attempts = fields.Integer()
    last_error = fields.String(allow_none=True, metadata={
        "description": "why it failed, was skipped or suppressed (over the recipient's quota)"})
    next_attempt_at = fields.String(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    created_at = fields.String()
    updated_at = fields.String()
    sent_at = fields.String(allow_none=True)
    kind = fields.String(metadata={
        "enum": ["event", "reminder"],
        "description": "event: caused by an appointment event (event_id, event_type); "
                       "reminder: a reminder before the start (event_id: the reminder's own id, "
                       "one per appointment, minutes before and slot start)"})
    due_at = fields.String(allow_none=True, metadata={
        "format": "date-time", "description": "a reminder's due time; null for kind event"})


class ReminderQuery(paging.query(datetime, str, **LIMITS)):  # type: ignore[misc]
    appointment_id = fields.String(metadata={"description": "only this appointment"})


class PlannedReminderSchema(Schema):
    appointment_id = fields.String()
    offset_minutes = fields.Integer(metadata={"description": "minutes before the start"})
    slot_start = fields.String(metadata={"format": "date-time"})
    due_at = fields.String(metadata={
        "format": "date-time", "description": "when it goes out (a failed run: its retry)"})
    attempts = fields.Integer(metadata={"description": "failed runs so far"})
    last_error = fields.String(allow_none=True)


MAX_EVENT_TYPE = 200   # characters; the longest type today has 40


class MailboxQuery(paging.query(int, **LIMITS)):  # type: ignore[misc]
    min_position = min_position_field()
    appointment_id = fields.String(metadata={"description": "only this appointment (or waitlist entry)"})
    event_type = fields.String(validate=validate.Length(min=1, max=MAX_EVENT_TYPE), metadata={
        "description": "only messages caused by this event type, e.g. "
                       "`appointment.confirmed.v1`, `waitlist.offered.v1`, "
                       f"`{REMINDER_TYPE}` (1 to {MAX_EVENT_TYPE} characters)"})


class MailSchema(Schema):
    id = fields.Integer()
    delivery_id = fields.Integer()
    appointment_id = fields.String(metadata={
        "description": "the appointment the message is about; for a `waitlist.*` event type, "
                       "the waitlist entry's id"})
    event_type = fields.String(allow_none=True, metadata={
        "description": "the CloudEvent type that caused the message (as on its delivery), "
                       f"e.g. `appointment.confirmed.v1`; a reminder's is `{REMINDER_TYPE}`; "
                       "null only for a message whose delivery is not in the ledger"})
    kind = fields.String(allow_none=True, metadata={
        "enum": ["event", "reminder", None],
        "description": "event: caused by an appointment or waitlist event; reminder: a "
                       "reminder before the start (null as for event_type)"})
    channel = fields.String()
    recipient = fields.String()
    subject = fields.String()
    body_text = fields.String()
    body_html = fields.String()
    created_at = fields.DateTime()


@api.route("/deliveries")
class Deliveries(MethodView):
    @auth.roles_allowed(*READERS)
    @api.arguments(DeliveryQuery, location="query")
    @api.response(200, paging.envelope(DeliverySchema))
    @openapi.errors(504)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Deliveries of the caller's organisation, oldest first"""
        read_your_writes.wait_or_504(_freshness(), query.get("min_position"))
        after = query.get("cursor")
        rows = _ledger().deliveries(auth.current().org, query.get("appointment_id"),
                                    query.get("recipient"), query["limit"] + 1,
                                    after[0] if after else None)
        return paging.page(rows, query["limit"], key=lambda r: (r["id"],), item=view)


@api.route("/reminders")
class Reminders(MethodView):
    @auth.roles_allowed(*READERS)
    @api.arguments(ReminderQuery, location="query")
    @api.response(200, paging.envelope(PlannedReminderSchema))
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Reminders of the caller's organisation planned and not sent yet, soonest first;
        once due, each is a delivery of kind reminder per channel"""
        rows = reminders.planned(_ledger().pool, auth.current().org, query.get("appointment_id"),
                                 query["limit"] + 1, query.get("cursor"))
        return paging.page(rows, query["limit"], key=lambda r: (r["due_at"], r["key"]),
                           item=lambda r: {**r, "due_at": r["due_at"].isoformat()})


@mailbox.route("/v1/mailbox")
class Mailbox(MethodView):
    @auth.roles_allowed(*READERS)
    @mailbox.arguments(MailboxQuery, location="query")
    @mailbox.response(200, paging.envelope(MailSchema))
    @openapi.errors(504)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Messages the development transport kept, newest first"""
        org, position = auth.current().org, query.get("min_position")
        if position is not None:  # and the messages of those events are in the mailbox
            read_your_writes.wait_or_504(_freshness(), position, also=lambda: (
                dev_transport.settled(_ledger().pool, org, position, _dev_channels())))
        before = query.get("cursor")
        rows = dev_transport.messages(_ledger().pool, org, query.get("appointment_id"),
                                      query["limit"] + 1, before[0] if before else None,
                                      query.get("event_type"))
        return paging.page(rows, query["limit"], key=lambda r: (r["id"],))


@mailbox.route("/mailbox", methods=["GET"])
@auth.roles_allowed(*READERS, query_token=True)
@mailbox.doc(responses={"200": {"description": "an HTML page",
                                "content": {"text/html": {"schema": {"type": "string"}}}}},
             parameters=[{"in": "query", "name": auth.QUERY_TOKEN, "schema": {"type": "string"},
                          "description": "the bearer token, for a browser"}])
def mailbox_page() -> Response:
    """The caller's organisation's mailbox as a page for a person, newest first"""
    messages = dev_transport.messages(_ledger().pool, auth.current().org, limit=200)
    page = (TEMPLATES / "mailbox.html.j2").read_text()
    return Response(render_template_string(page, messages=messages), mimetype="text/html")


def _ledger() -> Ledger:
    return current_app.extensions["notifier.ledger"]


def _dev_channels() -> tuple[str, ...]:
    return current_app.extensions["notifier.dev_channels"]


def _freshness() -> Freshness:
    return current_app.extensions["notifier.freshness"]


def create_app(database_url: str | None = None, bootstrap_servers: str | None = None,
               **overrides: Any) -> Flask:
    """`overrides`: other Settings (tests: their topics, group, read-your-writes time-out)."""
    settings = Settings.from_env(database_url=database_url, bootstrap_servers=bootstrap_servers,
                                 **overrides)
    parts = bootstrap.wire(settings)
    connections = parts.pool
    app = create_service_app(
        "notifier", [api, mailbox] if parts.dev_channels else [api],
        # Deliveries and the mailbox are read from the ledger; the consumer needs Kafka.
        ready_checks={"database": lambda: db.is_reachable(settings.database_url)},
        informative_checks={"kafka": lambda: kafka.is_reachable(settings.bootstrap_servers),
                            "dead_letters": deadletters.ready(settings.database_url)})
    app.extensions["notifier.ledger"] = parts.ledger
    app.extensions["notifier.dev_channels"] = parts.dev_channels
    app.extensions["notifier.freshness"] = Freshness(
        settings.database_url, connections, settings.bootstrap_servers, settings.group_id,
        (settings.topic, settings.directory_topic), settings.read_your_writes_timeout)
    return app
