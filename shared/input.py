"""Limits on everything a client sends, in one place (README "Input limits").

Before any view runs, `check_request` refuses what no field could accept in the
path, the query or a JSON body (too deep, NUL characters, lone surrogates,
over-long strings) with a 422 naming where it is; the marshmallow schemas then
apply each field's own limit with the fields below.
"""
from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import phonenumbers
from flask import current_app, request
from flask.json.provider import DefaultJSONProvider
from marshmallow import ValidationError, fields, validate
from werkzeug.exceptions import RequestEntityTooLarge

from shared.errors import Invalid

MAX_DEPTH = 16            # nesting of objects and arrays in a body
MAX_STRING = 10_000       # characters of any one string in a body
MAX_QUERY_VALUE = 1_000   # characters of one query parameter
DISCARD_LIMIT = 16 << 20  # bytes of an oversized body read (and dropped) to answer 413
# Per-field limits (characters), used by every service's schemas.
NAME = 200
EMAIL = 254               # RFC 5321's path limit
ADDRESS = 500
REASON = 500
MESSAGE = 2_000
NOTE = 5_000
KEY = 100                 # a key of questionnaire/metadata
DETAILS_BYTES = 16_384    # questionnaire or metadata, as JSON
LIST_ITEMS = 100          # reasons, resources, statuses...
# Instants outside these years are refused: converting them between zones would overflow.
FIRST_YEAR, LAST_YEAR = 1900, 2999


def _where(path: list[str | int]) -> str:
    return ".".join(str(p) for p in path) or "body"


def _check_string(text: str, path: list[str | int], limit: int) -> None:
    if len(text) > limit:
        raise Invalid(_where(path), f"longer than {limit} characters")
    if "\x00" in text:
        raise Invalid(_where(path), "contains a NUL character")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise Invalid(_where(path), "contains a lone surrogate (invalid Unicode)") from e


def check_json(value: Any) -> None:
    """Refuse a parsed body that no field could accept, naming the place."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            raise Invalid(_where(path[:MAX_DEPTH]), f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, str):
            _check_string(node, path, MAX_STRING)
        elif isinstance(node, dict):
            for k, v in node.items():
                _check_string(k, [*path, k[:40]], KEY * 10)
                stack.append((v, [*path, k]))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in enumerate(node))


def loads(s: str | bytes, **kwargs: Any) -> Any:
    """json.loads, then `check_json` (a JSONDecodeError stays a 400 "Invalid JSON body")."""
    try:
        value = json.loads(s, **kwargs)
    except RecursionError as e:
        raise Invalid("body", f"nested deeper than {MAX_DEPTH} levels") from e
    check_json(value)
    return value


class JsonProvider(DefaultJSONProvider):
    """Flask's JSON (request.get_json), with every body checked."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return loads(s, **kwargs)


def check_request() -> None:
    """Before-request hook: the path, the query and a JSON body, before any view reads
    them (flask-smorest's parser reads bodies with the stdlib json, so the body is
    checked here, once, through `JsonProvider`; a body is at most MAX_BODY_BYTES)."""
    if "\x00" in request.path:
        raise Invalid("path", "contains a NUL character")
    for name, value in request.args.items(multi=True):
        _check_string(name, [name[:40]], MAX_QUERY_VALUE)
        _check_string(value, [name[:40]], MAX_QUERY_VALUE)
    if (request.content_length or 0) > int(current_app.config["MAX_CONTENT_LENGTH"]):
        _discard_body()
        raise RequestEntityTooLarge(
            f"the body is larger than {current_app.config['MAX_CONTENT_LENGTH']} bytes")
    if request.is_json and request.content_length:
        request.get_json()


def _discard_body() -> None:
    """Read an oversized body (up to DISCARD_LIMIT) before answering 413: closing a
    socket with unread data resets the connection, and the client never sees the 413."""
    stream, left = request.environ["wsgi.input"], min(request.content_length or 0, DISCARD_LIMIT)
    while left > 0 and (chunk := stream.read(min(left, 65536))):
        left -= len(chunk)


# -- marshmallow fields with their limits ---------------------------------------------

def Text(max_length: int, min_length: int = 0, **kwargs: Any) -> fields.String:
    """A string of at most `max_length` characters (documented in the OpenAPI)."""
    return fields.String(validate=validate.Length(min=min_length or None, max=max_length), **kwargs)


class StrictBoolean(fields.Boolean):
    """true or false, nothing else ("yes", 1 and "true" are refused)."""
    truthy = {True}
    falsy = {False}


class StrictInteger(fields.Integer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=True, **kwargs)


def within_years(moment: date) -> None:
    """Refuse a day or an instant outside FIRST_YEAR..LAST_YEAR (UTC for an instant)."""
    try:
        year = moment.astimezone(UTC).year if isinstance(moment, datetime) else moment.year
    except OverflowError:
        year = 0
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise ValidationError(f"must be between the years {FIRST_YEAR} and {LAST_YEAR}")


class Instant(fields.AwareDateTime):
    """An ISO 8601 time with a zone, between FIRST_YEAR and LAST_YEAR."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        moment = super()._deserialize(value, attr, data, **kwargs)
        within_years(moment)
        return moment


class Day(fields.Date):
    """An ISO 8601 date between FIRST_YEAR and LAST_YEAR."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> date:
        day = super()._deserialize(value, attr, data, **kwargs)
        within_years(day)
        return day


class Phone(fields.String):
    """A real phone number in E.164 form (+41441234567), checked with `phonenumbers`."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        text = super()._deserialize(value, attr, data, **kwargs)
        if not is_phone(text):
            raise ValidationError("must be a valid phone number in E.164 form, like +41441234567")
        return text


def is_phone(text: str) -> bool:
    if not text.startswith("+") or len(text) > 16:
        return False
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return False
    return (phonenumbers.is_valid_number(number)
            and phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == text)


class Email(fields.Email):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(validate=validate.Length(max=EMAIL), **kwargs)


class Details(fields.Dict):
    """Free-form answers (questionnaire, metadata): string keys, at most DETAILS_BYTES as JSON."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(keys=fields.String(validate=validate.Length(min=1, max=KEY)), **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        out = super()._deserialize(value, attr, data, **kwargs)
        if len(json.dumps(out, ensure_ascii=False).encode()) > DETAILS_BYTES:
            raise ValidationError(f"larger than {DETAILS_BYTES} bytes as JSON")
        return out
