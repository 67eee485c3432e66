"""Poison messages go to the dead-letter topic with the reason and the
original bytes; the consumer commits and goes on; the views stay correct."""
from __future__ import annotations

import dataclasses
import json
import logging

import psycopg

from services.projections.entrypoints.http import create_app
from shared import kafka
from tests.integration.projections.support import (
    applied_count,
    publish,
    read_topic,
    running,
    token,
    wait_until,
)
from tests.unit.projections.factory import Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def test_poison_messages_are_dead_lettered_and_the_views_stay_correct(settings, caplog):
    booking = Booking()
    aid = booking.request(slot_=slot("2026-11-23", "09:00")).subject
    first = booking.events[-1]
    confirm = booking.act(aid, "confirm")
    unknown = booking.emit("x-1", "invoice.paid.v1", {"change": {}, "invoice": {}})
    missing = json.loads(first.to_json())
    del missing["orgid"]
    # version 3 of the appointment, but its snapshot says it is someone else's
    stolen = booking.act(aid, "note_added")
    stolen = dataclasses.replace(stolen, orgid="globex")
    # fine for the domain, but PostgreSQL refuses it (version beyond integer): apply fails
    huge = booking.request(slot_=slot("2026-11-24", "09:00"))
    huge.data["appointment"]["version"] = 2**40
    huge = dataclasses.replace(huge, aggregateversion=2**40)
    poison = [b"{not json", json.dumps(missing).encode(), unknown.to_json(), stolen.to_json(),
              huge.to_json()]

    with running(settings), caplog.at_level(logging.ERROR, logger="shared.deadletters"):
        publish(settings, [first] + poison + [confirm])
        wait_until(lambda: applied_count(settings) == 2, what="good events applied")
        letters = read_topic(settings.bootstrap_servers, kafka.dlq(settings.topics[0]),
                             len(poison))

    # Every poison message is in the dlq, unchanged, with why and where from
    assert sorted(r.value for r in letters) == sorted(poison)
    reasons = {r.value: dict(r.headers)["reason"].decode() for r in letters}
    assert "not JSON" in reasons[poison[0]]
    assert "missing attributes: orgid" in reasons[poison[1]]
    assert "unknown event type" in reasons[poison[2]]
    assert "differs from orgid" in reasons[poison[3]]
    assert "out of range" in reasons[poison[4]]
    headers = dict(letters[0].headers)
    assert headers["original-topic"].decode() == settings.topics[0]
    assert headers["consumer-group"].decode() == settings.group_id
    # Loudly: an ERROR line each, and the API's readiness names them ("degraded")
    assert len([r for r in caplog.records if r.name == "shared.deadletters"
                and r.levelno == logging.ERROR]) == len(poison)
    api = create_app(settings).test_client()  # (after: its logging set-up replaces caplog's)
    ready = api.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["status"] == "degraded"
    assert ready.get_json()["missing"] == ["dead_letters"]
    assert ready.get_json()["details"]["dead_letters"].startswith(
        f"{len(poison)} dead-lettered messages not acknowledged")
    assert "out of range" in ready.get_json()["details"]["dead_letters"]  # the last one's reason
    # ... until an operator acknowledges them (README runbook)
    with psycopg.connect(settings.database_url) as conn:
        conn.execute("UPDATE dead_letters SET acknowledged_by = 'ops', acknowledged_at = now() "
                     "WHERE acknowledged_at IS NULL")
    assert api.get("/readyz").get_json()["status"] == "ready"
    # ... and the appointment went on to be confirmed
    items = api.get("/v1/appointments", headers=token()).get_json()["items"]
    assert [(i["id"], i["status"]) for i in items] == [(aid, "scheduled")]


def test_a_poison_message_goes_to_the_dead_letter_twin_of_the_topic_it_came_from(settings):
    booking = Booking()
    good = booking.request(slot_=slot("2026-11-23", "09:00"))
    with running(settings):
        publish(settings, [b"{not json"], topic=settings.topics[1])  # the directory topic
        publish(settings, [good])
        wait_until(lambda: applied_count(settings) == 1, what="the good event applied")
        letters = read_topic(settings.bootstrap_servers, kafka.dlq(settings.topics[1]), 1)
    assert [r.value for r in letters] == [b"{not json"]
    assert dict(letters[0].headers)["original-topic"].decode() == settings.topics[1]
