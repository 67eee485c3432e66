"""Conditional requests (RFC 9110 section 13): the one If-Match parser.

Every versioned resource answers with `ETag: "<n>"`, its version (README,
Glossary); a client that sends it back as If-Match refuses a stale write. The
header is optional: absent, empty or `*` means "no check".
"""
from __future__ import annotations

from flask import request

from shared.errors import Invalid


def if_match() -> int | None:
    """The version a client expects (`If-Match: "4"` or `W/"4"` -> 4); None when
    it did not say."""
    raw = request.headers.get("If-Match", "").strip()
    if not raw or raw == "*":
        return None
    value = raw.removeprefix("W/").strip('"')
    if not value.isdigit():
        raise Invalid("If-Match", 'expected an ETag like "4" (as the ETag header gave it)')
    return int(value)
