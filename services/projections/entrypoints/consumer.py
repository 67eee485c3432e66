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
from kafka.structs import OffsetAndMetadata, TopicPartition

from services.projections.adapters.schema import LIVE
from services.projections.application.apply import apply_event, decode
from services.projections.application.purge import purge
from services.projections.bootstrap import Settings, database
from services.projections.domain.model import Unprocessable
from shared import db, kafka, logs
from shared.deadletters import DeadLetterFailed, DeadLetters

log = logging.getLogger(__name__)


class Consumer:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        kafka.ensure_topics(settings.bootstrap_servers, settings.topics + (settings.dlq_topic,))
        self.pool = database(settings)
        self.dead = DeadLetters(settings.bootstrap_servers, settings.dlq_topic, settings.group_id)
        self.kafka = kafka.consumer(settings.bootstrap_servers, settings.group_id,
                                    *settings.topics)
        self.counts: dict[str, int] = {}
        self.topics = kafka.TopicWatch(self.kafka, settings.bootstrap_servers,
                                       settings.topics + (settings.dlq_topic,),
                                       settings.topic_check_interval)

    def run(self, stop: threading.Event) -> None:
        next_purge = time.monotonic()
        try:
            while not stop.is_set():
                now = time.monotonic()
                if now >= next_purge:
                    self._purge()
                    next_purge = now + self.settings.purge_interval
                self.topics.check()
                self.step(stop)
        finally:
            self.kafka.close(autocommit=False)
            self.dead.close()
            self.topics.close()

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
        handled: dict[TopicPartition, OffsetAndMetadata] = {}
        for tp, records in batches.items():
            for record in records:
                if not self.handle(record):
                    self.kafka.seek(tp, record.offset)  # not handled: read it again
                    retry = True
                    break
                handled[tp] = OffsetAndMetadata(record.offset + 1, "", -1)
        self._commit(handled)
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

    def _commit(self, offsets: dict[TopicPartition, OffsetAndMetadata]) -> None:
        """Commit exactly what was handled: never positions left over from a
        topic that has since been re-created."""
        if not offsets:
            return
        try:
            self.kafka.commit(offsets)
        except KafkaError as e:  # rebalance or broker gone: the events are deduplicated anyway
            log.warning("offset commit failed: %s", e)

    def _purge(self) -> None:
        try:
            gone = purge(self.pool, self.settings.clock())
            if gone:
                log.info("purged appointments beyond retention", extra={"fields": {"count": gone}})
        except psycopg.Error:
            log.exception("retention purge failed; will try again")


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
