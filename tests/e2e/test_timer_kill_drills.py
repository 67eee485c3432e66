"""Issue 11: "killing any process while timers are due loses none and fires none twice",
drilled on the system as `make run` starts it, with SIGKILL and the system clock.

- booking-timers is killed in the middle of a round: the first due no-shows are
  recorded, the next one's save is held on a row lock, and the round's claim is not
  committed. Started again, it records the rest, and none of them twice.
- workflow is killed, and booking-timers restarted without its cache of workflow
  definitions, while a no-show falls due: the timer fails and waits for its retry;
  workflow back, the no-show is recorded once.
- notifier-consumer (whose timer thread turns due reminders into messages) is killed
  as the first of several staggered reminders reaches the mailbox. Started again, every
  reminder is in the mailbox once per channel.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from typing import Any

import psycopg
import pytest
import requests

from tests.e2e.conftest import eventually
from tests.e2e.timed_clinic import Clinic, due, now, reminded_in, slot, zone

pytestmark = pytest.mark.e2e


def no_shows(clinic: Clinic, aid: str) -> int:
    return [e["action"] for e in clinic.audit(aid)].count("no_show")


def test_booking_timers_killed_mid_round_records_each_no_show_once(stack):
    clinic = Clinic(stack, zone())
    url = stack.env()["BOOKING_DATABASE_URL"]
    stack.kill("booking-timers")
    try:
        # Five visits that ended 45 to 13 minutes ago, nobody marked: all due, in order
        people = clinic.people()
        visits = []
        for i in range(5):
            at = slot(now() - timedelta(minutes=50 - 8 * i), minutes=5)
            r = clinic.http.post("booking", "/v1/appointments/for_client", {
                **people, "slot": at, "status": "scheduled"})
            assert r.status_code == 201, r.text
            visits.append(r.json()["appointment"]["id"])
        with psycopg.connect(url) as blocker, psycopg.connect(url, autocommit=True) as look:
            # The third one's calendar row is locked: its no-show waits inside its save
            blocker.execute("SELECT 1 FROM booking_agent_calendar WHERE appointment_id = %s "
                            "FOR UPDATE", (visits[2],))
            me = blocker.info.backend_pid

            def waiting_on_me() -> bool:
                row = look.execute("SELECT count(*) FROM pg_stat_activity "
                                   "WHERE %s = ANY(pg_blocking_pids(pid))", (me,)).fetchone()
                return bool(row and row[0])
            stack.start_process("booking-timers")
            eventually(waiting_on_me, 60, "the worker's round held on the third no-show",
                       interval=0.02)
            stack.kill("booking-timers")           # SIGKILL, mid-round
            blocker.rollback()
        # At the kill: the first two recorded, the rest not, and every timer still planned
        # (the round's claim died with the process)
        assert [no_shows(clinic, a) for a in visits] == [1, 1, 0, 0, 0]
        with psycopg.connect(url) as conn:
            keys = {k for (k,) in conn.execute(
                "SELECT key FROM booking_timers WHERE key = ANY(%s)",
                ([f"no_show:{a}" for a in visits],)).fetchall()}
        assert keys == {f"no_show:{a}" for a in visits}
    finally:
        stack.start_process("booking-timers")
    eventually(lambda: all(clinic.appointment(a)["status"] == "no_show" for a in visits), 60,
               "every no-show after the restart")
    assert [no_shows(clinic, a) for a in visits] == [1] * 5
    with psycopg.connect(url) as conn:
        eventually(lambda: conn.execute(
            "SELECT count(*) FROM booking_timers WHERE key = ANY(%s)",
            ([f"no_show:{a}" for a in visits],)).fetchone() == (0,), 30, "the timers done")


def test_workflow_killed_while_a_no_show_falls_due_delays_it_and_loses_nothing(stack):
    clinic = Clinic(stack, zone())
    url = stack.env()["BOOKING_DATABASE_URL"]
    ended = {"start": slot(now() - timedelta(minutes=30))["start"],
             "end": (now() + timedelta(seconds=5)).replace(microsecond=0).isoformat()}
    visit = clinic.scheduled(ended)
    key = f"no_show:{visit}"

    def failures() -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT attempts FROM booking_timers WHERE key = %s",
                               (key,)).fetchone()
        return row[0] if row else 0
    try:
        stack.kill("workflow")
        stack.kill("booking-timers")               # started again: nothing cached
        stack.start_process("booking-timers")
        eventually(lambda: failures() >= 2, 60, "the due no-show failing while workflow is away")
        assert clinic.appointment(visit)["status"] == "scheduled"
    finally:
        stack.start_process("workflow")
    def workflow_up() -> bool:
        try:
            return clinic.http.get("workflow", "/healthz").ok
        except requests.RequestException:
            return False
    eventually(workflow_up, 60, "workflow back")
    eventually(lambda: clinic.appointment(visit)["status"] == "no_show", 90,
               "the no-show at the timer's next retry")
    assert no_shows(clinic, visit) == 1
    last = clinic.audit(visit)[-1]
    assert (last["actor"]["role"], last["reason"]) == ("system", "automatic")


def test_notifier_killed_while_reminders_fall_due_sends_each_once(stack):
    clinic = Clinic(stack, zone())
    # Six booked appointments whose reminders fall due two seconds apart, from 25 s on
    visits = {clinic.scheduled(reminded_in(25 + 2 * i)): i for i in range(6)}
    eventually(lambda: all(clinic.planned(a) for a in visits), 20, "the reminders planned")

    def in_mailbox() -> list[dict[str, Any]]:
        mail = clinic.http.get("notifier", "/v1/mailbox", params={"limit": 200}).json()["items"]
        return [m for m in mail if m["appointment_id"] in visits
                and (m["subject"].startswith("Reminder:") or "reminder, your" in m["body_text"])]
    try:
        eventually(in_mailbox, 90, "the first reminder", interval=0.05)
        stack.kill("notifier-consumer")            # SIGKILL while the others fall due
        at_kill = len(in_mailbox())
    finally:
        stack.start_process("notifier-consumer")
    assert at_kill < 2 * len(visits), "the kill came after every reminder: no drill"

    def settled() -> bool:
        """Every reminder fired (none planned) and its deliveries sent: none can follow."""
        for aid in visits:
            rows = clinic.http.get("notifier", "/v1/deliveries",
                                   params={"appointment_id": aid}).json()["items"]
            if clinic.planned(aid) or any(d["kind"] == "reminder" and d["state"] != "sent"
                                          for d in rows):
                return False
        return len(in_mailbox()) >= 2 * len(visits)
    eventually(settled, 90, "every reminder fired and sent")
    mail = in_mailbox()
    sent = Counter((m["appointment_id"], m["channel"]) for m in mail)
    assert sent == Counter({(a, c): 1 for a in visits for c in ("email", "sms")}), sent
    for aid in visits:
        rows = clinic.http.get("notifier", "/v1/deliveries", params={"appointment_id": aid})
        assert sorted(d["channel"] for d in rows.json()["items"] if d["kind"] == "reminder") == [
            "email", "sms"]
    # and none before its time
    starts = {aid: clinic.appointment(aid)["slot"] for aid in visits}
    assert all(datetime.fromisoformat(m["created_at"]) >= due(starts[m["appointment_id"]])
               for m in mail)
