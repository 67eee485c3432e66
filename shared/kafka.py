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
PARTITIONS = 3


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


TOPICS = (
    APPOINTMENTS, dlq(APPOINTMENTS), DIRECTORY, WORKFLOWS, NOTIFICATIONS, dlq("notifications"),
)


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
        missing = [NewTopic(t, num_partitions=partitions, replication_factor=1)
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
