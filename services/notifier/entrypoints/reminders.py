"""Reminders, for operators: plan every timer again.

    python -m services.notifier.entrypoints.reminders replan
        from the confirmed appointments the notifier keeps (upcoming_appointments),
        e.g. after the timers table was lost or emptied
    python -m services.notifier.entrypoints.reminders rebuild
        from the events themselves: appointments.events and directory.events read
        from their earliest offsets (no consumer group), then replaces the timers,
        the upcoming appointments and the services' overrides in one transaction

Either runs beside a running notifier (its timer worker and consumer wait for
the transaction); neither sends anything twice (see adapters/reminders.py).
"""
from __future__ import annotations

import argparse
import logging
from collections.abc import Iterator

from kafka import KafkaConsumer, TopicPartition
from psycopg.rows import dict_row

from services.notifier import bootstrap
from services.notifier.adapters import reminders
from services.notifier.bootstrap import Settings
from shared import db, logs
from shared.envelope import CloudEvent

log = logging.getLogger("notifier")

def from_start(bootstrap_servers: str, topics: tuple[str, ...]) -> Iterator[CloudEvent]:
    """Every event of `topics` up to their end offsets now, partition by partition."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None,
                             enable_auto_commit=False)
    try:
        for topic in topics:
            for partition in sorted(consumer.partitions_for_topic(topic) or ()):
                tp = TopicPartition(topic, partition)
                consumer.assign([tp])
                consumer.seek_to_beginning(tp)
                end, idle = consumer.end_offsets([tp])[tp], 0
                while consumer.position(tp) < end:
                    records = consumer.poll(timeout_ms=1000).get(tp, [])
                    idle = 0 if records else idle + 1
                    if idle > 30:
                        raise TimeoutError(f"{tp} does not reach its end offset {end}")
                    for record in records:
                        if record.offset >= end:
                            break
                        try:
                            yield CloudEvent.from_kafka(record.value, record.headers)
                        except Exception:  # noqa: BLE001 - not ours: the consumer dead-lettered it
                            log.warning("skipped a message that is not one of our events",
                                        extra={"fields": {"topic": topic, "offset": record.offset}})
    finally:
        consumer.close()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("what", choices=["replan", "rebuild"])
    args = p.parse_args(argv)
    logs.setup("notifier-reminders")
    settings = Settings.from_env()
    pool = bootstrap.wire(settings).pool
    now = settings.clock()
    with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        if args.what == "replan":
            count = reminders.replan(cur, now)
            print(f"planned the reminders of {count} upcoming appointments again")
        else:
            events = from_start(settings.bootstrap_servers,
                                (settings.topic, settings.directory_topic))
            count = reminders.rebuild(cur, events, now)
            print(f"rebuilt from the events: {count} reminders planned")
    db.close_pools()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
