"""Kafka plumbing: topic names, producer and consumer settings, topic creation."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import KafkaError, TopicAlreadyExistsError

log = logging.getLogger(__name__)

APPOINTMENTS = "appointments.events"
WORKFLOWS = "workflows.events"
NOTIFICATIONS = "notifications.events"
DIRECTORY = "directory.events"
AUDIT_CHECKPOINTS = "audit.checkpoints"  # signed chain heads of booking's event store
# Tansu's default for topics it creates on demand: after the dev broker came back
# empty, the first client asking for a topic re-creates it, and with the same
# count each key stays in the partition it was in (tests/integration/test_infra.py).
PARTITIONS = 4


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


def consumer(bootstrap_servers: str, group_id: str, *topics: str, **overrides: object) -> KafkaConsumer:
    """A group member that commits only what it has applied (no auto-commit).

    Short session and heartbeat times make a group join take seconds, not
    half a minute; `earliest` makes a re-created topic readable from the start.
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
        c.subscribe(list(topics))
    return c


def ensure_topics(bootstrap_servers: str, topics: Iterable[str] = TOPICS,
                  partitions: int = PARTITIONS, timeout: float = 30.0) -> None:
    """Create the topics that do not exist yet; wait for the broker if it is starting."""
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
        missing = [NewTopic(t, num_partitions=partitions, replication_factor=1,
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


class TopicIds:
    """The id of each topic: a re-created topic (a memory-only broker after a
    restart, or a deleted and re-created one) has a new id."""

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self._admin: KafkaAdminClient | None = None

    def current(self, topics: Iterable[str]) -> dict[str, str]:
        """Each existing topic's id (missing topics are left out)."""
        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self.bootstrap_servers,
                                           request_timeout_ms=5000)
        try:
            described = self._admin.describe_topics(list(topics))
        except Exception:
            self.close()
            raise
        return {d["name"]: str(d["topic_id"]) for d in described if d["error_code"] == 0}

    def close(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None


class TopicWatch:
    """Keeps a consumer reading topics that were re-created under it.

    A re-created topic starts again at offset 0, while the consumer's fetch
    positions still point past its old end and would skip its first messages.
    Every `every` seconds this re-creates missing topics and, for each topic
    whose id changed, seeks the consumer back to the beginning (duplicates
    are harmless: consumers deduplicate by event id).
    """

    def __init__(self, consumer: KafkaConsumer, bootstrap_servers: str, topics: Iterable[str],
                 every: float = 3.0) -> None:
        self.consumer = consumer
        self.bootstrap_servers = bootstrap_servers
        self.topics = tuple(topics)
        self.every = every
        self.ids = TopicIds(bootstrap_servers)
        self.known: dict[str, str] = {}
        self.pending: set[str] = set()
        self._next = 0.0

    def check(self) -> None:
        """Call in the poll loop; cheap until `every` seconds have passed."""
        if time.monotonic() >= self._next:
            self._next = time.monotonic() + self.every
            try:
                self._compare()
            except KafkaError as e:
                log.warning("topic check failed: %s", e)
        for topic in list(self.pending):
            partitions = [tp for tp in self.consumer.assignment() if tp.topic == topic]
            if partitions:
                self.consumer.seek_to_beginning(*partitions)
                self.pending.discard(topic)

    def _compare(self) -> None:
        current = self.ids.current(self.topics)
        if len(current) < len(self.topics):
            ensure_topics(self.bootstrap_servers, self.topics)
            current = self.ids.current(self.topics)
        for topic, topic_id in current.items():
            if self.known.get(topic, topic_id) != topic_id:
                log.warning("topic %s was re-created: reading it from the beginning", topic)
                self.pending.add(topic)
            self.known[topic] = topic_id

    def close(self) -> None:
        self.ids.close()
