"""Bearer tokens (JWT, HS256) carrying the organisation and roles.

Issue a development token:
    python -m shared.auth --org acme --roles agent,manager
"""
from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

import jwt
from flask import g, request

from shared import config
from shared.errors import Forbidden, Unauthorized

ROLES = ("agent", "manager", "auditor", "service")
F = TypeVar("F", bound=Callable[..., Any])


@dataclass(frozen=True)
class Principal:
    subject: str
    org: str
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))


def issue(org: str, roles: list[str], subject: str = "dev", ttl: int = 24 * 3600) -> str:
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles: {', '.join(sorted(unknown))}")
    now = int(time.time())
    claims = {"sub": subject, "org": org, "roles": roles, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, config.require("JWT_SECRET"), algorithm="HS256")


def verify(token: str) -> Principal:
    try:
        claims = jwt.decode(token, config.require("JWT_SECRET"), algorithms=["HS256"],
                            options={"require": ["sub", "org", "roles", "exp"]})
    except jwt.PyJWTError as e:
        raise Unauthorized(f"invalid bearer token: {e}") from e
    roles = claims["roles"]
    if not isinstance(roles, list) or not set(roles) <= set(ROLES) or not claims["org"]:
        raise Unauthorized("invalid bearer token: bad org or roles claim")
    return Principal(str(claims["sub"]), str(claims["org"]), frozenset(roles))


def current() -> Principal:
    """The caller of this request (authenticated by `authenticate`)."""
    return g.principal


def authenticate() -> None:
    """Before-request hook: every route except health and docs needs a token."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise Unauthorized("missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    g.principal = verify(header.removeprefix("Bearer ").strip())


def roles_allowed(*roles: str) -> Callable[[F], F]:
    """Restrict a view to callers holding one of `roles`."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not current().has(*roles):
                raise Forbidden(f"this action needs one of the roles: {', '.join(roles)}")
            return view(*args, **kwargs)
        return wrapper  # type: ignore[return-value]
    return decorate


def main() -> None:
    parser = argparse.ArgumentParser(description="Issue a development bearer token")
    parser.add_argument("--org", required=True)
    parser.add_argument("--roles", default="agent", help="comma separated: " + ",".join(ROLES))
    parser.add_argument("--sub", default="dev")
    parser.add_argument("--ttl", type=int, default=24 * 3600)
    args = parser.parse_args()
    print(issue(args.org, args.roles.split(","), args.sub, args.ttl))


if __name__ == "__main__":
    main()
