"""Aggregates cached per process (application/cache.py): a command works on the latest
version whichever process saved it, a stale If-Match is still refused, a warm load
reads only the events it has not seen, and an erasure in another process is never
served from the cache."""
from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from booking_http_support import Api, slot

from services.booking import bootstrap
from services.booking.application.app import BookingApplication
from services.booking.entrypoints.http import create_app


@pytest.fixture
def other(fresh_db: str, monkeypatch: pytest.MonkeyPatch, clock: Any,
          booking: BookingApplication) -> Iterator[Api]:
    """A second booking process on the same database (an agent of acme)."""
    monkeypatch.setenv("BOOKING_DATABASE_URL", fresh_db)
    second = bootstrap.wire(bootstrap.Settings.from_env(clock=clock,
                                                        workflow=booking.workflow)).application
    yield Api(create_app(second).test_client())
    second.close()


def booked(api: Api, seed: Any, hour: int = 9, client: dict[str, Any] | None = None) -> str:
    body = {"service_id": seed.service, "source": "agent", "slot": slot(hour),
            "agent_id": seed.agent, **({"client": client} if client else {"client_id": seed.client})}
    r = api.post("/v1/appointments", body)
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["appointment"]["id"])


def test_a_change_by_another_process_is_seen_by_the_next_command(api, other, seed):
    aid = booked(api, seed)
    assert other.get(f"/v1/appointments/{aid}").get_json()["version"] == 1   # both warm
    # The other process confirms; this one's next command starts from that version
    confirmed = other.post(f"/v1/appointments/{aid}/confirm", {}).get_json()
    assert confirmed["version"] == 2
    moved = api.post(f"/v1/appointments/{aid}/reschedule", {"slot": slot(11)},
                     headers={"If-Match": '"2"'})
    assert moved.status_code == 200, moved.get_json()
    assert moved.get_json()["version"] == 3
    assert moved.get_json()["appointment"]["status"] == confirmed["appointment"]["status"]
    # ... and the other one sees this one's change in turn
    assert other.get(f"/v1/appointments/{aid}").get_json()["appointment"]["slot"] == slot(11)


def test_a_stale_if_match_is_still_refused_by_a_warm_process(api, other, seed):
    aid = booked(api, seed)
    assert api.get(f"/v1/appointments/{aid}").status_code == 200                  # warm
    assert other.post(f"/v1/appointments/{aid}/confirm", {}).status_code == 200   # version 2
    stale = api.post(f"/v1/appointments/{aid}/reschedule", {"slot": slot(11)},
                     headers={"If-Match": '"1"'})
    assert stale.status_code == 409, stale.get_json()
    assert other.get(f"/v1/appointments/{aid}").get_json()["appointment"]["slot"] == slot(9)


def test_a_warm_load_reads_only_the_events_it_has_not_seen(api, seed, booking, monkeypatch):
    aid = booked(api, seed)
    for n in range(5):
        assert api.post(f"/v1/appointments/{aid}/notes", {"text": f"note {n}"}).status_code == 200
    read: list[int] = []
    select = booking.recorder.select_events

    def counted(*args: Any, **kwargs: Any) -> Any:
        events = select(*args, **kwargs)
        read.append(len(events))
        return events

    monkeypatch.setattr(booking.recorder, "select_events", counted)
    assert api.get(f"/v1/appointments/{aid}").get_json()["version"] == 6
    assert sum(read) == 1   # the last note's event only, not the five before it
    read.clear()
    assert api.get(f"/v1/appointments/{aid}").get_json()["version"] == 6
    assert sum(read) == 0   # nothing new: not one event replayed


def test_an_erasure_in_another_process_is_not_served_from_a_warm_cache(api, other, manager,
                                                                       seed):
    aid = booked(api, seed)
    tentative = booked(api, seed, 13, {"name": "Grace Hopper", "email": "grace@example.com"})
    linked = api.post(f"/v1/appointments/{tentative}/link_client", {"client_id": seed.client})
    assert linked.status_code == 200, linked.get_json()
    # The other process holds both appointments and the client with their data in clear
    for path in (f"/v1/appointments/{aid}", f"/v1/appointments/{tentative}",
                 f"/v1/clients/{seed.client}"):
        assert "Ada Lovelace" in json.dumps(other.get(path).get_json()) or \
            "Grace Hopper" in json.dumps(other.get(path).get_json())
    assert manager.post(f"/v1/clients/{seed.client}/erase").status_code == 200
    for path in (f"/v1/appointments/{aid}", f"/v1/appointments/{tentative}",
                 f"/v1/clients/{seed.client}"):
        shown = json.dumps(other.get(path).get_json())
        assert "Ada" not in shown and "Grace" not in shown and "example.com" not in shown, shown
    # A command through the warm process answers erased too
    noted = other.post(f"/v1/appointments/{tentative}/notes", {"text": "called"})
    assert noted.status_code == 200
    assert "Grace" not in json.dumps(noted.get_json())
