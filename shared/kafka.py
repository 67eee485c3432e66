"""Kafka plumbing: topic names, producer and consumer settings, topic creation."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError, TopicAlreadyExistsError

from shared import config

log = logging.getLogger(__name__)

APPOINTMENTS = "appointments.events"
WORKFLOWS = "workflows.events"
NOTIFICATIONS = "notifications.events"
DIRECTORY = "directory.events"
AUDIT_CHECKPOINTS = "audit.checkpoints"  # signed chain heads of booking's event store


def dlq(topic: str) -> str:
    """The dead-letter twin of a topic: the one naming of every dead-letter topic."""
    return f"{topic}.dlq"


# Topics with dead letters: the consumed ones, and the notifier's deliveries.
DEAD_LETTERED = (APPOINTMENTS, DIRECTORY, NOTIFICATIONS)
TOPICS = (APPOINTMENTS, DIRECTORY, WORKFLOWS, NOTIFICATIONS, *(dlq(t) for t in DEAD_LETTERED),
          AUDIT_CHECKPOINTS)
# How long each topic keeps a message (retention.ms, set when the topic is created).
# Topics whose messages name clients keep them a week, Apache Kafka's default, in
# segments rolled daily (a segment goes only once its newest message is past the
# retention, so no message outlives 8 days); the settings topics keep everything (a
# fresh consumer reads them from the start) and carry no client's contact data
# (services/booking/adapters/cloudevents.py).
DAY_MS = 24 * 3600 * 1000
FOREVER = -1
# The signed checkpoints anchor the hash chain outside the database: kept forever too.
RETENTION_MS = {DIRECTORY: FOREVER, WORKFLOWS: FOREVER, AUDIT_CHECKPOINTS: FOREVER}


def topic_configs(topic: str) -> dict[str, str]:
    retention = RETENTION_MS.get(topic, 7 * DAY_MS)
    if retention == FOREVER:
        return {"retention.ms": str(FOREVER)}
    return {"retention.ms": str(retention), "segment.ms": str(DAY_MS)}


def producer(bootstrap_servers: str, **overrides: object) -> KafkaProducer:
    """A durable producer: every send waits for all in-sync replicas."""
    settings: dict[str, object] = dict(
        bootstrap_servers=bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        retries=5,
        request_timeout_ms=10_000,
        max_block_ms=10_000,
        linger_ms=5,
    )
    settings.update(overrides)
    return KafkaProducer(**settings)


def consumer(bootstrap_servers: str, group_id: str, *topics: str,
             listener: ConsumerRebalanceListener | None = None, **overrides: object) -> KafkaConsumer:
    """A group member that commits only what it has applied (no auto-commit).

    Short session and heartbeat times make a group join take seconds, not
    half a minute; `earliest` makes a partition without a committed offset
    readable from its start.
    """
    settings: dict[str, object] = dict(
        bootstrap_servers=bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        max_poll_records=200,
    )
    settings.update(overrides)
    c = KafkaConsumer(**settings)
    if topics:
        c.subscribe(list(topics), listener=listener)
    return c


def partition_count() -> int:
    """Partitions of the topics we create (`KAFKA_PARTITIONS`; the development
    broker is given its own count, shared/devbroker.py)."""
    return int(config.require("KAFKA_PARTITIONS"))


def ensure_topics(bootstrap_servers: str, topics: Iterable[str] = TOPICS,
                  partitions: int | None = None, timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet; wait for the broker if it is starting."""
    count = partitions or partition_count()
    deadline = time.monotonic() + timeout
    while True:
        try:
            admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
            break
        except KafkaError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
    try:
        existing = set(admin.list_topics())
        missing = [NewTopic(t, num_partitions=count, replication_factor=1,
                            topic_configs=topic_configs(t))
                   for t in topics if t not in existing]
        if missing:
            try:
                admin.create_topics(missing)
            except TopicAlreadyExistsError:
                pass
            log.info("created topics", extra={"fields": {"topics": [t.name for t in missing]}})
    finally:
        admin.close()


def is_reachable(bootstrap_servers: str) -> bool:
    try:
        admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=2000,
                                 bootstrap_timeout_ms=2000)
        admin.close()
        return True
    except Exception:  # noqa: BLE001 - readiness answers yes or no
        return False


Record = tuple[str, bytes | None, bytes, list[tuple[str, bytes]]]  # topic, key, value, headers


class DurableProducer:
    """Sends and waits until the broker acknowledged every message.

    After any failure the producer is thrown away and the next send builds a
    new one: the outcome of a timed-out send is unknown, and an idempotent
    kafka-python producer is dead for good once its broker restarted empty.
    """

    def __init__(self, bootstrap_servers: str, ack_timeout: float = 15.0) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.ack_timeout = ack_timeout
        self._producer: KafkaProducer | None = None

    def send_all(self, records: Iterable[Record]) -> None:
        try:
            if self._producer is None:
                self._producer = producer(self.bootstrap_servers)
            futures = [self._producer.send(topic, key=key, value=value, headers=headers)
                       for topic, key, value, headers in records]
            self._producer.flush(timeout=self.ack_timeout)
            for future in futures:
                future.get(timeout=self.ack_timeout)
        except Exception:
            self.reset()
            raise

    def reset(self) -> None:
        if self._producer is not None:
            try:
                self._producer.close(timeout=1)
            except Exception:  # noqa: BLE001 - it is being thrown away
                log.debug("closing a failed producer", exc_info=True)
            self._producer = None

    close = reset
