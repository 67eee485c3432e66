"""Marshmallow schemas: every input is validated here (bad input -> 422 naming
the field), and the OpenAPI document is generated from them."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from shared.domain import lifecycle

KEY = validate.Regexp(r"^[a-z][a-z0-9_]{0,62}$",
                      error="must be lower-case letters, digits and _, starting with a letter")
COLOUR = validate.Regexp(r"^#[0-9a-fA-F]{6}$", error="must be a hex colour like #1e88e5")
MAX_STATUSES = 50


class StatusSchema(Schema):
    key = fields.String(required=True, validate=KEY)
    name = fields.String(required=True, validate=validate.Length(1, 100))
    description = fields.String(load_default="", validate=validate.Length(max=500))
    position = fields.Integer(required=True, strict=True, validate=validate.Range(0, 100_000))
    kind = fields.String(required=True, validate=validate.OneOf(lifecycle.CUSTOM_KINDS))
    colour = fields.String(load_default="#9e9e9e", validate=COLOUR)


class StatusOutSchema(StatusSchema):
    kind = fields.String(metadata={"enum": list(lifecycle.KINDS)})


def _statuses(required: bool) -> fields.List:
    nested, size = fields.Nested(StatusSchema), validate.Length(max=MAX_STATUSES)
    if required:
        return fields.List(nested, validate=size, required=True)
    return fields.List(nested, validate=size, load_default=list)


class WorkflowInSchema(Schema):
    name = fields.String(required=True, validate=validate.Length(1, 200))
    statuses = _statuses(required=False)


class DraftInSchema(Schema):
    name = fields.String(validate=validate.Length(1, 200))
    statuses = _statuses(required=True)


class DefinitionCheckInSchema(DraftInSchema):
    """A definition to check without saving it."""


class DefinitionCheckSchema(Schema):
    valid = fields.Boolean()
    problems = fields.List(fields.String())


class DefinitionSchema(Schema):
    """One published version: shared.domain.lifecycle.Definition.as_dict() (tail included)."""
    id = fields.String()
    version = fields.Integer()
    name = fields.String()
    organisation_id = fields.String()
    statuses = fields.List(fields.Nested(StatusOutSchema))


class PublishedSchema(DefinitionSchema):
    published_at = fields.String()
    published_by = fields.String()


class DraftSchema(Schema):
    statuses = fields.List(fields.Nested(StatusOutSchema))


class WorkflowSchema(Schema):
    id = fields.String()
    organisation_id = fields.String()
    name = fields.String()
    builtin = fields.Boolean()
    revision = fields.Integer(allow_none=True, metadata={
        "description": "the workflow's version (ETag); named revision in the v1 contract"})
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)
    draft = fields.Nested(DraftSchema, allow_none=True)
    latest_version = fields.Integer(allow_none=True)
    versions = fields.List(fields.Nested(PublishedSchema))


class PublishSchema(Schema):
    workflow_id = fields.String()
    version = fields.Integer()
    created = fields.Boolean(metadata={"description": "false: the draft equals that version"})


class TransitionQuerySchema(Schema):
    workflow_id = fields.String(required=True, validate=validate.Length(1, 100))
    version = fields.Integer(load_default=None, allow_none=True, strict=True,
                             validate=validate.Range(min=1),
                             metadata={"description": "null: the latest published version"})
    from_status = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64))
    action = fields.String(required=True, validate=validate.OneOf(lifecycle.ACTIONS))
    to_status = fields.String(load_default=None, allow_none=True, validate=validate.Length(1, 64),
                              metadata={"description": "null: the action's first target"})


class WorkflowRefSchema(Schema):
    id = fields.String()
    version = fields.Integer()


class TransitionAnswerSchema(Schema):
    allowed = fields.Boolean()
    workflow = fields.Nested(WorkflowRefSchema)
    to_status = fields.String(allow_none=True)
    status_kind = fields.String(allow_none=True)
    allowed_actions = fields.List(fields.String())
