"""Outbox -> Kafka: delivery events to `notifications.events`, dead letters to
`notifications.dlq`.

Rows leave the outbox only after the broker acknowledged them, so a crash or a
broker outage delays these messages but loses none (one may be published
twice; each carries a unique CloudEvent id to deduplicate by). One drainer at
a time holds a transaction-scoped advisory lock, which keeps outbox order.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Callable

from kafka import KafkaProducer
from psycopg_pool import ConnectionPool

from shared import kafka

log = logging.getLogger(__name__)
_DRAIN_LOCK = 0x4E4F5449  # "NOTI"


class OutboxPublisher:
    def __init__(self, pool: ConnectionPool, bootstrap_servers: str,
                 make_producer: Callable[[str], KafkaProducer] = kafka.producer,
                 batch: int = 500, ack_timeout: float = 15.0) -> None:
        self.pool = pool
        self.bootstrap_servers = bootstrap_servers
        self.make_producer = make_producer
        self.batch = batch
        self.ack_timeout = ack_timeout
        self._producer: KafkaProducer | None = None

    @property
    def producer(self) -> KafkaProducer:
        if self._producer is None:
            self._producer = self.make_producer(self.bootstrap_servers)
        return self._producer

    def publish_pending(self) -> int:
        """Publish one batch of the outbox; the number of messages published."""
        with self.pool.connection() as conn:
            locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_DRAIN_LOCK,))
            if locked.fetchone() != (True,):  # another drainer is at work
                return 0
            rows = conn.execute("SELECT id, topic, key, headers, envelope FROM outbox "
                                "ORDER BY id LIMIT %s", (self.batch,)).fetchall()
            if not rows:
                return 0
            try:
                futures = [
                    self.producer.send(
                        topic, key=key.encode(),
                        value=json.dumps(envelope | {"position": id_}).encode(),
                        headers=[(k, str(v).encode()) for k, v in headers.items()])
                    for id_, topic, key, headers, envelope in rows]
                self.producer.flush(self.ack_timeout)
                for future in futures:
                    future.get(timeout=self.ack_timeout)
            except Exception:
                # Outcome unknown: the rows stay; a new producer tries again
                # (an idempotent producer is dead for good after some errors).
                self.reset()
                raise
            conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([r[0] for r in rows],))
            return len(rows)

    def reset(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:  # noqa: BLE001 - it is being thrown away
                log.debug("closing a failed producer", exc_info=True)
            self._producer = None

    def close(self) -> None:
        self.reset()
