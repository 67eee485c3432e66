"""Test events published by the real relay (shared/relay.py), as booking's relay
publishes them: in position order, a batch at a time, each batch's last message
sent alone with its `fence` header. The test appends events to a notification
log; the relay follows it in a thread, the way the relay process follows booking's."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Mapper

from shared.envelope import CloudEvent
from shared.relay import Relay
from tests.waiting import wait_until

Route = Callable[[CloudEvent], tuple[str, str]]  # event -> (topic, key)


@dataclass(frozen=True)
class _Notification:
    id: int
    event: CloudEvent


class NotificationLog:
    """What the relay reads of an application: its recorder's notifications."""

    def __init__(self) -> None:
        self.notifications: list[_Notification] = []
        self.recorder = self
        # What the relay wraps to read corrected events (shared/relay_halt.py): unused here.
        self.mapper: Mapper[Any] = Mapper(transcoder=JSONTranscoder())
        self.events = SimpleNamespace(mapper=self.mapper)

    def append(self, events: Sequence[CloudEvent]) -> None:
        self.notifications.extend(_Notification(e.position, e) for e in events)

    def select_notifications(self, start: int, limit: int) -> list[_Notification]:
        return [n for n in list(self.notifications) if n.id >= start][:limit]


@contextlib.contextmanager
def relaying(database_url: str, bootstrap_servers: str, route: Route
             ) -> Iterator[NotificationLog]:
    """A relay following a fresh log until the block ends; on a clean exit, everything
    appended has been published."""
    log = NotificationLog()

    def to_messages(_: Any, notifications: Sequence[_Notification]
                    ) -> list[tuple[str, str, CloudEvent]]:
        return [(*route(n.event), n.event) for n in notifications]

    relay = Relay(log, to_messages, database_url, "test-relay", bootstrap_servers,
                  idle_sleep=0.01)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        yield log
        wait_until(lambda: relay.position()[0] >= max(
            (n.id for n in log.notifications), default=0), 30, "the relay published the log")
    finally:
        relay.stop()
        thread.join(15)
