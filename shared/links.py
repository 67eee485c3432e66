"""Signed client links: bound to one appointment and one action, expiring.

Single use is enforced by booking, which records each used `jti` in the
appointment's history.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from shared import config
from shared.errors import Problem

# accept_offer is bound to one waitlist offer ("waitlist:<entry id>:<offer number>").
CLIENT_ACTIONS = ("cancel", "propose_time", "submit_feedback", "accept_offer")
DEFAULT_TTL = {"cancel": 14 * 86400, "propose_time": 7 * 86400, "submit_feedback": 30 * 86400,
               "accept_offer": 86400}


class LinkRefused(Problem):
    status = 403
    title = "Link refused"


@dataclass(frozen=True)
class LinkClaims:
    appointment_id: str
    action: str
    jti: str
    max_age: int


class _ClockSigner(TimestampSigner):
    """Signs and checks ages at `now` when given (tests move time instead of sleeping)."""

    def __init__(self, *args: Any, now: datetime | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.now = now

    def get_timestamp(self) -> int:
        return int(self.now.timestamp()) if self.now else super().get_timestamp()


def _serializer(now: datetime | None) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(config.require("LINK_SIGNING_KEY"), salt="client-link",
                                  signer=_ClockSigner, signer_kwargs={"now": now})


def sign(appointment_id: str, action: str, ttl: int | None = None,
         now: datetime | None = None) -> str:
    if action not in CLIENT_ACTIONS:
        raise ValueError(f"no client link for action {action}")
    max_age = ttl or DEFAULT_TTL[action]
    return _serializer(now).dumps({"a": appointment_id, "x": action, "j": uuid.uuid4().hex,
                                   "t": max_age})


def verify(token: str, action: str, now: datetime | None = None) -> LinkClaims:
    """The link's claims, or LinkRefused saying why (tampered, expired, wrong action);
    `now`: the time to judge its age at (default: the system clock)."""
    s = _serializer(now)
    try:
        _, payload = s.loads_unsafe(token)
        if not isinstance(payload, dict) or "t" not in payload:
            raise BadSignature("malformed")
        body = s.loads(token, max_age=int(payload["t"]))
    except SignatureExpired as e:
        raise LinkRefused("this link has expired; ask the organisation for a new one") from e
    except BadSignature as e:
        raise LinkRefused("this link is not valid (it was altered or is incomplete)") from e
    if body["x"] != action:
        raise LinkRefused(f"this link is for '{body['x']}', not '{action}'")
    return LinkClaims(body["a"], body["x"], body["j"], int(body["t"]))


def url(appointment_id: str, action: str, ttl: int | None = None) -> str:
    base = config.get("BOOKING_PUBLIC_URL")
    return f"{base}/v1/client_actions/{action}?token={sign(appointment_id, action, ttl)}"
