"""Reminders on the real broker and PostgreSQL, the real SendGrid and Twilio SDKs
against the fake providers, time moved through the notifier's clock: planned on
confirmation, moved on reschedule, dropped on cancel; sent once at the due time
(twice-run, restarted or re-planned workers send nothing more), never after the
start; another organisation's offsets and a service's override followed."""
from __future__ import annotations

import dataclasses
import json
import os
import signal
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from psycopg.rows import dict_row

import tests.booking_commands as drive
from services.booking import bootstrap as booking_bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import commands as c
from services.booking.application.app import Caller
from services.notifier import bootstrap
from services.notifier.adapters import reminders as store
from services.notifier.adapters.ledger_rows import view
from services.notifier.application.consume import ConsumeEvent
from services.notifier.bootstrap import Settings
from services.notifier.entrypoints.http import create_app
from services.notifier.entrypoints.reminders import from_start
from shared import auth, timers
from shared.envelope import CloudEvent, now_iso
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.fakes.events import appointment_event, organisation_event
from tests.fakes.notifier_support import rows, start_worker, wait_until
from tests.fakes.providers import FakeProviders
from tests.present import present

ADA_EMAIL, ADA_PHONE = "ada@example.com", "+441234567890"
START = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)            # Monday 10:00 in Zurich
SLOT = {"start": START.isoformat(), "end": (START + timedelta(minutes=30)).isoformat()}
LATER = START + timedelta(days=1, hours=5)                   # Tuesday 15:00 in Zurich
LATER_SLOT = {"start": LATER.isoformat(), "end": (LATER + timedelta(minutes=30)).isoformat()}


class Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def __call__(self) -> datetime:
        return self.at


@pytest.fixture
def clock() -> Clock:
    return Clock(START - timedelta(days=3))


@pytest.fixture
def notifier(settings, start_notifier, publish, clock):
    """Starts the worker process (consumer, senders, timer worker) on the test's clock,
    its organisation's settings on directory.events first."""
    publish(settings.directory_topic, [organisation_event(1)])
    return lambda interval=0.05: start_notifier(
        dataclasses.replace(settings, timer_interval=interval), clock)


def consumed(settings, *events: CloudEvent) -> None:
    ids = [e.id for e in events]

    def done() -> bool:
        with psycopg.connect(settings.database_url) as conn:
            row = conn.execute("SELECT count(*) FROM processed_events WHERE event_id = ANY(%s) "
                               "AND outcome = 'planned'", (ids,)).fetchone()
            return row is not None and row[0] == len(ids)
    wait_until(done, what=f"events {ids} planned")


def applied(settings, event: CloudEvent, table: str = "service_settings") -> None:
    def done() -> bool:
        with psycopg.connect(settings.database_url) as conn:
            return bool(conn.execute(f"SELECT 1 FROM {table} WHERE version >= %s",
                                     (event.aggregateversion,)).fetchone())
    wait_until(done, what=f"{event.type} applied")


def planned(settings, appointment_id: str) -> dict[str, datetime]:
    with psycopg.connect(settings.database_url) as conn:
        return {t.key.rsplit(":", 1)[1]: t.due_at for t in timers.pending(
            conn, store.TABLE, f"reminder:{appointment_id}:")}


def reminders_sent(fake) -> list[Any]:
    return [r for r in fake.accepted
            if r.subject.startswith("Reminder:") or "reminder," in r.text]


def confirmed(appointment_id: str, **kw: Any) -> CloudEvent:
    return appointment_event("confirm", appointment_id=appointment_id, version=2, slot=SLOT,
                             organisation_version=1, **kw)


