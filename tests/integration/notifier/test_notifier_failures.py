"""Each way a provider can refuse, and what the notifier does about it, end to
end (test_notifier_providers.py checks each class on both SDKs)."""
from __future__ import annotations

import pytest

from services.notifier.entrypoints import redrive
from tests.fakes.events import appointment_event
from tests.fakes.notifier_support import read_topic, rows, wait_until

ADA_EMAIL, ADA_PHONE = "ada@example.com", "+441234567890"
TARGET = {"email": ADA_EMAIL, "sms": ADA_PHONE}


def client_row(settings, channel):
    found = rows(settings.database_url, "recipient_kind = 'client' AND channel = %s", (channel,))
    return found[0] if found else None


@pytest.mark.parametrize("status,channel", [(400, "email"), (401, "sms")])
def test_a_refusal_fails_at_once_and_is_dead_lettered(settings, start_notifier, publish, fake,
                                                      status, channel):
    fake.fail(channel, status, to=TARGET[channel], times=None)
    start_notifier(settings)
    event = appointment_event("reject", reason="Fully booked")
    publish(settings.topic, [event])

    row = wait_until(lambda: (r := client_row(settings, channel)) and r["state"] == "failed" and r,
                     what="the client's message failed")
    assert row["attempts"] == 1 and str(status) in row["last_error"]
    assert len(fake.attempts_for(channel, TARGET[channel])) == 1  # never retried
    fake.wait_for(3)  # the other three went out regardless

    (key, letter, headers), = read_topic(settings.bootstrap_servers, settings.dlq_topic, 1)
    assert key == event.subject.encode()
    assert letter["type"] == "notification.dead_lettered.v1"
    assert letter["data"]["id"] == row["id"] and letter["data"]["event_id"] == event.id
    assert str(status) in letter["data"]["reason"] and str(status) in headers["reason"].decode()
    assert headers["content-type"] == b"application/cloudevents+json"  # the Kafka binding's


@pytest.mark.parametrize("status,channel", [(500, "sms"), (503, "email")])
def test_a_server_error_is_retried_then_sent_once(settings, start_notifier, publish, fake,
                                                  status, channel):
    fake.fail(channel, status, to=TARGET[channel], times=2)
    start_notifier(settings)
    publish(settings.topic, [appointment_event("no_show")])

    row = wait_until(lambda: (r := client_row(settings, channel)) and r["state"] == "sent" and r)
    assert row["attempts"] == 3 and str(status) in row["last_error"]
    success = 202 if channel == "email" else 201
    statuses = [r.status for r in fake.attempts_for(channel, TARGET[channel])]
    assert statuses == [status, status, success]
    assert len(fake.accepted_for(channel, TARGET[channel])) == 1


@pytest.mark.parametrize("channel", ["email", "sms"])
def test_rate_limiting_is_honoured_then_sent_once(settings, start_notifier, publish, fake,
                                                  channel):
    fake.fail(channel, 429, to=TARGET[channel], headers={
        "Retry-After": "1", "X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0"})
    start_notifier(settings)
    publish(settings.topic, [appointment_event("attend")])

    row = wait_until(lambda: (r := client_row(settings, channel)) and r["state"] == "sent" and r)
    refused, accepted = fake.attempts_for(channel, TARGET[channel])
    assert (refused.status, row["attempts"]) == (429, 2)
    # back-off base is 0.05 s in these tests: the wait is the provider's Retry-After
    assert accepted.at - refused.at >= 0.95
    assert len(fake.accepted_for(channel, TARGET[channel])) == 1


@pytest.mark.parametrize("channel", ["sms"])  # email: see the ordering test
def test_a_provider_that_hangs_past_the_time_out_is_retried_then_sent(
        settings, start_notifier, publish, fake, channel):
    fake.hang(channel, 3.0, to=TARGET[channel])  # the client gives up after 1 s
    start_notifier(settings)
    publish(settings.topic, [appointment_event("reopen")])

    row = wait_until(lambda: (r := client_row(settings, channel)) and r["state"] == "sent" and r)
    assert row["attempts"] == 2 and "did not answer" in row["last_error"]
    assert len(fake.accepted_for(channel, TARGET[channel])) == 1


def test_redrive_resends_a_dead_letter_once_the_provider_is_fixed(settings, start_notifier,
                                                                  publish, fake, capsys):
    fake.fail("email", 401, times=None)  # a revoked API key: every email refused
    start_notifier(settings)
    publish(settings.topic, [appointment_event("request_reschedule", message="Away that week")])
    wait_until(lambda: len(rows(settings.database_url, "state = 'failed'")) == 2)
    fake.wait_for(2)  # the two SMS
    assert fake.accepted_for("email", ADA_EMAIL) == []

    fake.clear()  # the key is fixed
    group = f"redrive-{settings.group_id}"
    report = redrive.run(settings, group_id=group, timeout=30)
    assert len(report.redriven) == 2
    assert "pending again" in capsys.readouterr().out

    fake.wait_for(4)
    (email,) = fake.accepted_for("email", ADA_EMAIL)
    assert "Away that week" in email.text and "/v1/client_actions/propose_time?token=" in email.text
    wait_until(lambda: len(rows(settings.database_url, "state = 'sent'")) == 4)

    # Running it again re-drives nothing: the group has read those letters.
    assert redrive.run(settings, group_id=group, timeout=30).redriven == []
    assert len(fake.accepted) == 4
