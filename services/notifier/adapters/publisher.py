"""The notifier's outbox table -> Kafka: delivery events to
`notifications.events`, dead letters to `notifications.events.dlq`, drained
by the shared outbox drainer (shared/outbox.py).

Rows leave the outbox only after the broker acknowledged them, so a crash or a
broker outage delays these messages but loses none (one may be published
twice; each carries a unique CloudEvent id to deduplicate by). One drainer at
a time holds a transaction-scoped advisory lock, which keeps outbox order.
"""
from __future__ import annotations

from typing import Any

from psycopg_pool import ConnectionPool

from shared.envelope import CloudEvent
from shared.outbox import Drainer, Send

_DRAIN_LOCK = 0x4E4F5449  # "NOTI"


class OutboxTable:
    def __init__(self, pool: ConnectionPool, batch: int = 500) -> None:
        self.pool = pool
        self.batch = batch

    def drain(self, send: Send) -> int:
        """Publish one batch of the outbox; the number of messages published."""
        with self.pool.connection() as conn:
            locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (_DRAIN_LOCK,))
            if locked.fetchone() != (True,):  # another drainer is at work
                return 0
            rows = conn.execute("SELECT id, topic, key, headers, envelope FROM outbox "
                                "ORDER BY id LIMIT %s", (self.batch,)).fetchall()
            if not rows:
                return 0
            # Outcome unknown on failure: the rows stay and are sent again.
            send([(topic, *_message(key, envelope | {"position": id_}, headers))
                  for id_, topic, key, headers, envelope in rows])
            conn.execute("DELETE FROM outbox WHERE id = ANY(%s)", ([r[0] for r in rows],))
            return len(rows)


def _message(key: str, envelope: dict[str, Any], headers: dict[str, Any]
             ) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """The row's CloudEvent as a Kafka message, with the row's own headers (`reason`)."""
    key_bytes, value, binding_headers = CloudEvent(**envelope).to_kafka(key)
    return key_bytes, value, binding_headers + [(k, str(v).encode()) for k, v in headers.items()]


def publisher(pool: ConnectionPool, bootstrap_servers: str, poll_interval: float) -> Drainer:
    """The drainer of the outbox table: every `poll_interval` seconds when it is empty."""
    return Drainer(OutboxTable(pool), bootstrap_servers, name="notifier",
                   idle_wait=poll_interval, first_backoff=poll_interval)
