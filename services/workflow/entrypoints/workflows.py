"""/v1/workflows: define, list, edit, publish, and read published versions.
Thin: JSON in, a use case called, JSON out."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.workflow.application import commands as c
from services.workflow.application.app import builtin_snapshot
from services.workflow.domain.workflow import problems
from services.workflow.entrypoints import schemas as s
from services.workflow.entrypoints.context import (
    MACHINE,
    STAFF,
    actor,
    application,
    etag,
    request_key,
)
from shared import openapi, paging
from shared.auth import current, roles_allowed
from shared.domain import lifecycle
from shared.preconditions import if_match

blp = Blueprint("workflows", __name__, url_prefix="/v1", description="Status workflows")
IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable"}


@blp.route("/workflows")
class Workflows(MethodView):
    @roles_allowed(*STAFF)
    @blp.arguments(paging.query(int), location="query")
    @blp.response(200, paging.envelope(s.WorkflowSchema))
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List the organisation's workflows: the built-in one first, then in the order
        they were defined (paged: `limit`, `cursor`)."""
        org, limit = current().org, args["limit"]
        start = args["cursor"][0] + 1 if args.get("cursor") else 0   # 0: the built-in one
        rows = [(0, builtin_snapshot(org))] if start == 0 else []
        rows += [(n + 1, w.snapshot()) for n, w in
                 application().workflows(org, max(start - 1, 0), limit + 1 - len(rows))]
        return paging.page(rows, limit, key=lambda r: (r[0],), item=lambda r: r[1])

    @roles_allowed("manager")
    @blp.arguments(s.WorkflowInSchema)
    @blp.response(201, s.WorkflowSchema)
    @openapi.versioned
    @openapi.idempotency_key
    def post(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
        """Define a workflow with a draft of statuses (Idempotency-Key honoured)."""
        workflow = application().create(actor(), c.Create(**data), request_key())
        return workflow.snapshot(), etag(workflow.version)


@blp.route("/workflows/validate")
class DefinitionCheck(MethodView):
    @roles_allowed("manager")
    @blp.arguments(s.DefinitionCheckInSchema)
    @blp.response(200, s.DefinitionCheckSchema)
    def post(self, data: dict[str, Any]) -> dict[str, Any]:
        """Check a definition against the publishing rules without saving it."""
        found = problems(data["statuses"])
        return {"valid": not found, "problems": found}


@blp.route("/workflows/<workflow_id>")
class OneWorkflow(MethodView):
    @roles_allowed(*STAFF)
    @blp.response(200, s.WorkflowSchema)
    @openapi.versioned
    def get(self, workflow_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Read a workflow: its draft and every published version."""
        if workflow_id == lifecycle.BUILTIN_ID:
            return builtin_snapshot(current().org), {}
        workflow = application().workflow(current().org, workflow_id)
        return workflow.snapshot(), etag(workflow.version)


@blp.route("/workflows/<workflow_id>/draft")
class Draft(MethodView):
    @roles_allowed("manager")
    @blp.arguments(s.DraftInSchema)
    @blp.response(200, s.WorkflowSchema)
    @openapi.versioned
    @openapi.if_match
    @openapi.errors(409)
    def put(self, data: dict[str, Any], workflow_id: str) -> tuple[dict[str, Any], dict[str, str]]:
        """Replace the draft (published versions stay as they are; If-Match honoured)."""
        workflow = application().replace_draft(actor(), workflow_id, c.ReplaceDraft(**data),
                                               if_match())
        return workflow.snapshot(), etag(workflow.version)


@blp.route("/workflows/<workflow_id>/publish")
class Publish(MethodView):
    @roles_allowed("manager")
    @blp.response(201, s.PublishSchema)
    @blp.alt_response(200, schema=s.PublishSchema, description="the draft equals that version")
    @openapi.versioned
    @openapi.if_match
    @openapi.errors(409)
    def post(self, workflow_id: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Freeze the draft as the next immutable version (422 naming each problem)."""
        workflow, version, created = application().publish(actor(), workflow_id,
                                                           if_match())
        body = {"workflow_id": str(workflow.id), "version": version, "created": created}
        return body, 201 if created else 200, etag(workflow.version)


@blp.route("/workflows/<workflow_id>/versions/<int:version>")
class Version(MethodView):
    @roles_allowed(*MACHINE)
    @blp.response(200, s.DefinitionSchema)
    def get(self, workflow_id: str, version: int) -> tuple[dict[str, Any], dict[str, str]]:
        """A published version (immutable: cache it forever); `builtin` version 1 too."""
        definition = application().definition(current().org, workflow_id, version)
        return definition.as_dict(), IMMUTABLE
