"""/v1/organisation, /v1/services, /v1/resources, /v1/clients: the organisation's directory."""
from __future__ import annotations

import uuid
from typing import Any

from flask_smorest import Blueprint
from marshmallow import Schema

from services.booking.domain.directory import public_services
from services.booking.entrypoints import answers
from services.booking.entrypoints import schemas as s
from services.booking.entrypoints.common import READERS, booking, caller, command, if_match, respond
from shared import auth, openapi, paging
from shared.auth import roles_allowed

bp = Blueprint("directory", __name__, url_prefix="/v1",
               description="Organisation settings, services, resources and clients")


@bp.route("/organisation", methods=["GET"])
@bp.response(200, answers.OrganisationResult)
@roles_allowed(*READERS)
@openapi.versioned
def get_organisation() -> Any:
    """The caller's organisation settings (defaults until first changed)"""
    org = booking().organisation(caller().organisation_id)
    return respond({"organisation": org.snapshot(), "version": org.version})


@bp.route("/organisation", methods=["PATCH"])
@bp.arguments(s.OrganisationSchema)
@bp.response(200, answers.OrganisationResult)
@roles_allowed("manager")
@openapi.errors(409)
@openapi.if_match
@command()
def update_organisation(args: dict[str, Any]) -> dict[str, Any]:
    """Change settings: reasons, parts of day, retention, channels, reschedule policy"""
    return booking().update_organisation(caller(), args, if_match())


# kind -> (path, schema, roles that may write)
KINDS: dict[str, tuple[str, type[Schema], tuple[str, ...]]] = {
    "service": ("services", s.ServiceSchema, ("manager",)),
    "resource": ("resources", s.ResourceSchema, ("manager",)),
    "client": ("clients", s.ClientSchema, ("agent", "manager")),
}


def _register(kind: str, path: str, schema: type[Schema], writers: tuple[str, ...]) -> None:
    def create(args: dict[str, Any]) -> dict[str, Any]:
        return booking().register(caller(), kind, args)

    def update(args: dict[str, Any], entry_id: uuid.UUID) -> dict[str, Any]:
        return booking().update_entry(caller(), kind, entry_id, args, if_match())

    def listing(args: dict[str, Any]) -> Any:
        rows = booking().entries(caller().organisation_id, kind, args.get("email"),
                                 args.get("phone"), args.get("cursor"), args["limit"] + 1)
        page = paging.page(rows, args["limit"], key=lambda e: (e["name"], uuid.UUID(str(e["id"]))))
        if not auth.current().has(*READERS):  # the booking widget (a page may hold fewer)
            page["items"] = public_services(page["items"])
        return respond(page)

    def one(entry_id: uuid.UUID) -> Any:
        entry = booking().entry(caller().organisation_id, kind, entry_id)
        return respond({kind: entry.snapshot(), "version": entry.version})

    listers = (*READERS, "widget") if kind == "service" else READERS  # the widget's services
    for view, summary in ((create, f"Add a {kind}"), (update, f"Change a {kind}"),
                          (listing, f"List the {path}" + (" (?email=, ?phone= to match)"
                                                          if kind == "client" else "")),
                          (one, f"One {kind}")):
        view.__name__ = f"{view.__name__}_{kind}"
        view.__doc__ = summary
    result = answers.entry_result(kind)
    query = s.ClientQuery if kind == "client" else s.EntryPageQuery
    bp.route(f"/{path}", methods=["POST"], endpoint=f"create_{kind}")(
        bp.arguments(schema)(bp.response(201, result)(
            roles_allowed(*writers)(openapi.errors(409)(command(201)(create))))))
    bp.route(f"/{path}/<uuid:entry_id>", methods=["PATCH"], endpoint=f"update_{kind}")(
        bp.arguments(_patch(schema))(bp.response(200, result)(roles_allowed(*writers)(
            openapi.errors(409)(openapi.if_match(command()(update)))))))
    bp.route(f"/{path}", methods=["GET"], endpoint=f"list_{kind}")(
        bp.arguments(query, location="query")(bp.response(200, paging.envelope(answers.ENTRIES[kind]))(
            roles_allowed(*listers)(listing))))
    bp.route(f"/{path}/<uuid:entry_id>", methods=["GET"], endpoint=f"get_{kind}")(
        bp.response(200, result)(roles_allowed(*READERS)(openapi.versioned(one))))


def _patch(schema: type[Schema]) -> Schema:
    """The same fields, all optional (its own class, so OpenAPI names it apart)."""
    name = schema.__name__.replace("Schema", "Patch")
    return type(name, (schema,), {})(partial=True)


for _kind, (_path, _schema, _writers) in KINDS.items():
    _register(_kind, _path, _schema, _writers)


@bp.route("/clients/<uuid:entry_id>/erase", methods=["POST"])
@bp.arguments(s.EmptySchema)
@bp.response(200, answers.entry_result("client"))
@roles_allowed("manager")
@openapi.errors(409)
@command()
def erase_client(args: dict[str, Any], entry_id: uuid.UUID) -> dict[str, Any]:
    """Erase a client's personal data (GDPR): their key is destroyed, so their name,
    email, phone and what they wrote read as erased in every event; statuses, times and
    counts stay. Erasing again changes nothing (position null)."""
    return booking().erase_client(caller(), entry_id)
