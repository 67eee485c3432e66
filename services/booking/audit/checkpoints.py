"""Signed checkpoints: the chain head of every organisation that changed, signed
with Ed25519 and published on `audit.checkpoints`, so a copy outside the database
anchors the chain (someone who rewrites the whole chain cannot re-sign).

The checkpointer runs in booking's relay process. It signs the heads changed
since the last checkpoint, publishes them (acks=all) and only then records them
in `audit_checkpoints`; a crash in between publishes them again, which is harmless.
A topic that lost its messages (the memory-only dev broker restarted; recognised by
its new topic id, as the relay does) gets every recorded checkpoint again.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from kafka import KafkaConsumer, TopicPartition

from shared import db, kafka

log = logging.getLogger("audit.checkpoints")
TOPIC = kafka.AUDIT_CHECKPOINTS
SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    organisation_id text NOT NULL,
    position bigint NOT NULL,
    sequence bigint NOT NULL,
    hash bytea NOT NULL,
    signed_at timestamptz NOT NULL,
    signature bytea NOT NULL,
    message bytea NOT NULL,  -- as published, so it can be published again
    PRIMARY KEY (organisation_id, position)
);
CREATE TABLE IF NOT EXISTS audit_checkpoint_topic (
    topic text PRIMARY KEY,
    topic_id text NOT NULL  -- the id the topic had when the checkpoints were published
);
"""


@dataclass(frozen=True)
class Checkpoint:
    organisation_id: str
    position: int  # the notification id of the organisation's last chained event
    sequence: int  # how many events the organisation's chain holds up to it
    hash: str  # hex sha256 of that event's chain entry
    time: str  # ISO 8601, when it was signed

    def document(self) -> bytes:
        """The signed bytes: canonical JSON (sorted keys, no spaces)."""
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")).encode()


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> bytes:
    """The message value: the checkpoint and its base64 signature."""
    signature = base64.b64encode(key.sign(checkpoint.document())).decode()
    return json.dumps({"checkpoint": asdict(checkpoint), "signature": signature},
                      separators=(",", ":")).encode()


class ForgedCheckpoint(ValueError):
    """A message on the topic whose signature does not verify."""


def read_message(value: bytes, key: Ed25519PublicKey) -> Checkpoint:
    try:
        body = json.loads(value)
        checkpoint = Checkpoint(**body["checkpoint"])
        signature = base64.b64decode(body["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as error:
        raise ForgedCheckpoint(f"not a checkpoint ({error})") from error
    try:
        key.verify(signature, checkpoint.document())
    except InvalidSignature as error:
        raise ForgedCheckpoint(
            f"signature does not verify for {checkpoint.organisation_id} at position "
            f"{checkpoint.position}") from error
    return checkpoint


def read_topic(bootstrap_servers: str, topic: str = TOPIC,
               timeout_ms: int = 10_000) -> Iterator[bytes]:
    """Every message value on the topic, from the beginning to its current end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None,
                             enable_auto_commit=False, consumer_timeout_ms=timeout_ms)
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            return
        consumer.assign(partitions)
        consumer.seek_to_beginning(*partitions)
        ends = consumer.end_offsets(partitions)
        while any(consumer.position(p) < ends[p] for p in partitions):
            batch = consumer.poll(timeout_ms=timeout_ms)
            if not batch:
                break
            for records in batch.values():
                for record in records:
                    yield record.value
        # The end offsets Tansu reports may trail the last batch: read what is left.
        for records in consumer.poll(timeout_ms=200).values():
            for record in records:
                yield record.value
    finally:
        consumer.close()


class Checkpointer:
    def __init__(self, database_url: str, bootstrap_servers: str, key: Ed25519PrivateKey,
                 topic: str = TOPIC, interval: float = 60.0) -> None:
        self.pool = db.pool(database_url, max_size=2)
        self.key = key
        self.topic = topic
        self.interval = interval
        self.producer = kafka.DurableProducer(bootstrap_servers)
        self.bootstrap_servers = bootstrap_servers
        self.topic_ids = kafka.TopicIds(bootstrap_servers)
        db.run_schema(database_url, SCHEMA)

    def step(self) -> list[Checkpoint]:
        """Sign and publish the heads of the organisations changed since the last checkpoint."""
        self._republish_if_topic_lost()
        now = datetime.now(timezone.utc).isoformat()
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (organisation_id) organisation_id, notification_id, sequence, "
                "hash FROM booking_event_organisation WHERE hash IS NOT NULL AND notification_id > "
                "(SELECT coalesce(max(position), 0) FROM audit_checkpoints) "
                "ORDER BY organisation_id, notification_id DESC").fetchall()
        made = [Checkpoint(r[0], r[1], r[2], bytes(r[3]).hex(), now) for r in rows]
        if not made:
            return []
        values = [sign(c, self.key) for c in made]
        self.producer.send_all([(self.topic, c.organisation_id.encode(), v, [])
                                for c, v in zip(made, values, strict=True)])
        with self.pool.connection() as conn:
            for c, v in zip(made, values, strict=True):
                conn.execute("INSERT INTO audit_checkpoints VALUES (%s, %s, %s, %s, %s, %s, %s) "
                             "ON CONFLICT DO NOTHING",
                             (c.organisation_id, c.position, c.sequence, bytes.fromhex(c.hash),
                              c.time, base64.b64decode(json.loads(v)["signature"]), v))
        log.info("checkpoints published", extra={"fields": {
            "organisations": len(made), "position": max(c.position for c in made)}})
        return made

    def _republish_if_topic_lost(self) -> None:
        current = self.topic_ids.current([self.topic]).get(self.topic)
        if current is None:
            kafka.ensure_topics(self.bootstrap_servers, [self.topic])
            current = self.topic_ids.current([self.topic])[self.topic]
        with self.pool.connection() as conn:
            row = conn.execute("SELECT topic_id FROM audit_checkpoint_topic WHERE topic = %s",
                               (self.topic,)).fetchone()
            if row and row[0] == current:
                return
            rows = conn.execute("SELECT organisation_id, message FROM audit_checkpoints "
                                "ORDER BY position").fetchall() if row else []
        if rows:
            log.warning("the checkpoint topic was re-created; publishing every checkpoint again",
                        extra={"fields": {"topic": self.topic, "checkpoints": len(rows)}})
            self.producer.send_all([(self.topic, org.encode(), bytes(message), [])
                                    for org, message in rows])
        with self.pool.connection() as conn:
            conn.execute("INSERT INTO audit_checkpoint_topic VALUES (%s, %s) ON CONFLICT (topic) "
                         "DO UPDATE SET topic_id = EXCLUDED.topic_id", (self.topic, current))

    def run(self, stop: threading.Event) -> None:
        kafka.ensure_topics(self.bootstrap_servers, [self.topic])
        while not stop.wait(self.interval):
            try:
                self.step()
            except Exception:  # noqa: BLE001 - the next round tries again
                log.exception("publishing checkpoints failed; will retry")

    def close(self) -> None:
        self.producer.close()
        self.topic_ids.close()
