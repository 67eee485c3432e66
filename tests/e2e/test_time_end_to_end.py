"""Issue 11 end to end, with real waiting: the system started as `make run` starts it,
booking's timer worker (`booking-timers`) included: an appointment nobody marks
becomes no_show by itself also when the worker was down while it fell due. Reminders,
holds and the other timers with real waiting: test_realtime_end_to_end.py."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.e2e.conftest import Client, eventually

pytestmark = pytest.mark.e2e
ORG = "timekeeper-e2e"
SYSTEM = {"id": "system", "role": "system"}


def weekday_at(hour: int, days: int) -> dict[str, str]:
    """A 30-minute slot at `hour` UTC on the first weekday `days` days from now (or back)."""
    day = datetime.now(UTC).replace(hour=hour, minute=0, second=0, microsecond=0)
    day += timedelta(days=days)
    step = timedelta(days=1 if days >= 0 else -1)
    while day.weekday() >= 5:
        day += step
    return {"start": day.isoformat(), "end": (day + timedelta(minutes=30)).isoformat()}


def status_of(client: Client, aid: str) -> str:
    return str(client.get("booking", f"/v1/appointments/{aid}").json()["appointment"]["status"])


def test_time_moves_appointments_with_the_worker_process(stack):
    manager = Client(stack, org=ORG)
    r = manager.session.patch(stack.url("booking") + "/v1/organisation", timeout=10, json={
        "no_show_after_minutes": 0})
    assert r.status_code == 200, r.text
    service = manager.post("booking", "/v1/services", {"name": "Consultation"}).json()
    agent = manager.post("booking", "/v1/resources", {"name": "Dr Who", "kind": "agent"}).json()
    client = manager.post("booking", "/v1/clients", {"name": "Ada", "email": "ada@example.com"})
    ids = {"service_id": service["service"]["id"], "agent_id": agent["resource"]["id"],
           "client_id": client.json()["client"]["id"]}

    # The worker is down while a visit that already ended is booked: nothing is lost
    stack.kill("booking-timers")
    r = manager.post("booking", "/v1/appointments/for_client", {
        **ids, "slot": weekday_at(9, -2), "status": "scheduled"})
    assert r.status_code == 201, r.text
    missed = r.json()["appointment"]["id"]
    assert status_of(manager, missed) == "scheduled"
    stack.start_process("booking-timers")
    eventually(lambda: status_of(manager, missed) == "no_show", timeout=30,
               what="the automatic no-show after the worker's restart")
    trail = manager.session.get(stack.url("booking") + f"/v1/appointments/{missed}/audit",
                                timeout=10).json()["events"]
    assert [(e["action"], e["actor"], e["reason"]) for e in trail][-1] == (
        "no_show", SYSTEM, "automatic")
    assert [e["action"] for e in trail].count("no_show") == 1

