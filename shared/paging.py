"""One list envelope for every list endpoint, keyset-paged.

Every list answers `{"items": [...], "next_cursor": str | null}` and takes `limit`
(1..`maximum`, default `default`) and `cursor` (the previous page's `next_cursor`).
A cursor is opaque to the client: base64url of the JSON of the last row's sort key,
so the next page starts strictly after that row (`WHERE (key) > (cursor)`), and rows
inserted meanwhile never shift a page (no offsets). `next_cursor` is null on the
last page. A cursor this API did not hand out is a 422 naming `cursor`.

    class DeliveryQuery(paging.query(int)): ...        # limit + cursor (an id)
    @blp.response(200, paging.envelope(DeliverySchema))
    return paging.page(rows, args["limit"], key=lambda r: (r["id"],), item=view)

A list that is small and bounded by nature answers everything in one page:
`paging.whole(items)` (still the envelope, `next_cursor` null).
"""
from __future__ import annotations

import base64
import binascii
import functools
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

DEFAULT_LIMIT, MAX_LIMIT = 50, 200
MAX_CURSOR = 500   # characters: a key of a few ids and times fits many times over
BAD_CURSOR = "is not a cursor this API handed out (give a page's next_cursor as it came)"
Kind = type  # str, int, datetime or uuid.UUID: one per part of the sort key


def encode(key: Sequence[str | int | datetime | uuid.UUID]) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else
                      str(v) if isinstance(v, uuid.UUID) else v for v in key])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode(cursor: str, kinds: Sequence[Kind]) -> tuple[Any, ...]:
    """The sort key in `cursor`, each part of its kind; ValueError when it is not one."""
    try:
        parts = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(BAD_CURSOR) from e
    if not isinstance(parts, list) or len(parts) != len(kinds):
        raise ValueError(BAD_CURSOR)
    return tuple(_part(value, kind) for value, kind in zip(parts, kinds, strict=True))


def _part(value: Any, kind: Kind) -> Any:
    if kind is datetime and isinstance(value, str):
        parsed = datetime.fromisoformat(value)   # ValueError when it is not a time
        if parsed.tzinfo is not None:
            return parsed
    if kind is uuid.UUID and isinstance(value, str):
        return uuid.UUID(value)                  # ValueError when it is not one
    if kind is int and type(value) is int and 0 <= value < 2 ** 63:  # a position or id
        return value                                                # (bigint), not a bool
    if kind is str and isinstance(value, str):
        return value
    raise ValueError(BAD_CURSOR)


class Cursor(fields.String):
    """The `cursor` query parameter: loads into the sort key (a tuple)."""

    def __init__(self, kinds: Sequence[Kind]) -> None:
        super().__init__(validate=validate.Length(min=1, max=MAX_CURSOR), metadata={
            "description": "the previous page's `next_cursor` (opaque); absent: the first page"})
        self.kinds = tuple(kinds)

    def _deserialize(self, value: Any, attr: str | None, data: Any,  # type: ignore[override]
                     **kwargs: Any) -> tuple[Any, ...]:
        text = super()._deserialize(value, attr, data, **kwargs)
        self._validate(text)  # the length before decoding
        try:
            return decode(text, self.kinds)
        except ValueError:
            raise ValidationError(BAD_CURSOR) from None


@functools.cache  # one class per key and bounds
def query(*kinds: Kind, default: int = DEFAULT_LIMIT, maximum: int = MAX_LIMIT) -> type[Schema]:
    """The query parameters of a paged list whose sort key has parts of `kinds`."""
    return Schema.from_dict({
        "limit": fields.Integer(load_default=default, validate=validate.Range(1, maximum),
                                metadata={"description": f"rows per page, 1 to {maximum} "
                                                         f"(default {default})"}),
        "cursor": Cursor(kinds),
    }, name="PageQuery")


@functools.cache  # one component per item schema, however many operations answer it
def envelope(item: type[Schema], name: str | None = None) -> type[Schema]:
    """The answer of a list of `item`: `{items, next_cursor}` (named `<Item>Page`)."""
    base = item.__name__.removesuffix("Schema")
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item), required=True),
        "next_cursor": fields.String(required=True, allow_none=True, metadata={
            "description": "give it as `cursor` for the next page; null: this is the last"}),
    }, name=name or f"{base}Page")


def page(rows: Sequence[Any], limit: int, key: Callable[[Any], Sequence[Any]],
         item: Callable[[Any], Any] = lambda r: r) -> dict[str, Any]:
    """The envelope of `rows`, read `limit` + 1 long: the extra row tells that
    another page exists, and the last row shown is where it starts after."""
    shown = rows[:limit]
    more = len(rows) > limit and bool(shown)
    return {"items": [item(r) for r in shown],
            "next_cursor": encode(key(shown[-1])) if more else None}


def whole(items: Sequence[Any]) -> dict[str, Any]:
    """A list small and bounded by nature: everything in one page."""
    return {"items": list(items), "next_cursor": None}

