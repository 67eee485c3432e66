"""Errors that become `application/problem+json` answers (RFC 9457).

Plain Python: domain code raises these (or subclasses) without knowing HTTP.
"""
from __future__ import annotations

from typing import Any


class Problem(Exception):
    status = 400
    title = "Bad request"

    def __init__(self, detail: str, *, title: str | None = None, headers: dict[str, str] | None = None,
                 **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if title:
            self.title = title
        self.headers = headers or {}
        self.extra = extra


class Invalid(Problem):
    """Input that breaks a rule: name the field and the reason in `errors`."""
    status = 422
    title = "Invalid input"

    def __init__(self, field: str, reason: str, **extra: Any) -> None:
        super().__init__(f"{field}: {reason}", errors={field: [reason]}, **extra)


class Unauthorized(Problem):
    status = 401
    title = "Unauthorized"


class Forbidden(Problem):
    status = 403
    title = "Forbidden"


class NotFound(Problem):
    status = 404
    title = "Not found"


class Conflict(Problem):
    status = 409
    title = "Conflict"


class TooManyRequests(Problem):
    """Over a rate limit: carries Retry-After (seconds) and names the limit."""
    status = 429
    title = "Too many requests"


class Unavailable(Problem):
    status = 503
    title = "Service unavailable"
