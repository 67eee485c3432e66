"""Append-only by construction: booking's processes connect as a role that may only
SELECT and INSERT events; the owner role changes the schema at start-up."""
from __future__ import annotations

import uuid

import psycopg
import pytest
from booking_http_support import Api, slot
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.adapters.pg_store import EVENTS_TABLE
from services.booking.audit import __main__ as audit
from services.booking.audit import keys
from services.booking.audit.checkpoints import Checkpointer
from services.booking.entrypoints.http import create_app
from shared import db
from shared.relay import Relay

EVENTS = ".".join(EVENTS_TABLE)


def test_the_app_role_cannot_change_events_and_the_system_still_works(
        fresh_db, monkeypatch, clock, workflow, infra, unique_topic, tmp_path):
    app_url = db.with_user(fresh_db, db.APP_ROLE, db.APP_PASSWORD)
    monkeypatch.setenv("BOOKING_DATABASE_URL", app_url)
    monkeypatch.setenv("BOOKING_OWNER_DATABASE_URL", fresh_db)
    application = bootstrap.wire(bootstrap.Settings.from_env(clock=clock, workflow=workflow)).application
    try:
        # The system works as the app role: commands, reads, the relay, checkpoints, verify
        manager = Api(create_app(application).test_client(), roles=("manager",))
        service = manager.post("/v1/services", {"name": "Consultation", "duration_minutes": 30})
        assert service.status_code == 201, service.get_json()
        answer = manager.post("/v1/appointments", {
            "service_id": service.get_json()["service"]["id"], "slot": slot(9),
            "client": {"name": "Ada Lovelace", "email": "ada@example.com"}})
        assert answer.status_code == 201, answer.get_json()
        appointment = answer.get_json()["appointment"]["id"]
        assert manager.post(f"/v1/appointments/{appointment}/cancel",
                            {"reason": "Client request"}).status_code == 200
        assert manager.get(f"/v1/appointments/{appointment}?version=1").status_code == 200
        relay = Relay(application, to_messages, app_url, f"booking-{uuid.uuid4().hex[:8]}",
                      infra.kafka_bootstrap_servers)
        try:
            assert relay.step() == 4
        finally:
            relay.close()
        key = Ed25519PrivateKey.generate()
        (tmp_path / "k.pub.pem").write_bytes(keys.public_pem(key.public_key()))
        checkpointer = Checkpointer(app_url, infra.kafka_bootstrap_servers, key, topic=unique_topic)
        try:
            assert checkpointer.step()
        finally:
            checkpointer.close()
        assert audit.run(app_url, infra.kafka_bootstrap_servers, None, tmp_path / "k.pub.pem",
                         unique_topic).clean
    finally:
        application.close()
    # ... but may not UPDATE, DELETE or TRUNCATE the events or their chain
    for statement in (f"UPDATE {EVENTS} SET state = state", f"DELETE FROM {EVENTS}",
                      f"TRUNCATE {EVENTS}", "UPDATE booking_event_organisation SET hash = NULL",
                      "DELETE FROM booking_event_organisation",
                      "TRUNCATE booking_event_organisation"):
        with psycopg.connect(app_url) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute(statement)
    # A second start (another process) works the same and changes nothing
    bootstrap.wire(bootstrap.Settings.from_env(clock=clock, workflow=workflow)).application.close()
    with psycopg.connect(app_url) as conn:
        assert conn.execute(f"SELECT count(*) FROM {EVENTS}").fetchone() == (4,)
