"""Optimistic concurrency on real PostgreSQL: commands that really start together.

The workflow authority here holds each status-change validation until both
commands have loaded their appointment, so neither can see the other's write.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from booking_http_support import Api, slot

from tests.doubles.booking import LocalWorkflow


class MeetingWorkflow(LocalWorkflow):
    """Holds each validation until `parties` commands have loaded their appointment,
    so concurrent commands really start from the same version."""

    def __init__(self, parties: int) -> None:
        super().__init__()
        self.barrier = threading.Barrier(parties, timeout=10)

    def validate(self, *args: Any, **kwargs: Any) -> Any:
        if args[2] is not None:   # only status changes of existing appointments wait
            self.barrier.wait()
        return super().validate(*args, **kwargs)


@pytest.fixture
def workflow() -> LocalWorkflow:
    return MeetingWorkflow(parties=2)


def test_two_agents_acting_at_once_exactly_one_wins(api, seed, booking):
    aid = api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                        "slot": slot(9)}).get_json()["appointment"]["id"]
    client = api.client.application

    def act(path: str, body: dict[str, Any]) -> Any:
        return Api(client.test_client(), subject=path).post(f"/v1/appointments/{aid}/{path}",
                                                            body)

    with ThreadPoolExecutor(2) as pool:
        confirm = pool.submit(act, "confirm", {})
        cancel = pool.submit(act, "cancel", {"reason": "Other"})
        answers = [confirm.result(), cancel.result()]
    assert sorted(r.status_code for r in answers) == [200, 409]
    loser = next(r for r in answers if r.status_code == 409)
    assert loser.get_json()["current_version"] == 2
    winner = next(r for r in answers if r.status_code == 200).get_json()["appointment"]
    assert api.get(f"/v1/appointments/{aid}").get_json()["appointment"] == winner


def test_one_agent_cannot_be_confirmed_twice_for_one_time_even_at_once(api, seed, booking):
    # Two requests for 09:00 (no agent yet, so neither holds it), confirmed with Dr Who at
    # the same moment by two agents: both pass the availability check, the database's
    # exclusion constraint decides.
    ids = [api.post("/v1/appointments", {"service_id": seed.service, "client_id": seed.client,
                                         "slot": slot(9, 60 - 15 * i)}
                    ).get_json()["appointment"]["id"] for i in range(2)]
    client = api.client.application

    def confirm(aid: str) -> Any:
        return Api(client.test_client()).post(f"/v1/appointments/{aid}/confirm",
                                              {"agent_id": seed.agent})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(confirm, ids))
    assert sorted(r.status_code for r in answers) == [200, 409]
    assert next(r for r in answers if r.status_code == 409).get_json()["title"] == \
        "Agent not available"
    statuses = sorted(api.get(f"/v1/appointments/{a}").get_json()["appointment"]["status"]
                      for a in ids)
    assert statuses == ["requested", "scheduled"]


def test_two_requests_for_one_slot_at_once_give_one_hold_and_one_refusal(api, seed, booking):
    client = api.client.application

    def ask(i: int) -> Any:
        return Api(client.test_client()).post("/v1/appointments", {
            "service_id": seed.service, "client_id": seed.client, "source": "widget",
            "slot": slot(9, 30 + 15 * i), "agent_id": seed.agent})

    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(ask, range(2)))
    assert sorted(r.status_code for r in answers) == [201, 409]
    refused = next(r for r in answers if r.status_code == 409)
    assert refused.get_json()["title"] == "Agent not available"
    held = next(r for r in answers if r.status_code == 201).get_json()["appointment"]
    assert held["hold_until"] and held["status"] == "requested"