def service_event(version: int, reminders: dict[str, Any] | None,
                  service_id: str = "svc-1") -> CloudEvent:
    service = {"id": service_id, "organisation_id": "acme", "version": version,
               "name": "Consultation", "duration_minutes": 30, "confirmation_mode": "manual",
               "workflow_id": None, "active": True, "reminders": reminders}
    return CloudEvent(
        id=str(uuid.uuid4()), source="booking",
        type="service.created.v1" if version == 1 else "service.updated.v1",
        subject=service_id, time=now_iso(), orgid="acme", aggregateversion=version,
        position=version, correlationid="",
        data={"change": {"action": "created" if version == 1 else "updated",
                         "actor": {"id": "mgr-1", "role": "manager"}, "correlation_id": "",
                         "fields": {"reminders": reminders}}, "service": service})


def test_confirming_plans_two_reminders_rescheduling_moves_them_cancelling_drops_them(
        settings, notifier, publish, fake, infra, fresh_db):
    notifier()
    api = create_app(database_url=fresh_db,
                     bootstrap_servers=infra.kafka_bootstrap_servers).test_client()

    def shown(org: str = "acme") -> list[tuple[str, str, int]]:
        answer = api.get("/v1/reminders", headers={
            "Authorization": f"Bearer {auth.issue(org, ['auditor'])}"})
        assert answer.status_code == 200
        return [(r["appointment_id"], r["due_at"], r["offset_minutes"])
                for r in present(answer.json)["items"]]

    appointment_id = str(uuid.uuid4())
    # An agent confirms Ada for Monday 10:00 (Zurich)
    confirm = confirmed(appointment_id)
    publish(settings.topic, [confirm])
    consumed(settings, confirm)
    assert planned(settings, appointment_id) == {"1440": START - timedelta(hours=24),
                                                 "120": START - timedelta(hours=2)}
    # The organisation sees them coming, soonest first; another organisation sees none.
    assert shown() == [(appointment_id, (START - timedelta(hours=24)).isoformat(), 1440),
                       (appointment_id, (START - timedelta(hours=2)).isoformat(), 120)]
    assert shown("globex") == []
    # then moves it to Tuesday 15:00
    reschedule = appointment_event("reschedule", appointment_id=appointment_id, version=3,
                                   slot=LATER_SLOT, organisation_version=1, previous_slot=SLOT)
    publish(settings.topic, [reschedule])
    consumed(settings, reschedule)
    assert planned(settings, appointment_id) == {"1440": LATER - timedelta(hours=24),
                                                 "120": LATER - timedelta(hours=2)}
    # and cancels it
    cancel = appointment_event("cancel", appointment_id=appointment_id, version=4,
                               slot=LATER_SLOT, organisation_version=1, reason="Ill")
    publish(settings.topic, [cancel])
    consumed(settings, cancel)
    assert planned(settings, appointment_id) == {}
    assert shown() == []
    assert reminders_sent(fake) == []


def test_once_their_times_pass_a_moved_one_is_reminded_at_its_new_time_a_cancelled_one_never(
        settings, notifier, publish, fake, clock):
    notifier()
    kept, moved, cancelled = (str(uuid.uuid4()) for _ in range(3))
    booked = [confirmed(a, resources=[]) for a in (kept, moved, cancelled)]
    changed = [appointment_event("reschedule", appointment_id=moved, version=3, resources=[],
                                 slot=LATER_SLOT, organisation_version=1, previous_slot=SLOT),
               appointment_event("cancel", appointment_id=cancelled, version=3, resources=[],
                                 slot=SLOT, organisation_version=1, reason="Ill")]
    publish(settings.topic, booked + changed)
    consumed(settings, *booked, *changed)

    def reminded() -> list[tuple[str, str]]:
        return sorted((r["appointment_id"], r["channel"])
                      for r in rows(settings.database_url, "kind = 'reminder'"))
    # The clock passes Monday's two due times: only the appointment still there is reminded
    clock.at = START - timedelta(minutes=119)
    wait_until(lambda: len(reminders_sent(fake)) == 4, what="the kept one's two reminders")
    assert reminded() == sorted([(kept, "email"), (kept, "sms")] * 2)
    assert {r.subject for r in reminders_sent(fake) if r.channel == "email"} == {
        "Reminder: Consultation, Monday 23 November 2026, 10:00–10:30 CET"}
    # then Tuesday's first: the moved one, at its new time
    clock.at = LATER - timedelta(hours=24) + timedelta(minutes=1)
    wait_until(lambda: len(reminders_sent(fake)) == 6, what="the moved one's 24 h reminder")
    new = reminders_sent(fake)[4:]
    assert {r.subject for r in new if r.channel == "email"} == {
        "Reminder: Consultation, Tuesday 24 November 2026, 15:00–15:30 CET"}
    assert "Tue 24 Nov 15:00" in next(r.text for r in new if r.channel == "sms")
    assert reminded() == sorted([(kept, "email"), (kept, "sms")] * 2
                                + [(moved, "email"), (moved, "sms")])
    assert planned(settings, cancelled) == {}
    assert planned(settings, moved) == {"120": LATER - timedelta(hours=2)}


