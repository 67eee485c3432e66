"""The staff's "View the appointment" link goes to the organisation's back office
(`BACKOFFICE_URL`, `{id}` replaced), never to booking's bearer-protected JSON API; unset,
staff emails carry no link; a value that can only give broken links stops the notifier
at start. The real worker process on the real broker and PostgreSQL, the real SDKs
against the fake providers."""
from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from services.notifier.bootstrap import Settings
from services.notifier.entrypoints.http import create_app
from tests.fakes.events import ORGANISATION, appointment_event, organisation_event
from tests.fakes.notifier_support import wait_until
from tests.fakes.providers import Request

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = "https://backoffice.example/appointments/{id}?from=email&tab=1"


def staff_emails(settings, start_notifier, publish, fake) -> tuple[str, list[Request]]:
    """An appointment requested, then confirmed: the id and the organisation's two emails."""
    publish(settings.directory_topic, [organisation_event(1)])
    start_notifier(settings)
    appointment_id = str(uuid.uuid4())
    publish(settings.topic, [
        appointment_event("request", appointment_id=appointment_id, organisation_version=1,
                          resources=[]),
        appointment_event("confirm", appointment_id=appointment_id, version=2,
                          organisation_version=1, resources=[])])

    def staff() -> list[Request]:
        return [r for r in fake.accepted
                if r.channel == "email" and r.to == ORGANISATION["email"]]
    return appointment_id, wait_until(lambda: len(staff()) == 2 and staff(),
                                      what="the organisation's two emails")


def test_a_staff_email_links_to_the_back_office_page_of_the_appointment(
        settings, start_notifier, publish, fake):
    appointment_id, emails = staff_emails(
        dataclasses.replace(settings, backoffice_url=TEMPLATE), start_notifier, publish, fake)
    link = f"https://backoffice.example/appointments/{appointment_id}?from=email&tab=1"
    assert {e.subject.split(":")[0] for e in emails} == {"New appointment request",
                                                         "Appointment confirmed"}
    for email in emails:
        assert f"View the appointment: {link}" in email.text
        assert f'<a href="{link.replace("&", "&amp;")}">View the appointment</a>' in email.html
        assert "/v1/appointments/" not in email.text + email.html


def test_without_a_back_office_staff_emails_carry_no_link(settings, start_notifier, publish,
                                                         fake):
    assert settings.backoffice_url is None
    _, emails = staff_emails(settings, start_notifier, publish, fake)
    for email in emails:
        assert "View the appointment" not in email.text + email.html
        assert "/v1/appointments/" not in email.text + email.html
        assert "Client: Ada Lovelace" in email.text                  # the rest is there


BAD = {"no {id}": ("https://backoffice.example/appointments", "must contain {id}"),
       "not http": ("ftp://backoffice.example/{id}", "must be an http or https URL"),
       "relative": ("/appointments/{id}", "must be an http or https URL"),
       "no host": ("https:///appointments/{id}", "must name a host"),
       "id in host": ("https://{id}.backoffice.example/", "must not have {id} in its host"),
       "too long": ("https://backoffice.example/" + "a" * 2000 + "/{id}", "longer than 2000")}


@pytest.mark.parametrize("case", BAD)
def test_a_bad_backoffice_url_is_refused_when_settings_are_read(case, monkeypatch):
    value, reason = BAD[case]
    monkeypatch.setenv("BACKOFFICE_URL", value)
    with pytest.raises(ValueError, match="BACKOFFICE_URL") as refused:
        Settings.from_env(database_url="postgresql://unused", bootstrap_servers="unused:1")
    assert reason in str(refused.value) and "{id}" in str(refused.value)


def test_a_bad_backoffice_url_stops_the_api_and_the_worker_at_start(infra, fresh_db,
                                                                   monkeypatch):
    monkeypatch.setenv("BACKOFFICE_URL", "backoffice.example/appointments/{id}")
    with pytest.raises(ValueError, match="BACKOFFICE_URL must be an http or https URL"):
        create_app(database_url=fresh_db, bootstrap_servers=infra.kafka_bootstrap_servers)
    env = {**os.environ, "NOTIFIER_DATABASE_URL": fresh_db,
           "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers}
    worker = subprocess.run([sys.executable, "-m", "services.notifier.entrypoints.consumer"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert worker.returncode != 0
    assert "BACKOFFICE_URL must be an http or https URL" in worker.stderr
