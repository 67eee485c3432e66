"""The notifier's worker process: the Kafka consumer (appointment events, and
the organisations' and services' settings from directory.events), the senders
(per channel), the reminders' timer worker and the outbox publisher, as
threads of one process.

    python -m services.notifier.entrypoints.consumer [--topic T --group G ...]

SIGTERM / SIGINT stop it cleanly: the consumer finishes the event in hand and
commits, each sender finishes the message in hand and records its result.
A hard kill is survivable too (see application/send.py for what it can cause).
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, cast

from kafka.consumer.fetcher import ConsumerRecord
from psycopg import Connection

from services.notifier import bootstrap
from services.notifier.adapters import reminders
from services.notifier.adapters.publisher import publisher
from services.notifier.application.consume import ConsumeEvent
from services.notifier.application.remind import SendReminder
from services.notifier.application.send import Backoff, Sender
from services.notifier.bootstrap import Settings
from shared import db, logs
from shared.consumer import Batches, ConsumerRuntime
from shared.envelope import CloudEvent
from shared.freshness import Progress
from shared.timers import TimerWorker

log = logging.getLogger("notifier")


class NotifierProcess:
    """Everything the worker process runs; `start()`, then `stop()`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.stopping = threading.Event()
        parts = bootstrap.wire(settings)
        self.pool, self.ledger, clock = parts.pool, parts.ledger, settings.clock
        self.consume = ConsumeEvent(self.ledger, backoffice_url=settings.backoffice_url)
        # Due reminders -> ledger rows; any number of processes may run one (SKIP LOCKED).
        self.timers = TimerWorker(self.pool, reminders.TABLE,
                                  {reminders.KIND: SendReminder(
                                      self.ledger, clock, backoffice_url=settings.backoffice_url)},
                                  clock)
        self.publisher = publisher(self.pool, settings.bootstrap_servers, settings.poll_interval)
        backoff = Backoff(settings.backoff_base, settings.backoff_cap)
        self.senders = [Sender(self.ledger, transport, backoff, settings.lease_seconds)
                        for transport in parts.transports.values()]
        self.consumer = ConsumerRuntime(
            settings.bootstrap_servers, settings.group_id,
            (settings.topic, settings.directory_topic),
            Batches(self.pool, self._handle, committed=self._consumed),
            also_ensure=(settings.events_topic, settings.dlq_topic),
            poll_interval=settings.poll_interval, retry_wait=max(1.0, settings.backoff_base),
            database_url=settings.database_url,
            progress=Progress(settings.database_url, settings.group_id))
        self.threads: list[threading.Thread] = []

    def start(self) -> NotifierProcess:
        jobs: list[tuple[str, Callable[[], None]]] = [
            ("consumer", self._consume_loop), ("publisher", self._publish_loop),
            ("timers", partial(self.timers.loop, self.stopping, self.settings.timer_interval))]
        for sender in self.senders:
            jobs += [(f"sender-{sender.channel}-{i}", partial(self._send_loop, sender))
                     for i in range(self.settings.workers_per_channel)]
        self.threads = [threading.Thread(target=job, name=f"notifier-{name}", daemon=True)
                        for name, job in jobs]
        for thread in self.threads:
            thread.start()
        log.info("notifier started", extra={"fields": {
            "topic": self.settings.topic, "group": self.settings.group_id,
            "transports": {s.channel: type(s.transport).__name__ for s in self.senders}}})
        return self

    def stop(self, timeout: float = 30.0) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout)
        self.publisher.close()  # the consumer thread closed its own consumer
        log.info("notifier stopped")

    # -- the loops ------------------------------------------------------------
    def _consume_loop(self) -> None:
        self.consumer.run(self.stopping)

    def _handle(self, conn: Connection[Any], record: ConsumerRecord) -> tuple[CloudEvent, str]:
        """One event into the ledger, in the poll's transaction (shared/consumer.py
        `Batches`: one per poll, a savepoint per event); a message that is not one of
        our events, or one that fails to plan or render, is dead-lettered by the runtime."""
        event = CloudEvent.from_kafka(record.value, record.headers)
        return event, self.consume(event, conn)

    @staticmethod
    def _consumed(kept: Sequence[object]) -> None:
        """Logged once the poll's transaction committed."""
        for item in kept:
            event, outcome = cast(tuple[CloudEvent, str], item)  # what _handle returned
            log.info("event consumed", extra={"fields": {
                "event_id": event.id, "type": event.type, "subject": event.subject,
                "outcome": outcome}})

    def _send_loop(self, sender: Sender) -> None:
        while not self.stopping.is_set():
            try:
                if sender.send_next():
                    continue
            except Exception:  # noqa: BLE001 - e.g. the database is away
                log.exception("sender error", extra={"fields": {"channel": sender.channel}})
            self.stopping.wait(self.settings.poll_interval)

    def _publish_loop(self) -> None:
        self.publisher.run(self.stopping)


def parse_args(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--topic", help="appointment events topic (appointments.events)")
    p.add_argument("--directory-topic",
                   help="organisation settings topic (directory.events)")
    p.add_argument("--group", dest="group_id", help="consumer group id (notifier)")
    p.add_argument("--database-url", help="the ledger's PostgreSQL (NOTIFIER_DATABASE_URL)")
    p.add_argument("--events-topic", help="delivery events topic (notifications.events)")
    p.add_argument("--poll-interval", type=float)
    p.add_argument("--backoff-base", type=float)
    p.add_argument("--send-timeout", type=float)
    p.add_argument("--lease", type=float)
    p.add_argument("--workers-per-channel", type=int)
    p.add_argument("--timer-interval", type=float,
                   help="seconds between looks for due reminders (5)")
    return vars(p.parse_args(argv))


def main(argv: list[str] | None = None) -> None:
    logs.setup("notifier")
    settings = Settings.from_env(**parse_args(argv))
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    process = NotifierProcess(settings).start()
    while not done.wait(1.0):
        pass
    process.stop()
    db.close_pools()


if __name__ == "__main__":
    main()
