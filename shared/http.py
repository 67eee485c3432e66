"""The Flask app every service starts from: auth, problem+json errors,
correlation ids, health, and an OpenAPI document at /openapi.json.

Every view declares its roles (`auth.roles_allowed`) or that it is public
(`auth.public`); `create_app` refuses a view that declares neither, and checks
the roles before any view runs (shared/auth.py `guard`)."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

import swagger_ui_bundle
from flask import Flask, Response, g, jsonify, request, send_from_directory
from flask_smorest import Blueprint
from werkzeug.exceptions import HTTPException

from shared import auth, config, input, logs, openapi, outage
from shared.errors import Problem, Unavailable

DOCS_BLUEPRINT = "api-docs"  # flask-smorest's /openapi.json and /docs
log = logging.getLogger(__name__)


def problem(status: int, title: str, detail: str, *, headers: dict[str, str] | None = None,
            **extra: object) -> Response:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail, **extra}
    response = jsonify(body)
    response.status_code = status
    response.content_type = "application/problem+json"
    for k, v in (headers or {}).items():
        response.headers[k] = v
    return response


def create_app(service: str, blueprints: Iterable[Blueprint],
               ready_checks: dict[str, Callable[[], bool | str]], version: str = "1.0.0",
               informative_checks: dict[str, Callable[[], bool | str]] | None = None) -> Flask:
    """`ready_checks`: what the API cannot answer without (/readyz 503 when one fails);
    `informative_checks`: what /readyz reports ("degraded") but the API does without.
    A check answers True (fine), False (missing) or a string: missing, for that reason
    (under `details`)."""
    logs.setup(service)
    app = Flask(f"services.{service}")  # a real package: the bare name may be shadowed
    app.config.update(
        API_TITLE=f"{service} API", API_VERSION=version, OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/", OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/docs/assets/",  # served below: the docs work offline
        API_SPEC_OPTIONS={
            "info": {"description": f"The {service} service of the appointment backend. Errors "
                                    "are application/problem+json (schema `Problem`); the "
                                    "conventions are in the README (API conventions).",
                     "contact": {"name": "The appointment backend team (README, Runbook)"}},
            "servers": [{"url": "/", "description": "this service"}],
            "components": {"securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
            "security": [{"bearer": []}],
        },
        JSON_SORT_KEYS=False,
        # Werkzeug answers 413 past this, before anything reads the body.
        MAX_CONTENT_LENGTH=int(config.require("MAX_BODY_BYTES")),
    )
    app.json = input.JsonProvider(app)
    api = openapi.ProblemApi(app, spec_kwargs={"extra_plugins": [openapi.ErrorsPlugin(app)]})
    for bp in blueprints:
        api.register_blueprint(bp)

    @app.before_request
    def _start() -> None:
        logs.correlation_id.set(request.headers.get("X-Correlation-ID", "")[:100]
                                or logs.new_correlation_id())
        view = app.view_functions.get(request.endpoint or "")
        if not (request.blueprint == DOCS_BLUEPRINT or request.endpoint == "static"):
            auth.guard(view, request.method)
        input.check_request()
        openapi.refuse_unknown_query(view, request.method, request.args.keys())

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers["X-Correlation-ID"] = logs.correlation_id.get()
        log.info("request", extra={"fields": {
            "method": request.method, "path": request.path, "status": response.status_code,
            "org": getattr(g.get("principal"), "org", None)}})
        return response

    @app.errorhandler(Problem)
    def _problem(e: Problem) -> Response:
        return problem(e.status, e.title, e.detail, headers=e.headers, **e.extra)

    def _database_unavailable(e: Exception) -> Response:
        if outage.is_busy(e):   # a lock or statement timeout: the server is there, just busy
            return _problem(Unavailable("the database is busy; try again",
                                        headers={"Retry-After": outage.BUSY_RETRY_AFTER}))
        if not isinstance(e, outage.DatabaseUnreachable):  # that one the gate logged once
            log.warning("database unavailable", extra={"fields": {"error": f"{type(e).__name__}: {e}"}})
        return _problem(Unavailable("the database cannot answer right now; retry shortly",
                                    headers={"Retry-After": outage.RETRY_AFTER}))

    for error in outage.UNAVAILABLE:
        app.register_error_handler(error, _database_unavailable)

    @app.errorhandler(HTTPException)
    def _http(e: HTTPException) -> Response:
        # flask-smorest puts marshmallow's messages under data["messages"]
        messages = (getattr(e, "data", None) or {}).get("messages")
        if not messages:
            return problem(e.code or 500, e.name, e.description or e.name)
        errors = _flatten(messages)
        return problem(e.code or 500, e.name, _summary(errors), errors=errors)

    @app.errorhandler(Exception)
    def _unexpected(e: Exception) -> Response:
        log.exception("unhandled error")
        return problem(500, "Internal error", "an unexpected error occurred; it has been logged")

    @app.get("/docs/assets/<path:filename>")
    @auth.public
    def swagger_ui_assets(filename: str) -> Response:
        return send_from_directory(swagger_ui_bundle.swagger_ui_path, filename)

    @app.get("/healthz")
    @auth.public
    def healthz() -> Response:
        return jsonify(status="ok", service=service)

    @app.get("/readyz")
    @auth.public
    def readyz() -> tuple[Response, int]:
        answers = {name: check() for name, check in
                   {**ready_checks, **(informative_checks or {})}.items()}
        checks = {name: answer is True for name, answer in answers.items()}
        details = {name: answer for name, answer in answers.items() if isinstance(answer, str)}
        missing = [name for name, ok in checks.items() if not ok]
        ready = all(checks[name] for name in ready_checks)
        status = "not ready" if not ready else "degraded" if missing else "ready"
        return jsonify(status=status, checks=checks, required=list(ready_checks),
                       missing=missing, **({"details": details} if details else {})
                       ), 200 if ready else 503

    refuse_undeclared(app)
    return app


def refuse_undeclared(app: Flask) -> None:
    """Refuse to start with a route that declares neither roles nor public access."""
    missing = [f"{method} {rule.rule}" for rule in app.url_map.iter_rules()
               if rule.endpoint != "static" and not rule.endpoint.startswith(DOCS_BLUEPRINT + ".")
               for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
               if auth.declared(app.view_functions[rule.endpoint], method) is None]
    if missing:
        raise RuntimeError("declare auth.roles_allowed(...) or auth.public on: "
                           + ", ".join(missing))


def _flatten(messages: dict) -> dict[str, list[str]]:
    """{"json": {"slot": {"start": ["..."]}}} -> {"slot.start": ["..."]}"""
    out: dict[str, list[str]] = {}

    def walk(prefix: str, node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out[prefix] = node if isinstance(node, list) else [str(node)]

    for location, fields in messages.items():
        walk("" if location in ("json", "query", "headers", "form") else location, fields)
    return out


def _summary(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(map(str, reasons))}" for field, reasons in errors.items())