@pytest.mark.parametrize("leaves_by", ["reject", "no_show", "attend"])
def test_any_status_that_is_not_a_confirmation_drops_them(settings, notifier, publish,
                                                           leaves_by):
    notifier()
    appointment_id = str(uuid.uuid4())
    confirm = confirmed(appointment_id)
    leave = appointment_event(leaves_by, appointment_id=appointment_id, version=3, slot=SLOT,
                              organisation_version=1, reason="Not eligible",
                              from_status="scheduled")
    publish(settings.topic, [confirm, leave])
    consumed(settings, confirm, leave)
    assert planned(settings, appointment_id) == {}


def test_at_the_24_hour_point_one_email_and_one_sms_go_out_once(
        settings, notifier, publish, fake, clock, infra, fresh_db):
    process = notifier()
    appointment_id = str(uuid.uuid4())
    confirm = confirmed(appointment_id, resources=[])
    publish(settings.topic, [confirm])
    fake.wait_for(4)                        # the confirmation: Ada and the organisation
    before = len(fake.accepted)
    # When the clock passes Sunday 10:00 (Zurich), 24 hours before the start
    clock.at = START - timedelta(hours=24) + timedelta(minutes=1)
    wait_until(lambda: len(reminders_sent(fake)) == 2, what="the 24 h reminder by email and SMS")
    sent = {r.channel: r for r in reminders_sent(fake)}
    assert {(c, r.to) for c, r in sent.items()} == {("email", ADA_EMAIL), ("sms", ADA_PHONE)}
    # in the organisation's zone, with the cancel and propose-another-time links
    assert sent["email"].subject == \
        "Reminder: Consultation, Monday 23 November 2026, 10:00–10:30 CET"
    assert "/v1/client_actions/cancel?token=" in sent["email"].text
    assert "/v1/client_actions/propose_time?token=" in sent["email"].text
    assert "Mon 23 Nov 10:00" in sent["sms"].text and "client_actions/cancel" in sent["sms"].text
    assert len(fake.accepted) == before + 2          # to Ada only
    # The 2 h one waits for its time.
    assert planned(settings, appointment_id) == {"120": START - timedelta(hours=2)}

    # Deliveries show them as reminders with their due time.
    app = create_app(database_url=fresh_db, bootstrap_servers=infra.kafka_bootstrap_servers)
    token = auth.issue("acme", ["agent"])

    def sent_reminders() -> list[dict[str, Any]]:
        answer = app.test_client().get(f"/v1/deliveries?appointment_id={appointment_id}",
                                       headers={"Authorization": f"Bearer {token}"})
        return [d for d in present(answer.json)["items"] if d["kind"] == "reminder" and d["state"] == "sent"]
    shown = wait_until(lambda: len(sent_reminders()) == 2 and sent_reminders(),
                       what="sent reminders")
    assert sorted((d["channel"], d["template"], d["due_at"]) for d in shown) == [
        (c, "client/reminder", (START - timedelta(hours=24)).isoformat())
        for c in ("email", "sms")]

    # The worker runs again, a timer for it is planned again by hand (a rebuild gone
    # wrong), the process restarts: nothing is sent again.
    assert process.timers.run_due() == 0
    with psycopg.connect(settings.database_url) as conn:
        timers.schedule(conn, store.TABLE, f"reminder:{appointment_id}:1440", "reminder",
                        START - timedelta(hours=24),
                        {"appointment_id": appointment_id, "offset_minutes": 1440,
                         "slot_start": SLOT["start"]})
    process.stop()
    again = notifier()
    wait_until(lambda: "1440" not in planned(settings, appointment_id), what="fired again")
    assert again.timers.run_due() == 0
    marker = appointment_event("reassigned", appointment_id=appointment_id, version=3,
                               slot=SLOT, organisation_version=1, resources=[])
    publish(settings.topic, [marker])           # same partition: consumed and sent after
    wait_until(lambda: len(fake.accepted) == before + 2 + 4, what="the reassignment's messages")
    assert len(reminders_sent(fake)) == 2
    with psycopg.connect(settings.database_url, row_factory=dict_row) as ledger:
        rows = ledger.execute("SELECT * FROM deliveries WHERE kind = 'reminder'").fetchall()
    assert sorted((r["channel"], r["state"]) for r in rows) == [("email", "sent"), ("sms", "sent")]
    assert all(view(r)["due_at"] == (START - timedelta(hours=24)).isoformat() for r in rows)


