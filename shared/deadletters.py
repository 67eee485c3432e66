"""Dead letters: a message a consumer cannot process goes, unchanged, to the
`<topic>.dlq` twin of its topic (`kafka.dlq`) with the reason and its origin in
headers (every consumer uses it through shared/consumer.py; `consumer-group`
tells them apart).

Headers: `reason` (as docs/asyncapi.yaml names it), `original-topic`,
`original-partition`, `original-offset`, `consumer-group`, `failed-at`. The key is the
original key, the value the original bytes, so re-driving it is a plain copy
back to the source topic.

Never silent: each one is an ERROR line and, given the service's database, a
row in `dead_letters` that keeps its API's /readyz "degraded" (`ready`) until an
operator acknowledges it (README runbook).
"""
from __future__ import annotations

import logging
from collections.abc import Callable

import psycopg
from kafka.errors import KafkaError

from shared import db, kafka
from shared.envelope import now_iso

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS dead_letters (
    id bigserial PRIMARY KEY,
    consumer_group text NOT NULL,
    topic text NOT NULL,
    partition integer NOT NULL,
    "offset" bigint NOT NULL,
    reason text NOT NULL,
    failed_at timestamptz NOT NULL DEFAULT now(),
    acknowledged_by text,
    acknowledged_at timestamptz
);
"""


class DeadLetterFailed(RuntimeError):
    """The broker did not acknowledge the dead letter: do not commit past it."""


class DeadLetters:
    def __init__(self, bootstrap_servers: str, group: str, timeout: float = 10.0,
                 attempts: int = 3, database_url: str | None = None) -> None:
        self.group, self.attempts, self.database_url = group, attempts, database_url
        self.producer = kafka.DurableProducer(bootstrap_servers, timeout)
        if database_url:
            db.run_schema(database_url, SCHEMA)

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
                break
            except KafkaError as e:
                log.warning("dead letter not acknowledged (attempt %s): %s", attempt, e)
        else:
            raise DeadLetterFailed(f"could not publish to {twin}")
        log.error("a message could not be processed; dead-lettered, not applied",
                  extra={"fields": {"reason": reason, "topic": topic, "partition": partition,
                                    "offset": offset, "consumer_group": self.group,
                                    "dead_letter_topic": twin}})
        self._record(reason, topic, partition, offset)

    def _record(self, reason: str, topic: str, partition: int, offset: int) -> None:
        if not self.database_url:
            return
        try:
            with db.pool(self.database_url).connection() as conn:
                conn.execute(
                    'INSERT INTO dead_letters (consumer_group, topic, partition, "offset", reason)'
                    " VALUES (%s, %s, %s, %s, %s)",
                    (self.group, topic, partition, offset, reason[:2000]))
        except psycopg.Error as e:  # read again and dead-lettered again: a copy, never none
            raise DeadLetterFailed(f"could not record the dead letter: {e}") from e

    def close(self) -> None:
        self.producer.close()


def ready(database_url: str) -> Callable[[], bool | str]:
    """A readiness check ("degraded", not 503): the dead letters no operator acknowledged."""
    def check() -> bool | str:
        try:
            with db.pool(database_url).connection() as conn:
                row = conn.execute(
                    "SELECT count(*), max(failed_at)::text, (array_agg(consumer_group || ' ' || "
                    "topic || '/' || partition || '@' || \"offset\" || ': ' || reason "
                    "ORDER BY id DESC))[1] FROM dead_letters WHERE acknowledged_at IS NULL"
                    ).fetchone()
        except (psycopg.errors.UndefinedTable, psycopg.OperationalError):
            return True  # no consumer has run yet, or the database check reports it
        if not row or not row[0]:
            return True
        return f"{row[0]} dead-lettered messages not acknowledged; last at {row[1]}: {row[2]}"
    return check
