"""/v1/transitions/validate: the authority booking asks before every status change."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import Blueprint

from services.workflow.entrypoints import schemas as s
from services.workflow.entrypoints.context import MACHINE, application
from shared import openapi
from shared.auth import current, roles_allowed

blp = Blueprint("transitions", __name__, url_prefix="/v1", description="Transition checks")


@blp.route("/transitions/validate")
class TransitionCheck(MethodView):
    @roles_allowed(*MACHINE)
    @blp.arguments(s.TransitionQuerySchema)
    @blp.response(200, s.TransitionAnswerSchema)
    @openapi.errors(404)
    def post(self, q: dict[str, Any]) -> dict[str, Any]:
        """Whether an action may move an appointment from a status (allowed: false is a 200)."""
        return application().check_transition(current().org, q["workflow_id"], q["version"],
                                              q["from_status"], q["action"], q["to_status"])