def test_nothing_is_sent_after_the_start(settings, notifier, publish, fake, clock):
    process = notifier(interval=3600)       # its timer loop looks once, at the start
    appointment_id = str(uuid.uuid4())
    confirm = confirmed(appointment_id, resources=[])
    publish(settings.topic, [confirm])
    consumed(settings, confirm)
    fake.wait_for(4)                        # the confirmation's messages, sent as usual
    assert set(planned(settings, appointment_id)) == {"1440", "120"}
    # The worker looks again only once the appointment has started: both are due, late.
    clock.at = START + timedelta(minutes=5)
    assert process.timers.run_due() == 2
    assert planned(settings, appointment_id) == {}
    marker = appointment_event("attend", appointment_id=appointment_id, version=3, slot=SLOT,
                               organisation_version=1, resources=[])
    publish(settings.topic, [marker])
    fake.wait_for(8)        # the attendance's messages, after: no reminder between or since
    assert reminders_sent(fake) == []
    # Confirmed only after its start (a late entry): nothing is planned at all.
    late = str(uuid.uuid4())
    confirm_late = confirmed(late, resources=[])
    publish(settings.topic, [confirm_late])
    consumed(settings, confirm_late)
    assert planned(settings, late) == {}


def test_the_organisations_offsets_and_a_services_override_are_followed(
        settings, notifier, publish, fake, clock):
    notifier()
    # Acme reminds 3 days and 1 hour before, by SMS only; service svc-2 overrides: 30 min, email
    org = organisation_event(2, reminders={"offsets_minutes": [4320, 60], "channels": ["sms"]})
    override = service_event(1, {"offsets_minutes": [30], "channels": ["email"]}, "svc-2")
    publish(settings.directory_topic, [org, override])
    applied(settings, override)
    applied(settings, org, "organisations")
    clock.at = START - timedelta(days=4)
    plain, special = str(uuid.uuid4()), str(uuid.uuid4())
    first = confirmed(plain, resources=[])
    event = confirmed(special, resources=[])
    event.data["appointment"]["service"]["id"] = "svc-2"
    publish(settings.topic, [first, event])
    consumed(settings, first, event)
    assert planned(settings, plain) == {"4320": START - timedelta(days=3),
                                        "60": START - timedelta(hours=1)}
    assert planned(settings, special) == {"30": START - timedelta(minutes=30)}

    # The 3-day one goes by SMS only.
    clock.at = START - timedelta(days=3)
    wait_until(lambda: reminders_sent(fake), what="the 3-day reminder")
    assert [(r.channel, r.to) for r in reminders_sent(fake)] == [("sms", ADA_PHONE)]

    # The service drops its override: its appointment follows the organisation again;
    # the organisation then changes its offsets: every upcoming appointment follows.
    dropped = service_event(2, None, "svc-2")
    publish(settings.directory_topic, [dropped])
    applied(settings, dropped)
    wait_until(lambda: set(planned(settings, special)) == {"60"}, what="the override dropped")
    changed = organisation_event(3, reminders={"offsets_minutes": [90], "channels": ["email"]})
    publish(settings.directory_topic, [changed])
    wait_until(lambda: planned(settings, plain) == {"90": START - timedelta(minutes=90)}
               and set(planned(settings, special)) == {"90"}, what="the new offsets")
    clock.at = START - timedelta(minutes=89)
    wait_until(lambda: len(reminders_sent(fake)) == 3, what="the 90-minute reminders")
    assert sorted((r.channel, r.to) for r in reminders_sent(fake)[1:]) == [
        ("email", ADA_EMAIL), ("email", ADA_EMAIL)]
    assert planned(settings, plain) == {}


