"""A hard kill mid-burst: the real worker process (python -m ...consumer) is
SIGKILLed while sending, then started again. Every message arrives; a message
the ledger had recorded as sent is never sent again; the only duplicates are
rows that were in flight ('sending') at the kill."""
from __future__ import annotations

import os
import signal
from collections import Counter

from tests.fakes.events import appointment_event
from tests.fakes.notifier_support import rows, start_worker, wait_until
from tests.fakes.providers import FakeProviders

EVENTS = 20


def start(settings, provider_env, log_path):
    return start_worker(settings, {**os.environ, **provider_env}, log_path)


def sent_by_key(requests):
    return Counter((r.channel, r.to, r.text) for r in requests)


def test_kill_mid_burst_and_restart_loses_nothing_and_repeats_nothing_recorded(
        settings, provider_env, publish, tmp_path):
    fake = FakeProviders(latency=0.08).start()  # slow enough to be caught mid-burst
    provider_env = {**provider_env, "SENDGRID_HOST": fake.url, "TWILIO_BASE_URL": fake.url}
    events = [appointment_event(
        "attend", client={"id": f"c{i}", "name": f"Client {i}", "email": f"c{i}@example.com",
                          "phone": f"+4470000000{i:02d}", "tentative": False})
        for i in range(EVENTS)]
    publish(settings.topic, events)
    log = tmp_path / "notifier.log"
    try:
        process = start(settings, provider_env, log)
        wait_until(lambda: len(fake.accepted) >= 15, 30, "the burst has begun")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        # Requests the fake was still answering land once the dead process's connections close.
        wait_until(lambda: fake.open_connections == 0, 10, "the killed sender's connections")
        at_kill = sent_by_key(fake.accepted)
        ledger = rows(settings.database_url)
        recorded_sent = {(r["channel"], r["address"], r["body_text"])
                         for r in ledger if r["state"] == "sent"}
        in_flight = {(r["channel"], r["address"], r["body_text"])
                     for r in ledger if r["state"] == "sending"}
        assert 0 < len(at_kill) < 4 * EVENTS, "killed mid-burst"
        assert recorded_sent <= set(at_kill)

        process = start(settings, provider_env, log)
        wait_until(lambda: len(rows(settings.database_url, "state = 'sent'")) == 4 * EVENTS,
                   60, "every message sent after the restart")
        process.send_signal(signal.SIGTERM)  # and a clean shutdown
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        fake.stop()

    final = sent_by_key(fake.accepted)
    expected = {(r["channel"], r["address"], r["body_text"]) for r in rows(settings.database_url)}
    assert len(expected) == 4 * EVENTS
    assert set(final) == expected                                  # every message arrived
    for key in recorded_sent:
        assert final[key] == at_kill[key] == 1, key                # none recorded sent went twice
    duplicates = {key for key, n in final.items() if n > 1}
    assert duplicates <= in_flight, (duplicates, in_flight)        # only the stated window
    assert b"notifier stopped" in log.read_bytes()
