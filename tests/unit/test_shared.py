"""The shared pieces every service relies on: tokens, client links, envelope."""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta

import pytest
from flask import jsonify
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from shared import auth, http, links, logs
from shared.envelope import CloudEvent, InvalidEnvelope
from shared.errors import Unauthorized
from tests.present import present
from tests.tokens import MALFORMED, signed


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


@pytest.mark.parametrize("claims, named", MALFORMED)
def test_a_malformed_claim_is_refused_naming_the_claim(claims, named):
    with pytest.raises(Unauthorized) as refused:
        auth.verify(signed(**claims))
    assert refused.value.extra["claim"] == named and f"'{named}'" in refused.value.detail


@pytest.mark.parametrize("org", ["acme", "e2e-clinic", "sunny-clinic-1a2b3c4d", "org_7", "a" * 64])
def test_organisation_ids_of_the_documented_pattern_are_accepted(org):
    assert auth.verify(signed(org=org)).org == org


def test_the_platform_role_comes_alone_with_the_reserved_organisation():
    principal = auth.verify(auth.issue(auth.PLATFORM_ORG, [auth.PLATFORM], subject="rebuild"))
    assert principal.roles == {auth.PLATFORM} and principal.org == auth.PLATFORM_ORG
    for org, roles in (("acme", ["platform"]), ("*", ["platform", "auditor"]), ("*", ["service"])):
        with pytest.raises(ValueError):
            auth.issue(org, roles)


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
    signed_at = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
    short = links.sign("appt-1", "cancel", ttl=1, now=signed_at)
    assert links.verify(short, "cancel", now=signed_at + timedelta(seconds=1)).max_age == 1
    with pytest.raises(links.LinkRefused, match="expired"):
        links.verify(short, "cancel", now=signed_at + timedelta(seconds=2))


def test_two_links_for_the_same_action_have_different_ids():
    a = links.verify(links.sign("appt-1", "cancel"), "cancel")
    b = links.verify(links.sign("appt-1", "cancel"), "cancel")
    assert a.jti != b.jti


def test_the_envelope_round_trips_and_rejects_what_is_not_ours():
    event = CloudEvent(id="e1", source="booking", type="appointment.requested.v1", subject="a1",
                       time="2026-11-21T10:00:00+00:00", orgid="acme", aggregateversion=1,
                       position=7, data={"x": 1}, correlationid="c1")
    assert CloudEvent.from_json(event.to_json()) == event
    key, value, headers = event.to_kafka("a1")
    assert (key, headers) == (b"a1", [("content-type", b"application/cloudevents+json")])
    assert CloudEvent.from_kafka(value, headers) == event
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


def test_an_app_with_a_view_that_declares_no_roles_refuses_to_start():
    forgetful = Blueprint("forgetful", __name__)

    @forgetful.route("/v1/things", methods=["GET"])
    def things():
        return jsonify([])

    with pytest.raises(RuntimeError, match="GET /v1/things"):
        http.create_app("test", [forgetful], {})


class ThingSchema(Schema):
    name = fields.String(required=True)


def test_the_declared_roles_are_checked_before_the_body_is_read_or_the_view_runs():
    declared, ran = Blueprint("declared", __name__), []

    @declared.route("/v1/things", methods=["POST"])
    @auth.roles_allowed("manager")
    @declared.arguments(ThingSchema)
    def make(args):
        ran.append(args)
        return jsonify(args)

    app = http.create_app("test", [declared], {})
    app.add_url_rule("/v1/late", "late", lambda: "registered after the factory checked")
    client = app.test_client()

    def bearer(*roles):
        return {"Authorization": f"Bearer {auth.issue('acme', list(roles))}"}

    assert client.post("/v1/things", json={}).status_code == 401
    denied = client.post("/v1/things", json={}, headers=bearer("agent", "widget"))
    assert denied.status_code == 403 and "manager" in present(denied.json)["detail"] and ran == []
    assert client.post("/v1/things", json={}, headers=bearer("manager")).status_code == 422
    assert client.post("/v1/things", json={"name": "a"}, headers=bearer("manager")).json == {
        "name": "a"}
    assert client.get("/v1/late", headers=bearer("manager")).status_code == 403
    assert client.get("/healthz").status_code == 200  # declared public
