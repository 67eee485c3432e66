"""Properties over random command sequences and random custom workflows.

1. No recorded status change is one the appointment's workflow version forbids.
2. Replaying the stored events rebuilds exactly the state the commands produced.
"""
from __future__ import annotations

import uuid
from copy import deepcopy
from datetime import timedelta
from typing import Any

from booking_unit_support import NOW, slot
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import tests.booking_commands as drive
from services.booking import bootstrap
from services.booking.application import commands as c
from services.booking.application.app import Caller
from services.booking.domain.appointment import Appointment
from services.booking.domain.transitions import DETAIL_ACTIONS, STATUS_ACTIONS
from shared import links
from shared.domain import lifecycle
from shared.errors import Problem
from tests.doubles.booking import FixedClock, LocalWorkflow

ACTIONS = list(STATUS_ACTIONS) + list(DETAIL_ACTIONS) + ["tick", "tick"]
REASONS = [None, "Other", "Fully booked", "not on any list"]
AGENT = {"id": "agent-7", "role": "agent"}


@st.composite
def custom_workflows(draw: st.DrawFn) -> list[dict[str, Any]]:
    """Publishable custom workflows: a start, steps, confirmations, cancellations anywhere."""
    kinds = ["start"] + ["step"] * draw(st.integers(0, 3)) \
        + ["confirmation"] * draw(st.integers(1, 2))
    cancellations = draw(st.integers(1, 2))
    ordered = sorted(draw(st.lists(st.integers(1, 99), min_size=len(kinds), max_size=len(kinds),
                                   unique=True)))
    cancel_positions = draw(st.lists(st.integers(1, 120), min_size=cancellations,
                                     max_size=cancellations, unique=True))
    positions = ordered + cancel_positions
    kinds += ["cancellation"] * cancellations
    statuses = [{"key": f"s{i}", "name": f"Status {i}", "kind": kind, "position": pos}
                for i, (kind, pos) in enumerate(zip(kinds, positions, strict=False))]
    assume(not lifecycle.validate_custom(statuses))   # e.g. a cancellation sharing a position
    return statuses


commands = st.lists(st.tuples(st.sampled_from(ACTIONS), st.integers(0, 2), st.integers(0, 2),
                              st.integers(0, 1), st.sampled_from(REASONS), st.integers(0, 8),
                              st.integers(0, 6)), min_size=1, max_size=25)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(custom=st.one_of(st.none(), custom_workflows()), steps=commands)
def test_random_commands_never_break_the_workflow_and_replay_identically(custom, steps):
    clock = FixedClock(NOW)
    workflow = LocalWorkflow()
    app = bootstrap.wire(bootstrap.Settings(memory=True, clock=clock, workflow=workflow)).application
    live: dict[uuid.UUID, Any] = {}
    save = app.save

    def remembering_save(*objs: Any, **kwargs: Any) -> Any:
        recordings = save(*objs, **kwargs)
        for obj in objs:
            live[obj.id] = deepcopy(obj)
        return recordings

    app.save = remembering_save  # type: ignore[method-assign]
    caller = Caller("acme", AGENT, "corr")
    d = workflow.publish("acme", custom) if custom else lifecycle.BUILTIN
    service = app.register(caller, "service", {"name": "S", "workflow_id": None if custom is None
                                               else d.id})["service"]["id"]
    agents = [app.register(caller, "resource", {"name": f"A{i}"})["resource"]["id"]
              for i in range(2)]
    client = app.register(caller, "client", {"name": "C", "email": "c@example.com"})["client"]["id"]
    keys = [s.key for s in d.statuses] + [s.key for s in lifecycle.TAIL]
    appointments: list[str] = []

    for action, which, slot_i, agent_i, reason, status_i, rating in steps:
        at = slot(9 + slot_i)
        try:
            if action == "tick":
                clock.advance(timedelta(hours=20))
            elif action in ("request", "create") or not appointments:
                if action == "create":
                    body = app.create_for_client(caller, c.CreateForClient(
                        service_id=service, client_id=client, slot=at, agent_id=agents[agent_i],
                        status=keys[status_i % len(keys)]))
                elif rating % 2:
                    body = app.request(caller, c.Request(service_id=service, client_id=client,
                                                         slot=at, agent_id=agents[agent_i],
                                                         source="agent"))
                else:
                    body = app.request(caller, c.Request(
                        service_id=service, slot=at, agent_id=agents[agent_i], source="agent",
                        tentative_client=c.TentativeClient("T", email="t@example.com")))
                appointments.append(body["appointment"]["id"])
            else:
                target = appointments[which % len(appointments)]
                run(app, caller, target, action, at, agents[agent_i], client, reason,
                    keys[status_i % len(keys)], rating)
        except Problem:
            pass   # a refusal is fine: what matters is what got recorded

    for appointment_id in appointments:
        aggregate_id = uuid.UUID(appointment_id)
        pinned = None
        for event in app.events.get(aggregate_id):
            change = event.change  # type: ignore[attr-defined]
            wf = change["workflow"]
            pinned = pinned or wf
            assert wf == pinned, "an appointment stays on the workflow version it started on"
            definition = workflow.definition("acme", wf["id"], wf["version"])
            if change["action"] in STATUS_ACTIONS:
                assert lifecycle.is_allowed(definition, change["from_status"], change["action"],
                                            change["to_status"]), change
                status = definition.status(change["to_status"])
                assert status is not None and status.kind == change["status_kind"]
            else:
                assert change["from_status"] == change["to_status"], change
        replayed: Any = app.repository.get(aggregate_id)
        assert isinstance(replayed, Appointment)
        assert replayed == live[aggregate_id]
        assert replayed.snapshot() == live[aggregate_id].snapshot()
    app.close()


def run(app: Any, caller: Caller, target: str, action: str, at: dict[str, Any], agent: str,
        client: str, reason: str | None, status: str, rating: int) -> None:
    if action in ("propose_time", "submit_feedback") or (action == "cancel" and rating == 0):
        claims = links.verify(links.sign(target, action), action)
        by_link: dict[str, dict[str, Any]] = {"propose_time": {"slot": at},
                                              "submit_feedback": {"rating": rating or 1},
                                              "cancel": {"reason": reason}}
        drive.by_link(app, claims, by_link[action])
        return
    bodies: dict[str, dict[str, Any]] = {
        "confirm": {"slot": at} if rating > 3 else {},
        "reschedule": {"slot": at}, "cancel": {"reason": reason}, "reject": {"reason": reason},
        "attend": {"time_taken_minutes": rating}, "move": {"status": status, "reason": reason},
        "reassign": {"agent_id": agent}, "add_note": {"text": "note"},
        "edit_note": {"note_id": "missing", "text": "x"}, "link_client": {"client_id": client},
        "update_details": {"metadata": {"n": rating}},
    }
    drive.act(app, caller, uuid.UUID(target), action, bodies.get(action, {}))
