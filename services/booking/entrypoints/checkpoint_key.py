"""GET /v1/audit/public_key: the key the signed checkpoints on `audit.checkpoints`
verify with (README, For auditors). Public by nature; read by the staff roles."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema, fields

from services.booking.audit import keys
from services.booking.audit.checkpoints import TOPIC
from shared import auth
from shared.auth import roles_allowed
from shared.errors import NotFound

bp = Blueprint("audit-key", __name__, url_prefix="/v1/audit",
               description="The public key of the signed audit checkpoints")


class PublicKeySchema(Schema):
    algorithm = fields.String(required=True, metadata={"example": "Ed25519"})
    public_key_pem = fields.String(required=True,
                                   metadata={"description": "SubjectPublicKeyInfo, PEM"})
    topic = fields.String(required=True, metadata={"example": "audit.checkpoints"})


@bp.route("/public_key", methods=["GET"])
@bp.response(200, PublicKeySchema)
@roles_allowed("auditor", "manager", auth.PLATFORM)
def public_key() -> dict[str, Any]:
    """The Ed25519 public key that verifies the checkpoints"""
    try:
        key = keys.public_key()
    except (OSError, ValueError) as error:
        raise NotFound(f"no checkpoint key is configured here ({type(error).__name__})") from None
    return {"algorithm": "Ed25519", "public_key_pem": keys.public_pem(key).decode(),
            "topic": TOPIC}
