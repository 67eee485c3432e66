"""A stored event altered by hand so that it still decodes stops booking's relay at its
position: its bytes no longer match the hash its organisation's chain recorded."""
from __future__ import annotations

import logging
from pathlib import Path

import psycopg
from booking_http_support import slot
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_booking_relay_halt import EVENTS_TABLE, event_id, read_ids, relayed

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.audit import __main__ as audit_cli
from services.booking.audit import keys
from services.booking.entrypoints import relay as relay_process
from services.booking.entrypoints.http import RELAY_NAME
from shared import relay_resolve
from shared.relay import Relay


def alter(url: str, position: int, old: str, new: str) -> bytes:
    """As the database superuser: edit the stored event's text (it still decodes)."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(f"SELECT state FROM {EVENTS_TABLE} WHERE notification_id=%s",
                           (position,)).fetchone()
        assert row and old.encode() in bytes(row[0])
        conn.execute(f"UPDATE {EVENTS_TABLE} SET state=%s WHERE notification_id=%s",
                     (bytes(row[0]).replace(old.encode(), new.encode()), position))
    return bytes(row[0])


def test_an_event_whose_hash_does_not_verify_halts_the_relay_until_restored(
        api, seed, booking, flask_app, infra, clock, workflow, fresh_db, tmp_path: Path,
        unique_topic, caplog, capsys):
    # Given appointment A's note, altered in the store, and events stored after it
    a = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(9)}).get_json()["appointment"]["id"]
    assert api.post(f"/v1/appointments/{a}/notes", {"text": "call first"}).status_code == 200
    b = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(10)}).get_json()["appointment"]["id"]
    bad = next(n for n in booking.notifications(0, 1000)
               if str(n.originator_id) == a and n.originator_version == 2)
    original = alter(fresh_db, bad.id, "call first", "call never")
    altered = booking.notifications(bad.id - 1, 1)[0]
    assert any("call never" in str(e.data) for _, _, e in to_messages(booking, [altered]))

    # When booking's relay, with the checks its process runs with, goes over it
    app = bootstrap.wire(bootstrap.Settings(
        database_url=fresh_db, clock=clock, workflow=workflow)).application
    checks = relay_process.checks(app)
    relay = Relay(app, to_messages, fresh_db, RELAY_NAME, infra.kafka_bootstrap_servers,
                  checks=checks)
    try:
        with caplog.at_level(logging.ERROR, logger="relay"):
            assert relay.step() == len([n for n in booking.notifications(0, 1000)
                                        if n.id < bad.id])
            assert relay.step() == 0
    finally:
        relay.close()
    # Then it stopped there, loudly: one ERROR line, /readyz 503 naming position and reason
    assert relayed(fresh_db) == bad.id - 1
    [halted] = [r for r in caplog.records if r.levelno == logging.ERROR]
    fields = halted.fields  # type: ignore[attr-defined]
    assert (fields["position"], fields["aggregate_id"], fields["aggregate_version"]) == (bad.id, a, 2)
    assert fields["reason"].startswith("hash does not verify")
    ready = flask_app.test_client().get("/readyz")
    assert ready.status_code == 503
    assert f"halted at position {bad.id}" in ready.get_json()["details"]["relay"]
    assert "hash does not verify" in ready.get_json()["details"]["relay"]
    # ... and verify points at the same event
    public = tmp_path / "key.pub.pem"
    public.write_bytes(keys.public_pem(Ed25519PrivateKey.generate().public_key()))
    report = audit_cli.run(fresh_db, infra.kafka_bootstrap_servers, "acme", public, unique_topic)
    assert (report.problems[0].position, report.problems[0].kind) == (bad.id, "altered")

    # When an operator offers the altered bytes as the correction, it is refused
    def resolve(corrected: bytes) -> int:
        path = tmp_path / "corrected.json"
        path.write_bytes(corrected)
        return relay_resolve.main(
            ["resolve", "--position", str(bad.id), "--by", "ops-anna", "--reason", "backup 42",
             "--republish-corrected", str(path)], app, to_messages, fresh_db, RELAY_NAME,
            relay_process.checks(app))

    assert resolve(alter_copy := original.replace(b"call first", b"call never")) == 2
    assert "hash does not verify" in capsys.readouterr().err and alter_copy != original
    # ... the original bytes (from a backup) verify, and the relay publishes the rest
    assert resolve(original) == 0
    c = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(11)}).get_json()["appointment"]["id"]
    relay = Relay(bootstrap.wire(bootstrap.Settings(
        database_url=fresh_db, clock=clock, workflow=workflow)).application, to_messages,
                  fresh_db, RELAY_NAME, infra.kafka_bootstrap_servers, checks=checks)
    try:
        while relay.step():
            pass
    finally:
        relay.close()
    assert relayed(fresh_db) == booking.notifications(0, 1000)[-1].id
    assert flask_app.test_client().get("/readyz").status_code == 200
    seen = read_ids(infra.kafka_bootstrap_servers, {event_id(a, 2), event_id(b, 1),
                                                     event_id(c, 1)})
    assert "call first" in str(seen.data[event_id(a, 2)])  # type: ignore[attr-defined]
