"""The complete history view: booking's own events (on PostgreSQL) reach the projections
through the broker, and the history shows every change with its values before and after,
exactly as booking's audit trail describes it; a rebuild gives the same view."""
from __future__ import annotations

import io
import os
from datetime import UTC, datetime, timedelta

from rich.console import Console

from services.booking import bootstrap
from services.booking.adapters.cloudevents import to_messages
from services.booking.entrypoints.http import create_app as booking_app
from services.projections.entrypoints import rebuild as command
from services.projections.entrypoints.http import create_app
from shared import auth, links
from tests.doubles.booking import FixedClock, LocalWorkflow
from tests.doubles.projections import ListSource
from tests.integration.projections.support import applied_count, publish, running, wait_until

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture
MONDAY_9 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _headers(roles: tuple[str, ...], org: str = "acme") -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.issue(org, list(roles), 'agent-7')}"}


def _booking_day(infra):
    """A few changes of one appointment in booking: its id and booking's messages."""
    clock = FixedClock(datetime(2026, 11, 20, 8, 0, tzinfo=UTC))
    app = bootstrap.wire(bootstrap.Settings(
        database_url=infra.database(f"t_full_history_booking_{os.getpid()}"), clock=clock,
        workflow=LocalWorkflow())).application
    web = booking_app(app).test_client()

    def post(path: str, body: dict, roles: tuple[str, ...] = ("manager",)) -> dict:
        clock.advance(timedelta(minutes=5))
        r = web.post(path, json=body, headers=_headers(roles))
        assert r.status_code in (200, 201), r.get_json()
        return r.get_json()

    service = post("/v1/services", {"name": "Consultation", "duration_minutes": 30})
    who = post("/v1/resources", {"name": "Dr Who", "kind": "agent"})["resource"]["id"]
    watson = post("/v1/resources", {"name": "Dr Watson", "kind": "agent"})["resource"]["id"]
    client = post("/v1/clients", {"name": "Ada Lovelace", "email": "ada@example.com"})
    slot = {"start": MONDAY_9.isoformat(), "end": (MONDAY_9 + timedelta(minutes=30)).isoformat()}
    aid = post("/v1/appointments", {"service_id": service["service"]["id"], "slot": slot,
                                    "client_id": client["client"]["id"]})["appointment"]["id"]
    a = f"/v1/appointments/{aid}"
    post(f"{a}/confirm", {"agent_id": who})
    post(f"{a}/reassign", {"agent_id": watson, "message": "Dr Watson will see you"})
    post(f"{a}/details", {"metadata": {"crm_id": "42"}, "questionnaire": {"allergies": "none"}})
    post(f"{a}/notes", {"text": "Prefers mornings"})
    token = links.sign(aid, "cancel")
    clock.advance(timedelta(minutes=5))
    assert web.post(f"/v1/client_actions/cancel?token={token}", json={}).status_code == 200
    audit = web.get(f"{a}/audit", headers=_headers(("auditor",))).get_json()["events"]
    messages = [ce for _, _, ce in to_messages(app, app.notifications(0, 1000))]
    app.close()
    return aid, audit, messages


def test_history_lists_every_change_with_before_and_after_as_booking_describes_it(
        settings, infra):
    aid, audit, events = _booking_day(infra)
    api = create_app(settings).test_client()
    with running(settings):
        publish(settings, events)
        wait_until(lambda: applied_count(settings) == len(events), what="every event applied")
    r = api.get(f"/v1/appointments/{aid}/history", headers=_headers(("auditor",)))
    assert r.status_code == 200, r.get_json()
    items = r.get_json()["items"]
    # Newest first, every change, not only status changes
    assert [i["action"] for i in items] == ["cancel", "note_added", "details_updated",
                                            "reassigned", "confirm", "request"]
    by = {i["action"]: {c["field"]: (c["before"], c["after"]) for c in i["changes"]}
          for i in items}
    assert by["reassigned"]["agent_id"][1] != by["reassigned"]["agent_id"][0] is not None
    assert [r["name"] for r in by["reassigned"]["resources"][0]] == ["Dr Who"]
    assert [r["name"] for r in by["reassigned"]["resources"][1]] == ["Dr Watson"]
    assert by["details_updated"] == {"questionnaire": ({}, {"allergies": "none"}),
                                     "metadata": ({}, {"crm_id": "42"})}
    assert by["note_added"]["note"][1]["text"] == "Prefers mornings"
    assert by["cancel"] == {"status": ("scheduled", "cancelled")}
    # The fields it always had stay, and the source says a client cancelled through a link
    cancel = items[0]
    assert (cancel["from_status"], cancel["to_status"], cancel["actor"]["role"],
            cancel["source"]) == ("scheduled", "cancelled", "client", "client_link")
    assert cancel["link_id"] and cancel["workflow"] == {"id": "builtin", "version": 1}
    # One description: the view says what booking's audit trail says, version by version
    assert [(i["version"], i["changes"]) for i in reversed(items)] == [
        (e["version"], e["changes"]) for e in audit]
    # Only staff roles read the history (and so the internal notes): the widget's token,
    # the nearest thing to a client's, gets nothing
    for outsider in ("widget", "service"):
        r = api.get(f"/v1/appointments/{aid}/history", headers=_headers((outsider,)))
        assert r.status_code == 403 and "Prefers" not in r.get_data(as_text=True)
    # A rebuild of the history view from the same events finds no drift
    console = Console(file=io.StringIO(), width=250)
    assert command.run(settings, "history", ListSource(events), True, console) == 0
    assert command.run(settings, "all", ListSource(events), True, console) == 0
