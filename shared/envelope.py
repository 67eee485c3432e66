"""The event envelope: CloudEvents 1.0 with our extension attributes, built and
read through the `cloudevents` SDK and its Kafka binding.

Extensions (lower-case, as CloudEvents requires): `orgid` (organisation),
`aggregateversion`, `position` (global position in the source's notification
log) and `correlationid`.

Structured content mode (`application/cloudevents+json`): the whole event is
the message value and the binding's `content-type` header names the format.
It keeps the contract the consumers and the dead-letter topics rely on: the
value alone is the event (a dead letter is the original bytes, re-driven by a
plain copy; `GET /v1/events` and the notifier's stored envelopes are the same
JSON). Binary mode would put the attributes in headers that every copy would
have to carry along.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import kafka as binding
from cloudevents.core.exceptions import BaseCloudEventException
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from dateutil.parser import isoparse

SPECVERSION = "1.0"
REQUIRED = ("id", "source", "type", "specversion", "time", "subject", "datacontenttype", "data",
            "orgid", "aggregateversion", "position")
Headers = list[tuple[str, bytes]]


class CompactJSON(JSONFormat):
    """The SDK's JSON event format, written as our events always were: compact,
    and `time` with its offset as Python writes it (`+00:00`; the SDK would
    write `Z`), so what consumers and stored copies hold does not change."""

    def write(self, event: BaseCloudEvent) -> bytes:
        body = dict(event.get_attributes())
        time = body.get("time")
        if isinstance(time, datetime):
            body["time"] = time.isoformat()
        body["data"] = event.get_data()
        return json.dumps(body, default=str, separators=(",", ":")).encode()


FORMAT = CompactJSON()
CONTENT_TYPE = FORMAT.get_content_type()  # application/cloudevents+json


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
        """The structured-mode JSON document (the Kafka message value)."""
        return FORMAT.write(self._sdk())

    def to_kafka(self, key: str) -> tuple[bytes, bytes, Headers]:
        """Key, value and headers (`content-type`) of its Kafka message."""
        message = binding.to_structured(self._sdk(), FORMAT, key_mapper=lambda _: key)
        assert isinstance(message.key, str)
        return message.key.encode(), message.value, list(message.headers.items())

    def _sdk(self) -> SdkEvent:
        attributes = {k: v for k, v in self.__dict__.items() if k != "data"}
        attributes["time"] = isoparse(self.time)
        return SdkEvent(attributes, self.data)

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        return cls.from_kafka(raw if isinstance(raw, bytes) else raw.encode())

    @classmethod
    def from_kafka(cls, value: bytes | None, headers: Headers | None = None) -> CloudEvent:
        """The event in a structured-mode message (InvalidEnvelope if it is not one
        of ours). A message without the `content-type` header is read as
        structured too: producers before it was added did not send one."""
        if value is None:
            raise InvalidEnvelope("empty message (tombstone)")
        try:
            body = json.loads(value)
        except (ValueError, UnicodeDecodeError) as e:
            raise InvalidEnvelope(f"not JSON: {e}") from e
        if not isinstance(body, dict):
            raise InvalidEnvelope("not a JSON object")
        # Our own checks first, so a dead letter's reason names what is missing.
        missing = [k for k in REQUIRED if k not in body]
        if missing:
            raise InvalidEnvelope(f"missing attributes: {', '.join(missing)}")
        if body["specversion"] != SPECVERSION:
            raise InvalidEnvelope(f"unsupported specversion {body['specversion']}")
        message = binding.KafkaMessage(dict(headers or []), None, value)
        try:
            event = binding.from_structured(message, FORMAT, SdkEvent)
        except (BaseCloudEventException, ValueError, TypeError) as e:
            raise InvalidEnvelope(f"not a CloudEvent: {e}") from e
        data = event.get_data()
        if not isinstance(data, dict):
            raise InvalidEnvelope("data is not an object")
        attributes = dict(event.get_attributes())
        attributes["time"] = attributes["time"].isoformat()
        # Attributes we do not know are left out (CloudEvents allows other extensions).
        return cls(**{k: v for k, v in attributes.items() if k in cls.__dataclass_fields__},
                   data=data)


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()
