"""GET /v1/events: the event store as CloudEvents, for rebuilds and audits."""
from __future__ import annotations

import psycopg
import pytest
from booking_http_support import Api, slot

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.entrypoints.http import create_app
from shared import auth


def test_the_feed_pages_by_position_and_its_ids_are_stable(api, seed, booking):
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9)}).get_json()["appointment"]["id"]
    confirmed = api.post(f"/v1/appointments/{aid}/confirm", {}).get_json()
    service = api.as_(roles=("service",))
    everything = service.get("/v1/events?after=0&limit=1000").get_json()
    events = [e["event"] for e in everything["items"]]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and everything["next_cursor"] is None
    # The command's answer names the position of its event: read-your-writes
    assert events[-1]["position"] == confirmed["position"]
    assert events[-1]["type"] == "appointment.confirmed.v1"
    # Paging: two at a time gives the same events, each once
    paged, query = [], "after=0"
    while True:
        page = service.get(f"/v1/events?{query}&limit=2").get_json()
        assert 1 <= len(page["items"]) <= 2
        paged += [e["event"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        query = f"cursor={page['next_cursor']}"
    assert paged == events
    # From a position on: what a reader that kept the last position asks
    later = service.get(f"/v1/events?after={positions[-3]}").get_json()["items"]
    assert [e["event"]["position"] for e in later] == positions[-2:]
    # A rebuild from scratch (a new application on the same store) gives the same ids
    other = bootstrap.wire(bootstrap.Settings(
        database_url=booking.tables.url, clock=booking.clock, workflow=booking.workflow)).application
    try:
        rebuilt = to_messages(other, other.notifications(0, 1000))
        assert [m[2].id for m in rebuilt] == [e["id"] for e in events]
        assert [m[2].data for m in rebuilt][-1]["appointment"] == confirmed["appointment"]
    finally:
        other.close()
    # Topics and keys follow the contract
    topics = {(e["topic"], e["event"]["type"].split(".")[0]) for e in everything["items"]}
    assert topics == {("appointments.events", "appointment"), ("directory.events", "organisation"),
                      ("directory.events", "service"), ("directory.events", "resource"),
                      ("directory.events", "client")}
    assert {e["key"] for e in everything["items"] if e["topic"] == "directory.events"} == {"acme"}


def test_bad_paging_is_422(api):
    service = api.as_(roles=("service",))
    assert service.get("/v1/events?limit=0").status_code == 422
    assert service.get("/v1/events?after=-1").status_code == 422
    bad = service.get("/v1/events?cursor=WyJ4Il0")
    assert bad.status_code == 422 and list(bad.get_json()["errors"]) == ["cursor"]


def test_the_feed_is_the_callers_organisations_selected_in_the_query(api, seed, booking):
    globex = api.as_(org="globex", roles=("manager",))
    for n in range(3):  # the two organisations' events interleave in the store
        assert globex.post("/v1/clients", {"name": f"Globex client {n}"}).status_code == 201
        assert api.post("/v1/appointments", {"service_id": seed.service,
                                             "client_id": seed.client,
                                             "slot": slot(9 + n)}).status_code == 201
    stored = to_messages(booking, booking.notifications(0, 1000))
    acme = [ce.position for _, _, ce in stored if ce.orgid == "acme"]
    theirs = [ce.position for _, _, ce in stored if ce.orgid == "globex"]
    # A service token of acme pages through acme's events only, two at a time
    service, query = api.as_(roles=("service",)), "after=0"
    seen: list[int] = []
    while True:
        page = service.get(f"/v1/events?{query}&limit=2").get_json()
        assert len(page["items"]) == 2 or len(seen) + len(page["items"]) == len(acme)
        seen += [e["event"]["position"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        query = f"cursor={page['next_cursor']}"
    assert seen == acme
    # An auditor's page is full of their own events, not emptied by others' (was: 0 events)
    auditor = api.as_(org="globex", roles=("auditor",))
    first = auditor.get("/v1/events?after=0&limit=1").get_json()
    assert [e["event"]["position"] for e in first["items"]] == theirs[:1]
    assert first["next_cursor"] is not None


def test_only_the_platform_role_reads_every_organisations_events_and_nothing_else(api, seed,
                                                                                  booking):
    api.as_(org="globex", roles=("manager",)).post("/v1/clients", {"name": "Globex client"})
    platform = Api(api.client, org=auth.PLATFORM_ORG, roles=(auth.PLATFORM,))
    feed = platform.get("/v1/events?after=0&limit=1000").get_json()["items"]
    assert [e["event"]["position"] for e in feed] == [n.id for n in booking.notifications(0, 1000)]
    assert {e["event"]["orgid"] for e in feed} == {"acme", "globex"}
    for path in ("/v1/organisation", "/v1/services", f"/v1/services/{seed.service}",
                 f"/v1/clients/{seed.client}"):
        assert platform.get(path).status_code == 403, path
    assert platform.post("/v1/appointments", {"service_id": seed.service,
                                              "client_id": seed.client,
                                              "slot": slot(9)}).status_code == 403
    # No organisation's token can claim the role
    with pytest.raises(ValueError):
        auth.issue("acme", [auth.PLATFORM])


def test_events_stored_before_the_feed_was_scoped_are_backfilled_at_start(api, seed, booking):
    api.as_(org="globex", roles=("manager",)).post("/v1/clients", {"name": "Globex client"})
    service = api.as_(roles=("service",))
    before = service.get("/v1/events?after=0&limit=1000").get_json()
    assert before["items"] and {e["event"]["orgid"] for e in before["items"]} == {"acme"}
    with psycopg.connect(booking.tables.url, autocommit=True) as conn:  # as an older store
        conn.execute("DELETE FROM booking_event_organisation")
    assert service.get("/v1/events?after=0&limit=1000").get_json()["items"] == []
    restarted = bootstrap.wire(bootstrap.Settings(
        database_url=booking.tables.url, clock=booking.clock, workflow=booking.workflow)).application
    try:
        again = Api(create_app(restarted).test_client(), roles=("service",))
        assert again.get("/v1/events?after=0&limit=1000").get_json() == before
    finally:
        restarted.close()
