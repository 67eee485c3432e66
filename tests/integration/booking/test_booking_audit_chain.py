"""The hash chain and signed checkpoints, tampered with as the database superuser would:
`verify` names the first altered, removed, inserted or reordered event by position."""
from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from booking_http_support import Api, slot
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import KafkaAdminClient

from services.booking import bootstrap
from services.booking.adapters.pg_store import EVENTS_TABLE
from services.booking.application.app import BookingApplication
from services.booking.audit import __main__ as cli
from services.booking.audit import chain, keys
from services.booking.audit.checkpoints import Checkpoint, Checkpointer, read_topic, sign
from services.booking.audit.verify import Report
from shared import kafka
from tests.waiting import wait_until

EVENTS = ".".join(EVENTS_TABLE)


@dataclass
class Audit:
    url: str
    servers: str
    topic: str
    public_key: Path
    checkpointer: Checkpointer

    def verify(self, organisation: str | None = None) -> Report:
        return cli.run(self.url, self.servers, organisation, self.public_key, self.topic)

    def sql(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """As the superuser, outside the application: what a tamperer would do."""
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def chain_of(self, org: str, topic: str = "") -> list[tuple[int, str, int]]:
        """The organisation's events (position, aggregate id, version), of topics starting so."""
        return [(int(p), str(a), int(v)) for p, a, v in self.sql(  # type: ignore[call-overload]
            f"SELECT o.notification_id, e.originator_id::text, e.originator_version FROM "
            f"booking_event_organisation o JOIN {EVENTS} e USING (notification_id) "
            f"WHERE o.organisation_id = %s AND e.topic LIKE %s ORDER BY 1", (org, topic + "%"))]


@pytest.fixture
def audit(booking: BookingApplication, fresh_db: str, api: Api, seed, infra, unique_topic: str,
          tmp_path: Path) -> Iterator[Audit]:
    # Two organisations with a few appointments each, then a signed checkpoint
    globex = api.as_(org="globex", roles=("manager",))
    services = {"acme": seed.service, "globex": globex.post(
        "/v1/services", {"name": "Check", "duration_minutes": 30}).get_json()["service"]["id"]}
    for org_api in (api, globex):
        for hour in (9, 10):
            r = org_api.post("/v1/appointments", {
                "service_id": services[org_api.org], "slot": slot(hour), "source": "widget",
                "client": {"name": "Ada Lovelace", "email": "ada@example.com"}})
            assert r.status_code == 201, r.get_json()
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "checkpoints.pub.pem"
    public.write_bytes(keys.public_pem(key.public_key()))
    checkpointer = Checkpointer(fresh_db, infra.kafka_bootstrap_servers, key,
                                topic=unique_topic)
    assert checkpointer.step()
    yield Audit(fresh_db, infra.kafka_bootstrap_servers, unique_topic, public,
                checkpointer)
    checkpointer.close()


def test_an_untouched_store_verifies_clean_and_the_command_exits_0(audit, monkeypatch, capsys):
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", audit.servers)
    monkeypatch.setenv("AUDIT_PUBLIC_KEY", str(audit.public_key))
    assert cli.main(["verify", "--topic", audit.topic]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("verified: "), out
    assert "2 organisation(s)" in out[0] and "2 signed checkpoint(s) agree" in out[0]
    assert cli.main(["verify", "--organisation", "globex", "--topic", audit.topic]) == 0


def test_an_altered_payload_is_named_by_position(audit, monkeypatch, capsys):
    position, aggregate, version = audit.chain_of("acme", "appointment.")[1]
    audit.sql(f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
              f"'widget', 'agent'), 'UTF8') WHERE notification_id = %s", (position,))
    report = audit.verify()
    first = report.problems[0]
    assert (first.position, first.kind, first.aggregate_id, first.version) == (
        position, "altered", aggregate, version)
    # ... and the command says so and exits non-zero
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", audit.servers)
    monkeypatch.setenv("AUDIT_PUBLIC_KEY", str(audit.public_key))
    assert cli.main(["verify", "--topic", audit.topic]) == 1
    assert capsys.readouterr().out.startswith(f"position {position}: altered")
    # the other organisation still verifies on its own
    assert audit.verify("globex").clean


def test_a_deleted_event_is_named_by_position(audit):
    position, aggregate, version = audit.chain_of("acme")[3]
    audit.sql(f"DELETE FROM {EVENTS} WHERE notification_id = %s", (position,))
    first = audit.verify().problems[0]
    assert (first.position, first.kind, first.aggregate_id) == (position, "removed", None)


def test_an_event_deleted_with_its_chain_entry_is_found_by_the_gap(audit):
    entries = audit.chain_of("acme")
    position = entries[3][0]
    audit.sql(f"DELETE FROM {EVENTS} WHERE notification_id = %s", (position,))
    audit.sql("DELETE FROM booking_event_organisation WHERE notification_id = %s", (position,))
    first = audit.verify("acme").problems[0]
    assert (first.position, first.kind) == (entries[4][0], "removed")
    assert f"between positions {entries[2][0]} and {entries[4][0]}" in first.detail


def test_a_forged_event_is_named_by_position(audit):
    _, aggregate, version = audit.chain_of("acme")[-1]
    [(position,)] = audit.sql(
        f"INSERT INTO {EVENTS} (originator_id, originator_version, topic, state) "
        f"SELECT originator_id, originator_version + 1, topic, state FROM {EVENTS} "
        f"WHERE originator_id = %s AND originator_version = %s RETURNING notification_id",
        (aggregate, version))
    report = audit.verify()
    assert [(p.position, p.kind, p.aggregate_id, p.version) for p in report.problems] == [
        (position, "inserted", aggregate, version + 1)]
    assert audit.verify("acme").problems[0].position == position  # an acme aggregate's event


def test_two_swapped_events_are_named_as_reordered(audit):
    entries = audit.chain_of("acme")
    (p, *_), (q, *_) = entries[1], entries[4]
    audit.sql(f"UPDATE {EVENTS} a SET state = b.state FROM {EVENTS} b WHERE "
              f"(a.notification_id, b.notification_id) IN ((%s, %s), (%s, %s))", (p, q, q, p))
    first = audit.verify().problems[0]
    assert (first.position, first.kind) == (p, "reordered")
    assert f"now at position {q}" in first.detail


def test_a_chain_rewritten_to_match_is_caught_by_the_signed_checkpoint(audit):
    # The tamperer alters an event and recomputes every hash after it: the chain is
    # consistent in itself, only the checkpoint signed before tells
    position = audit.chain_of("acme", "appointment.")[0][0]
    audit.sql(f"UPDATE {EVENTS} SET state = convert_to(replace(convert_from(state, 'UTF8'), "
              f"'widget', 'agent'), 'UTF8') WHERE notification_id = %s", (position,))
    with psycopg.connect(audit.url) as conn, conn.cursor() as curs:
        previous = chain.GENESIS
        for e in list(chain.entries(curs, psycopg.sql.SQL(EVENTS), "acme")):
            previous = e.recompute(previous) or previous
            curs.execute("UPDATE booking_event_organisation SET hash = %s WHERE notification_id = %s",
                         (previous, e.position))
    first = audit.verify().problems[0]
    head = audit.chain_of("acme")[-1][0]
    assert (first.position, first.kind) == (head, "altered")
    assert "checkpoint" in first.detail


def test_a_forged_checkpoint_signature_is_refused(audit):
    position = audit.chain_of("acme")[-1][0]
    forged = Checkpoint("acme", position, 99, "00" * 32, "2026-11-20T08:00:00+00:00")
    value = sign(forged, Ed25519PrivateKey.generate())  # not the organisation's key
    kafka.DurableProducer(audit.servers).send_all([(audit.topic, b"acme", value, [])])
    report = audit.verify()
    assert [p.kind for p in report.problems] == ["checkpoint"]
    assert "signature does not verify" in report.problems[0].detail
    # a tampered signed document is refused the same way
    body = json.loads(sign(Checkpoint("acme", position, 1, "00" * 32, "t"),
                           keys.signing_key(audit.public_key.with_name("k.pem"))))
    body["checkpoint"]["sequence"] = 2
    kafka.DurableProducer(audit.servers).send_all([(audit.topic, b"acme",
                                                    json.dumps(body).encode(), [])])
    assert [p.kind for p in audit.verify().problems] == ["checkpoint", "checkpoint"]


def test_checkpoints_sign_only_the_organisations_that_changed(audit, api: Api, seed):
    assert audit.checkpointer.step() == []  # nothing changed since the last one
    r = api.as_(org="globex", roles=("manager",)).post(
        "/v1/services", {"name": "Another", "duration_minutes": 30})
    head = audit.chain_of("globex")[-1]
    made = audit.checkpointer.step()
    assert [(c.organisation_id, c.position, c.sequence) for c in made] == [
        ("globex", head[0], len(audit.chain_of("globex")))], r.get_json()
    assert audit.verify().checkpoints == 3


def test_events_stored_before_the_chain_are_chained_at_start_up(audit, monkeypatch, clock,
                                                                 workflow):
    audit.sql("UPDATE booking_event_organisation SET sequence = NULL, hash = NULL")
    assert audit.verify().problems  # unchained: not verifiable
    monkeypatch.setenv("BOOKING_DATABASE_URL", audit.url)
    bootstrap.wire(bootstrap.Settings.from_env(clock=clock, workflow=workflow)).application.close()
    assert audit.verify().clean


def test_the_checkpoint_loop_publishes_within_its_interval(audit, api: Api, seed):
    # The relay runs the loop with AUDIT_CHECKPOINT_INTERVAL; here a tenth of a second
    loop = Checkpointer(audit.url, audit.servers, Ed25519PrivateKey.generate(), topic=audit.topic,
                        interval=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=loop.run, args=(stop,))
    thread.start()
    try:
        api.as_(roles=("manager",)).post("/v1/services", {"name": "New", "duration_minutes": 30})
        head = audit.chain_of("acme")[-1][0]
        wait_until(lambda: any(json.loads(v)["checkpoint"]["position"] == head
                               for v in read_topic(audit.servers, audit.topic, 1000)),
                   timeout=20, what="a checkpoint of the new head on the topic")
    finally:
        stop.set()
        thread.join()
        loop.close()


def test_booking_serves_the_public_key_checkpoints_verify_with(audit, api: Api, monkeypatch):
    monkeypatch.setenv("AUDIT_PUBLIC_KEY", str(audit.public_key))
    answer = api.as_(roles=("auditor",)).get("/v1/audit/public_key")
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json()["public_key_pem"].encode() == audit.public_key.read_bytes()
    assert answer.get_json()["algorithm"] == "Ed25519"
    assert api.get("/v1/audit/public_key").status_code == 403  # an agent


def test_concurrent_saves_of_one_organisation_keep_one_unbroken_chain(audit, flask_app):
    # The library's table lock serialises inserts, so "the previous hash" is never raced
    def write(n: int) -> list[int]:
        client = Api(flask_app.test_client(), roles=("manager",), subject=f"writer-{n}")
        return [client.post("/v1/resources", {"name": f"R{n}-{i}", "kind": "agent"}).status_code
                for i in range(8)]

    with ThreadPoolExecutor(4) as pool:
        codes = [c for result in pool.map(write, range(4)) for c in result]
    assert codes == [201] * 32
    report = audit.verify("acme")
    assert report.clean, [str(p) for p in report.problems]
    sequences = [r[0] for r in audit.sql("SELECT sequence FROM booking_event_organisation "
                                         "WHERE organisation_id = 'acme' ORDER BY notification_id")]
    assert sequences == list(range(1, len(sequences) + 1))


def test_a_checkpoint_topic_that_lost_its_messages_gets_them_again(audit, api: Api):
    # As after the memory-only dev broker restarted: the topic is gone, then re-created
    admin = KafkaAdminClient(bootstrap_servers=audit.servers)
    try:
        admin.delete_topics([audit.topic])
    finally:
        admin.close()
    kafka.ensure_topics(audit.servers, [audit.topic])
    assert list(read_topic(audit.servers, audit.topic, 1000)) == []
    assert audit.verify().checkpoints == 0
    # The next round notices the new topic id and publishes what it had signed before
    assert audit.checkpointer.step() == []
    assert audit.verify().checkpoints == 2
