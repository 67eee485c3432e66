"""Instants in the projections' answers carry the organisation's offset at that instant, as
booking's do (README, API conventions): rows, history and availability, winter and summer;
an organisation in UTC answers +00:00 (real broker, real PostgreSQL, the query API)."""
from __future__ import annotations

from datetime import datetime

from services.projections.entrypoints.http import create_app
from tests.integration.projections.support import applied_count, publish, running, token, wait_until
from tests.unit.projections.factory import ORGANISATION, Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def offset(text: str) -> str:
    return text[-6:]


def test_rows_history_and_availability_answer_in_the_organisations_offset(settings):
    zurich = Booking()                                   # Europe/Zurich
    assert zurich.organisation["timezone"] == "Europe/Zurich"
    winter = zurich.request(slot_=slot("2026-11-23", "09:00"), agent_id="agent-7").subject
    zurich.act(winter, "confirm")
    summer = zurich.request(slot_=slot("2027-06-14", "09:00"), agent_id="agent-7").subject
    utc = Booking({**ORGANISATION, "id": "globex", "timezone": "UTC"}, first_position=10_000)
    elsewhere = utc.request(slot_=slot("2027-06-14", "09:00")).subject
    events = zurich.events + utc.events

    with running(settings):
        publish(settings, events)
        wait_until(lambda: applied_count(settings) == len(events), what="all events applied")
        api = create_app(settings).test_client()
        rows = {i["id"]: i for i in api.get("/v1/appointments?from=2026-11-20&to=2027-06-30",
                                            headers=token()).get_json()["items"]}
        # Winter +01:00, summer +02:00: the same instants as booking's UTC events
        assert rows[winter]["slot"] == {"start": "2026-11-23T10:00:00+01:00",
                                        "end": "2026-11-23T10:30:00+01:00"}
        assert (rows[winter]["start"], rows[winter]["end"]) == (
            "2026-11-23T10:00:00+01:00", "2026-11-23T10:30:00+01:00")
        assert rows[summer]["slot"]["start"] == "2027-06-14T11:00:00+02:00"
        assert datetime.fromisoformat(rows[summer]["start"]) == datetime.fromisoformat(
            slot("2027-06-14", "09:00")["start"])
        for key in ("requested_at", "confirmed_at", "updated_at"):
            assert offset(rows[winter][key]) == "+01:00", (key, rows[winter][key])
        # The calendar and the queue render the same rows the same way
        calendar = api.get("/v1/calendar?from=2027-06-14&to=2027-06-14",
                           headers=token()).get_json()["items"]
        assert [i["start"] for i in calendar] == ["2027-06-14T11:00:00+02:00"]
        queue = api.get("/v1/queue", headers=token()).get_json()["items"]
        assert {i["id"]: i["slot"]["start"] for i in queue} == {
            summer: "2027-06-14T11:00:00+02:00"}
        # History: when, and the slot it set
        history = api.get(f"/v1/appointments/{winter}/history",
                          headers=token()).get_json()["items"]
        assert {offset(h["at"]) for h in history} == {"+01:00"}
        [made] = [c for c in history[-1]["changes"] if c["field"] == "slot"]
        assert made["after"]["start"] == "2026-11-23T10:00:00+01:00"
        # Availability: the moment asked about, given in UTC, answered in local time
        found = api.get("/v1/availability?at=2027-06-14T09:00:00Z&duration_minutes=30",
                        headers=token()).get_json()
        assert (found["at"], found["end"]) == ("2027-06-14T11:00:00+02:00",
                                               "2027-06-14T11:30:00+02:00")
        # An organisation in UTC still answers +00:00
        theirs = api.get("/v1/queue", headers=token(org="globex")).get_json()["items"]
        assert [(i["id"], i["slot"]["start"]) for i in theirs] == [
            (elsewhere, "2027-06-14T09:00:00+00:00")]
