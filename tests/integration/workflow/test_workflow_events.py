"""What the workflow service tells the rest of the system: its events reach
Kafka through the shared relay as CloudEvents, and /readyz checks its parts."""
from __future__ import annotations

from kafka import KafkaConsumer, TopicPartition

from services.workflow import bootstrap
from services.workflow.adapters.cloudevents import to_messages
from services.workflow.application import commands as c
from services.workflow.application.app import Actor
from services.workflow.entrypoints.http import create_app
from shared.envelope import CloudEvent
from shared.relay import Relay
from tests.present import present

STATUSES = [dict(key="received", name="Request received", position=10, kind="start"),
            dict(key="confirmed", name="Confirmed", position=20, kind="confirmation"),
            dict(key="declined", name="Declined", position=30, kind="cancellation")]


def read_topic(bootstrap_servers: str, topic: str, expected: int) -> list[CloudEvent]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap_servers, consumer_timeout_ms=500)
    partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    events: list[CloudEvent] = []
    for _ in range(20):
        events += [CloudEvent.from_json(m.value) for m in consumer]
        if len(events) >= expected:
            break
    consumer.close()
    return events


def test_published_workflows_reach_kafka_as_cloudevents(infra, fresh_db, unique_topic):
    app = bootstrap.parts(bootstrap.Settings(fresh_db)).application
    try:
        mia = Actor("acme", "mia", "corr-7")
        workflow = app.create(mia, c.Create("Flow", STATUSES))
        app.publish(mia, str(workflow.id))
        # The shared relay, pointed at a topic of this test's own.
        relay = Relay(app, lambda a, ns: [(unique_topic, k, e) for _, k, e in to_messages(a, ns)],
                      fresh_db, "workflow", infra.kafka_bootstrap_servers)
        while relay.step():
            pass
        relay.close()
        events = read_topic(infra.kafka_bootstrap_servers, unique_topic, 2)
    finally:
        bootstrap.close(fresh_db)
    assert [(e.type, e.subject, e.aggregateversion) for e in events] == [
        ("workflow.created.v1", str(workflow.id), 1),
        ("workflow.published.v1", str(workflow.id), 2)]
    published = events[1]
    assert (published.orgid, published.source, published.correlationid) == \
        ("acme", "workflow", "corr-7")
    assert published.data["workflow"]["versions"][0]["version"] == 1
    assert published.data["change"]["definition"]["statuses"][0]["key"] == "received"


def test_readyz_names_kafka_missing_but_stays_ready_since_the_api_does_without(fresh_db,
                                                                              monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:1")
    degraded = create_app(fresh_db).test_client().get("/readyz")
    assert degraded.status_code == 200
    assert present(degraded.json)["checks"] == {"database": True, "relay": True, "kafka": False}
    assert (present(degraded.json)["status"], present(degraded.json)["missing"]) == (
        "degraded", ["kafka"])


def test_readyz_is_ready_with_its_database_and_kafka(infra, fresh_db, monkeypatch):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", infra.kafka_bootstrap_servers)
    ready = create_app(fresh_db).test_client().get("/readyz")
    assert present(ready.json)["checks"] == {"database": True, "relay": True, "kafka": True}
    assert ready.status_code == 200
