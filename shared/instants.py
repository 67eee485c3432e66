"""Instants in API answers: RFC 3339 with the organisation's offset at that instant.

Stored events and CloudEvents keep UTC (docs/contracts.md); an answer is rendered at the
HTTP edge, once, by `local`: every instant under a key of INSTANTS becomes the same
instant in the organisation's zone (`zoneinfo`, so the offset is the one in force then:
+01:00 in a Zurich winter, +02:00 in its summer). What a caller wrote (questionnaire,
metadata...) is theirs and kept as written, as is a CloudEvent.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

# How an OpenAPI document describes every such instant (format date-time).
DESCRIBED = "RFC 3339, with the organisation's UTC offset at that instant"
# Keys whose value is an instant wherever they appear in an answer. A value there that is
# not an instant with an offset (a window's "09:00", a date, null) is left as it is.
INSTANTS = frozenset({"start", "end", "at", "until", "requested_at", "confirmed_at",
                      "updated_at", "hold_until", "joined_at"})
# Keys whose value is kept verbatim: written by a caller, or a stored event as published.
VERBATIM = frozenset({"questionnaire", "metadata", "feedback", "outcome", "event"})


def local(body: Any, tz: ZoneInfo) -> Any:
    """`body` with every instant in `tz` (a new structure; `body` is not changed).

    A string instant stays a string, a datetime a datetime (a schema serialises it)."""
    if isinstance(body, dict):
        if body.get("field") in VERBATIM:  # a history entry's change of caller-written data
            return body
        return {k: v if k in VERBATIM else _instant(v, tz) if k in INSTANTS else local(v, tz)
                for k, v in body.items()}
    if isinstance(body, list):
        return [local(v, tz) for v in body]
    return body


def _instant(value: Any, tz: ZoneInfo) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(tz) if value.tzinfo is not None else value
    if not isinstance(value, str):
        return local(value, tz)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone(tz).isoformat() if moment.tzinfo is not None else value


F = TypeVar("F", bound=Callable[..., Any])


def rendered(zone_of: Callable[[], ZoneInfo]) -> Callable[[F], F]:
    """A decorator: the view's answer through `local`, in the zone `zone_of()` gives then
    (for views whose answer a schema serialises; booking renders in its `respond`)."""
    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return local(view(*args, **kwargs), zone_of())
        return wrapper  # type: ignore[return-value]
    return decorate
