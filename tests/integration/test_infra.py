"""The real infrastructure answers: PostgreSQL and the Kafka-protocol broker."""
from __future__ import annotations

import psycopg

from shared import kafka


def test_each_service_has_its_own_database(infra):
    names = set()
    for _service, url in infra.database_urls.items():
        with psycopg.connect(url) as conn:
            names.add(conn.execute("SELECT current_database()").fetchone()[0])
    assert names == {"booking", "workflow", "notifier", "projections"}


def test_a_keyed_message_round_trips_through_a_consumer_group(infra, unique_topic):
    producer = kafka.producer(infra.kafka_bootstrap_servers)
    producer.send(unique_topic, key=b"appt-1", value=b"hello").get(timeout=10)
    producer.close()
    consumer = kafka.consumer(infra.kafka_bootstrap_servers, "infra-test", unique_topic)
    received = []
    for _ in range(30):
        for records in consumer.poll(1000).values():
            received += [(r.key, r.value) for r in records]
        if received:
            break
    consumer.close()
    assert received == [(b"appt-1", b"hello")]
