"""What a mailbox screen needs is in the row: each message says which event caused it
(`event_type`, `kind`) and which appointment it is about, in the JSON and on the page,
and `?event_type=` keeps one kind of message. The real ledger (PostgreSQL), the
development transport, the reminder's own timer worker."""
from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from services.notifier import bootstrap
from services.notifier.adapters import reminders
from services.notifier.application.consume import ConsumeEvent
from services.notifier.application.remind import SendReminder
from services.notifier.application.send import Backoff, Sender
from services.notifier.bootstrap import Settings
from services.notifier.entrypoints.http import create_app
from shared import auth
from shared.timers import TimerWorker
from tests.fakes.events import appointment_event, organisation_event
from tests.present import present

START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
SLOT = {"start": START.isoformat(), "end": (START + timedelta(minutes=30)).isoformat()}
CONFIRMED, REMINDER = "appointment.confirmed.v1", "appointment.reminder_due.v1"


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def mailbox(infra, fresh_db, monkeypatch) -> Iterator[tuple[FlaskClient, str]]:
    """One appointment confirmed, then its 24-hour reminder fired, every message sent
    to the development mailbox: the API's client and the appointment's id."""
    for name in ("SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    clock = Clock(START - timedelta(days=3))
    parts = bootstrap.wire(Settings(fresh_db, infra.kafka_bootstrap_servers, clock=clock))
    consume, appointment_id = ConsumeEvent(parts.ledger), str(uuid.uuid4())
    assert consume(organisation_event(1)) == "applied"
    assert consume(appointment_event("confirm", appointment_id=appointment_id, version=2,
                                     slot=SLOT, organisation_version=1, resources=[])) == "planned"
    senders = [Sender(parts.ledger, t, Backoff(), 10) for t in parts.transports.values()]

    def send_all() -> None:
        for sender in senders:
            while sender.send_next():
                pass
    send_all()
    clock.at = START - timedelta(hours=24) + timedelta(minutes=1)
    worker = TimerWorker(parts.pool, reminders.TABLE,
                         {reminders.KIND: SendReminder(parts.ledger, clock)}, clock)
    assert worker.run_due() == 1                       # the 24 h reminder; the 2 h one waits
    send_all()
    app = create_app(database_url=fresh_db, bootstrap_servers=infra.kafka_bootstrap_servers)
    yield app.test_client(), appointment_id
    parts.pool.close()


def bearer() -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.issue('acme', ['agent'])}"}


def items(client: FlaskClient, **query: Any) -> list[dict[str, Any]]:
    answer = client.get("/v1/mailbox", query_string=query, headers=bearer())
    assert answer.status_code == 200, answer.json
    return present(answer.json)["items"]


def test_each_message_names_the_event_that_caused_it_and_its_appointment(mailbox):
    client, appointment_id = mailbox
    got = sorted((m["event_type"], m["kind"], m["appointment_id"], m["channel"], m["recipient"])
                 for m in items(client))
    assert got == sorted([
        (CONFIRMED, "event", appointment_id, "email", "ada@example.com"),
        (CONFIRMED, "event", appointment_id, "sms", "+441234567890"),
        (CONFIRMED, "event", appointment_id, "email", "desk@acme.example"),
        (CONFIRMED, "event", appointment_id, "sms", "+41440000000"),
        (REMINDER, "reminder", appointment_id, "email", "ada@example.com"),
        (REMINDER, "reminder", appointment_id, "sms", "+441234567890")])


def test_event_type_keeps_one_kind_of_message(mailbox):
    client, _ = mailbox
    reminders_only = items(client, event_type=REMINDER)
    assert len(reminders_only) == 2 and {m["kind"] for m in reminders_only} == {"reminder"}
    assert all(m["subject"].startswith("Reminder:") for m in reminders_only
               if m["channel"] == "email")
    assert {m["event_type"] for m in items(client, event_type=CONFIRMED)} == {CONFIRMED}
    assert items(client, event_type="appointment.cancelled.v1") == []
    # paged by the cursor like the whole list
    first = present(client.get("/v1/mailbox", query_string={"event_type": CONFIRMED,
                                                            "limit": 3}, headers=bearer()).json)
    rest = items(client, event_type=CONFIRMED, limit=3, cursor=first["next_cursor"])
    assert len(first["items"] + rest) == 4
    assert {m["event_type"] for m in first["items"] + rest} == {CONFIRMED}


@pytest.mark.parametrize("bad", ["", "x" * 201])
def test_an_event_type_out_of_bounds_is_422_naming_it(mailbox, bad):
    client, _ = mailbox
    answer = client.get("/v1/mailbox", query_string={"event_type": bad}, headers=bearer())
    assert answer.status_code == 422 and answer.content_type == "application/problem+json"
    assert list(present(answer.json)["errors"]) == ["event_type"], answer.json


def test_the_page_shows_each_messages_event_type(mailbox):
    client, _ = mailbox
    html = client.get("/mailbox", headers=bearer()).get_data(as_text=True)
    assert html.count(f"<code>{REMINDER}</code>") == 2
    assert html.count(f"<code>{CONFIRMED}</code>") == 4


def test_the_openapi_document_describes_the_fields_and_the_filter(mailbox):
    client, _ = mailbox
    spec = present(client.get("/openapi.json").json)
    mail = spec["components"]["schemas"]["Mail"]["properties"]
    assert {"event_type", "kind", "appointment_id"} <= set(mail)
    names = {p["name"] for p in spec["paths"]["/v1/mailbox"]["get"]["parameters"]}
    assert "event_type" in names