def test_the_timers_are_rebuilt_from_the_events_or_from_the_kept_appointments(
        settings, notifier, publish, clock):
    process = notifier(interval=3600)
    kept, moved, dropped = (str(uuid.uuid4()) for _ in range(3))
    override = service_event(1, {"offsets_minutes": [30], "channels": ["email"]}, "svc-2")
    publish(settings.directory_topic, [override])
    special = confirmed(kept, resources=[])
    special.data["appointment"]["service"]["id"] = "svc-2"
    events = [special, confirmed(moved, resources=[]), confirmed(dropped, resources=[]),
              appointment_event("reschedule", appointment_id=moved, version=3, slot=LATER_SLOT,
                                organisation_version=1, previous_slot=SLOT),
              appointment_event("cancel", appointment_id=dropped, version=3, slot=SLOT,
                                organisation_version=1, reason="Ill")]
    publish(settings.topic, events)
    consumed(settings, *events)
    applied(settings, override)
    live = {a: planned(settings, a) for a in (kept, moved, dropped)}
    assert live == {kept: {"30": START - timedelta(minutes=30)},
                    moved: {"1440": LATER - timedelta(hours=24),
                            "120": LATER - timedelta(hours=2)}, dropped: {}}

    # The timers table is lost: planned again from the appointments kept beside it.
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        conn.execute(f"TRUNCATE {store.TABLE}")
        assert store.replan(conn.cursor(), clock()) == 2
    assert {a: planned(settings, a) for a in live} == live
    # Everything derived is lost: rebuilt from the topics, from their earliest offsets.
    process.stop()
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        conn.execute(f"TRUNCATE {store.TABLE}, upcoming_appointments, service_settings")
    assert {a: planned(settings, a) for a in live} == {kept: {}, moved: {}, dropped: {}}
    with psycopg.connect(settings.database_url, row_factory=dict_row) as conn:
        source = from_start(settings.bootstrap_servers, (settings.topic, settings.directory_topic))
        assert store.rebuild(conn.cursor(), source, clock()) == 3
    assert {a: planned(settings, a) for a in live} == live


