"""The relay publishes every stored event, survives being killed and a broker
that comes back empty, and never records a position the broker did not ack."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
from eventsourcing.persistence import Notification

from shared import devbroker, kafka
from shared.devinfra import infra as infra_module
from shared.relay import Relay
from tests.integration.relay_app import Ticket, make_app, to_messages
from tests.waiting import first_within, wait_until

ROOT = Path(__file__).resolve().parents[2]


def read_all(bootstrap: str, topic: str, expected: int, timeout: float = 30) -> list[dict]:
    """Every message on the topic, read with a fresh group from the earliest offset."""
    consumer = kafka.consumer(bootstrap, f"reader-{time.monotonic_ns()}", topic)
    seen: list[dict] = []

    def all_read() -> bool:
        for records in consumer.poll(500).values():
            seen.extend(json.loads(r.value) for r in records)
        return len({m["id"] for m in seen}) >= expected

    first_within(all_read, timeout, interval=0)
    consumer.close()
    return seen


def relayed(url: str) -> int:
    """The position the relay recorded as acknowledged (0 before its first batch)."""
    with psycopg.connect(url) as conn:
        try:
            row = conn.execute("SELECT position FROM relay_position WHERE name = 'tickets'"
                               ).fetchone()
        except psycopg.errors.UndefinedTable:  # the relay has not started yet
            return 0
    return int(row[0]) if row else 0


def open_tickets(app, count: int, start: int = 0, stamps: int = 0) -> set[str]:
    """`count` tickets, then `stamps` rounds stamping each: every ticket's events are
    stored in separate transactions, between other tickets' events."""
    tickets = [Ticket(number=i) for i in range(start, start + count)]
    for ticket in tickets:
        app.save(ticket)
    for _ in range(stamps):
        for ticket in tickets:
            ticket.stamp()
            app.save(ticket)
    return {str(t.id) for t in tickets}


def versions_by_key(messages: list[dict]) -> dict[str, list[int]]:
    """Each key's versions in the order first received (a republished message, which
    at-least-once allows, is not counted again)."""
    seen: set[str] = set()
    versions: dict[str, list[int]] = {}
    for m in messages:
        if m["id"] not in seen:
            seen.add(m["id"])
            versions.setdefault(m["subject"], []).append(m["aggregateversion"])
    return versions


def test_killed_mid_stream_the_relay_loses_nothing(infra, fresh_db, unique_topic, tmp_path):
    env = {**os.environ, **infra.env(), "RELAY_TEST_TOPIC": unique_topic, "PYTHONPATH": str(ROOT)}
    app = make_app(fresh_db)
    argv = [sys.executable, "-m", "tests.integration.relay_app", fresh_db]
    subjects = open_tickets(app, 50, stamps=2)
    log = open(tmp_path / "relay.log", "ab")  # noqa: SIM115 - shared by both runs
    relay_process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=log)
    # Keep writing while the relay runs, then kill it without warning.

    def keep_writing() -> None:
        subjects.update(open_tickets(app, 150, start=50, stamps=2))

    writer = threading.Thread(target=keep_writing)
    writer.start()
    wait_until(lambda: relayed(fresh_db) > 0, what="the relay has published a first batch")
    relay_process.send_signal(signal.SIGKILL)
    relay_process.wait()
    writer.join()
    # Restarted, it carries on from the last acknowledged position.
    relay_process = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=log, stderr=log)
    try:
        messages = read_all(infra.kafka_bootstrap_servers, unique_topic, expected=600)
    finally:
        relay_process.terminate()
        relay_process.wait(10)
        log.close()
    assert {m["subject"] for m in messages} == subjects
    assert len({m["id"] for m in messages}) == 600
    assert all(m["position"] > 0 for m in messages)
    # Per-key order: each ticket's three events arrive in the order they were stored.
    assert versions_by_key(messages) == {s: [1, 2, 3] for s in subjects}


def test_a_healthy_broker_is_not_mistaken_for_one_that_lost_data(infra, fresh_db, unique_topic,
                                                                   monkeypatch):
    monkeypatch.setenv("RELAY_TEST_TOPIC", unique_topic)
    app = make_app(fresh_db)
    relay = Relay(app, to_messages, fresh_db, "tickets", infra.kafka_bootstrap_servers)
    open_tickets(app, 30)  # one batch, several records per partition
    try:
        assert relay.step() == 30
        assert not relay.published.lost(relay.position()[1])
    finally:
        relay.close()


