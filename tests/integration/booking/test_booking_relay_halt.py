"""A stored event the relay cannot publish stops the line, loudly, at its position,
and only an operator's recorded decision resumes it (README runbook)."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import threading
import uuid
from collections import Counter
from pathlib import Path

import psycopg
import pytest
from booking_http_support import slot

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.entrypoints.http import RELAY_NAME
from shared import kafka, relay_resolve
from shared.relay import Relay
from tests.waiting import first_within, wait_until

ROOT = Path(__file__).resolve().parents[3]
EVENTS_TABLE = "bookingapplication_events"


def event_id(aggregate_id: str, version: int) -> str:
    return str(uuid.uuid5(uuid.UUID(aggregate_id), str(version)))


def read_ids(bootstrap_servers: str, wanted: set[str], timeout: float = 30) -> Counter[str]:
    """How often each wanted CloudEvent id is on booking's topics (a fresh group, from the start)."""
    consumer = kafka.consumer(bootstrap_servers, f"t-{uuid.uuid4().hex[:8]}",
                              kafka.APPOINTMENTS, kafka.DIRECTORY)
    seen: Counter[str] = Counter()
    data: dict[str, dict] = {}

    def all_seen() -> bool:
        for records in consumer.poll(500).values():
            for r in records:
                event = json.loads(r.value)
                if event["id"] in wanted:
                    seen[event["id"]] += 1
                    data[event["id"]] = event["data"]
        return set(seen) >= wanted

    try:
        first_within(all_seen, timeout, interval=0)
        consumer.poll(500)  # a duplicate right behind would show too
    finally:
        consumer.close()
    seen.data = data  # type: ignore[attr-defined]
    return seen


def corrupt(url: str, position: int) -> bytes:
    """As the database superuser: overwrite the stored event's bytes; the originals."""
    with psycopg.connect(url) as conn:
        row = conn.execute(f"SELECT state FROM {EVENTS_TABLE} WHERE notification_id=%s",
                           (position,)).fetchone()
        assert row
        conn.execute(f"UPDATE {EVENTS_TABLE} SET state=%s WHERE notification_id=%s",
                     (b'{"change": {"reason": "tampered"', position))
    return bytes(row[0])


def relayed(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT position FROM relay_position WHERE name=%s",
                           (RELAY_NAME,)).fetchone()
    return int(row[0]) if row else 0


def test_a_corrupt_event_halts_the_relay_until_an_operator_republishes_it_corrected(
        api, seed, booking, flask_app, infra, clock, workflow, fresh_db, tmp_path, caplog):
    # Given appointments whose events interleave; A's second event will be tampered with
    def request(hour: int) -> str:
        r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                          "slot": slot(hour)})
        return str(r.get_json()["appointment"]["id"])

    a, b = request(9), request(10)
    assert api.post(f"/v1/appointments/{a}/notes", {"text": "call first"}).status_code == 200
    c = request(11)
    assert api.post(f"/v1/appointments/{a}/notes", {"text": "prefers mornings"}).status_code == 200
    stored = booking.notifications(0, 1000)
    bad = next(n for n in stored if str(n.originator_id) == a and n.originator_version == 2)
    published_from_the_original = {e.id: e.data for _, _, e in to_messages(booking, [bad])}
    original = corrupt(fresh_db, bad.id)
    before = {event_id(str(n.originator_id), n.originator_version) for n in stored if n.id < bad.id}
    after = {event_id(str(n.originator_id), n.originator_version) for n in stored if n.id > bad.id}
    assert event_id(c, 1) in after and event_id(a, 3) in after and event_id(b, 1) in before

    # When the relay (its own process's application) runs over it
    relay = Relay(bootstrap.wire(bootstrap.Settings(
        database_url=fresh_db, clock=clock, workflow=workflow)).application, to_messages,
                  fresh_db, RELAY_NAME, infra.kafka_bootstrap_servers)
    try:
        with caplog.at_level(logging.ERROR, logger="relay"):
            assert relay.step() == len(before)
            for _ in range(3):
                assert relay.step() == 0  # stays halted, and says so only once
        request(12)  # new events are stored meanwhile, and wait too
        assert relay.step() == 0
    finally:
        relay.close()
    # Then it stopped at that position: everything before it is published, nothing after
    assert relayed(fresh_db) == bad.id - 1
    halted = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(halted) == 1
    fields = halted[0].fields  # type: ignore[attr-defined]
    assert (fields["position"], fields["aggregate_id"], fields["aggregate_version"]) == (bad.id, a, 2)
    assert "MapperDeserialisationError" in fields["reason"]
    # ... and booking is not ready, naming the position and the reason
    r = flask_app.test_client().get("/readyz")
    assert r.status_code == 503 and "relay" in r.get_json()["missing"]
    assert f"halted at position {bad.id} (aggregate {a} version 2)" in r.get_json()["details"]["relay"]
    assert "MapperDeserialisationError" in r.get_json()["details"]["relay"]

    # When an operator resumes it with the corrected bytes (the command, as a process)
    corrected = tmp_path / "corrected.json"
    corrected.write_bytes(original)
    env = {**os.environ, **infra.env(), "BOOKING_DATABASE_URL": fresh_db, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "services.booking.entrypoints.relay", "resolve",
         "--position", str(bad.id), "--by", "ops-anna", "--reason", "restored from backup 42",
         "--republish-corrected", str(corrected)],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    # Then the decision is recorded: who, why, what
    with psycopg.connect(fresh_db) as conn:
        decision = conn.execute(
            "SELECT position, aggregate_id, aggregate_version, action, decided_by, why, "
            "corrected_sha256, halt_reason FROM relay_decisions").fetchall()
    assert [d[:7] for d in decision] == [
        (bad.id, a, 2, "republish-corrected", "ops-anna", "restored from backup 42",
         hashlib.sha256(original).hexdigest())]
    assert "MapperDeserialisationError" in decision[0][7]
    assert flask_app.test_client().get("/readyz").status_code == 200

    # ... and a relay started afresh (nothing cached) publishes the rest, A's later
    # event rebuilt through the corrected bytes; each event exactly once
    relay = Relay(bootstrap.wire(bootstrap.Settings(
        database_url=fresh_db, clock=clock, workflow=workflow)).application, to_messages,
                  fresh_db, RELAY_NAME, infra.kafka_bootstrap_servers)
    try:
        while relay.step():
            pass
    finally:
        relay.close()
    everything = booking.notifications(0, 1000)
    assert relayed(fresh_db) == everything[-1].id
    # (the organisation's id is the same in every test: other tests publish it too)
    ids = {event_id(str(n.originator_id), n.originator_version) for n in everything
           if not n.topic.startswith("organisation.")}
    seen = read_ids(infra.kafka_bootstrap_servers, ids)
    assert seen == Counter({i: 1 for i in ids})
    assert {i: seen.data[i] for i in published_from_the_original} == published_from_the_original  # type: ignore[attr-defined]


