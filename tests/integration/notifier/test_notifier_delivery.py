"""Events in, messages out: the notifier on the real broker and PostgreSQL,
the real SendGrid and Twilio SDKs talking to the local fake providers."""
from __future__ import annotations

import uuid

from shared.envelope import CloudEvent
from tests.fakes.events import AGENT, LOCATION, ORGANISATION, appointment_event
from tests.fakes.notifier_support import read_topic, rows, wait_until
from tests.waiting import first_within

ADA_EMAIL, ADA_PHONE = "ada@example.com", "+441234567890"


def sent_of(settings, event) -> list[dict]:
    return rows(settings.database_url, "event_id = %s AND state = 'sent'", (event.id,))


def then_nothing_else(settings, publish, fake, appointment_id: str, version: int,
                      sent_before: int) -> CloudEvent:
    """A later event of the same appointment (same key and partition, so consumed after,
    and sent after on each channel): once its four messages are sent, nothing but
    them may have arrived since `sent_before`."""
    marker = appointment_event("request_feedback", appointment_id=appointment_id,
                               version=version)
    publish(settings.topic, [marker])
    wait_until(lambda: len(sent_of(settings, marker)) == 4, what="the marker's four messages")
    assert len(fake.accepted) == sent_before + 4
    return marker


def test_one_status_change_sends_exactly_four_messages(settings, start_notifier, publish, fake):
    start_notifier(settings)
    # An agent cancels Ada's appointment, with a reason and a message.
    event = appointment_event("cancel", reason="Doctor ill", message="Sorry, call us to rebook")
    publish(settings.topic, [event])

    got = fake.wait_for(4)
    assert len(fake.accepted) == 4
    by = {(r.channel, r.to): r for r in got}
    assert set(by) == {("email", ADA_EMAIL), ("sms", ADA_PHONE),
                       ("email", ORGANISATION["email"]), ("sms", ORGANISATION["phone"])}
    client_email = by["email", ADA_EMAIL]
    assert client_email.subject.startswith(
        "Cancelled: Consultation, Monday 23 November 2026, 10:00")
    assert "Doctor ill" in client_email.text and "Sorry, call us to rebook" in client_email.html
    assert client_email.sender == "appointments@acme.example"
    assert client_email.authorization == "Bearer SG.test-key"
    assert "Doctor ill" in by["sms", ADA_PHONE].text
    assert by["sms", ADA_PHONE].sender == "+15005550006"
    assert "Appointment cancelled" in by["email", ORGANISATION["email"]].subject

    # The ledger knows each one as sent, with the provider's id.
    ledger = wait_until(lambda: [r for r in rows(settings.database_url) if r["state"] == "sent"]
                        if len(rows(settings.database_url, "state = 'sent'")) == 4 else None)
    assert {r["provider_message_id"] for r in ledger} == {r.provider_id for r in got}
    assert all(r["attempts"] == 1 and r["organisation_id"] == "acme" for r in ledger)
    assert client_email.custom_args["event_id"] == event.id

    # Every state change is on notifications.events, keyed by appointment id.
    published = read_topic(settings.bootstrap_servers, settings.events_topic, 12)
    assert {key for key, _, _ in published} == {event.subject.encode()}
    states = sorted((v["data"]["id"], v["type"]) for _, v, _ in published)
    assert states == sorted((r["id"], f"notification.{s}.v1") for r in ledger
                            for s in ("pending", "sending", "sent"))
    assert all(v["source"] == "notifier" and v["orgid"] == "acme" for _, v, _ in published)
    then_nothing_else(settings, publish, fake, event.subject, 2, sent_before=4)


def test_a_confirmation_also_reaches_the_booked_agent_and_branch(settings, start_notifier,
                                                                  publish, fake):
    start_notifier(settings)
    confirm = appointment_event("confirm", resources=[AGENT, LOCATION])
    publish(settings.topic, [confirm])

    fake.wait_for(7)
    assert len(fake.accepted_for("email", AGENT["email"])) == 1
    assert len(fake.accepted_for("sms", AGENT["phone"])) == 1
    branch = fake.accepted_for("email", LOCATION["email"])
    assert len(branch) == 1 and "Appointment confirmed" in branch[0].subject
    assert "Ada Lovelace" in branch[0].text
    # the branch has no phone: recorded as skipped, nothing sent
    skipped = wait_until(lambda: rows(settings.database_url, "state = 'skipped'"))
    assert [(r["recipient_kind"], r["channel"], r["address"]) for r in skipped] == \
        [("resource", "sms", None)]
    then_nothing_else(settings, publish, fake, confirm.subject, 2, sent_before=7)


