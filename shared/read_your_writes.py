"""`min_position` on a read API: the query field and the 504 answer, the same for
every view (the waiting itself is shared/freshness.py)."""
from __future__ import annotations

from collections.abc import Callable

from marshmallow import fields, validate

from shared.errors import Problem
from shared.freshness import Freshness

MAX_POSITION = 2**63 - 1  # PostgreSQL bigint, like booking's positions


class NotCaughtUp(Problem):
    status = 504
    title = "View not caught up"


def min_position_field() -> fields.Integer:
    return fields.Integer(validate=validate.Range(min=0, max=MAX_POSITION), metadata={
        "description": "read-your-writes: wait (up to 5 s) until every booking event at or "
                       "below this position (the `position` a booking command answered) is "
                       "applied in this view; 504 with Retry-After if not by then"})


def wait_or_504(freshness: Freshness, position: int | None,
                also: Callable[[], bool] | None = None) -> None:
    """Return once the view holds every event up to `position`, else raise 504."""
    if position is None:
        return
    if not freshness.wait(position, also=also):
        raise NotCaughtUp(
            f"the events up to position {position} are not all applied yet; retry shortly",
            headers={"Retry-After": "1"}, position=position)
