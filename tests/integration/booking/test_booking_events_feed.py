"""GET /v1/events: the event store as CloudEvents, for rebuilds and audits."""
from __future__ import annotations

from booking_http_support import slot


def test_the_feed_pages_by_position_and_its_ids_are_stable(api, seed, booking):
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9)}).get_json()["appointment"]["id"]
    confirmed = api.post(f"/v1/appointments/{aid}/confirm", {}).get_json()
    service = api.as_(roles=("service",))
    everything = service.get("/v1/events?after=0&limit=1000").get_json()
    events = [e["event"] for e in everything["events"]]
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and everything["next_after"] == positions[-1]
    # The command's answer names the position of its event: read-your-writes
    assert events[-1]["position"] == confirmed["position"]
    assert events[-1]["type"] == "appointment.confirmed.v1"
    # Paging: two at a time gives the same events
    paged, after = [], 0
    while True:
        page = service.get(f"/v1/events?after={after}&limit=2").get_json()
        if not page["events"]:
            break
        paged += [e["event"] for e in page["events"]]
        after = page["next_after"]
    assert paged == events
    # A rebuild from scratch (a new application on the same store) gives the same ids
    from services.booking import bootstrap
    from services.booking.adapters.cloudevents import to_messages

    other = bootstrap.build(booking.tables.url, clock=booking.clock, workflow=booking.workflow)
    try:
        rebuilt = to_messages(other, other.notifications(0, 1000))
        assert [m[2].id for m in rebuilt] == [e["id"] for e in events]
        assert [m[2].data for m in rebuilt][-1]["appointment"] == confirmed["appointment"]
    finally:
        other.close()
    # Topics and keys follow the contract
    topics = {(e["topic"], e["event"]["type"].split(".")[0]) for e in everything["events"]}
    assert topics == {("appointments.events", "appointment"), ("directory.events", "organisation"),
                      ("directory.events", "service"), ("directory.events", "resource"),
                      ("directory.events", "client")}
    assert {e["key"] for e in everything["events"] if e["topic"] == "directory.events"} == {"acme"}


def test_bad_paging_is_422(api):
    service = api.as_(roles=("service",))
    assert service.get("/v1/events?limit=0").status_code == 422
    assert service.get("/v1/events?after=-1").status_code == 422
