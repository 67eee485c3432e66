"""The workflow API process: `gunicorn 'services.workflow.entrypoints.http:create_app()'`."""
from __future__ import annotations

from flask import Flask
from psycopg_pool import ConnectionPool

from services.workflow import bootstrap
from services.workflow.entrypoints import transitions, workflows
from services.workflow.entrypoints.context import SETTINGS
from shared import db, kafka, ratelimit, relay_halt
from shared import http as shared_http

RELAY_NAME = "workflow"  # its row in relay_position and relay_halt


def create_app(database_url: str | None = None) -> Flask:
    """The Flask app; its parts (bootstrap.parts) are wired on first use, after the fork."""
    settings = bootstrap.Settings.from_env(database_url=database_url)
    url, servers = settings.database_url, settings.bootstrap_servers

    def store() -> ConnectionPool:  # the event store's pool, once the parts are wired
        return ratelimit.store_pool(bootstrap.parts(settings).application)

    # The API needs only its event store; the relay (its own process) needs Kafka.
    app = shared_http.create_app(
        "workflow", [workflows.blp, transitions.blp],
        ready_checks={"database": lambda: db.is_reachable(url),
                      "relay": relay_halt.ready(store, RELAY_NAME)},  # halted at an event
        informative_checks={"kafka": lambda: bool(servers) and kafka.is_reachable(servers or "")})
    app.extensions[SETTINGS] = settings
    # Booking asks this before each status change it has already counted: not limited here.
    ratelimit.install(app, store, exempt={"/v1/transitions/validate"})
    return app
