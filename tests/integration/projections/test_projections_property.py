"""Property: for any history booking could write, the live views after
streaming it (one by one, per-subject order kept but subjects interleaved
differently, with random duplicates) equal the views rebuilt from scratch.
Runs at the apply-function + PostgreSQL level (no broker) to stay fast."""
from __future__ import annotations

from collections import defaultdict

import psycopg
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st
from psycopg import sql

from services.projections.adapters.schema import ALL_TABLES, LIVE, REBUILD, VIEW_TABLES
from services.projections.application.apply import apply_event
from services.projections.application.drift import compare
from services.projections.bootstrap import wire
from shared.domain import lifecycle
from shared.domain.lifecycle import BUILTIN
from tests.present import present
from tests.unit.projections.factory import CUSTOM, Booking, slot, window

DAYS = ["2026-11-23", "2026-11-24", "2026-11-25"]
HOURS = ["08:00", "09:00", "09:30", "14:00"]
AGENTS = ["agent-1", "agent-2", "agent-3"]
EXTRA = ["note_added", "reassigned", "details_updated"]

pytest_plugins = ["tests.integration.projections.fixtures"]  # the `settings` fixture


def a_slot(data: st.DataObject) -> dict[str, str]:
    return slot(data.draw(st.sampled_from(DAYS)), data.draw(st.sampled_from(HOURS)))


def history(data: st.DataObject) -> list:
    """A random history of a few appointments plus directory changes."""
    b = Booking()
    for agent in AGENTS[:2]:
        b.resource(agent)
    open_ids: list[str] = []
    for _ in range(data.draw(st.integers(3, 25), label="steps")):
        choice = data.draw(st.sampled_from(["new", "act", "act", "act", "directory"]))
        if choice == "new" or not open_ids:
            exact = data.draw(st.booleans())
            workflow = data.draw(st.sampled_from([BUILTIN, CUSTOM]))
            status = data.draw(st.sampled_from(
                [None] + lifecycle.targets(workflow, None, "create")))
            event = b.request(slot_=a_slot(data) if exact else None,
                              window=None if exact else window(data.draw(st.sampled_from(DAYS))),
                              tentative=data.draw(st.booleans()), workflow=workflow,
                              agent_id=data.draw(st.sampled_from([None] + AGENTS)),
                              action="create" if status else "request", status=status,
                              appointment_id=f"appt-{len(open_ids) + 1}")
            open_ids.append(event.subject)
        elif choice == "directory":
            if data.draw(st.booleans()):
                b.organisation_updated(retention_days=data.draw(st.sampled_from([None, 3, 365])))
            else:
                b.resource(data.draw(st.sampled_from(AGENTS)), active=data.draw(st.booleans()))
        else:
            act(b, data.draw(st.sampled_from(open_ids)), data)
    return b.events


def act(b: Booking, aid: str, data: st.DataObject) -> None:
    snap, definition = b.snapshots[aid], b.definitions[aid]
    actions = [a for a in lifecycle.allowed_actions(definition, snap["status"])
               if a != "accept_suggestion" or snap["proposal"]] + EXTRA
    action = data.draw(st.sampled_from(actions))
    fields: dict = {}
    if action in ("confirm", "reschedule") or (action == "create" and not snap["slot"]):
        fields["slot"] = a_slot(data)
    if action == "propose_time":
        fields["proposal"] = a_slot(data)
    if action == "reassigned":
        fields["agent_id"] = data.draw(st.sampled_from(AGENTS))
    if action == "submit_feedback":
        fields["feedback"] = {"rating": data.draw(st.integers(1, 5)), "comment": ""}
    if action == "attend" and data.draw(st.booleans()):
        fields["outcome"] = {"time_taken_minutes": 20, "completion_reason": "treated",
                             "remark": ""}
    if action == "details_updated":
        fields["metadata"] = {"crm": data.draw(st.integers(0, 9))}
    to = None
    if action in lifecycle.ACTIONS:
        to = data.draw(st.sampled_from(lifecycle.targets(definition, snap["status"], action)))
    b.act(aid, action, to, reason="because" if action in ("cancel", "reject") else None,
          **fields)


def delivery(events: list, data: st.DataObject) -> list:
    """Per-subject order kept, subjects interleaved at random, random duplicates."""
    queues: dict[str, list] = defaultdict(list)
    for e in events:
        queues[e.subject].append(e)
    out: list = []
    while any(queues.values()):
        subject = data.draw(st.sampled_from([s for s, q in queues.items() if q]))
        out.append(queues[subject].pop(0))
        if data.draw(st.integers(0, 4)) == 0:
            out.append(out[data.draw(st.integers(0, len(out) - 1))])  # redelivered
    return out


def test_streamed_views_equal_views_rebuilt_from_scratch(settings):
    pool = wire(settings).pool
    with pool.connection() as conn:
        conn.execute(REBUILD.ddl())

    @hsettings(max_examples=30, deadline=None, database=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])
    @given(st.data())
    def check(data: st.DataObject) -> None:
        with pool.connection() as conn:
            conn.execute(sql.SQL("TRUNCATE {}").format(sql.SQL(", ").join(
                [LIVE.t(t) for t in ALL_TABLES] + [REBUILD.t(t) for t in ALL_TABLES])))
        events = history(data)
        for event in delivery(events, data):   # the live consumer's experience
            apply_event(pool, LIVE, event)
        for event in events:                   # a rebuild: each event once, in order
            apply_event(pool, REBUILD, event)
        with pool.connection() as conn:
            report = compare(conn, REBUILD, VIEW_TABLES)
            assert report.differences == []
            assert report.compared["appointments"] == len(
                {e.subject for e in events if e.type.startswith("appointment.")})
            counts = present(conn.execute("SELECT count(*) FROM applied_events").fetchone())[0]
            assert counts == len(events)  # every event recorded once, duplicates not again

    check()
    assert isinstance(pool, object) and psycopg  # keep imports honest
