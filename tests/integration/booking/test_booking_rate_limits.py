"""Rate limits on booking's writes (issue 8, item 7): per token and per client
address, counted in PostgreSQL so every worker and process shares them.

Limits here are small so that a flood is a handful of requests; each test sets
them as an operator would, through the environment, before the app is built.
"""
from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from booking_http_support import NOW, Api
from flask import Flask

from services.booking import bootstrap
from services.booking.application.app import BookingApplication
from services.booking.entrypoints.http import create_app
from tests.doubles.booking import FixedClock, LocalWorkflow

MakeApp = Callable[..., Flask]


@pytest.fixture
def make_app(booking: BookingApplication, monkeypatch: pytest.MonkeyPatch) -> MakeApp:
    """Booking's app on the test database with the given limits (by setting name)."""
    def make(application: BookingApplication = booking, **settings: str) -> Flask:
        for name, value in settings.items():
            monkeypatch.setenv(name, value)
        return create_app(application)
    return make


def request_body(service_id: str, n: int) -> dict:
    return {"service_id": service_id, "source": "widget",
            "window": {"date": "2030-03-04", "part_of_day": "morning"},
            "client": {"name": f"Client {n}", "email": f"c{n}@example.com"}}


def test_a_flood_from_one_token_is_refused_while_other_callers_and_reads_go_on(make_app, seed):
    app = make_app(RATE_LIMIT_PER_TOKEN="4/8seconds", RATE_LIMIT_PER_IP="off")
    flooder = Api(app.test_client(), roles=("agent",), subject="widget-script")
    answers = [flooder.post("/v1/appointments", request_body(seed.service, n)) for n in range(5)]

    assert [a.status_code for a in answers] == [201, 201, 201, 201, 429]
    refused = answers[-1]
    assert refused.content_type == "application/problem+json"
    retry_after = int(refused.headers["Retry-After"])
    assert 1 <= retry_after <= 2           # one more is admitted every 8 s / 4
    assert refused.get_json() | {"detail": ""} == {
        "type": "about:blank", "title": "Too many requests", "status": 429, "detail": "",
        "limit": "token", "rate": "4/8seconds", "retry_after": retry_after}
    assert "4/8seconds" in refused.get_json()["detail"]

    # Another agent of the same organisation writes as usual, and reads are not limited.
    colleague = Api(app.test_client(), roles=("agent",), subject="frank.frontdesk")
    assert colleague.post("/v1/appointments", request_body(seed.service, 9)).status_code == 201
    assert flooder.get(f"/v1/appointments/{answers[0].get_json()['appointment']['id']}") \
        .status_code == 200

    # Retry-After is honest: after waiting that long the same token is admitted again.
    time.sleep(retry_after)
    assert flooder.post("/v1/appointments", request_body(seed.service, 5)).status_code == 201


def test_every_write_method_counts_and_the_limit_is_per_organisation_too(make_app, seed):
    app = make_app(RATE_LIMIT_PER_TOKEN="2/minute", RATE_LIMIT_PER_IP="off")
    manager = Api(app.test_client(), roles=("manager",), subject="maria")
    assert manager.patch("/v1/organisation", {"name": "Acme"}).status_code == 200
    assert manager.post("/v1/services", {"name": "Check", "duration_minutes": 15}) \
        .status_code == 201
    third = manager.patch(f"/v1/services/{seed.service}", {"name": "Renamed"})
    assert third.status_code == 429 and third.get_json()["limit"] == "token"
    # The same subject in another organisation is another caller.
    elsewhere = Api(app.test_client(), org="globex", roles=("manager",), subject="maria")
    assert elsewhere.patch("/v1/organisation", {"name": "Globex"}).status_code == 200


def test_link_actions_without_a_token_are_limited_per_client_address(make_app):
    app = make_app(RATE_LIMIT_PER_TOKEN="off", RATE_LIMIT_PER_IP="3/minute")
    guesser = app.test_client()
    url = "/v1/client_actions/cancel?token=guessed"

    def attempt(address: str = "198.51.100.7", **headers: str) -> int:
        return guesser.post(url, json={}, headers=headers,
                            environ_base={"REMOTE_ADDR": address}).status_code

    # Guessing links: refused as invalid three times, then refused outright.
    assert [attempt() for _ in range(3)] == [403, 403, 403]
    assert attempt() == 429
    # X-Forwarded-For is anyone's to write: without a trusted proxy it changes nothing.
    assert attempt(**{"X-Forwarded-For": "203.0.113.50"}) == 429
    # Another address is unaffected; IPv6 addresses count per /64.
    assert attempt("203.0.113.9") == 403
    assert [attempt(f"2001:db8:1:2::{n}") for n in range(1, 5)] == [403, 403, 403, 429]
    assert attempt("2001:db8:1:3::1") == 403


def test_behind_a_trusted_proxy_the_forwarded_address_counts(make_app):
    app = make_app(RATE_LIMIT_PER_TOKEN="off", RATE_LIMIT_PER_IP="2/minute",
                   TRUSTED_PROXY_COUNT="1")
    browser = app.test_client()

    def attempt(client_ip: str) -> int:
        return browser.post("/v1/client_actions/cancel?token=guessed", json={},
                            headers={"X-Forwarded-For": f"10.9.9.9, {client_ip}"},
                            environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code  # the proxy

    assert [attempt("203.0.113.1") for _ in range(3)] == [403, 403, 429]
    # A second client behind the same proxy has its own count; the spoofed
    # left-most entry (10.9.9.9) is not what counts.
    assert attempt("203.0.113.2") == 403


def test_two_app_instances_on_one_database_share_the_counters(make_app, fresh_db, seed):
    # Two booking applications and apps, as two gunicorn workers or two hosts would have.
    other_booking = bootstrap.wire(bootstrap.Settings(
        database_url=fresh_db, clock=FixedClock(NOW), workflow=LocalWorkflow())).application
    try:
        limits = {"RATE_LIMIT_PER_TOKEN": "4/minute", "RATE_LIMIT_PER_IP": "off"}
        first = Api(make_app(**limits).test_client(), subject="one-token")
        second = Api(make_app(other_booking, **limits).test_client(), subject="one-token")
        codes = [(first if n % 2 else second).post("/v1/appointments",
                                                   request_body(seed.service, n)).status_code
                 for n in range(6)]
        assert codes == [201, 201, 201, 201, 429, 429]
    finally:
        other_booking.close()
