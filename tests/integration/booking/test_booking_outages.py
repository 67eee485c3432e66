"""Drills: the broker goes away under a booking API that is taking writes, comes
back, and we count what clients saw and what was kept. The broker is the
test's own (it is stopped), never the session's shared one."""
from __future__ import annotations

import json
import threading
import time
import uuid

from booking_http_support import Api
from kafka import KafkaConsumer, TopicPartition

from services.booking.adapters.cloudevents import to_messages
from services.booking.entrypoints.http import create_app
from shared import infra as infra_module
from shared import kafka
from shared.relay import Relay

REQUEST = {"window": {"date": "2026-11-23", "part_of_day": "morning"}}


def test_booking_takes_writes_while_the_broker_is_down_and_the_relay_catches_up(
        tmp_path, booking, monkeypatch):
    broker = infra_module.EmbeddedBroker(infra_module.free_port(), tmp_path / "broker.log")
    broker.start()
    relay: Relay | None = None
    try:
        kafka.ensure_topics(broker.bootstrap_servers)
        monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", broker.bootstrap_servers)
        app = create_app(booking)
        manager = Api(app.test_client(), roles=("manager",))
        service = manager.post("/v1/services", {"name": "Consultation"}).get_json()["service"]["id"]
        body = {**REQUEST, "service_id": service,
                "client": {"name": "Ada", "email": "ada@example.com"}}
        relay = Relay(booking, to_messages, booking.tables.url, f"outage-{uuid.uuid4().hex[:8]}",
                      broker.bootstrap_servers, reset_check_every=1.0)
        threading.Thread(target=relay.run, daemon=True).start()

        def request() -> str:
            answer = manager.post("/v1/appointments", body)
            assert answer.status_code == 201, answer.get_json()
            return str(answer.get_json()["appointment"]["id"])

        before = [request() for _ in range(3)]
        # When the broker dies (and comes back empty, as the development broker does)
        broker.stop()
        # Then booking goes on taking writes, and says it is ready without the broker
        during = [request() for _ in range(3)]
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200
        assert ready.get_json()["status"] == "degraded"
        assert ready.get_json()["missing"] == ["kafka"]
        assert ready.get_json()["checks"] == {"database": True, "kafka": False}
        broker.start()
        kafka.ensure_topics(broker.bootstrap_servers)  # as make run does after a broker restart
        # ... and once it is back, the relay publishes every event, those taken meanwhile too
        published = _appointment_ids(broker.bootstrap_servers, set(before + during))
        assert published == set(before + during)
        assert app.test_client().get("/readyz").get_json()["status"] == "ready"
    finally:
        if relay:
            relay.stop()
        broker.stop()


def _appointment_ids(servers: str, wanted: set[str], timeout: float = 60) -> set[str]:
    """The appointments on appointments.events, read from the start of every partition
    (no consumer group: its join is not what this test is about), until all of `wanted`."""
    seen: set[str] = set()
    consumer = KafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False)
    consumer.assign([TopicPartition(kafka.APPOINTMENTS, p) for p in range(kafka.PARTITIONS)])
    consumer.seek_to_beginning()
    deadline = time.monotonic() + timeout
    try:
        while not wanted <= seen and time.monotonic() < deadline:
            for records in consumer.poll(1000).values():
                seen |= {json.loads(r.value)["subject"] for r in records}
    finally:
        consumer.close()
    return seen & wanted
