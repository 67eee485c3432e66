"""GET /v1/appointments/{id}/audit: one appointment's record for auditors, every stored
event described by the one description of a change (shared/history.py)."""
from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.booking.entrypoints.common import AUDITORS, booking, caller, respond
from shared import auth, openapi
from shared.auth import roles_allowed
from shared.history import for_viewer
from shared.instants import DESCRIBED

bp = Blueprint("audit", __name__, url_prefix="/v1/appointments",
               description="The audit trail of an appointment (roles auditor, manager)")


class AuditActor(Schema):
    id = fields.String(allow_none=True)
    role = fields.String(allow_none=True)


class AuditWorkflow(Schema):
    id = fields.String(allow_none=True)
    version = fields.Integer(allow_none=True)


class AuditEntry(Schema):
    """One stored event, described (shared/history.py)."""
    position = fields.Integer(metadata={"description": "notification id in booking's store"})
    version = fields.Integer()
    event_id = fields.String(metadata={"description": "the CloudEvent id of the event feed"})
    action = fields.String()
    from_status = fields.String(allow_none=True)
    to_status = fields.String()
    status_kind = fields.String(allow_none=True)
    status_name = fields.String(allow_none=True)
    actor = fields.Nested(AuditActor)
    source = fields.String(metadata={"description": "agent, client_link, system or api"})
    at = fields.String(metadata={"format": "date-time", "description": f"the event's time: {DESCRIBED}"})
    reason = fields.String(allow_none=True)
    message = fields.String(allow_none=True)
    workflow = fields.Nested(AuditWorkflow)
    correlation_id = fields.String(allow_none=True)
    link_id = fields.String(allow_none=True, metadata={"description": "the signed link used"})
    changes = fields.List(fields.Nested(openapi.HistoryChange))


class AuditTrail(Schema):
    appointment_id = fields.String()
    events = fields.List(fields.Nested(AuditEntry))



@bp.route("/<uuid:appointment_id>/audit", methods=["GET"])
@bp.response(200, AuditTrail)
@roles_allowed(*AUDITORS)
def audit_trail(appointment_id: uuid.UUID) -> Any:
    """Every event of the appointment, oldest first: who, from where, when, why, under
    which workflow version, and every field it changed (before and after)"""
    events = booking().audit_trail(caller().organisation_id, appointment_id)
    roles = set(auth.current().roles)
    return respond({"appointment_id": str(appointment_id),
                    "events": [for_viewer(e, roles) for e in events]})