def test_after_the_broker_restarts_empty_everything_is_republished(fresh_db, tmp_path):
    broker = infra_module.EmbeddedBroker(infra_module.free_port(), tmp_path / "broker.log")
    broker.start()
    topic = "tickets.events"
    os.environ["RELAY_TEST_TOPIC"] = topic
    kafka.ensure_topics(broker.bootstrap_servers, [topic])
    app = make_app(fresh_db)
    relay = Relay(app, to_messages, fresh_db, "tickets", broker.bootstrap_servers,
                  reset_check_every=0.5)
    relay._topics = {topic}
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        subjects = open_tickets(app, 20)
        assert {m["subject"] for m in read_all(broker.bootstrap_servers, topic, 20)} == subjects

        broker.stop()
        broker.start()  # memory only: the topic is gone
        subjects |= open_tickets(app, 5, start=20)

        again = read_all(broker.bootstrap_servers, topic, 25, timeout=60)
        assert {m["subject"] for m in again} == subjects
        position, topic_ids = relay.position()
        ids = devbroker.TopicIds(broker.bootstrap_servers)
        assert position == 25 and topic_ids[topic] == ids.current([topic])[topic]
        ids.close()
    finally:
        relay.stop()  # before the broker goes, or its producer retries for the rest of the session
        thread.join(10)
        os.environ.pop("RELAY_TEST_TOPIC", None)
        broker.stop()


def test_an_ack_from_a_broker_that_restarts_empty_right_after_does_not_count(fresh_db, tmp_path,
                                                                             monkeypatch):
    broker = infra_module.EmbeddedBroker(infra_module.free_port(), tmp_path / "broker.log")
    broker.start()
    topic = "tickets.events"
    monkeypatch.setenv("RELAY_TEST_TOPIC", topic)
    kafka.ensure_topics(broker.bootstrap_servers, [topic])
    app = make_app(fresh_db)
    relay = Relay(app, to_messages, fresh_db, "tickets", broker.bootstrap_servers,
                  reset_check_every=0.5)
    relay._topics = {topic}
    acknowledged = relay.drainer.producer.send_all  # what the relay sends each batch with
    restarted = threading.Event()

    def acked_then_the_broker_restarts(records):
        acknowledged(records)
        broker.stop()  # memory only: what it acknowledged is gone
        broker.start()
        kafka.ensure_topics(broker.bootstrap_servers, [topic])  # as make run does at once
        relay.drainer.producer.send_all = acknowledged  # type: ignore[method-assign]  # once
        restarted.set()

    relay.drainer.producer.send_all = acked_then_the_broker_restarts  # type: ignore[method-assign]
    subjects = open_tickets(app, 10)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    try:
        assert restarted.wait(60)
        again = read_all(broker.bootstrap_servers, topic, 10, timeout=60)
        assert {m["subject"] for m in again} == subjects
    finally:
        relay.stop()
        thread.join(10)
        broker.stop()


def test_a_check_that_refuses_an_event_halts_the_relay_there(infra, fresh_db, unique_topic,
                                                             monkeypatch):
    """Whether an event may be published is a list of checks (a hash chain adds one)."""
    monkeypatch.setenv("RELAY_TEST_TOPIC", unique_topic)
    app = make_app(fresh_db)
    open_tickets(app, 10)

    def chain(n: Notification) -> str | None:
        return "hash does not verify" if n.id == 4 else None

    relay = Relay(app, to_messages, fresh_db, "tickets", infra.kafka_bootstrap_servers,
                  checks=[chain])
    try:
        assert relay.step() == 3
        assert relay.step() == 0
        assert relay.position()[0] == 3
        halt = relay.line.halt()
        assert halt is not None and (halt.position, halt.reason) == (4, "hash does not verify")
    finally:
        relay.close()
    published = read_all(infra.kafka_bootstrap_servers, unique_topic, 3)
    assert sorted(m["position"] for m in published) == [1, 2, 3]
