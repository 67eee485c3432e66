"""A clinic's week streamed through the real broker into the read models,
read back through the query API; then duplicates and a full replay from
offset 0 (a new group) change nothing."""
from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from services.projections.application.purge import purge
from services.projections.bootstrap import wire
from services.projections.entrypoints.consumer import Consumer
from services.projections.entrypoints.http import create_app
from tests.integration.projections.support import (
    NOW,
    applied_count,
    clinic,
    dump,
    publish,
    running,
    token,
    wait_until,
)
from tests.unit.projections.factory import ORGANISATION, Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture
instant = datetime.fromisoformat  # answers carry the organisation's offset: compare instants


def test_a_clinic_week_in_every_view(settings):
    booking, ids = clinic()
    other = Booking({**ORGANISATION, "id": "globex", "timezone": "UTC"}, first_position=10_000)
    foreign = other.request(slot_=slot("2026-11-23", "09:00"), client_id="client-1").subject
    events = booking.events + other.events

    with running(settings) as consumer:
        # Given every event was published by booking's relay
        publish(settings, events)
        wait_until(lambda: applied_count(settings) == len(events), what="all events applied")
        api = create_app(settings).test_client()
        acme = token()

        # Calendar: Monday and Tuesday; the cancelled one is left out, the window is flagged
        cal = api.get("/v1/calendar?from=2026-11-23&to=2026-11-24", headers=acme).get_json()
        assert {i["id"]: (i["requested"], i["tentative"]) for i in cal["items"]} == {
            ids["confirmed"]: (False, False), ids["window"]: (True, True),
            ids["reschedule"]: (True, False)}
        window = next(i for i in cal["items"] if i["id"] == ids["window"])
        assert (instant(window["start"]), instant(window["end"])) == (
            instant("2026-11-24T08:00:00+00:00"), instant("2026-11-24T11:00:00+00:00"))
        mine = api.get("/v1/calendar?from=2026-11-16&to=2026-11-24&agent_id=agent-7",
                       headers=acme).get_json()["items"]
        assert [i["id"] for i in mine] == [ids["attended"], ids["confirmed"], ids["reschedule"]]
        # The calendar pages like every list: two at a time, each once, in order
        whole = api.get("/v1/calendar?from=2026-11-16&to=2026-11-24", headers=acme).get_json()
        paged, cursor = [], ""
        while True:
            page = api.get(f"/v1/calendar?from=2026-11-16&to=2026-11-24&limit=2{cursor}",
                           headers=acme).get_json()
            assert len(page["items"]) <= 2
            paged += [i["id"] for i in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert whole["next_cursor"] is None and len(whole["items"]) == 4
        assert paged == [i["id"] for i in whole["items"]]
        # (the no-show of last week is not on the calendar either)
        week = api.get("/v1/calendar?from=2026-11-16&to=2026-11-22", headers=acme).get_json()
        assert [i["id"] for i in week["items"]] == [ids["attended"]]

        # Appointment list: filters and stable keyset paging
        scheduled = api.get("/v1/appointments?status=scheduled", headers=acme).get_json()
        assert [i["id"] for i in scheduled["items"]] == [ids["confirmed"]]
        seen, cursor = [], ""
        while True:
            page = api.get(f"/v1/appointments?limit=3{cursor}", headers=acme).get_json()
            seen += [i["id"] for i in page["items"]]
            if not page["next_cursor"]:
                break
            cursor = f"&cursor={page['next_cursor']}"
        assert sorted(seen) == sorted(ids.values()) and len(seen) == len(set(seen))
        by_agent = api.get("/v1/appointments?agent_id=agent-9&status=no_show,cancelled",
                           headers=acme).get_json()["items"]
        assert {i["id"] for i in by_agent} == {ids["no_show"], ids["cancelled"]}
        monday = api.get("/v1/appointments?date=2026-11-23", headers=acme).get_json()["items"]
        assert {i["id"] for i in monday} == {ids["confirmed"], ids["cancelled"],
                                             ids["reschedule"]}

        # Request queue: unconfirmed only, or with the confirmed ones
        queue = api.get("/v1/queue", headers=acme).get_json()["items"]
        assert {i["id"] for i in queue} == {ids["window"], ids["reschedule"]}
        everything = api.get("/v1/queue?include_confirmed=true", headers=acme).get_json()
        assert {i["id"] for i in everything["items"]} == {ids["window"], ids["reschedule"],
                                                          ids["confirmed"]}

        # Status history: newest first, with who, when, reason, message
        history = api.get(f"/v1/appointments/{ids['cancelled']}/history",
                          headers=acme).get_json()["items"]
        assert [(h["action"], h["from_status"], h["to_status"]) for h in history] == [
            ("cancel", "scheduled", "cancelled"), ("create", None, "scheduled")]
        assert (history[0]["reason"], history[0]["message"]) == ("client ill", "get well soon")
        assert history[0]["actor"] == {"id": "agent-7", "role": "agent"}

        # Client appointments: current and past (within retention only)
        client = api.get("/v1/clients/client-1/appointments", headers=acme).get_json()
        assert [i["id"] for i in client["current"]] == [ids["confirmed"], ids["cancelled"],
                                                        ids["reschedule"]]
        assert [i["id"] for i in client["past"]] == [ids["attended"]]
        assert client["retention_days"] == 365

        # Availability on Monday 10:10 local: Dr Who busy, Dr No free (his one was cancelled)
        free = api.get("/v1/availability?at=2026-11-23T09:10:00Z", headers=acme).get_json()
        assert {r["id"]: (r["available"], r["busy_with"]) for r in free["resources"]} == {
            "agent-7": (False, [ids["confirmed"]]), "agent-9": (True, [])}
        reassigning = api.get(f"/v1/availability?at=2026-11-23T09:10:00Z&exclude_appointment_id="
                              f"{ids['confirmed']}", headers=acme).get_json()["resources"]
        assert all(r["available"] for r in reassigning)
        saturday = api.get("/v1/availability?at=2026-11-28T09:10:00Z", headers=acme).get_json()
        assert not any(r["within_working_hours"] for r in saturday["resources"])

        # Statistics
        stats = api.get("/v1/statistics?by_agent=true", headers=acme).get_json()
        assert stats["overall"]["total"] == len(ids)
        assert stats["overall"]["by_outcome"] == {"open": 3, "attended": 2, "no_show": 1,
                                                  "cancelled": 1, "late_cancellation": 0,
                                                  "rejected": 1}
        assert stats["overall"]["no_show_rate"] == round(1 / 3, 4)
        assert {g["agent_id"]: g["total"] for g in stats["groups"]} == {
            None: 2, "agent-7": 4, "agent-9": 2}
        november = api.get("/v1/statistics?from=2026-11-01&to=2026-11-30&period=week",
                           headers=acme).get_json()
        assert [g["period"] for g in november["groups"]] == ["2026-W47", "2026-W48"]

        # Nothing of another organisation is visible: its ids answer 404
        assert api.get(f"/v1/appointments/{foreign}/history", headers=acme).status_code == 404
        globex = api.get(f"/v1/appointments/{foreign}/history", headers=token("globex"))
        assert globex.status_code == 200
        assert api.get("/v1/clients/nobody/appointments", headers=acme).status_code == 404
        assert foreign not in {i["id"] for i in api.get("/v1/appointments?limit=200",
                                                        headers=acme).get_json()["items"]}

        # (the consumer also purges beyond retention at start and every purge_interval)
        assert purge(wire(settings).pool, NOW) == 1
        before = dump(settings)
        # Duplicates: booking's relay republishes some events
        publish(settings, events[5:12])
        wait_until(lambda: consumer.counts.get("duplicate", 0) == 7, what="duplicates seen")
        assert dump(settings) == before

    # A full replay: the broker 'forgot' the group (a new one), everything from offset 0
    replay = replace(settings, group_id=settings.group_id + "-replay")
    with running(replay) as again:
        wait_until(lambda: again.counts.get("duplicate", 0) == len(events) + 7,
                   what="full replay seen")
    assert dump(settings) == before
    assert applied_count(settings) == len(events)


def test_retention_purge_removes_past_appointments_beyond_the_period(settings):
    from services.projections.adapters.schema import LIVE
    from services.projections.application.apply import apply_event

    booking, ids = clinic()
    pool = wire(settings).pool
    for event in booking.events:
        apply_event(pool, LIVE, event)
    api = create_app(settings).test_client()
    # Before the purge the old one is already hidden from the client ...
    past = api.get("/v1/clients/client-1/appointments", headers=token()).get_json()["past"]
    assert [i["id"] for i in past] == [ids["attended"]]
    # ... and the purge removes it (and its history) from the read model
    assert purge(pool, NOW) == 1
    assert api.get(f"/v1/appointments/{ids['old']}/history", headers=token()).status_code == 404
    assert purge(pool, NOW) == 0
    # A shorter retention period takes effect with the organisation's next event
    apply_event(pool, LIVE, booking.organisation_updated(retention_days=3))
    assert purge(pool, NOW) == 2  # the attended one of 16 Nov and the no-show of 17 Nov
    _ = Consumer  # the consumer runs the same purge every purge_interval seconds
