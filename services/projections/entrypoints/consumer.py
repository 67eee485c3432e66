"""The projections consumer: group `projections` on appointments.events and
directory.events -> every view, a poll's events in one transaction (a
savepoint each: a poison event is dead-lettered alone, shared/consumer.py).

    python -m services.projections.entrypoints.consumer [--topic T ...] [--group G]

The loop is shared/consumer.py (commit after apply, dead letters to each
topic's `.dlq` twin, re-created topics read again); deduplication is by event
id and aggregateversion in PostgreSQL (application/apply.py). A database
outage is not the message's fault: the whole batch is rolled back and read
again. SIGTERM / SIGINT: finish the event in hand, commit what was applied, close.
"""
from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections.abc import Sequence

import psycopg
from kafka.consumer.fetcher import ConsumerRecord

from services.projections.adapters.schema import LIVE
from services.projections.application.apply import apply_in, decode, lock_live
from services.projections.application.purge import purge
from services.projections.bootstrap import Settings, wire
from services.projections.domain.model import Unprocessable
from shared import db, logs
from shared.consumer import Batches, ConsumerRuntime
from shared.freshness import Progress

log = logging.getLogger(__name__)


class Consumer:
    """Applies each poll to the views; purges beyond retention every `purge_interval`."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.pool = wire(settings).pool
        self.counts: dict[str, int] = {}  # outcome -> events seen (the tests read it)
        self._next_purge = time.monotonic()
        self.runtime = ConsumerRuntime(
            settings.bootstrap_servers, settings.group_id, settings.topics,
            Batches(self.pool, self.apply, begin=lock_live, committed=self._count),
            expected=(Unprocessable,), topic_check_interval=settings.topic_check_interval,
            before_poll=self._purge_when_due, database_url=settings.database_url,
            progress=Progress(settings.database_url, settings.group_id))

    def run(self, stop: threading.Event) -> None:
        self.runtime.run(stop)

    def apply(self, conn: psycopg.Connection, record: ConsumerRecord) -> str:
        return apply_in(conn, LIVE, decode(record.value, record.headers))

    def _count(self, outcomes: Sequence[object]) -> None:
        for outcome in outcomes:
            self.counts[str(outcome)] = self.counts.get(str(outcome), 0) + 1

    def _purge_when_due(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + self.settings.purge_interval
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