def test_a_running_relay_waits_for_the_decision_and_an_explicit_skip_is_recorded(
        api, seed, booking, flask_app, infra, clock, workflow, fresh_db, tmp_path, capsys):
    # Given a corrupt first event of an appointment, and a relay running over the store
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(9)})
    aid = r.get_json()["appointment"]["id"]
    bad = next(n for n in booking.notifications(0, 1000) if str(n.originator_id) == aid)
    api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                  "slot": slot(10)})
    corrupt(fresh_db, bad.id)
    app = bootstrap.wire(bootstrap.Settings(
        database_url=fresh_db, clock=clock, workflow=workflow)).application
    relay = Relay(app, to_messages, fresh_db, RELAY_NAME, infra.kafka_bootstrap_servers)
    thread = threading.Thread(target=relay.run, daemon=True)
    thread.start()
    garbage = tmp_path / "still-bad.json"
    garbage.write_bytes(b"{}")

    def resolve(*argv: str) -> int:
        return relay_resolve.main(["resolve", "--by", "ops", "--reason", "why", *argv], app,
                                  to_messages, fresh_db, RELAY_NAME)

    try:
        wait_until(lambda: flask_app.test_client().get("/readyz").status_code == 503,
                   what="booking not ready: the relay halted")
        assert relay_resolve.main(["status"], app, to_messages, fresh_db, RELAY_NAME) == 1
        assert f"halted at position {bad.id} (aggregate {aid} version 1)" in capsys.readouterr().out
        # When the decision does not fit: not where it is halted; a correction that does
        # not convert either; nobody named. Then nothing is recorded, it stays halted
        assert resolve("--position", str(bad.id + 1), "--skip-with-record") == 2
        assert resolve("--position", str(bad.id), "--republish-corrected", str(garbage)) == 2
        assert "cannot be published either" in capsys.readouterr().err
        with pytest.raises(SystemExit):
            relay_resolve.main(["resolve", "--position", str(bad.id), "--skip-with-record"],
                               app, to_messages, fresh_db, RELAY_NAME)
        with psycopg.connect(fresh_db) as conn:
            assert conn.execute("SELECT count(*) FROM relay_decisions").fetchone() == (0,)
            assert conn.execute("SELECT position FROM relay_halt").fetchone() == (bad.id,)
        assert relayed(fresh_db) == bad.id - 1
        # When an operator skips it explicitly, the running relay goes past it
        assert resolve("--position", str(bad.id), "--skip-with-record") == 0
        last = booking.notifications(0, 1000)[-1].id
        wait_until(lambda: relayed(fresh_db) == last, what="the relay published the rest")
    finally:
        relay.stop()
        thread.join(10)
    with psycopg.connect(fresh_db) as conn:
        assert conn.execute("SELECT action, decided_by, why FROM relay_decisions").fetchall() == [
            ("skip", "ops", "why")]
    assert flask_app.test_client().get("/readyz").status_code == 200
    # ... and that event never reached Kafka, the one after it did
    after = next(n for n in booking.notifications(0, 1000) if n.id > bad.id
                 and not n.topic.startswith("organisation."))
    seen = read_ids(infra.kafka_bootstrap_servers, {event_id(str(after.originator_id), 1),
                                                     event_id(aid, 1)}, timeout=5)
    assert set(seen) == {event_id(str(after.originator_id), 1)}
