"""The dev broker keeps messages in memory only: after it restarts empty, the
topics come back, offsets start again at 0 and the committed offsets are
gone. The consumer rejoins, reads from the earliest, applies what is new and
recognises what it has seen (by event id, never by offset)."""
from __future__ import annotations

from dataclasses import replace

from kafka import KafkaAdminClient

from services.projections.bootstrap import wire
from shared import devbroker, kafka
from shared.devinfra import infra as infra_module
from tests.integration.projections.support import applied_count, publish, running, wait_until
from tests.unit.projections.factory import Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def partition_counts(bootstrap_servers: str, topics: tuple[str, ...]) -> dict[str, int]:
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers)
    try:
        return {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(topics))}
    finally:
        admin.close()


def test_the_consumer_survives_a_broker_that_comes_back_empty(settings, tmp_path):
    broker = infra_module.EmbeddedBroker(infra_module.free_port(), tmp_path / "broker.log")
    broker.start()
    try:
        own = replace(settings, bootstrap_servers=broker.bootstrap_servers,
                      topic_check_interval=1.0)
        wire(own)
        booking = Booking()
        aid = booking.request(slot_=slot("2026-11-23", "09:00")).subject
        with running(own) as consumer:
            publish(own, booking.events)
            wait_until(lambda: applied_count(own) == 1, what="first event applied")

            # The broker restarts empty (same address)
            broker.stop()
            broker.start()
            kafka.ensure_topics(broker.bootstrap_servers,
                                own.topics + tuple(kafka.dlq(t) for t in own.topics))
            # The relay publishes again from where it was sure: the old event and a new one
            confirm = booking.act(aid, "confirm")
            publish(own, [booking.events[0], confirm])
            wait_until(lambda: applied_count(own) == 2, timeout=60,
                       what="the new event applied after the restart")
            wait_until(lambda: consumer.counts.get("duplicate", 0) >= 1, what="old one deduped")
            # Whoever re-created them (a client asking, or us), they kept their partition count
            assert partition_counts(broker.bootstrap_servers, own.topics) == {
                topic: devbroker.ON_DEMAND_PARTITIONS for topic in own.topics}
    finally:
        broker.stop()
