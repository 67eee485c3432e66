"""Stored events -> CloudEvents (docs/contracts.md), for the relay and GET /v1/events.

Each message carries the change and the aggregate's state at that version. The
state is rebuilt cheaply: the last rebuilt version of each recent aggregate is
kept and the next event is applied to a copy of it; otherwise the repository
rebuilds that version.
"""
from __future__ import annotations

import re
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from copy import deepcopy
from typing import Any
from weakref import WeakKeyDictionary

from eventsourcing.application import Application
from eventsourcing.persistence import Notification

from services.booking.domain.personal_data import CONTACT
from shared import kafka
from shared.envelope import CloudEvent

SOURCE = "booking"


class _Recent:
    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self.items: OrderedDict[uuid.UUID, Any] = OrderedDict()
        self.lock = threading.Lock()
        self.erasures = 0

    def forget_if_erased(self, app: Application[Any]) -> None:
        erasures = app.mapper.keys.erasures()  # type: ignore[attr-defined]
        with self.lock:
            if erasures != self.erasures:
                self.items.clear()
                self.erasures = erasures

    def at(self, app: Application[Any], event: Any) -> Any:
        """The aggregate just after `event`."""
        aggregate_id, version = event.originator_id, event.originator_version
        with self.lock:
            previous = self.items.get(aggregate_id)
        if previous is not None and previous.version == version:
            aggregate = previous
        elif version == 1:
            aggregate = event.mutate(None)
        elif previous is not None and previous.version == version - 1:
            aggregate = event.mutate(deepcopy(previous))
        else:
            aggregate = app.repository.get(aggregate_id, version=version)
        with self.lock:
            self.items[aggregate_id] = aggregate
            self.items.move_to_end(aggregate_id)
            while len(self.items) > self.size:
                self.items.popitem(last=False)
        return aggregate


_caches: WeakKeyDictionary[Application[Any], _Recent] = WeakKeyDictionary()
_caches_lock = threading.Lock()


def to_messages(app: Application[Any],
                notifications: Iterable[Notification]) -> list[tuple[str, str, CloudEvent]]:
    """(topic, key, CloudEvent) for each stored event, in notification order."""
    with _caches_lock:
        recent = _caches.setdefault(app, _Recent())
    recent.forget_if_erased(app)
    messages = []
    for n in notifications:
        event: Any = app.mapper.to_domain_event(n)
        aggregate = recent.at(app, event)
        kind = type(aggregate).TOPIC   # the domain name: appointment, client, waitlist...
        change = deepcopy(event.change)
        snapshot = aggregate.snapshot()
        if kind == "client":  # directory.events keeps messages for good: no contact data
            for holder in (snapshot, change.get("fields") or {}):
                holder.update({f: None for f in CONTACT if f in holder})
        # A waitlist entry travels like an appointment (its offers are sent to the client).
        keyed = kind in ("appointment", "waitlist")
        key = str(aggregate.id) if keyed else aggregate.organisation_id
        ce = CloudEvent(
            id=str(uuid.uuid5(event.originator_id, str(event.originator_version))),
            source=SOURCE, type=f"{kind}.{snake(type(event).__name__)}.v1",
            subject=str(event.originator_id), time=event.timestamp.isoformat(),
            orgid=aggregate.organisation_id, aggregateversion=event.originator_version,
            position=n.id, correlationid=change.get("correlation_id", ""),
            data={"change": change, kind: snapshot})
        messages.append((kafka.APPOINTMENTS if keyed else kafka.DIRECTORY, key, ce))
    return messages


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()
