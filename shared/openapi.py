"""What every OpenAPI document says about errors, ids and headers, written once.

- `ProblemSchema`: the one shape of every error answer (RFC 9457,
  `application/problem+json`), registered as the `Problem` schema.
- `ProblemApi`: flask-smorest's `Api` with that shape as its error responses.
- `ErrorsPlugin`: gives each operation an `operationId` (its view's name) and the
  errors any operation can answer, so no view has to repeat them: 401 and 403
  (unless public), 404 (with path parameters), 413 (with a body), 422 (every
  request is checked, shared/input.py), 429 (writes are rate limited) and 503
  (the database is unreachable or busy, with Retry-After).
- Decorators for what only some operations do: `conflicts` (409), `lagging`
  (504 for `min_position`), `if_match`, `idempotency_key`, `versioned` (ETag).
"""
from __future__ import annotations

import functools
import http
import re
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from apispec import BasePlugin
from flask import Flask
from flask_smorest import Api, Blueprint
from marshmallow import INCLUDE, Schema, fields
from werkzeug.routing import Rule

from shared import auth, history
from shared.errors import Invalid

F = TypeVar("F", bound=Callable[..., Any])
ETAG_MARK = "x-answers-etag"  # set by `versioned`, turned into the ETag header by the plugin
PROBLEM_JSON = "application/problem+json"
WRITES = ("post", "put", "patch", "delete")


class ProblemSchema(Schema):
    """An error answer: what went wrong (`title`), why (`detail`), and where
    (`errors`: each field with its reasons). Some problems add their own keys,
    e.g. `allowed_actions` and `current_version` for a 409."""

    class Meta:
        unknown = INCLUDE

    type = fields.String(required=True, metadata={"example": "about:blank"})
    title = fields.String(required=True, metadata={"example": "Invalid input"})
    status = fields.Integer(required=True, metadata={"example": 422})
    detail = fields.String(required=True, metadata={"example": "slot.start: not a valid time"})
    errors = fields.Dict(keys=fields.String(), values=fields.List(fields.String()),
                         metadata={"description": "Each field at fault (dotted path) with its reasons"})
    allowed_actions = fields.List(fields.String(), metadata={
        "description": "409 transition not allowed: the actions the appointment allows now, "
                       "each spelled as the path segment to POST it to (snake_case)"})
    current_version = fields.Integer(metadata={
        "description": "409 stale version: the version the resource is at now"})
    current_status = fields.String(metadata={"description": "409: the status the appointment is in"})


RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before trying again",
                               "schema": {"type": "integer"}}}
WHY = {
    400: "The request cannot be read (e.g. a body that is not JSON)",
    401: "Missing, expired or invalid bearer token (the claim at fault is named)",
    403: "The token's roles do not allow this operation, or the link was refused",
    404: "Nothing with that id in the caller's organisation",
    409: "Refused by the current state: transition not allowed (`allowed_actions`), "
         "stale version (`current_version`), slot taken, ...",
    412: "If-Match names a version that is not the current one",
    413: "The body is larger than MAX_BODY_BYTES",
    414: "The request line (path and query) is longer than the server reads (4094 bytes)",
    431: "The headers are larger than the server reads",
    422: "Invalid input: each field at fault with its reasons in `errors` "
         "(also unknown query parameters)",
    429: "Over a rate limit; retry after Retry-After seconds",
    503: "The database is unreachable or busy; retry after Retry-After seconds",
    504: "The view has not applied `min_position` yet; retry after Retry-After seconds",
}


class ProblemApi(Api):
    """flask-smorest's Api, its error responses in the problem+json shape."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        self.spec.components.schema("Problem", schema=ProblemSchema)
        for status in http.HTTPStatus:
            if status >= 400:
                self.spec.components.response(status.name, response(status), lazy=True)

    def _register_pagination_header(self) -> None:
        """Not registered: our lists page with `cursor`, not flask-smorest's pagination."""


