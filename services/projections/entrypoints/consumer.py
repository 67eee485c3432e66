"""The projections consumer: group `projections` on appointments.events and
directory.events -> every view, one event per transaction.

    python -m services.projections.entrypoints.consumer [--topic T ...] [--group G]
                                                        [--dlq-topic D]

Offsets are committed only after the events are applied (or dead-lettered);
deduplication is by event id and aggregateversion in PostgreSQL, never by
offset, so a broker that restarts empty (offsets back at 0, read again from
the earliest) only causes harmless duplicates. A message that cannot be
processed goes to `appointments.events.dlq` and the consumer goes on; a
database outage is not the message's fault: the consumer seeks back and
retries it. SIGTERM / SIGINT: finish the current batch, commit, close.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from typing import Any

import psycopg
from kafka.errors import KafkaError

from services.projections.adapters.dlq import DeadLetterFailed, DeadLetters
from services.projections.adapters.schema import LIVE
from services.projections.application.apply import apply_event, decode
from services.projections.application.purge import purge
from services.projections.bootstrap import Settings, database
from services.projections.domain.model import Unprocessable
from shared import db, kafka, logs

log = logging.getLogger(__name__)


class Consumer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        kafka.ensure_topics(settings.bootstrap_servers, settings.topics + (settings.dlq_topic,))
        self.pool = database(settings)
        self.dead = DeadLetters(lambda: kafka.producer(settings.bootstrap_servers),
                                settings.dlq_topic, settings.group_id)
        self.kafka = kafka.consumer(settings.bootstrap_servers, settings.group_id,
                                    *settings.topics)
        self.counts: dict[str, int] = {}
        self._topic_ids: dict[str, object] = {}
        self._recreated: set[str] = set()

    def run(self, stop: threading.Event) -> None:
        next_purge = next_topic_check = time.monotonic()
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_purge:
                    self._purge()
                    next_purge = now + self.settings.purge_interval
                if now >= next_topic_check:
                    self._recreate_missing_topics()
                    next_topic_check = now + self.settings.topic_check_interval
                self._reread_recreated_topics()
                self.step(stop)
        finally:
            self._commit()
            self.kafka.close(autocommit=False)
            self.dead.close()

    def step(self, stop: threading.Event) -> None:
        """Poll once, handle every record, commit what was handled."""
        try:
            batches = self.kafka.poll(timeout_ms=500)
        except KafkaError as e:
            log.warning("poll failed: %s", e)
            stop.wait(1.0)
            return
        if not batches:
            return
        retry = False
        for tp, records in batches.items():
            for record in records:
                if not self.handle(record):
                    self.kafka.seek(tp, record.offset)  # not handled: read it again
                    retry = True
                    break
        self._commit()
        if retry:
            stop.wait(1.0)

    def handle(self, record: Any) -> bool:
        """Apply or dead-letter one record; False: a transient failure, retry it."""
        try:
            outcome = apply_event(self.pool, LIVE, decode(record.value))
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            return True
        except Unprocessable as e:
            reason = str(e)
        except psycopg.OperationalError as e:
            log.warning("database unavailable, will retry: %s", e)
            return False
        except Exception as e:  # noqa: BLE001 - any other failure is the message's
            log.exception("could not apply a message")
            reason = f"{type(e).__name__}: {e}"
        try:
            self.dead.publish(record.key, record.value, reason, record.topic, record.partition,
                              record.offset)
        except DeadLetterFailed:
            return False
        self.counts["dead_lettered"] = self.counts.get("dead_lettered", 0) + 1
        return True

    def _commit(self) -> None:
        try:
            self.kafka.commit()
        except KafkaError as e:  # rebalance or broker gone: the events are deduplicated anyway
            log.warning("offset commit failed: %s", e)

    def _purge(self) -> None:
        try:
            gone = purge(self.pool, self.settings.clock())
            if gone:
                log.info("purged appointments beyond retention", extra={"fields": {"count": gone}})
        except psycopg.Error:
            log.exception("retention purge failed; will try again")

    def _reread_recreated_topics(self) -> None:
        """A re-created topic (new topic id; the dev broker after a restart)
        starts again at offset 0: positions kept from before would skip its
        first messages, so read it again from the beginning (duplicates are
        harmless). kafka-python has no public accessor for topic ids."""
        cluster = self.kafka._client.cluster  # noqa: SLF001
        for topic in self.settings.topics:
            new = cluster.topic_id(topic)
            old = self._topic_ids.get(topic)
            if new is not None:
                self._topic_ids[topic] = new
            if old is not None and new is not None and old != new:
                log.warning("topic %s was re-created: reading it from the beginning", topic)
                self._recreated.add(topic)
        for topic in list(self._recreated):
            partitions = [tp for tp in self.kafka.assignment() if tp.topic == topic]
            if partitions:
                self.kafka.seek_to_beginning(*partitions)
                self._recreated.discard(topic)

    def _recreate_missing_topics(self) -> None:
        """A memory-only broker comes back empty: create our topics again."""
        try:
            self.kafka._client.cluster.request_update()  # noqa: SLF001 - notice new topic ids
            if set(self.settings.topics) - set(self.kafka.topics()):
                kafka.ensure_topics(self.settings.bootstrap_servers,
                                    self.settings.topics + (self.settings.dlq_topic,))
        except KafkaError as e:
            log.warning("topic check failed: %s", e)


def run(settings: Settings, stop: threading.Event) -> None:
    """The consumer loop until `stop` is set (tests call this in a thread)."""
    Consumer(settings).run(stop)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Projections consumer")
    parser.add_argument("--topic", action="append", dest="topics",
                        help="topic to follow (repeatable); default: "
                             "appointments.events and directory.events")
    parser.add_argument("--group", dest="group_id", help="consumer group; default: projections")
    parser.add_argument("--dlq-topic", dest="dlq_topic",
                        help="dead-letter topic; default: appointments.events.dlq")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if v}
    if "topics" in overrides:
        overrides["topics"] = tuple(overrides["topics"])
    logs.setup("projections-consumer")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    try:
        run(Settings.from_env(**overrides), stop)
        log.info("consumer stopped cleanly")
    finally:
        db.close_pools()


if __name__ == "__main__":
    main()
