"""The event envelope: CloudEvents 1.0 in JSON, with our extension attributes.

Extensions (lower-case, as CloudEvents requires): `orgid` (organisation),
`aggregateversion`, `position` (global position in the source's notification
log) and `correlationid`.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

SPECVERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data",
            "orgid", "aggregateversion", "position")


class InvalidEnvelope(ValueError):
    """A message that is not one of our CloudEvents."""


@dataclass(frozen=True)
class CloudEvent:
    id: str
    source: str
    type: str
    subject: str
    time: str
    orgid: str
    aggregateversion: int
    position: int
    data: dict[str, Any]
    correlationid: str = ""
    specversion: str = SPECVERSION
    datacontenttype: str = "application/json"

    def to_json(self) -> bytes:
        return json.dumps(self.__dict__, default=str, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidEnvelope(f"not JSON: {e}") from e
        if not isinstance(body, dict):
            raise InvalidEnvelope("not a JSON object")
        missing = [k for k in REQUIRED if k not in body]
        if missing:
            raise InvalidEnvelope(f"missing attributes: {', '.join(missing)}")
        if body["specversion"] != SPECVERSION:
            raise InvalidEnvelope(f"unsupported specversion {body['specversion']}")
        if not isinstance(body["data"], dict):
            raise InvalidEnvelope("data is not an object")
        # Attributes we do not know are left out (CloudEvents allows other extensions).
        return cls(**{k: v for k, v in body.items() if k in cls.__dataclass_fields__})


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()
