"""The booking HTTP API: `gunicorn 'services.booking.entrypoints.http:create_app()'`."""
from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from services.booking import bootstrap
from services.booking.application.app import BookingApplication
from services.booking.entrypoints import (
    appointments,
    audit,
    audit_export,
    checkpoint_key,
    client_actions,
    directory,
    events_feed,
    waitlist,
)
from shared import db, http, kafka, ratelimit, relay_halt

RELAY_NAME = "booking"  # its row in relay_position and relay_halt


def create_app(application: BookingApplication | None = None,
               bootstrap_servers: str | None = None) -> Flask:
    """The Flask app over `application` (default: the process-wide parts' one, bootstrap.parts()).

    Tests pass their own: `create_app(bootstrap.wire(Settings(url, clock=..., ...)).application)`.
    """
    if application is None:
        parts = bootstrap.parts()
        application, bootstrap_servers = parts.application, parts.settings.bootstrap_servers
    # Commands need only the event store; the relay (its own process) needs Kafka.
    servers = bootstrap_servers  # None: no informative Kafka check
    url = getattr(application.tables, "url", None)
    required: dict[str, Callable[[], bool | str]] = {"database": lambda: _database_ready(application)}
    if url:  # a halted relay (an event it must not publish) is named until an operator decides
        required["relay"] = relay_halt.ready(lambda: ratelimit.store_pool(application),
                                             RELAY_NAME)
    app = http.create_app("booking", [appointments.bp, directory.bp, client_actions.bp,
                                      events_feed.bp, audit.bp, checkpoint_key.bp,
                                      audit_export.bp, waitlist.bp], required,
                          informative_checks={"kafka": lambda: kafka.is_reachable(servers)}
                          if servers else None)
    client_actions.install_legacy_links(app)
    app.extensions["booking"] = application
    if getattr(application.tables, "url", None):  # in memory (unit tests): no limits
        ratelimit.install(app, lambda: ratelimit.store_pool(application))
    return app


def _database_ready(application: BookingApplication) -> bool:
    url = getattr(application.tables, "url", None)
    return db.is_reachable(url) if url else True
