"""The notifier consumes a poll in one transaction, a savepoint per event
(shared/consumer.py `Batches`), on the real broker and PostgreSQL."""
from __future__ import annotations

import uuid

import psycopg

from shared import kafka
from shared.envelope import CloudEvent
from tests.fakes.events import appointment_event
from tests.fakes.notifier_support import read_topic, rows, wait_until


def test_a_poison_event_mid_batch_is_dead_lettered_alone_and_its_neighbours_commit_once(
        settings, start_notifier, infra):
    good = [appointment_event("cancel", reason="Doctor ill") for _ in range(6)]
    # Fails after its first write (the appointment's version row), inside its savepoint.
    poison = CloudEvent(**{**good[0].__dict__, "id": f"poison-{uuid.uuid4()}",
                           "subject": str(uuid.uuid4()), "data": {"change": "no object"}})
    producer = kafka.producer(infra.kafka_bootstrap_servers)
    for event in [*good[:3], poison, *good[3:]]:  # one key: one partition, this order
        producer.send(settings.topic, key=b"batch", value=event.to_json()).get(10)
    producer.close()
    start_notifier(settings)  # everything is waiting: the first polls hold several events

    wait_until(lambda: len(rows(settings.database_url, "state = 'sent'")) == 6 * 4,
               what="the six good events' four messages each, sent")
    dead = read_topic(settings.bootstrap_servers, kafka.dlq(settings.topic), 1)
    assert [value["id"] for _, value, _ in dead] == [poison.id]

    with psycopg.connect(settings.database_url) as conn:
        processed = conn.execute("SELECT event_id FROM processed_events").fetchall()
        poison_version = conn.execute("SELECT 1 FROM appointment_versions WHERE appointment_id "
                                      "= %s", (poison.subject,)).fetchall()
    # Each good event once, the poison not at all, not even its first write.
    assert sorted(event_id for event_id, in processed) == sorted(e.id for e in good)
    assert poison_version == []
    assert rows(settings.database_url, "event_id = %s", (poison.id,)) == []
    per_event = [len(rows(settings.database_url, "event_id = %s", (e.id,))) for e in good]
    assert per_event == [4] * 6
    # Fewer transactions than events: events shared their poll's (created_at is its now()).
    started = {r["created_at"] for e in good for r in rows(settings.database_url,
                                                            "event_id = %s", (e.id,))}
    assert len(started) < len(good)
    # One pending event per delivery on notifications.events, none twice.
    published = read_topic(settings.bootstrap_servers, settings.events_topic, 6 * 4 * 3)
    pending = [v["subject"] for _, v, _ in published if v["type"] == "notification.pending.v1"]
    assert len(pending) == len(set(pending)) == 6 * 4