def test_an_internal_note_notifies_nobody(settings, start_notifier, publish, fake):
    start_notifier(settings)
    note = appointment_event("note_added", appointment_id="appt-n", version=2,
                             note={"id": "n1", "text": "Client is nervous"})
    after = appointment_event("attend", appointment_id="appt-n", version=3)
    publish(settings.topic, [note, after])

    fake.wait_for(4)  # the attendance after it, same partition: the note was consumed first
    marker = then_nothing_else(settings, publish, fake, "appt-n", 4, sent_before=4)
    assert all("nervous" not in r.text for r in fake.accepted)
    assert {r["event_id"] for r in rows(settings.database_url)} == {after.id, marker.id}


def test_a_slow_channel_holds_back_neither_the_other_channel_nor_loses_order(
        settings, start_notifier, publish, fake):
    start_notifier(settings)
    # Email to Ada hangs past the client's time-out twice; SMS is healthy.
    fake.hang("email", 2.5, to=ADA_EMAIL, times=2)
    confirm = appointment_event("confirm", appointment_id="appt-o", version=2, resources=[])
    cancel = appointment_event("cancel", appointment_id="appt-o", version=3, reason="Moved away")
    publish(settings.topic, [confirm, cancel])

    wait_until(lambda: len(fake.accepted_for("email", ADA_EMAIL)) == 2, 30, "both emails")
    emails = fake.accepted_for("email", ADA_EMAIL)
    assert [e.subject.split(":")[0] for e in emails] == ["Confirmed", "Cancelled"]
    sms = fake.accepted_for("sms", ADA_PHONE)
    assert len(sms) == 2 and "confirmed" in sms[0].text and "cancelled" in sms[1].text
    assert sms[1].at < emails[0].at  # the SMS did not wait for the email channel


def test_replaying_the_topic_with_a_new_group_sends_nothing_again(settings, start_notifier,
                                                                  publish, fake):
    events = [appointment_event(a, appointment_id="appt-r", version=v)
              for v, a in enumerate(["request", "confirm", "attend"], start=2)]
    first = start_notifier(settings)
    publish(settings.topic, events)
    fake.wait_for(4 + 8 + 4 - 1)  # the branch (no phone) is skipped on confirmation
    first.stop()

    # A new consumer group reads the topic from the earliest offset.
    replay = settings.__class__(**{**settings.__dict__, "group_id": settings.group_id + "-replay"})
    start_notifier(replay)
    barrier = appointment_event("request_feedback", appointment_id="appt-r", version=5)
    publish(settings.topic, [barrier])
    wait_until(lambda: len(rows(settings.database_url, "event_id = %s AND state = 'sent'",
                                (barrier.id,))) == 4, what="the barrier's four messages")
    # Sent after everything before it on each channel: any repeat would be counted by now.
    assert len(fake.accepted) == 15 + 4
    assert len({(r.channel, r.to, r.text) for r in fake.accepted}) == 19


def test_a_message_that_cannot_be_processed_is_dead_lettered_and_the_rest_goes_on(
        settings, start_notifier, publish, fake, infra):
    from kafka import KafkaConsumer, TopicPartition

    from shared import kafka

    start_notifier(settings)
    producer = kafka.producer(infra.kafka_bootstrap_servers)
    producer.send(settings.topic, key=b"junk", value=b"not an event").get(10)
    good = appointment_event("cancel", reason="Doctor ill")
    # Another appointment: were it good's, it would be stale (not planned, so
    # not failing) whenever good's partition happened to be read first.
    broken = CloudEvent(**{**good.__dict__, "id": "broken-1", "subject": str(uuid.uuid4()),
                           "data": {"change": "no object"}})
    producer.send(settings.topic, key=b"broken", value=broken.to_json()).get(10)
    producer.close()
    publish(settings.topic, [good])

    # The good event behind the two bad ones is delivered as usual.
    fake.wait_for(4)
    # Both bad ones are on the dead-letter twin, unchanged, with the reason.
    reader = KafkaConsumer(bootstrap_servers=infra.kafka_bootstrap_servers,
                           auto_offset_reset="earliest", enable_auto_commit=False)
    dead_topic = kafka.dlq(settings.topic)
    reader.assign([TopicPartition(dead_topic, p) for p in range(kafka.partition_count())])
    dead: list = []

    def both_read() -> bool:
        dead.extend(r for records in reader.poll(500).values() for r in records)
        return len(dead) >= 2

    first_within(both_read, 20, interval=0)
    reader.close()
    by_key = {r.key: (r.value, dict(r.headers)) for r in dead}
    assert by_key[b"junk"][0] == b"not an event"
    assert b"not JSON" in by_key[b"junk"][1]["reason"]
    assert by_key[b"broken"][1]["consumer-group"] == settings.group_id.encode()
    assert rows(settings.database_url, "event_id = 'broken-1'") == []
