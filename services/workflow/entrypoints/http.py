"""The workflow API process: `gunicorn 'services.workflow.entrypoints.http:create_app()'`."""
from __future__ import annotations

from flask import Flask

from services.workflow import bootstrap
from services.workflow.entrypoints import transitions, workflows
from services.workflow.entrypoints.context import DATABASE_URL
from shared import config, db, kafka, ratelimit, relay_halt
from shared import http as shared_http

RELAY_NAME = "workflow"  # its row in relay_position and relay_halt


def create_app(database_url: str | None = None) -> Flask:
    url = bootstrap.database_url(database_url)
    servers = config.get("KAFKA_BOOTSTRAP_SERVERS")
    # The API needs only its event store; the relay (its own process) needs Kafka.
    app = shared_http.create_app(
        "workflow", [workflows.blp, transitions.blp],
        ready_checks={"database": lambda: db.is_reachable(url),
                      "relay": relay_halt.ready(  # halted at an event
                          lambda: ratelimit.store_pool(bootstrap.application(url)), RELAY_NAME)},
        informative_checks={"kafka": lambda: bool(servers) and kafka.is_reachable(servers or "")})
    app.config[DATABASE_URL] = url
    # Booking asks this before each status change it has already counted: not limited here.
    ratelimit.install(app, lambda: ratelimit.store_pool(bootstrap.application(url)),
                      exempt={"/v1/transitions/validate"})
    return app
