"""The send ledger's rules on the real PostgreSQL: exactly-once recording,
per-appointment order, leases of crashed senders, giving up."""
from __future__ import annotations

import psycopg
import pytest

from services.notifier import bootstrap
from services.notifier.application.consume import ConsumeEvent
from services.notifier.bootstrap import Settings
from tests.fakes.events import appointment_event
from tests.fakes.notifier_support import rows, wait_until


@pytest.fixture
def ledger(infra, fresh_db):
    settings = Settings(fresh_db, infra.kafka_bootstrap_servers, give_up_after=3600)
    parts = bootstrap.wire(settings)
    pool = parts.pool
    yield parts.ledger
    pool.close()


def outbox(url):
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT topic, envelope->>'type' FROM outbox ORDER BY id").fetchall()


def test_an_event_is_recorded_once_whatever_the_offset(ledger):
    consume = ConsumeEvent(ledger)
    event = appointment_event("cancel", version=2, reason="Ill")
    assert consume(event) == "planned"
    assert consume(event) == "duplicate"  # redelivered, or a replayed / re-created topic
    assert len(rows(ledger.pool.conninfo)) == 4
    assert [t for _, t in outbox(ledger.pool.conninfo)] == ["notification.pending.v1"] * 4


def test_an_older_version_of_the_appointment_is_not_sent_after_a_newer_one(ledger):
    consume = ConsumeEvent(ledger)
    newer = appointment_event("cancel", appointment_id="a1", version=3)
    older = appointment_event("confirm", appointment_id="a1", version=2)
    assert consume(newer) == "planned"
    assert consume(older) == "stale"
    assert {r["event_id"] for r in rows(ledger.pool.conninfo)} == {newer.id}


def test_a_later_message_waits_for_an_earlier_one_of_the_same_appointment_and_channel(ledger):
    consume = ConsumeEvent(ledger)
    request = appointment_event("request", appointment_id="a1", version=1)
    reject = appointment_event("reject", appointment_id="a1", version=2, reason="Full")
    consume(request)
    consume(reject)
    first, second = ledger.claim("email", 60), ledger.claim("email", 60)  # client, desk
    assert first and second and {first.event_id, second.event_id} == {request.id}
    assert ledger.claim("email", 60) is None  # version 2 waits while version 1 is sending
    assert ledger.claim("sms", 60) is not None  # the other channel does not wait
    ledger.mark_sent(first, "p1")
    assert ledger.claim("email", 60) is None  # one of version 1 is still open
    ledger.mark_retry(second, 0, "SendGrid answered 503")
    retried = ledger.claim("email", 60)  # version 1 again, before anything of version 2
    assert retried and retried.id == second.id
    ledger.mark_sent(retried, "p2")
    third = ledger.claim("email", 60)
    assert third is not None and third.event_id == reject.id


def test_a_row_left_sending_by_a_dead_sender_is_claimed_again_after_its_lease(ledger):
    ConsumeEvent(ledger)(appointment_event("attend"))
    crashed = ledger.claim("email", 0.2)  # the sender dies before recording a result
    others = ledger.claim("email", 60)
    assert ledger.claim("email", 60) is None
    again = wait_until(lambda: ledger.claim("email", 60), 5, "the lease runs out")
    assert again.id == crashed.id and again.attempts == 2
    assert others.id != crashed.id
    # the dead sender's late answer does not overwrite the new claim
    assert ledger.mark_sent(crashed, "late") is None
    assert ledger.mark_sent(again, "p") == "sent"


def test_a_retryable_failure_past_its_give_up_time_is_failed_and_dead_lettered(ledger):
    ConsumeEvent(ledger)(appointment_event("attend"))
    d = ledger.claim("sms", 60)
    assert ledger.mark_retry(d, 0, "Twilio answered 503") == "pending"
    with psycopg.connect(ledger.pool.conninfo) as conn:  # a day later
        conn.execute("UPDATE deliveries SET give_up_at = now(), next_attempt_at = now() "
                     "WHERE id <> %s", (d.id,))
        conn.execute("UPDATE deliveries SET give_up_at = now() - interval '1 second', "
                     "next_attempt_at = now() - interval '1 minute' WHERE id = %s", (d.id,))
    d = ledger.claim("sms", 60)
    assert d.attempts == 2
    assert ledger.mark_retry(d, 0, "Twilio answered 503") == "failed"
    (row,) = rows(ledger.pool.conninfo, "id = %s", (d.id,))
    assert row["last_error"] == "gave up after 2 attempts: Twilio answered 503"
    dead = [(topic, t) for topic, t in outbox(ledger.pool.conninfo)
            if t == "notification.dead_lettered.v1"]
    assert dead == [(ledger.dlq_topic, "notification.dead_lettered.v1")]
    # re-driving puts it back; a second re-drive of the same letter does nothing
    assert ledger.redrive(d.id)["state"] == "pending"
    assert ledger.redrive(d.id) is None
