"""An attempt whose outcome was lost (a time-out, a sender that died before
recording 'sent') is looked up at Twilio before the SMS goes out again: the
real Twilio SDK lists the messages of the local fake provider."""
from __future__ import annotations

from services.notifier import bootstrap
from services.notifier.adapters.twilio_transport import TwilioTransport
from services.notifier.application.consume import ConsumeEvent
from services.notifier.application.send import Backoff, Sender
from tests.fakes.events import appointment_event
from tests.fakes.notifier_support import rows, wait_until

ADA_PHONE = "+441234567890"


def sms_to_ada(settings):
    return rows(settings.database_url, "channel = 'sms' AND address = %s", (ADA_PHONE,))


def test_an_sms_twilio_took_whose_answer_was_lost_is_not_sent_again(
        settings, start_notifier, publish, fake):
    # Twilio takes Ada's SMS but answers after the notifier's 1 s time-out
    fake.hang("sms", 3.0, to=ADA_PHONE, accept=True)
    start_notifier(settings)
    publish(settings.topic, [appointment_event("cancel", reason="Doctor ill")])
    wait_until(lambda: [r["state"] for r in sms_to_ada(settings)] == ["sent"], 30)
    # The second attempt found it at Twilio: one SMS, recorded with Twilio's sid
    taken = fake.accepted_for("sms", ADA_PHONE)
    assert len(taken) == 1 and len(fake.attempts_for("sms", ADA_PHONE)) == 1
    (row,) = sms_to_ada(settings)
    assert (row["provider_message_id"], row["attempts"]) == (taken[0].provider_id, 2)
    assert [q["To"] for q in fake.lookups] == [ADA_PHONE]


def test_an_sms_that_never_reached_twilio_is_looked_up_then_sent_once(
        settings, start_notifier, publish, fake):
    # Twilio does not take Ada's SMS and answers nothing before the time-out
    fake.hang("sms", 3.0, to=ADA_PHONE)
    start_notifier(settings)
    publish(settings.topic, [appointment_event("cancel", reason="Doctor ill")])
    wait_until(lambda: [r["state"] for r in sms_to_ada(settings)] == ["sent"], 30)
    # Twilio was asked first, had nothing, and the SMS went out once
    assert [q["To"] for q in fake.lookups] == [ADA_PHONE]
    taken = fake.accepted_for("sms", ADA_PHONE)
    assert len(taken) == 1
    assert sms_to_ada(settings)[0]["provider_message_id"] == taken[0].provider_id


def test_a_row_left_sending_by_a_dead_sender_is_looked_up_before_it_goes_out_again(
        settings, provider_env, fake):
    parts = bootstrap.wire(settings)
    pool, ledger = parts.pool, parts.ledger
    try:
        ConsumeEvent(ledger)(appointment_event("cancel", reason="Doctor ill"))
        twilio = parts.transports["sms"]
        assert isinstance(twilio, TwilioTransport)  # the real SDK, pointed at the fake
        # A sender claims Ada's SMS, Twilio takes it, and the sender dies before recording it
        crashed = ledger.claim("sms", 0.3)
        assert crashed is not None and crashed.to == ADA_PHONE
        taken = twilio.send(crashed)
        # Another sender takes the row once its lease lapsed, and the desk's SMS too
        sender = Sender(ledger, twilio, Backoff(0.05, 1.0), lease_seconds=10)

        def every_sms_sent() -> bool:
            sender.send_next()
            return all(r["state"] == "sent"
                       for r in rows(settings.database_url, "channel = 'sms'"))

        wait_until(every_sms_sent, 10, "the lease lapsed and the senders went on")
    finally:
        pool.close()
    # Ada got one SMS, recorded with the sid of the one Twilio took before the crash
    assert len(fake.accepted_for("sms", ADA_PHONE)) == 1
    assert sms_to_ada(settings)[0]["provider_message_id"] == taken
    # Only the row with an unknown outcome was looked up
    assert [q["To"] for q in fake.lookups] == [ADA_PHONE]
