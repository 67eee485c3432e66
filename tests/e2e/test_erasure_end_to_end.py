"""Issue 10 (erasure) end to end: the system as `make run` starts it. A client erased in
booking disappears from every service's answers (the relay, the broker and both
consumers in between), while the statistics stay."""
from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.conftest import Client, eventually

pytestmark = pytest.mark.e2e
ORG = "e2e-erasure"
ADA = ("Ada Byron", "ada.byron@example.com", "+441234567891")
STATISTICS = {"from": "2030-01-01", "to": "2030-12-31"}


def personal(answer: Any) -> list[str]:
    return [p for p in ADA if p in json.dumps(answer, ensure_ascii=False)]


def view(client: Client, path: str, position: int) -> Any:
    """The projections' answer once they applied `position` (504 until then: retried)."""
    def read() -> Any:
        answer = client.get("projections", path, params={"min_position": position})
        return answer.json() if answer.status_code == 200 else None
    return eventually(read, 60, what=f"{path} at position {position}")


def test_an_erased_client_is_gone_from_every_answer_and_the_statistics_stay(stack):
    manager = Client(stack, org=ORG)
    assert manager.patch("booking", "/v1/organisation", {
        "name": "Erasure Clinic", "email": "desk@erasure.example",
        "phone": "+41440000009"}).status_code == 200
    service = manager.post("booking", "/v1/services", {"name": "Consultation"}).json()
    client = manager.post("booking", "/v1/clients", {"name": ADA[0], "email": ADA[1],
                                                      "phone": ADA[2]}).json()["client"]["id"]
    answer = manager.post("booking", "/v1/appointments", {
        "service_id": service["service"]["id"], "client_id": client,
        "window": {"date": "2030-03-04", "part_of_day": "morning"}})
    assert answer.status_code == 201, answer.text
    appointment = answer.json()["appointment"]["id"]
    # Every service knows her: the views, and the messages sent to her
    assert ADA[0] in json.dumps(view(manager, "/v1/appointments", answer.json()["position"]))
    eventually(lambda: ADA[1] in json.dumps(manager.get(
        "notifier", "/v1/mailbox", params={"appointment_id": appointment}).json()),
        what="her messages in the mailbox")
    statistics = manager.get("projections", "/v1/statistics", params=STATISTICS).json()

    erased = manager.post("booking", f"/v1/clients/{client}/erase", {})
    assert erased.status_code == 200, erased.text
    position = erased.json()["position"]
    # Booking forgets her at once; the projections once they applied the erasure
    assert personal(manager.get("booking", f"/v1/appointments/{appointment}").json()) == []
    assert personal(manager.get("booking", f"/v1/appointments/{appointment}",
                                params={"version": 1}).json()) == []
    for path in ("/v1/appointments", "/v1/queue", f"/v1/appointments/{appointment}/history",
                 f"/v1/clients/{client}/appointments"):
        assert personal(view(manager, path, position)) == [], path
    assert manager.get("projections", "/v1/statistics", params=STATISTICS).json() == statistics
    # The notifier drops its copies once the erasure reached it
    eventually(lambda: personal(manager.get("notifier", "/v1/deliveries").json()) == []
               and personal(manager.get("notifier", "/v1/mailbox").json()) == [],
               what="the notifier forgot her")
    auditor = Client(stack, org=ORG, roles=("auditor",))
    assert personal(auditor.get("booking", "/v1/events", params={"after": 0}).json()) == []
