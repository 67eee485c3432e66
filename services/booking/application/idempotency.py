"""Idempotency-Key: a retried command returns the first answer and records nothing new.

The first successful answer is written in the same transaction as the events
it describes (see ports.py); commands with the same key are serialised by a
lock on (organisation, key) so two concurrent first tries cannot both run.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from services.booking.application.ports import Answer, Tables
from shared.errors import Invalid

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Claim:
    """Either the stored first answer (`replay`) or the answer to fill in (`pending`)."""
    replay: Answer | None
    pending: Answer | None


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(f"{method} {path}?{query}\n{canonical}".encode()).hexdigest()


@contextmanager
def claim(tables: Tables, scope: str, key: str | None, request_fingerprint: str,
          status: int) -> Iterator[Claim]:
    if not key:
        yield Claim(None, None)
        return
    if len(key) > MAX_KEY_LENGTH:
        raise Invalid("Idempotency-Key", f"at most {MAX_KEY_LENGTH} characters")
    with tables.locked(scope, key) as prior:
        if prior is not None and prior.fingerprint != request_fingerprint:
            raise Invalid("Idempotency-Key", "this key was already used for a different request; "
                          "use a new key for a new request")
        yield Claim(prior, None if prior else Answer(scope, key, request_fingerprint, status))
