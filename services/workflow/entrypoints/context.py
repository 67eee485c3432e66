"""What a view needs from the request besides its body: the application, the
caller, and the optional concurrency / idempotency headers."""
from __future__ import annotations

from flask import current_app, request

from services.workflow import bootstrap
from services.workflow.application.app import Actor, WorkflowApplication
from shared import auth, logs
from shared.errors import Invalid

STAFF = ("agent", "manager", "auditor")
MACHINE = (*STAFF, "service")  # what booking's service token needs: versions, transition checks
SETTINGS = "workflow.settings"  # app.extensions: the bootstrap.Settings the app was made with


def application() -> WorkflowApplication:
    return bootstrap.parts(current_app.extensions[SETTINGS]).application


def actor() -> Actor:
    principal = auth.current()
    return Actor(principal.org, principal.subject, logs.correlation_id.get())


def request_key() -> str | None:
    key = request.headers.get("Idempotency-Key")
    if key is not None and not 1 <= len(key) <= 200:
        raise Invalid("Idempotency-Key", "must be 1 to 200 characters")
    return key


def etag(version: int | None) -> dict[str, str]:
    return {"ETag": f'"{version}"'} if version is not None else {}
