"""Read-your-writes on the notifier: `min_position=N` on the mailbox and the
deliveries waits until every event up to N is consumed (and, for the mailbox,
its messages are in it), published by the real relay as booking's relay does."""
from __future__ import annotations

import time

import psycopg
import pytest

from services.notifier.bootstrap import Settings
from services.notifier.entrypoints.consumer import NotifierProcess
from services.notifier.entrypoints.http import create_app
from shared import auth
from shared.envelope import CloudEvent
from tests.fakes.events import appointment_event, organisation_event
from tests.integration.relaying import relaying
from tests.waiting import wait_until

BEARER = {"Authorization": f"Bearer {auth.issue('acme', ['agent'])}"}


@pytest.fixture
def notifier(settings: Settings, monkeypatch: pytest.MonkeyPatch):
    """The worker process (consumer, senders) with the development mailbox."""
    for name in ("SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    process = NotifierProcess(settings).start()
    yield process
    process.stop()
    process.pool.close()


def api(settings: Settings, **overrides):
    return create_app(settings.database_url, settings.bootstrap_servers, topic=settings.topic,
                      directory_topic=settings.directory_topic, group_id=settings.group_id,
                      **overrides).test_client()


def routed(settings: Settings):
    def route(event: CloudEvent) -> tuple[str, str]:
        if event.type.startswith("appointment."):
            return settings.topic, event.subject
        return settings.directory_topic, event.orgid
    return route


def organisation_known(settings: Settings) -> bool:
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute("SELECT count(*) FROM organisations").fetchone() == (1,)


def test_fifty_commands_in_a_row_are_all_in_the_mailbox_at_the_last_position(settings, notifier):
    client = api(settings)
    with relaying(settings.database_url, settings.bootstrap_servers, routed(settings)) as log:
        log.append([organisation_event(1)])  # position 1
        wait_until(lambda: organisation_known(settings), what="the group joined and consumed")
        # 50 commands as fast as they come: 25 requests, then each of them confirmed
        events = []
        for i in range(25):
            person = {"id": f"c{i}", "name": f"Client {i}", "email": f"c{i}@example.com",
                      "phone": None, "tentative": False}
            events.append(appointment_event("request", appointment_id=f"appt-{i}", client=person,
                                            position=2 + i, organisation_version=1))
            log.append(events[-1:])
        for i in range(25):
            events.append(appointment_event(
                "confirm", appointment_id=f"appt-{i}", version=2, position=27 + i,
                client=events[i].data["appointment"]["client"], organisation_version=1))
            log.append(events[-1:])
        last = events[-1].position

        mailbox = client.get(f"/v1/mailbox?min_position={last}&limit=1000", headers=BEARER)
        assert mailbox.status_code == 200, mailbox.get_json()
        to_clients = [(m["appointment_id"], m["recipient"]) for m in mailbox.get_json()["items"]
                      if m["recipient"].startswith("c")]
        assert sorted(to_clients) == sorted(  # each request's and confirmation's email
            (f"appt-{i}", f"c{i}@example.com") for i in range(25) for _ in range(2))
        deliveries = client.get(f"/v1/deliveries?min_position={last}&limit=1000",
                                headers=BEARER)
        assert deliveries.status_code == 200
        assert {d["event_id"] for d in deliveries.get_json()["items"]} == {e.id for e in events}


def test_a_position_nobody_publishes_answers_504_within_the_timeout(settings, notifier):
    client = api(settings, read_your_writes_timeout=1.0)
    with relaying(settings.database_url, settings.bootstrap_servers, routed(settings)) as log:
        log.append([organisation_event(1)])
        wait_until(lambda: organisation_known(settings), what="consumed")
        for path in ("/v1/mailbox", "/v1/deliveries"):
            started = time.monotonic()
            answer = client.get(f"{path}?min_position=2", headers=BEARER)
            assert answer.status_code == 504
            assert answer.headers["Retry-After"] == "1"
            assert answer.get_json()["position"] == 2
            assert 0.9 < time.monotonic() - started < 3
        assert client.get("/v1/mailbox?min_position=1", headers=BEARER).status_code == 200


def test_the_openapi_document_describes_min_position_and_the_504(settings, monkeypatch):
    for name in ("SENDGRID_API_KEY", "TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    paths = api(settings).get("/openapi.json").get_json()["paths"]
    for path in ("/v1/mailbox", "/v1/deliveries"):
        operation = paths[path]["get"]
        assert "min_position" in {p["name"] for p in operation["parameters"]}
        assert "504" in operation["responses"]
