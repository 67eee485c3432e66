"""A screen builds its rows from one read: calendar, list, queue and client rows carry
the status's name, colour and kind and the client's contact, none of an erased
client's (real broker, real PostgreSQL, the query API)."""
from __future__ import annotations

from typing import Any

from services.projections.entrypoints.http import create_app
from tests.integration.projections.support import applied_count, publish, running, token, wait_until
from tests.unit.projections.factory import CUSTOM, Booking, slot

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture
CONTACT = {"email": "ada@example.com", "phone": "+441234567890"}


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in items}


def display(item: dict[str, Any]) -> tuple[str, str, str | None, str]:
    return item["status"], item["status_name"], item["status_colour"], item["status_kind"]


def test_every_row_shows_the_statuss_name_colour_kind_and_the_clients_contact(settings):
    b = Booking()
    scheduled = b.request(slot_=slot("2026-11-23", "09:00"), agent_id="agent-7").subject
    b.act(scheduled, "confirm")
    approved = b.request(slot_=slot("2026-11-23", "11:00"), workflow=CUSTOM,
                         client_id="client-2").subject
    b.act(approved, "move", "approved")
    erased = b.request(slot_=slot("2026-11-23", "13:00"), client_id="client-3").subject
    b.emit("client-3", "client.erased.v1", {
        "change": {"action": "erased", "appointment_ids": [erased]},
        "client": {"id": "client-3", "organisation_id": "acme", "name": "erased",
                   "email": None, "phone": None, "active": False, "erased": True}})

    with running(settings):
        publish(settings, b.events)
        wait_until(lambda: applied_count(settings) == len(b.events), what="all events applied")
        api = create_app(settings).test_client()
        for roles in (("agent",), ("auditor",)):
            headers = token(roles=roles)
            calendar = by_id(api.get("/v1/calendar?from=2026-11-23&to=2026-11-23",
                                     headers=headers).get_json()["items"])
            listed = by_id(api.get("/v1/appointments?date=2026-11-23",
                                   headers=headers).get_json()["items"])
            queue = by_id(api.get("/v1/queue", headers=headers).get_json()["items"])
            mine = api.get("/v1/clients/client-1/appointments", headers=headers).get_json()
            theirs = api.get("/v1/clients/client-3/appointments", headers=headers).get_json()

            for rows in (calendar, listed):
                assert display(rows[scheduled]) == ("scheduled", "Scheduled", "#1e88e5",
                                                    "confirmation")
                assert display(rows[approved]) == ("approved", "Approved by management",
                                                   "#7cb342", "step")
                assert rows[scheduled]["client"] == {"id": "client-1", "name": "Ada Lovelace",
                                                     **CONTACT}
                assert rows[erased]["client"] == {"id": "client-3", "name": "erased"}
            assert display(queue[approved]) == ("approved", "Approved by management", "#7cb342",
                                                "step")
            assert queue[approved]["client"] == {"id": "client-2", "name": "Ada Lovelace",
                                                 **CONTACT}
            assert queue[erased]["client"] == {"id": "client-3", "name": "erased"}
            assert display(mine["current"][0]) == ("scheduled", "Scheduled", "#1e88e5",
                                                   "confirmation")
            assert mine["current"][0]["client"]["email"] == CONTACT["email"]
            assert theirs["current"][0]["client"] == {"id": "client-3", "name": "erased"}
