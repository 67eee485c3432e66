"""Dead letters: a message the projections cannot process goes, unchanged, to
`appointments.events.dlq` with the reason and its origin in headers.

Headers: `reason` (as docs/asyncapi.yaml names it), `original-topic`,
`original-partition`, `original-offset`, `consumer-group`, `failed-at`. The key is the
original key, the value the original bytes, so re-driving it is a plain copy
back to the source topic.
"""
from __future__ import annotations

import logging
from collections.abc import Callable

from kafka import KafkaProducer
from kafka.errors import KafkaError

from shared.envelope import now_iso

log = logging.getLogger(__name__)


class DeadLetterFailed(RuntimeError):
    """The broker did not acknowledge the dead letter: do not commit past it."""


class DeadLetters:
    def __init__(self, make_producer: Callable[[], KafkaProducer], topic: str, group: str,
                 timeout: float = 10.0, attempts: int = 3) -> None:
        self._make_producer, self.topic, self.group = make_producer, topic, group
        self.timeout, self.attempts = timeout, attempts
        self._producer: KafkaProducer | None = None

    def publish(self, key: bytes | None, value: bytes | None, reason: str, topic: str,
                partition: int, offset: int) -> None:
        headers = [("reason", reason[:1000].encode()), ("original-topic", topic.encode()),
                   ("original-partition", str(partition).encode()),
                   ("original-offset", str(offset).encode()),
                   ("consumer-group", self.group.encode()),
                   ("failed-at", now_iso().encode())]
        for attempt in range(1, self.attempts + 1):
            try:
                if self._producer is None:
                    self._producer = self._make_producer()
                self._producer.send(self.topic, key=key, value=value, headers=headers).get(
                    timeout=self.timeout)
                log.warning("dead-lettered a message", extra={"fields": {
                    "reason": reason, "topic": topic, "partition": partition, "offset": offset}})
                return
            except KafkaError as e:
                # Outcome unknown or producer dead (e.g. broker restarted empty):
                # a fresh producer is the known cure.
                log.warning("dead letter not acknowledged (attempt %s): %s", attempt, e)
                self._discard()
        raise DeadLetterFailed(f"could not publish to {self.topic}")

    def close(self) -> None:
        if self._producer is not None:
            self._producer.close(timeout=5)
            self._producer = None

    def _discard(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=0)
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass
            self._producer = None
