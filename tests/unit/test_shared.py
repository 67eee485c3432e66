"""The shared pieces every service relies on: tokens, client links, envelope."""
from __future__ import annotations

import json
import logging
import time

import pytest

from shared import auth, links, logs
from shared.envelope import CloudEvent, InvalidEnvelope
from shared.errors import Unauthorized


def test_a_token_carries_organisation_and_roles():
    principal = auth.verify(auth.issue("acme", ["agent", "manager"], subject="ann"))
    assert (principal.org, principal.subject) == ("acme", "ann")
    assert principal.has("manager") and not principal.has("auditor")


@pytest.mark.parametrize("token", ["", "garbage", auth.issue("acme", ["agent"])[:-3] + "abc"])
def test_a_bad_token_is_refused(token):
    with pytest.raises(Unauthorized):
        auth.verify(token)


def test_an_expired_token_is_refused():
    with pytest.raises(Unauthorized, match="expired"):
        auth.verify(auth.issue("acme", ["agent"], ttl=-1))


def test_unknown_roles_cannot_be_issued():
    with pytest.raises(ValueError):
        auth.issue("acme", ["admin"])


def test_a_link_is_bound_to_its_appointment_and_action():
    token = links.sign("appt-1", "cancel")
    claims = links.verify(token, "cancel")
    assert (claims.appointment_id, claims.action) == ("appt-1", "cancel")
    with pytest.raises(links.LinkRefused, match="not 'submit_feedback'"):
        links.verify(token, "submit_feedback")


def test_a_tampered_or_expired_link_is_refused():
    token = links.sign("appt-1", "cancel")
    with pytest.raises(links.LinkRefused, match="altered"):
        links.verify(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), "cancel")
    short = links.sign("appt-1", "cancel", ttl=1)
    time.sleep(2.1)
    with pytest.raises(links.LinkRefused, match="expired"):
        links.verify(short, "cancel")


def test_two_links_for_the_same_action_have_different_ids():
    a = links.verify(links.sign("appt-1", "cancel"), "cancel")
    b = links.verify(links.sign("appt-1", "cancel"), "cancel")
    assert a.jti != b.jti


def test_the_envelope_round_trips_and_rejects_what_is_not_ours():
    event = CloudEvent(id="e1", source="booking", type="appointment.requested.v1", subject="a1",
                       time="2026-11-21T10:00:00+00:00", orgid="acme", aggregateversion=1,
                       position=7, data={"x": 1}, correlationid="c1")
    assert CloudEvent.from_json(event.to_json()) == event
    for raw in (b"not json", b"[]", b'{"id": "x"}'):
        with pytest.raises(InvalidEnvelope):
            CloudEvent.from_json(raw)


def test_logs_are_json_with_the_correlation_id_and_without_kafka_slow_step_noise(capsys):
    log = logs.setup("unit")
    token = logs.correlation_id.set("abc123")
    try:
        log.warning("hello", extra={"fields": {"appointment_id": "a1"}})
        logging.getLogger("kafka.net.selector").warning("Task ran for 0.2s")
        logging.getLogger("kafka.net.selector").error("broker gone")
    finally:
        logs.correlation_id.reset(token)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines()]
    assert [(entry["logger"], entry["message"]) for entry in lines] == [
        ("unit", "hello"), ("kafka.net.selector", "broker gone")]
    assert lines[0]["correlation_id"] == "abc123" and lines[0]["appointment_id"] == "a1"
