"""Client actions through signed links: no bearer token, bound, expiring, single use."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from booking_http_support import slot

from shared import links


@pytest.fixture
def appointment(api, seed) -> str:
    r = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                      "slot": slot(9), "agent_id": seed.agent})
    aid = r.get_json()["appointment"]["id"]
    assert api.post(f"/v1/appointments/{aid}/confirm", {}).status_code == 200
    return aid


@pytest.fixture
def public(flask_app):
    """A browser without any bearer token."""
    return flask_app.test_client()


def test_a_client_cancels_through_the_link_once(public, appointment, api):
    token = links.sign(appointment, "cancel")
    url = f"/v1/client_actions/cancel?token={token}"
    # The page shows the appointment and the reasons to choose from
    page = public.get(url)
    assert page.status_code == 200, page.get_json()
    shown = page.get_json()
    assert (shown["possible"], shown["appointment"]["id"]) == (True, appointment)
    assert "Client request" in shown["cancellation_reasons"]
    # The client cancels
    r = public.post(url, json={"reason": "Client request", "message": "I am ill"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["appointment"]["status"] == "cancelled"
    event = api.get(f"/v1/appointments/{appointment}").get_json()
    assert event["appointment"]["status"] == "cancelled"
    # The same link again: refused clearly
    again = public.post(url, json={})
    assert again.status_code == 409 and "already been used" in again.get_json()["detail"]
    assert public.get(url).get_json()["possible"] is False


def test_a_retry_of_a_link_action_with_its_idempotency_key_replays(public, appointment):
    url = f"/v1/client_actions/cancel?token={links.sign(appointment, 'cancel')}"
    first = public.post(url, json={}, headers={"Idempotency-Key": "tap-1"})
    retry = public.post(url, json={}, headers={"Idempotency-Key": "tap-1"})
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.get_json() == first.get_json()


def test_tampered_expired_and_misdirected_links_are_403(public, appointment):
    token = links.sign(appointment, "cancel")
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    r = public.post(f"/v1/client_actions/cancel?token={tampered}", json={})
    assert r.status_code == 403 and "not valid" in r.get_json()["detail"]
    # a link for another action
    r = public.post(f"/v1/client_actions/submit_feedback?token={token}", json={"rating": 5})
    assert r.status_code == 403 and "'cancel'" in r.get_json()["detail"]
    # a link signed an hour ago that lived 60 seconds
    old = links.sign(appointment, "cancel", ttl=60, now=datetime.now(UTC) - timedelta(hours=1))
    r = public.post(f"/v1/client_actions/cancel?token={old}", json={})
    assert r.status_code == 403 and "expired" in r.get_json()["detail"]
    # no token, unknown action
    assert public.post("/v1/client_actions/cancel", json={}).status_code == 422
    assert public.post(f"/v1/client_actions/explode?token={token}", json={}).status_code == 404


def test_a_client_proposes_a_time_and_the_agent_accepts_it(public, appointment, api):
    api.post(f"/v1/appointments/{appointment}/request_reschedule", {"message": "Dr Who is ill"})
    url = f"/v1/client_actions/propose_time?token={links.sign(appointment, 'propose_time')}"
    bad = public.post(url, json={"slot": {"start": "2026-11-23T14:00:00+00:00"}})
    assert bad.status_code == 422 and "slot.end" in bad.get_json()["errors"]
    r = public.post(url, json={"slot": slot(14)})
    assert r.status_code == 200 and r.get_json()["appointment"]["status"] == "requested"
    r = api.post(f"/v1/appointments/{appointment}/accept_suggestion", {})
    assert r.get_json()["appointment"]["slot"] == slot(14)


def test_feedback_needs_a_rating_from_one_to_five(public, appointment):
    url = f"/v1/client_actions/submit_feedback?token={links.sign(appointment, 'submit_feedback')}"
    r = public.post(url, json={"rating": 7})
    assert r.status_code == 422 and "rating" in r.get_json()["errors"]
    # a valid answer before any survey was sent is not allowed by the workflow
    r = public.post(url, json={"rating": 5})
    assert r.status_code == 409 and r.get_json()["allowed_actions"]
