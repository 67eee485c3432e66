"""The organisation's settings come with its own events (directory.events), and
appointment events only refer to them by version: an appointment event met
before those settings waits (parked) and is planned, exactly once, when they
arrive; nothing is ever sent without the organisation's channel settings."""
from __future__ import annotations

import psycopg
import pytest

from services.notifier import bootstrap
from services.notifier.application.consume import ConsumeEvent
from services.notifier.bootstrap import Settings
from tests.fakes.events import ORGANISATION, appointment_event, organisation_event
from tests.fakes.notifier_support import rows, wait_until

ADA_EMAIL, ADA_PHONE = "ada@example.com", "+441234567890"
NO_SMS = {"email": True, "sms": False}


@pytest.fixture
def ledger(infra, fresh_db):
    settings = Settings(fresh_db, infra.kafka_bootstrap_servers)
    parts = bootstrap.wire(settings)
    pool = parts.pool
    yield parts.ledger
    pool.close()


def outcomes(url: str) -> dict[str, str]:
    with psycopg.connect(url) as conn:
        return dict(conn.execute("SELECT event_id, outcome FROM processed_events").fetchall())


def parked(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT event_id FROM parked_events ORDER BY position")]


def test_an_event_met_before_its_organisations_settings_waits_for_them(ledger):
    consume = ConsumeEvent(ledger)
    url = ledger.pool.conninfo
    # Given booking's events: the organisation switched SMS off (version 2), then a
    # request and its confirmation decided with that version
    created = organisation_event(1)
    sms_off = organisation_event(2, channels=NO_SMS, email="front@acme.example")
    request = appointment_event("request", appointment_id="a1", version=1,
                                organisation_version=2)
    confirm = appointment_event("confirm", appointment_id="a1", version=2,
                                organisation_version=2)
    # When the appointment events arrive first (another topic), with only version 1 known
    assert consume(created) == "applied"
    assert [consume(request), consume(confirm)] == ["parked", "parked"]
    # Then nothing is planned yet, and a redelivery is still recognised
    assert rows(url) == []
    assert consume(request) == "duplicate"
    assert parked(url) == [request.id, confirm.id]
    # When version 2 arrives, both are planned in order, with its settings: no SMS
    assert consume(sms_off) == "applied"
    planned = rows(url)
    assert {r["channel"] for r in planned} == {"email"}
    assert [r["event_id"] for r in planned if r["recipient_kind"] == "organisation"] == [
        request.id, confirm.id]
    assert {r["address"] for r in planned if r["recipient_kind"] == "organisation"} == {
        "front@acme.example"}
    assert outcomes(url) == {request.id: "planned", confirm.id: "planned"}
    assert parked(url) == []
    # And redelivering the organisation's events plans nothing twice
    assert [consume(sms_off), consume(created)] == ["stale", "stale"]
    assert consume(confirm) == "duplicate"
    assert len(rows(url)) == len(planned)


def test_known_settings_serve_at_once_and_stored_events_use_their_own_copy(ledger):
    consume = ConsumeEvent(ledger)
    url = ledger.pool.conninfo
    assert consume(organisation_event(1, channels=NO_SMS)) == "applied"
    # An event decided with a version already known is planned at once
    assert consume(appointment_event("cancel", organisation_version=1)) == "planned"
    assert {r["channel"] for r in rows(url)} == {"email"}
    # An event stored before organisation_version brings its copy and uses it
    stored = appointment_event("cancel", organisation={**ORGANISATION, "channels": {
        "email": False, "sms": True}})
    assert consume(stored) == "planned"
    assert {r["channel"] for r in rows(url, "event_id = %s", (stored.id,))} == {"sms"}


def test_the_running_notifier_sends_only_once_the_organisation_is_known(
        settings, start_notifier, publish, fake):
    start_notifier(settings)
    confirm = appointment_event("cancel", organisation_version=1)
    # The appointment's event is consumed first: it waits
    publish(settings.topic, [confirm])
    wait_until(lambda: outcomes(settings.database_url).get(confirm.id) == "parked")
    assert rows(settings.database_url) == [] and fake.requests == []
    # The organisation's event arrives on directory.events: the messages go out,
    # by the channels it allows
    publish(settings.directory_topic, [organisation_event(1, channels=NO_SMS)])
    fake.wait_for(2)
    wait_until(lambda: len(rows(settings.database_url, "state = 'sent'")) == 2)
    assert sorted((r.channel, r.to) for r in fake.accepted) == [
        ("email", ADA_EMAIL), ("email", ORGANISATION["email"])]


def test_a_parked_event_that_cannot_be_planned_stays_parked_and_blocks_nothing(ledger):
    def sign(appointment_id: str, action: str) -> str:
        if appointment_id == "broken":
            raise ValueError("cannot sign")
        return f"https://booking.example/{action}"

    consume = ConsumeEvent(ledger, sign_link=sign)
    url = ledger.pool.conninfo
    broken = appointment_event("request", appointment_id="broken", organisation_version=1)
    fine = appointment_event("request", appointment_id="fine", organisation_version=1)
    assert [consume(broken), consume(fine)] == ["parked", "parked"]
    # The organisation's settings are kept and the other event planned all the same
    assert consume(organisation_event(1)) == "applied"
    assert {r["appointment_id"] for r in rows(url)} == {"fine"}
    assert parked(url) == [broken.id]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT last_error FROM parked_events").fetchone() == (
            "ValueError: cannot sign",)
