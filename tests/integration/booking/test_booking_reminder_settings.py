"""Reminder settings: the organisation's (a default for every new organisation),
a service's override, their limits as 422s naming the field, and the events
that carry them to the notifier."""
from __future__ import annotations

from booking_http_support import Api

from services.booking.adapters.cloudevents import to_messages
from services.booking.application.app import BookingApplication

DEFAULT = {"offsets_minutes": [1440, 120], "channels": ["email", "sms"]}


def directory_events(booking: BookingApplication, kind: str) -> list[dict]:
    notifications = booking.notification_log.select(start=1, limit=1000)
    return [ce.data for _, _, ce in to_messages(booking, notifications)
            if ce.type.startswith(f"{kind}.")]


def test_an_organisation_reminds_24_and_2_hours_before_by_default_and_may_change_it(
        manager: Api, booking: BookingApplication):
    organisation = manager.get("/v1/organisation").get_json()["organisation"]
    assert organisation["reminders"] == DEFAULT

    chosen = {"offsets_minutes": [2880, 60, 15], "channels": ["sms"]}
    r = manager.patch("/v1/organisation", {"reminders": chosen})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["organisation"]["reminders"] == chosen
    assert manager.get("/v1/organisation").get_json()["organisation"]["reminders"] == chosen
    # The notifier hears of it on directory.events, like every other setting.
    [*_, last] = directory_events(booking, "organisation")
    assert last["change"]["fields"] == {"reminders": chosen}
    assert last["organisation"]["reminders"] == chosen
    # No reminders at all is a choice too.
    off: dict[str, list[int | str]] = {"offsets_minutes": [], "channels": []}
    assert manager.patch("/v1/organisation", {"reminders": off}).get_json()[
        "organisation"]["reminders"] == off


def test_a_service_overrides_the_organisations_reminders_or_follows_them(
        manager: Api, booking: BookingApplication):
    r = manager.post("/v1/services", {"name": "Surgery", "reminders": {
        "offsets_minutes": [10080], "channels": ["email"]}})
    assert r.status_code == 201, r.get_json()
    service = r.get_json()["service"]
    assert service["reminders"] == {"offsets_minutes": [10080], "channels": ["email"]}
    plain = manager.post("/v1/services", {"name": "Check-up"}).get_json()["service"]
    assert plain["reminders"] is None   # null: the organisation's

    r = manager.patch(f"/v1/services/{service['id']}", {"reminders": None})
    assert r.status_code == 200 and r.get_json()["service"]["reminders"] is None
    surgery = [e["service"] for e in directory_events(booking, "service")
               if e["service"]["id"] == service["id"]]
    assert [s["reminders"] for s in surgery] == [
        {"offsets_minutes": [10080], "channels": ["email"]}, None]


def test_reminder_settings_past_their_limits_are_422_naming_the_field(
        manager: Api, booking: BookingApplication):
    before = len(directory_events(booking, "organisation"))
    cases = [
        ({"offsets_minutes": [0], "channels": ["email"]}, "reminders.offsets_minutes"),
        ({"offsets_minutes": [43201], "channels": ["email"]}, "reminders.offsets_minutes"),
        ({"offsets_minutes": [1, 2, 3, 4, 5, 6], "channels": ["email"]},
         "reminders.offsets_minutes"),
        ({"offsets_minutes": [60, 60], "channels": ["email"]}, "reminders.offsets_minutes"),
        ({"offsets_minutes": ["60"], "channels": ["email"]}, "reminders.offsets_minutes"),
        ({"offsets_minutes": [60], "channels": ["fax"]}, "reminders.channels"),
        ({"offsets_minutes": [60], "channels": ["sms", "sms"]}, "reminders.channels"),
        ({"offsets_minutes": [60]}, "reminders.channels"),
        ({"offsets_minutes": [60], "channels": [], "extra": 1}, "reminders.extra"),
    ]
    for body, field in cases:
        for path, method in (("/v1/organisation", manager.patch),
                             ("/v1/services", manager.post)):
            r = method(path, {"name": "X", "reminders": body} if path == "/v1/services"
                       else {"reminders": body})
            problem = r.get_json()
            assert r.status_code == 422, (path, body, problem)
            assert r.content_type == "application/problem+json"
            assert any(k.startswith(field) for k in problem["errors"]), (path, body, problem)
    r = manager.patch("/v1/organisation", {"reminders": None})
    assert r.status_code == 422 and "reminders" in r.get_json()["errors"]
    assert len(directory_events(booking, "organisation")) == before
    assert directory_events(booking, "service") == []
