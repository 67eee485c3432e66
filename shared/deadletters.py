"""Dead letters: a message a consumer cannot process goes, unchanged, to the
`<topic>.dlq` twin of its topic (`kafka.dlq`) with the reason and its origin in
headers (every consumer uses it through shared/consumer.py; `consumer-group`
tells them apart).

Headers: `reason` (as docs/asyncapi.yaml names it), `original-topic`,
`original-partition`, `original-offset`, `consumer-group`, `failed-at`. The key is the
original key, the value the original bytes, so re-driving it is a plain copy
back to the source topic.
"""
from __future__ import annotations

import logging

from kafka.errors import KafkaError

from shared import kafka
from shared.envelope import now_iso

log = logging.getLogger(__name__)


class DeadLetterFailed(RuntimeError):
    """The broker did not acknowledge the dead letter: do not commit past it."""


class DeadLetters:
    def __init__(self, bootstrap_servers: str, group: str, timeout: float = 10.0,
                 attempts: int = 3) -> None:
        self.group, self.attempts = group, attempts
        self.producer = kafka.DurableProducer(bootstrap_servers, timeout)

    def publish(self, key: bytes | None, value: bytes | None, reason: str, topic: str,
                partition: int, offset: int) -> None:
        headers = [("reason", reason[:1000].encode()), ("original-topic", topic.encode()),
                   ("original-partition", str(partition).encode()),
                   ("original-offset", str(offset).encode()),
                   ("consumer-group", self.group.encode()),
                   ("failed-at", now_iso().encode())]
        twin = kafka.dlq(topic)
        for attempt in range(1, self.attempts + 1):
            try:
                self.producer.send_all([(twin, key, value or b"", headers)])
                log.warning("dead-lettered a message", extra={"fields": {
                    "reason": reason, "topic": topic, "partition": partition, "offset": offset}})
                return
            except KafkaError as e:
                log.warning("dead letter not acknowledged (attempt %s): %s", attempt, e)
        raise DeadLetterFailed(f"could not publish to {twin}")

    def close(self) -> None:
        self.producer.close()
