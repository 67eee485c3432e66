"""GET /v1/audit/export: the caller's organisation's events of a period, as stored, with
their chain hashes and a signed manifest (services/booking/audit/export.py), streamed."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Response, stream_with_context
from flask_smorest import Blueprint
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from services.booking.audit import export, keys
from services.booking.entrypoints.common import AUDITORS, booking
from shared import auth
from shared.auth import roles_allowed
from shared.errors import Unavailable
from shared.input import Instant

bp = Blueprint("audit-export", __name__, url_prefix="/v1/audit",
               description="Signed exports of the event store (roles auditor, manager)")


class ExportQuery(Schema):
    start = Instant(required=True, data_key="from",
                    metadata={"description": "the first instant of the period (ISO 8601 with an "
                                             "offset)"})
    end = Instant(required=True, data_key="to",
                  metadata={"description": "the end of the period, exclusive; at most "
                                           f"{export.MAX_PERIOD.days} days after `from`"})
    format = fields.String(load_default="jsonl", validate=validate.OneOf(sorted(export.FORMATS)))

    @validates_schema
    def _period(self, data: dict[str, Any], **_: Any) -> None:
        if "start" in data and "end" in data and (why := export.check_period(data["start"],
                                                                             data["end"])):
            raise ValidationError(why, "to")


LINES = {"type": "string", "description": "one line per event: position, sequence, aggregate_id, "
         "version, type, time, payload (as stored), payload_encoding (utf-8 or base64), hash; "
         "then the signed manifest"}


@bp.route("/export", methods=["GET"])
@bp.arguments(ExportQuery, location="query")
@bp.doc(responses={"200": {"description": "the export, streamed", "content": {
    media: {"schema": LINES} for media in export.FORMATS.values()}}})
@roles_allowed(*AUDITORS)
def export_events(args: dict[str, Any]) -> Response:
    """Every event of the organisation in a period, as stored, then a signed manifest

    JSON Lines (`format=jsonl`, the default) ends with `{"manifest": {...}, "signature":
    ...}`; CSV (`format=csv`) has a header row and ends with the row `manifest,<that JSON>`.
    `python -m services.booking.audit verify --export FILE` checks it offline."""
    try:
        key = keys.signing_key()
    except (OSError, ValueError) as error:
        raise Unavailable(f"no signing key is configured here ({type(error).__name__})") from None
    datastore: Any = getattr(booking().recorder, "datastore", None)
    if datastore is None:
        raise Unavailable("exports need booking's PostgreSQL event store")
    fmt = args["format"]
    chunks = export.stream(datastore.get_connection, auth.current().org, args["start"],
                           args["end"], fmt, key, lambda: datetime.now(UTC))
    name = f"{auth.current().org}-events.{fmt}"
    return Response(stream_with_context(chunks), mimetype=export.FORMATS[fmt],
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