def response(status: int) -> dict[str, Any]:
    return {"description": WHY.get(status, http.HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            **({"headers": RETRY_AFTER} if status in (429, 503, 504) else {})}


class ErrorsPlugin(BasePlugin):
    """operationIds and the errors every operation can answer (see the module doc)."""

    def __init__(self, app: Flask) -> None:
        self.app = app   # its views declare their roles (shared/auth.py)

    def operation_helper(self, path: str | None = None,
                         operations: dict[str, Any] | None = None, **kwargs: Any) -> None:
        rule: Rule = kwargs["rule"]
        for method in [m for m in (operations or {}) if m != "parameters"]:
            operation = (operations or {})[method]
            operation.setdefault("operationId", operation_id(rule.endpoint, method))
            self._access(operation, self.app.view_functions.get(rule.endpoint), method)
            responses = operation.setdefault("responses", {})
            responses.pop("default", None)
            codes = [400, 414, 422, 431, 503]
            if operation.get("security") != []:
                codes += [401, 403]
            if rule.arguments:
                codes.append(404)
            if method in WRITES:
                codes += [413, 429]
            for code in codes:
                responses.setdefault(str(code), http.HTTPStatus(code).name)
            self._headers(operation)

    @staticmethod
    def _access(operation: dict[str, Any], view: Callable[..., Any] | None, method: str) -> None:
        """Who may call it, in the description (and `security: []` when public)."""
        access = auth.declared(view, method.upper()) if view else None
        if access is None:
            return
        if access.roles is None:
            operation["security"] = []
            who = "**Public**: no bearer token."
        else:
            who = f"**Roles**: {', '.join(sorted(access.roles))}."
            if access.query_token:
                who += " The token may also come as `?access_token=`."
        operation["description"] = "\n\n".join(filter(None, [operation.get("description"), who]))

    def _headers(self, operation: dict[str, Any]) -> None:
        """Request and answer headers: X-Correlation-ID everywhere; ETag and
        Idempotent-Replayed on the successes of the operations that give them."""
        parameters = operation.setdefault("parameters", [])
        parameters.append(CORRELATION_ID)
        names = {p.get("name") for p in parameters}
        headers = {"X-Correlation-ID": {"description": "The request's correlation id",
                                        "schema": {"type": "string"}}}
        if operation.pop(ETAG_MARK, False):
            headers["ETag"] = {"description": 'The version answered, e.g. "4": send it back '
                                              "as If-Match", "schema": {"type": "string"}}
        if "Idempotency-Key" in names:
            headers["Idempotent-Replayed"] = {
                "description": "`true` when this is the first answer to the same "
                               "Idempotency-Key, replayed", "schema": {"type": "string"}}
        for code, answer in operation["responses"].items():
            if str(code).startswith("2") and isinstance(answer, dict):
                answer.setdefault("headers", {}).update(headers)


def operation_id(endpoint: str, method: str) -> str:
    """The view's name (`confirm`); a MethodView's: method and class (`get_one_workflow`)."""
    name = endpoint.rsplit(".", 1)[-1]
    if name[:1].isupper():
        name = f"{method}_" + re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
    return name


def errors(*codes: int) -> Callable[[F], F]:
    """Document errors only some operations answer (409, 412, 504...)."""
    return Blueprint.doc(responses={str(c): http.HTTPStatus(c).name for c in codes})


def header_parameter(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"in": "header", "name": name, "required": False, "description": description,
            "schema": {"type": "string", **schema}}


IF_MATCH = header_parameter(
    "If-Match", 'The ETag the client last saw (e.g. "4"): refuses the write with 409 and '
    "`current_version` when the resource has changed since. Optional.", maxLength=100)
IDEMPOTENCY_KEY = header_parameter(
    "Idempotency-Key", "Any unique string (1 to 200 characters): a retry with the same key and "
    "body answers the first answer again (with `Idempotent-Replayed: true`) and does not "
    "act twice; the same key with another body answers 422.", maxLength=200)
CORRELATION_ID = header_parameter(
    "X-Correlation-ID", "Optional id (<= 100 characters) carried into logs and the events "
    "this request records; answered back in the header of the same name.", maxLength=100)


def if_match(view: F) -> F:
    """The operation honours If-Match (optimistic concurrency)."""
    return _with_parameter(view, IF_MATCH)


def idempotency_key(view: F) -> F:
    """The operation honours Idempotency-Key."""
    return _with_parameter(view, IDEMPOTENCY_KEY)


def _with_parameter(view: F, parameter: dict[str, Any]) -> F:
    # Blueprint.doc replaces lists: add to the parameters documented so far.
    documented = getattr(view, "_apidoc", {}).get("manual_doc", {}).get("parameters", [])
    return Blueprint.doc(parameters=[*documented, parameter])(view)  # type: ignore[no-any-return]


def versioned(view: F) -> F:
    """The operation answers an ETag (the version of what it answers)."""
    return Blueprint.doc(**{ETAG_MARK: True})(view)  # type: ignore[no-any-return]


def query_names(view: Callable[..., Any] | None, method: str) -> frozenset[str] | None:
    """The query parameters the operation documents (None: not a documented operation)."""
    if view is None:
        return None
    return _documented_query(getattr(getattr(view, "view_class", None), method.lower(), view))


@functools.cache  # once per view: the documentation does not change while the app runs
def _documented_query(handler: Callable[..., Any]) -> frozenset[str] | None:
    apidoc = getattr(handler, "_apidoc", None)
    if apidoc is None:
        return None
    names = set()
    for argument in apidoc.get("arguments", {}).get("parameters", []):
        if argument.get("in") == "query":
            schema = argument["schema"]
            schema = schema() if isinstance(schema, type) else schema
            names |= {f.data_key or name for name, f in schema.fields.items()}
    names |= {p["name"] for p in apidoc.get("manual_doc", {}).get("parameters", [])
              if p.get("in") == "query"}
    return frozenset(names)


def refuse_unknown_query(view: Callable[..., Any] | None, method: str,
                         given: Iterable[str]) -> None:
    """422 for a query parameter the operation does not document (a typo would
    otherwise be ignored silently: `?at=` answering the current state)."""
    known = query_names(view, method)
    if known is None:
        return
    unknown = sorted(set(given) - known)
    if unknown:
        allowed = ", ".join(sorted(known)) or "none"
        raise Invalid(unknown[0], f"unknown query parameter (this operation takes: {allowed})")


class HistoryChange(Schema):
    """One field an appointment event changed (shared/history.py `changes`): booking's
    audit trail and the projections' history describe changes with this one schema."""

    class Meta:
        unknown = INCLUDE

    field = fields.String(metadata={"description": ", ".join(history.FIELDS)
                                    + " or note (internal, staff only)"})
    before = fields.Raw(allow_none=True)
    after = fields.Raw(allow_none=True)
    erased = fields.Boolean(metadata={"description": "true once the client is erased: the "
                                                     "values are withheld"})
