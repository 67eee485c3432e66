"""A waitlist offer reaches the client (README "The waitlist"): booking's events become
CloudEvents as the relay publishes them (schema-valid), the notifier records the
client's email and SMS with the accept link in the real ledger, and that link takes
the slot in booking."""
from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from services.booking import bootstrap as booking_bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.application import commands as c
from services.booking.application.app import BookingApplication, Caller
from services.booking.application.waitlist_commands import AcceptOffer, JoinWaitlist
from services.notifier import bootstrap
from services.notifier.application.consume import ConsumeEvent
from services.notifier.bootstrap import Settings
from shared import kafka, links, schemas
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.fakes.notifier_support import rows

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 23, tzinfo=UTC)
SYSTEM = Caller("acme", {"id": "system", "role": "system"})


@pytest.fixture
def ledger(infra, fresh_db):
    settings = Settings(fresh_db, infra.kafka_bootstrap_servers, give_up_after=3600)
    parts = bootstrap.wire(settings)
    yield parts.ledger
    parts.pool.close()


def offered(app: BookingApplication) -> tuple[str, dict[str, Any]]:
    """Booking in memory: an appointment cancelled, its slot offered to the one waiting."""
    manager = Caller("acme", {"id": "m", "role": "manager"})
    app.update_organisation(manager, {"name": "Acme Clinic", "timezone": "Europe/Zurich",
                                      "email": "desk@acme.example"})
    service = app.register(manager, "service", {"name": "Consultation"})["service"]["id"]
    agent = app.register(manager, "resource", {"name": "Dr Who", "kind": "agent"})["resource"]["id"]
    client = app.register(manager, "client", {"name": "Ada"})["client"]["id"]
    at = {"start": MONDAY + timedelta(hours=9), "end": MONDAY + timedelta(hours=9, minutes=30)}
    aid = app.create_for_client(manager, c.CreateForClient(
        service_id=service, client_id=client, agent_id=agent, slot=at,
        status="scheduled"))["appointment"]["id"]
    entry = app.join_waitlist(manager, JoinWaitlist(
        service_id=uuid.UUID(service), tentative_client=c.TentativeClient(
            name="Grace Hopper", email="grace@example.com", phone="+41790000001")))["entry"]
    app.cancel(manager, uuid.UUID(aid), c.Cancel())
    assert app.offer_slot(SYSTEM, service, agent, {k: v.isoformat() for k, v in at.items()},
                          "automatic") == entry["id"]
    return entry["id"], at


def test_an_offer_is_sent_to_the_client_by_email_and_sms_with_a_working_link(ledger):
    app = booking_bootstrap.wire(booking_bootstrap.Settings(
        memory=True, clock=FixedClock(NOW), workflow=LocalWorkflow())).application
    entry_id, at = offered(app)
    messages = to_messages(app, app.recorder.select_notifications(1, 1000))
    waitlist = [(topic, key, ce) for topic, key, ce in messages if ce.type.startswith("waitlist.")]
    assert [(topic, key, ce.type) for topic, key, ce in waitlist] == [
        (kafka.APPOINTMENTS, entry_id, "waitlist.joined.v1"),
        (kafka.APPOINTMENTS, entry_id, "waitlist.offered.v1")]
    for _, _, ce in messages:
        schemas.validate(json.loads(ce.to_json()))
    consume = ConsumeEvent(ledger)
    for _, _, ce in messages:
        consume(ce)
    sent = rows(ledger.pool.conninfo, "appointment_id = %s", (entry_id,))
    assert sorted((r["channel"], r["address"], r["template"]) for r in sent) == [
        ("email", "grace@example.com", "client/waitlist_offer"),
        ("sms", "+41790000001", "client/waitlist_offer")]
    sms = next(r for r in sent if r["channel"] == "sms")["body_text"]
    assert "10:00" in sms and "Consultation" in sms      # 09:00 UTC in Zurich
    email = next(r for r in sent if r["channel"] == "email")
    assert "held for you until" in email["body_text"]
    # The link in the message takes the slot
    url = re.search(r"https?://\S+accept_offer\?token=\S+", sms)
    assert url, sms
    token = parse_qs(urlparse(url.group(0)).query)["token"][0]
    claims = links.verify(token, "accept_offer")
    made = app.accept_offer(claims, AcceptOffer(), "corr", None)["appointment"]
    assert (made["status"], made["slot"]["start"]) == ("requested", at["start"].isoformat())
    # Nothing else of the waitlist is sent (joining, accepting)
    consume_rest = to_messages(app, app.recorder.select_notifications(1, 1000))
    for _, _, ce in consume_rest:
        consume(ce)
    assert len(rows(ledger.pool.conninfo, "appointment_id = %s", (entry_id,))) == 2