def test_the_events_booking_really_emits_plan_move_and_drop_reminders(infra, fresh_db):
    """Contract check: booking's own events (its application over the in-memory store,
    through its relay's mapper), the service's override included, into the notifier's
    ledger on the real PostgreSQL."""
    now = START - timedelta(days=3)
    booking = booking_bootstrap.wire(booking_bootstrap.Settings(
        memory=True, clock=FixedClock(now), workflow=LocalWorkflow())).application
    manager = Caller("acme", {"id": "mgr-1", "role": "manager"}, "c1")
    booking.update_organisation(manager, {"reminders": {"offsets_minutes": [2880, 60],
                                                        "channels": ["sms"]}})
    surgery = str(booking.register(manager, "service", {
        "name": "Surgery", "reminders": {"offsets_minutes": [10], "channels": ["email"]}})
        ["service"]["id"])
    dr_who = str(booking.register(manager, "resource", {"name": "Dr Who", "kind": "agent"})
                 ["resource"]["id"])
    client = str(booking.register(manager, "client", {"name": "Ada", "email": ADA_EMAIL})
                 ["client"]["id"])
    first = booking.request(manager, c.Request(
        service_id=uuid.UUID(surgery), client_id=uuid.UUID(client), source="agent",
        window={"date": START.date(), "part_of_day": "morning"}))
    aid = uuid.UUID(first["appointment"]["id"])
    start, later = ({"start": t, "end": t + timedelta(minutes=30)}
                    for t in (START, LATER))

    settings = Settings(fresh_db, infra.kafka_bootstrap_servers, clock=lambda: now)
    parts = bootstrap.wire(settings)
    pool = parts.pool
    consume = ConsumeEvent(parts.ledger)
    seen = 0

    def deliver() -> dict[str, datetime]:
        nonlocal seen
        published = [e for _, _, e in to_messages(booking, booking.notifications(seen, 1000))]
        seen += len(published)
        for event in published:
            consume(event)
        return planned(settings, str(aid))

    try:
        assert deliver() == {}                                    # requested: nothing yet
        drive.act(booking, manager, aid, "confirm", {"slot": start, "agent_id": dr_who})
        assert deliver() == {"10": START - timedelta(minutes=10)}  # the service's override
        booking.update_entry(manager, "service", uuid.UUID(surgery), {"reminders": None})
        assert deliver() == {"2880": START - timedelta(days=2),   # the organisation's again
                             "60": START - timedelta(hours=1)}
        drive.act(booking, manager, aid, "reschedule", {"slot": later})
        assert deliver() == {"2880": LATER - timedelta(days=2), "60": LATER - timedelta(hours=1)}
        drive.act(booking, manager, aid, "cancel", {"reason": "Other"})
        assert deliver() == {}
    finally:
        booking.close()
        pool.close()


def test_an_erased_client_gets_no_reminders_and_nothing_of_them_is_kept(infra, fresh_db):
    """Booking's own events: Ada's confirmed appointment has its reminders; she is erased;
    they are dropped, and the confirmation of another of hers that arrives after the
    erasure (published before it, it still names her) plans none."""
    now = START - timedelta(days=3)
    booking = booking_bootstrap.wire(booking_bootstrap.Settings(
        memory=True, clock=FixedClock(now), workflow=LocalWorkflow())).application
    manager = Caller("acme", {"id": "mgr-1", "role": "manager"}, "c1")
    service = uuid.UUID(booking.register(manager, "service", {"name": "Consultation"})
                        ["service"]["id"])
    ada = uuid.UUID(booking.register(manager, "client", {
        "name": "Ada", "email": ADA_EMAIL, "phone": ADA_PHONE})["client"]["id"])

    def confirm(slot: dict[str, Any]) -> uuid.UUID:
        answer = booking.request(manager, c.Request(
            service_id=service, client_id=ada, source="agent",
            window={"date": START.date(), "part_of_day": "morning"}))
        aid = uuid.UUID(answer["appointment"]["id"])
        drive.act(booking, manager, aid, "confirm", {"slot": slot})
        return aid

    settings = Settings(fresh_db, infra.kafka_bootstrap_servers, clock=lambda: now)
    parts = bootstrap.wire(settings)
    pool = parts.pool
    consume = ConsumeEvent(parts.ledger)
    seen = 0

    def published() -> list[CloudEvent]:
        nonlocal seen
        events = [e for _, _, e in to_messages(booking, booking.notifications(seen, 1000))]
        seen += len(events)
        return events

    def kept() -> str:
        with psycopg.connect(fresh_db) as conn:
            return json.dumps(conn.execute("SELECT * FROM upcoming_appointments").fetchall(),
                              default=str)

    try:
        first = confirm({"start": START, "end": START + timedelta(minutes=30)})
        for event in published():
            consume(event)
        assert set(planned(settings, str(first))) == {"1440", "120"}
        assert ADA_EMAIL in kept()
        second = confirm({"start": LATER, "end": LATER + timedelta(minutes=30)})
        held_back = published()
        booking.erase_client(manager, ada)
        erasure = [e for e in published() if e.type == "client.erased.v1"]
        assert len(erasure) == 1 and consume(erasure[0]) == "erased"
        assert planned(settings, str(first)) == {}
        for event in held_back:                  # they arrive after the erasure
            consume(event)
        assert planned(settings, str(second)) == {}
        assert ADA_EMAIL not in kept() and ADA_PHONE not in kept()
    finally:
        booking.close()
        pool.close()


