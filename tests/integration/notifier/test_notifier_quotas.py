"""Per-recipient quotas (issue 8, item 7): past its quota a client's address gets
its messages recorded as 'suppressed', visible in GET /v1/deliveries and on
notifications.events, and never sent; per organisation; race-free."""
from __future__ import annotations

import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import psycopg
import pytest

from services.notifier import bootstrap
from services.notifier.application.consume import ConsumeEvent
from services.notifier.entrypoints.http import create_app
from shared import auth
from tests.fakes.events import ORGANISATION, appointment_event
from tests.fakes.notifier_support import read_topic, rows, wait_until
from tests.present import present

ADA = {"id": "c-ada", "name": "Ada Lovelace", "email": "ada@example.com", "phone": "+441234567890",
       "tentative": False}
BOB = {"id": "c-bob", "name": "Bob", "email": "bob@example.com", "phone": "+441234567891",
       "tentative": False}
GLOBEX = dict(ORGANISATION, id="globex", name="Globex", email="desk@globex.example",
              phone="+15550000000")


def request_for(client: dict, organisation: dict = ORGANISATION):
    """A new widget request: a new appointment each time."""
    return appointment_event("request", client=client, organisation=organisation, resources=[])


def test_the_message_past_the_hourly_quota_is_suppressed_visible_and_never_sent(
        settings, start_notifier, publish, fake):
    settings = replace(settings, quota_per_hour=2, quota_per_day=10)
    start_notifier(settings)
    # Someone floods Ada with requests in her name; Bob asks once; Globex also writes to Ada.
    flood = [request_for(ADA) for _ in range(3)]
    publish(settings.topic, flood + [request_for(BOB), request_for(ADA, GLOBEX)])

    wait_until(lambda: len(rows(settings.database_url, "state IN ('sent', 'suppressed')")) == 20,
               what="5 requests x 4 messages sent or suppressed")
    # Two of Ada's requests reached her on each channel; the third did not.
    assert len(fake.accepted_for("email", ADA["email"])) == 3   # 2 from acme, 1 from globex
    assert len(fake.accepted_for("sms", ADA["phone"])) == 3
    suppressed = rows(settings.database_url, "state = 'suppressed'")
    assert {(r["organisation_id"], r["channel"], r["address"]) for r in suppressed} == {
        ("acme", "email", ADA["email"]), ("acme", "sms", ADA["phone"])}
    assert all(r["attempts"] == 0 and r["sent_at"] is None and r["next_attempt_at"] is None
               for r in suppressed)
    # A different recipient, and the organisation's own desk (three times), are still told.
    assert len(fake.accepted_for("email", BOB["email"])) == 1
    assert len(fake.accepted_for("email", ORGANISATION["email"])) == 4

    # The organisation sees it in its deliveries, with the reason.
    api = create_app(database_url=settings.database_url,
                     bootstrap_servers=settings.bootstrap_servers).test_client()
    token = {"Authorization": f"Bearer {auth.issue('acme', ['auditor'])}"}
    listed = present(api.get(f"/v1/deliveries?recipient={ADA['email']}", headers=token).json)["items"]
    assert [d["state"] for d in listed] == ["sent", "sent", "suppressed"]
    assert "NOTIFIER_QUOTA_PER_HOUR=2" in listed[-1]["last_error"]
    assert "last hour" in listed[-1]["last_error"]
    # ... and on notifications.events (18 rows pending, sending, sent; 2 suppressed).
    published = read_topic(settings.bootstrap_servers, settings.events_topic, 18 * 3 + 2)
    told = [v["data"] for _, v, _ in published if v["type"] == "notification.suppressed.v1"]
    assert sorted((d["channel"], d["recipient"], d["state"]) for d in told) == [
        ("email", ADA["email"], "suppressed"), ("sms", ADA["phone"], "suppressed")]


@pytest.fixture
def ledger_with(infra, fresh_db):
    pools = []

    def make(per_hour: int, per_day: int):
        settings = bootstrap.Settings(fresh_db, infra.kafka_bootstrap_servers,
                                      quota_per_hour=per_hour, quota_per_day=per_day)
        parts = bootstrap.wire(settings)
        pools.append(parts.pool)
        return parts.ledger

    yield make
    for pool in pools:
        pool.close()


def client_email_states(url: str) -> list[str]:
    return [r["state"] for r in rows(url, "recipient_kind = 'client' AND channel = 'email'")]


def test_concurrent_consumers_never_both_take_the_last_message_of_a_quota(ledger_with, fresh_db):
    ledger = ledger_with(per_hour=3, per_day=100)
    events = [request_for(ADA) for _ in range(8)]
    start = threading.Barrier(len(events))

    def consume(event) -> str:
        start.wait()
        return ConsumeEvent(ledger)(event)

    with ThreadPoolExecutor(len(events)) as pool:
        assert list(pool.map(consume, events)) == ["planned"] * len(events)
    assert sorted(client_email_states(fresh_db)) == ["pending"] * 3 + ["suppressed"] * 5


def test_the_day_quota_counts_what_the_hour_has_forgotten(ledger_with, fresh_db):
    ledger = ledger_with(per_hour=2, per_day=3)
    consume = ConsumeEvent(ledger)
    for _ in range(2):
        consume(request_for(ADA))
    # Those two went out three hours ago: the hour is free again, the day is not.
    with psycopg.connect(fresh_db) as conn:
        conn.execute("UPDATE deliveries SET created_at = now() - interval '3 hours'")
    consume(request_for(ADA))
    consume(request_for(ADA))
    states = client_email_states(fresh_db)
    assert states == ["pending", "pending", "pending", "suppressed"]
    reason = rows(fresh_db, "state = 'suppressed' AND channel = 'email'")[0]["last_error"]
    assert "last 24 hours" in reason and "NOTIFIER_QUOTA_PER_DAY=3" in reason


def test_an_address_is_counted_whatever_its_letter_case(ledger_with, fresh_db):
    ledger = ledger_with(per_hour=1, per_day=10)
    consume = ConsumeEvent(ledger)
    consume(request_for(ADA))
    consume(request_for(dict(ADA, id=str(uuid.uuid4()), email="ADA@Example.com")))
    assert client_email_states(fresh_db) == ["pending", "suppressed"]


def test_a_ledger_from_before_quotas_takes_suppressed_rows_after_a_restart(ledger_with, fresh_db):
    ledger_with(per_hour=1, per_day=10)
    with psycopg.connect(fresh_db) as conn:  # the check as ledgers were created until now
        conn.execute("ALTER TABLE deliveries DROP CONSTRAINT deliveries_state_check")
        conn.execute("ALTER TABLE deliveries ADD CONSTRAINT deliveries_state_check CHECK "
                     "(state IN ('pending', 'sending', 'sent', 'failed', 'skipped'))")
    consume = ConsumeEvent(ledger_with(per_hour=1, per_day=10))  # starts again: schema applied
    consume(request_for(ADA))
    consume(request_for(ADA))
    assert client_email_states(fresh_db) == ["pending", "suppressed"]
