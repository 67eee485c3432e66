"""Booking's events reach Kafka through the shared relay, keyed and typed per the contract."""
from __future__ import annotations

import json
import uuid

from booking_http_support import slot

from services.booking.adapters.cloudevents import to_messages
from shared import kafka
from shared.relay import Relay
from tests.waiting import first_within


def test_the_relay_publishes_appointment_and_directory_events(api, seed, booking, infra):
    # Given a request stored in booking's event store
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9)}).get_json()["appointment"]["id"]
    stored = booking.notifications(0, 1000)
    # When the relay runs one batch over booking's notification log
    relay = Relay(booking, to_messages, booking.tables.url, f"booking-{uuid.uuid4().hex[:8]}",
                  infra.kafka_bootstrap_servers)
    try:
        assert relay.step() == len(stored)
        assert relay.position()[0] == stored[-1].id
    finally:
        relay.close()
    # Then the appointment's event is on appointments.events, keyed by its id,
    # and the service's on directory.events, keyed by the organisation
    consumer = kafka.consumer(infra.kafka_bootstrap_servers, f"t-{uuid.uuid4().hex[:8]}",
                              kafka.APPOINTMENTS, kafka.DIRECTORY)
    wanted: dict[str, tuple[str, str, str, bytes | None] | None] = {aid: None,
                                                                    seed.service: None}

    def both_found() -> bool:
        for records in consumer.poll(1000).values():
            for r in records:
                event = json.loads(r.value)
                if event["subject"] in wanted:
                    wanted[event["subject"]] = (r.topic, r.key.decode(), event["type"],
                                                dict(r.headers).get("content-type"))
        return None not in wanted.values()

    try:
        first_within(both_found, 30, interval=0)
    finally:
        consumer.close()
    # ... in CloudEvents' structured mode, as the Kafka binding names it in a header
    structured = b"application/cloudevents+json"
    assert wanted[aid] == (kafka.APPOINTMENTS, aid, "appointment.requested.v1", structured)
    assert wanted[seed.service] == (kafka.DIRECTORY, "acme", "service.created.v1", structured)