def test_the_real_worker_killed_before_a_reminder_is_due_sends_it_once_after_a_restart(
        settings, provider_env, publish, tmp_path):
    """Real time and the real process (python -m ...consumer, system clock): a reminder
    planned, the worker SIGKILLed, its due time passing while it is down; started again,
    it sends that reminder once, by email and SMS."""
    fake = FakeProviders().start()
    env = {**os.environ, **provider_env, "SENDGRID_HOST": fake.url, "TWILIO_BASE_URL": fake.url}
    publish(settings.directory_topic, [organisation_event(
        1, reminders={"offsets_minutes": [120], "channels": ["email", "sms"]})])
    # due in 20 s: time for the worker to start, join its group, plan and send the
    # confirmation's messages before the kill, on a busy machine too
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=120, seconds=20)
    due = start - timedelta(minutes=120)
    appointment_id = str(uuid.uuid4())
    confirm = appointment_event("confirm", appointment_id=appointment_id, version=2,
                                organisation_version=1, resources=[], slot={
                                    "start": start.isoformat(),
                                    "end": (start + timedelta(minutes=30)).isoformat()})
    publish(settings.topic, [confirm])
    log = tmp_path / "notifier.log"
    process = start_worker(settings, env, log)
    try:
        def reminder_planned() -> bool:
            try:
                return planned(settings, appointment_id) == {"120": due}
            except psycopg.errors.UndefinedTable:   # the worker has not made its tables yet
                return False
        wait_until(reminder_planned, 60, "the reminder planned")
        # the confirmation's own messages sent and recorded first: an attempt in flight at
        # a kill may be repeated (README, "Duplicates, honestly"), which is not this drill
        wait_until(lambda: len(rows(settings.database_url, "state = 'sent'")) == 4, 30,
                   "the confirmation's messages recorded sent")
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        assert datetime.now(UTC) < due and reminders_sent(fake) == []
        wait_until(lambda: datetime.now(UTC) > due, 40, "its due time, passed while down")
        process = start_worker(settings, env, log)
        wait_until(lambda: len(reminders_sent(fake)) == 2, 60, "the reminder after the restart")
        assert {(r.channel, r.to) for r in reminders_sent(fake)} == {
            ("email", ADA_EMAIL), ("sms", ADA_PHONE)}
        marker = appointment_event("attend", appointment_id=appointment_id, version=3,
                                   organisation_version=1, resources=[], slot=confirm.data[
                                       "appointment"]["slot"])
        publish(settings.topic, [marker])
        wait_until(lambda: len(fake.accepted) == 4 + 2 + 4, 60, "the attendance's messages")
        assert len(reminders_sent(fake)) == 2
        process.send_signal(signal.SIGTERM)
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
        fake.stop()
