"""Bearer tokens (JWT, HS256) carrying the organisation and roles, and the role
each endpoint declares.

Claims are checked strictly (README, "Tokens and roles"): `sub` a string, `org`
an organisation id of ORG_PATTERN, `roles` a non-empty list of ROLES, `exp`
required. `platform` is the one role no organisation token carries: it comes
alone, with the reserved organisation PLATFORM_ORG.

Every view declares who may call it, `roles_allowed(...)` or `public`; the
app factory (shared/http.py) refuses to start with a view that declares
neither and checks the declared roles before the view runs.

Issue a development token:
    python -m shared.auth --org acme --roles agent,manager
"""
from __future__ import annotations

import argparse
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import jwt
from flask import g, request
from jwt.exceptions import InvalidSubjectError

from shared import config
from shared.errors import Forbidden, Unauthorized

ROLES = ("agent", "manager", "auditor", "service", "widget", "platform")
PLATFORM, PLATFORM_ORG = "platform", "*"
ORG_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
MAX_SUBJECT = 256
QUERY_TOKEN = "access_token"  # RFC 6750 2.3, accepted only where a view allows it
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    subject: str
    org: str
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


@dataclass(frozen=True)
class Access:
    """What a view declared: the roles that may call it (None: public)."""
    roles: frozenset[str] | None
    query_token: bool = False


def issue(org: str, roles: list[str], subject: str = "dev", ttl: int = 24 * 3600) -> str:
    now = int(time.time())
    claims = {"sub": subject, "org": org, "roles": roles, "iat": now, "exp": now + ttl}
    try:
        principal_of(claims)
    except Unauthorized as e:
        raise ValueError(e.detail) from e
    return jwt.encode(claims, config.require("JWT_SECRET"), algorithm="HS256")


def verify(token: str) -> Principal:
    try:
        claims = jwt.decode(token, config.require("JWT_SECRET"), algorithms=["HS256"],
                            options={"require": ["sub", "org", "roles", "exp"]})
    except jwt.MissingRequiredClaimError as e:
        raise _refused(e.claim, "is required") from e
    except (InvalidSubjectError, jwt.ExpiredSignatureError) as e:
        raise _refused("sub" if isinstance(e, InvalidSubjectError) else "exp", f"{e}") from e
    except jwt.PyJWTError as e:
        raise Unauthorized(f"invalid bearer token: {e}",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'}) from e
    return principal_of(claims)


def principal_of(claims: dict[str, Any]) -> Principal:
    """The caller the claims describe; Unauthorized naming the first claim that is wrong."""
    sub, org, roles = claims.get("sub"), claims.get("org"), claims.get("roles")
    if not isinstance(sub, str) or not 1 <= len(sub) <= MAX_SUBJECT:
        raise _refused("sub", f"must be a string of 1 to {MAX_SUBJECT} characters")
    if not isinstance(roles, list) or not roles or not all(isinstance(r, str) for r in roles):
        raise _refused("roles", "must be a non-empty list of role names")
    unknown = sorted(set(roles) - set(ROLES))
    if unknown:
        raise _refused("roles", f"unknown role(s) {', '.join(unknown)}; known: {', '.join(ROLES)}")
    if PLATFORM in roles:
        if set(roles) != {PLATFORM}:
            raise _refused("roles", f"'{PLATFORM}' comes alone")
        if org != PLATFORM_ORG:
            raise _refused("org", f"must be '{PLATFORM_ORG}' with the role '{PLATFORM}'")
    elif not isinstance(org, str) or not ORG_PATTERN.fullmatch(org):
        raise _refused("org", "must be an organisation id: 1 to 64 of a-z, 0-9, '-', '_', "
                              "starting with a letter or digit")
    return Principal(sub, org, frozenset(roles))


def _refused(claim: str, reason: str) -> Unauthorized:
    return Unauthorized(f"invalid bearer token: claim '{claim}' {reason}", claim=claim,
                        headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})


def current() -> Principal:
    """The caller of this request (authenticated by `authenticate`)."""
    return g.principal


def authenticate(query_token: bool = False) -> None:
    """The caller from `Authorization: Bearer`, or from ?access_token= where allowed."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        token = header.removeprefix("Bearer ").strip()
    elif query_token and request.args.get(QUERY_TOKEN):
        token = request.args[QUERY_TOKEN]
    else:
        raise Unauthorized("missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    g.principal = verify(token)


def roles_allowed(*roles: str, query_token: bool = False) -> Callable[[F], F]:
    """Declare the roles that may call a view (checked by the app before the view runs).

    `query_token`: the token may also come as ?access_token= (a page a person opens).
    """
    if not roles or not set(roles) <= set(ROLES):
        raise ValueError(f"roles_allowed needs known roles, got {roles}")

    def decorate(view: F) -> F:
        view._access = Access(frozenset(roles), query_token)  # type: ignore[attr-defined]
        return view
    return decorate


def public(view: F) -> F:
    """Declare a view that needs no bearer token (health, docs, signed client links)."""
    view._access = Access(None)  # type: ignore[attr-defined]
    return view


def declared(view: Callable[..., Any], method: str) -> Access | None:
    """The access a view (function or MethodView) declared for `method`, if any."""
    cls = getattr(view, "view_class", None)
    handler = getattr(cls, "get" if method == "HEAD" else method.lower(), None) if cls else view
    return getattr(handler, "_access", None)


def guard(view: Callable[..., Any] | None, method: str) -> None:
    """Before a view runs: authenticate unless it is public, then check its roles."""
    access = declared(view, method) if view is not None else None
    if access is not None and access.roles is None:
        return
    authenticate(query_token=access is not None and access.query_token)
    if view is None or method == "OPTIONS":
        return  # no such route (the router answers 404/405), or which methods exist
    if access is None or access.roles is None:
        raise Forbidden("this endpoint declares no roles, so nobody may call it")
    if not current().has(*access.roles):
        raise Forbidden(f"this action needs one of the roles: {', '.join(sorted(access.roles))}")


def main() -> None:
    parser = argparse.ArgumentParser(description="Issue a development bearer token")
    parser.add_argument("--org", required=True, help=f"an organisation id, or '{PLATFORM_ORG}' "
                                                     f"with --roles {PLATFORM}")
    parser.add_argument("--roles", default="agent", help="comma separated: " + ",".join(ROLES))
    parser.add_argument("--sub", default="dev")
    parser.add_argument("--ttl", type=int, default=24 * 3600)
    args = parser.parse_args()
    print(issue(args.org, args.roles.split(","), args.sub, args.ttl))


if __name__ == "__main__":
    main()
