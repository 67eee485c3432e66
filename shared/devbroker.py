"""The development broker's quirks, handled in one place and only for it.

The embedded broker of `make run` and the tests (Tansu, shared/devinfra/infra.py) keeps
everything in memory, so a restart brings it back empty, and it behaves unlike
Apache Kafka in a few ways. Each workaround below is named for the quirk it
answers. They are on only when `KAFKA_DEV_BROKER_QUIRKS=on`, which the
embedded infrastructure sets (`EmbeddedBroker.settings`); on a real Kafka,
whose topics survive restarts, none of this runs.

- Partitions of topics created on demand: after a restart the first client
  asking for a topic re-creates it with Tansu's default count. Our topics get
  the same count on it (`ON_DEMAND_PARTITIONS`, handed out as
  `KAFKA_PARTITIONS`), so each key stays in the partition it was in.
- Topics that come back with a new id and offsets from 0: a consumer's
  positions point past the new end (`TopicWatch` seeks it back to the start
  and re-creates missing topics), and what a relay published is gone
  (`PublishedTopics` tells it to republish from the start, and voids an
  acknowledgement given by a broker that then restarted).
- An empty assignment that sticks: a group member that joins while its
  topics are missing is given no partitions, and Tansu hands it the same
  empty assignment when it rejoins. `TopicWatch` asks for a new member (a new
  KafkaConsumer) when a re-created topic stays unassigned.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import TopicPartition

from shared import config, kafka

log = logging.getLogger(__name__)

# Tansu's partition count for a topic it creates because a client asked for it.
ON_DEMAND_PARTITIONS = 4


def enabled() -> bool:
    """Whether the broker is the development broker (its quirks are worked around)."""
    return config.get("KAFKA_DEV_BROKER_QUIRKS") == "on"


def settings() -> dict[str, str]:
    """What every process talking to the development broker is given."""
    return {"KAFKA_DEV_BROKER_QUIRKS": "on", "KAFKA_PARTITIONS": str(ON_DEMAND_PARTITIONS)}


class TopicIds:
    """The id of each topic: a re-created topic (the memory-only broker after a
    restart) has a new id."""

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
        admin, self._admin = self._admin, None  # a failed client is never used again
        if admin is not None:
            try:
                admin.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                log.debug("closing a failed admin client", exc_info=True)


class TopicWatch(ConsumerRebalanceListener):
    """Keeps a consumer reading topics that were re-created under it.

    A re-created topic starts again at offset 0, while the consumer's fetch
    positions still point past its old end and would skip its first messages.
    Every `every` seconds this re-creates missing topics and, for each topic
    whose id changed, seeks the consumer back to the beginning (duplicates
    are harmless: consumers deduplicate by event id). The consumer's group
    rejoins after the restart too, and a rejoin takes positions from the
    committed offsets again: as the consumer's rebalance listener, the watch
    seeks a re-created topic's partitions back to the beginning on every
    assignment for `settle` seconds after the re-creation. A re-created topic
    still without a partition assigned after `rejoin_after` seconds is the
    sticky empty assignment: `needs_new_member()` says so, once per
    re-creation (a member of a larger group may rightly have none of its
    partitions).
    """

    def __init__(self, consumer: KafkaConsumer, bootstrap_servers: str, topics: Iterable[str],
                 every: float = 3.0, rejoin_after: float = 10.0, settle: float = 60.0) -> None:
        self.consumer = consumer
        self.bootstrap_servers = bootstrap_servers
        self.topics = tuple(topics)
        self.every, self.rejoin_after, self.settle = every, rejoin_after, settle
        self.recreated: dict[str, float] = {}  # topic -> when its re-creation was seen
        self.ids = TopicIds(bootstrap_servers)
        self.known: dict[str, str] = {}
        # re-created topic -> since when it waits for a partition (None: a new member got it)
        self.pending: dict[str, float | None] = {}
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
                del self.pending[topic]

    def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        pass

    def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        now = time.monotonic()
        recent = [tp for tp in assigned if now - self.recreated.get(tp.topic, -1e9) < self.settle]
        if recent:
            self.consumer.seek_to_beginning(*recent)

    def needs_new_member(self) -> bool:
        """True once a re-created topic we subscribe to stayed unassigned too long;
        the caller then replaces its consumer (`renewed`)."""
        subscribed = self.consumer.subscription() or set()
        now = time.monotonic()
        return any(topic in subscribed and since is not None and now - since > self.rejoin_after
                   for topic, since in self.pending.items())

    def renewed(self, consumer: KafkaConsumer) -> None:
        """The new consumer replacing the old one: it reads re-created topics from the start."""
        self.consumer = consumer
        self.pending = dict.fromkeys(self.pending)

    def _compare(self) -> None:
        current = self.ids.current(self.topics)
        if len(current) < len(self.topics):
            kafka.ensure_topics(self.bootstrap_servers, self.topics)
            current = self.ids.current(self.topics)
        for topic, topic_id in current.items():
            if self.known.get(topic, topic_id) != topic_id:
                log.warning("topic %s was re-created: reading it from the beginning", topic)
                self.pending[topic] = self.recreated[topic] = time.monotonic()
            self.known[topic] = topic_id

    def close(self) -> None:
        self.ids.close()


class BrokerReplaced(Exception):
    """The broker lost the topics a batch went to while it was being sent."""


class PublishedTopics:
    """For a relay: whether the broker still has the topics it published to.

    Recognised by topic id (end offsets are no use: Tansu reports the last
    batch's base offset + 1). A batch counts as published only if its topics
    still have, after the acknowledgement, the ids they had when it was sent:
    a broker may ack and die the next moment.
    """

    def __init__(self, bootstrap_servers: str) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.ids = TopicIds(bootstrap_servers)

    def lost(self, recorded: dict[str, str]) -> bool:
        """True when a topic we published to is gone or was re-created since."""
        return bool(recorded) and self.ids.current(recorded) != recorded

    def before_sending(self, topics: set[str], recorded: dict[str, str]) -> dict[str, str]:
        """The ids a batch to `topics` is sent to: those recorded, else their current ones."""
        sent_to = {t: recorded[t] for t in topics if t in recorded}
        if unseen := topics - set(sent_to):
            ids = self.ids.current(unseen)
            if missing := unseen - set(ids):  # lost, and nobody re-created them yet
                kafka.ensure_topics(self.bootstrap_servers, missing)
                ids = self.ids.current(unseen)
            sent_to.update(ids)
        return sent_to

    def confirm(self, sent_to: dict[str, str]) -> None:
        """Raise BrokerReplaced when the topics changed while the batch was sent."""
        if self.ids.current(sent_to) != sent_to:
            raise BrokerReplaced("the topics changed while the batch was sent; not recording it")

    def close(self) -> None:
        self.ids.close()


class SteadyTopics:
    """A real Kafka's topics: kept across restarts, nothing to check."""

    def lost(self, recorded: dict[str, str]) -> bool:
        return False

    def before_sending(self, topics: set[str], recorded: dict[str, str]) -> dict[str, str]:
        return {}

    def confirm(self, sent_to: dict[str, str]) -> None:
        pass

    def close(self) -> None:
        pass


def published_topics(bootstrap_servers: str) -> PublishedTopics | SteadyTopics:
    return PublishedTopics(bootstrap_servers) if enabled() else SteadyTopics()
