"""A scripted day at a clinic (tests/e2e/clinic_day/), played against the whole
system started as `make run` starts it, then checked from every side: booking's
statuses, the read models (consistent reads at booking's last position), the
messages in the development mailbox, the signed client links, and a rebuild of
every read model from Kafka and from booking's event store without drift."""
from __future__ import annotations

import statistics
import subprocess
import sys
import uuid
from collections import Counter
from datetime import datetime
from typing import Any

import pytest

from deploy.stack import ROOT
from tests.e2e.clinic_day import (
    CANCEL_REASONS,
    KINDS,
    LINK,
    TZ,
    Actor,
    Api,
    DayResult,
    Visit,
    link_token,
    run_day,
    slot_at,
)
from tests.e2e.conftest import eventually

pytestmark = pytest.mark.e2e
UNCONFIRMED = ("start", "step")
AFTER_CONFIRMATION_STEPS = ("reopened", "feedback_pending")   # steps that are not requests


@pytest.fixture(scope="module")
def urls(stack) -> dict[str, str]:
    return {s: stack.url(s) for s in ("booking", "workflow", "notifier", "projections")}


@pytest.fixture(scope="module")
def day(urls) -> DayResult:
    suffix = uuid.uuid4().hex[:8]
    return run_day(urls, f"sunny-clinic-{suffix}", f"summit-health-{suffix}")


@pytest.fixture(scope="module")
def api(urls) -> Api:
    return Api(urls)


def reader(day: DayResult, org: str | None = None) -> Actor:
    return Actor(org or day.org, "maria.manager", ("manager",))


def fresh(day: DayResult, **params: Any) -> dict[str, Any]:
    """Query parameters of a consistent read: at booking's last position."""
    return {"min_position": day.position, **params}


def ids(items: list[dict[str, Any]]) -> Counter[str]:
    return Counter(item["id"] for item in items)


def visits_where(day: DayResult, rule: Any, org: str | None = None) -> Counter[str]:
    return Counter(v.id for v in day.of(org or day.org) if rule(v))


def is_request(v: Visit) -> bool:
    return v.kind in UNCONFIRMED and v.status not in AFTER_CONFIRMATION_STEPS


# -- what happened on the way ------------------------------------------------------------------

def test_every_rule_met_on_the_way_held(day):
    failed = [(c.name, c.status, c.body) for c in day.checks if not c.passed]
    assert not failed
    assert len(day.checks) >= 15
    # The client's links were the ones the notifier put into the client's messages.
    assert day.link_sources == {"propose_time": "mailbox", "submit_feedback": "mailbox"}


def test_booking_holds_every_appointment_in_its_expected_status(day, api):
    assert len(day.visits) == 12
    for visit in day.visits.values():
        body = api.get(reader(day, visit.organisation), "booking",
                       f"/v1/appointments/{visit.id}")
        a = body["appointment"]
        assert (visit.name, a["status"], a["status_kind"]) == \
            (visit.name, visit.status, KINDS[visit.status])
        assert "notes" not in a   # internal notes never travel with the snapshot
    custom = day.visits["custom_confirmed"]
    notes = api.get(reader(day), "booking",
                    f"/v1/appointments/{day.visits['window_linked_rescheduled_reassigned'].id}"
                    "/notes")["items"]
    assert [n["text"] for n in notes] == ["Client mentioned a penicillin allergy."]
    assert custom.snapshot["workflow"] == {"id": day.ids["workflow"], "version": 1}


# -- the read models ----------------------------------------------------------------------------

def test_the_queue_holds_exactly_the_unconfirmed_ones(day, api):
    for org in (day.org, day.custom_org):
        who = reader(day, org)
        queue = api.get(who, "projections", "/v1/queue", **fresh(day, limit=200))
        assert ids(queue["items"]) == visits_where(day, is_request, org)
        everything = api.get(who, "projections", "/v1/queue",
                             **fresh(day, limit=200, include_confirmed="true"))
        assert ids(everything["items"]) == visits_where(
            day, lambda v: is_request(v) or v.kind == "confirmation", org)
    assert set(visits_where(day, is_request)) == {day.visits["tentative_open"].id,
                                                  day.visits["reschedule_requested_open"].id}


def test_the_calendar_flags_requests_and_leaves_out_cancelled_rejected_and_no_show(day, api):
    who = reader(day)
    calendar = api.get(who, "projections", "/v1/calendar",
                       **fresh(day, **{"from": day.today.isoformat(),
                                       "to": day.day.isoformat()}))
    assert calendar["next_cursor"] is None
    shown = {item["id"]: item for item in calendar["items"]}
    expected = visits_where(day, lambda v: v.kind != "cancellation" and v.status != "no_show")
    assert Counter(shown.keys()) == expected
    for name in ("cancelled", "rejected", "no_show"):
        assert day.visits[name].id not in shown
    for visit in day.of(day.org):
        if visit.id in shown:
            item = shown[visit.id]
            assert (visit.name, item["status"], item["requested"], item["tentative"]) == \
                (visit.name, visit.status, is_request(visit), visit.client.id is None)
    # The window request sits at its part of day (evening, 17:00-21:00 local).
    evening = shown[day.visits["tentative_open"].id]
    assert datetime.fromisoformat(evening["start"]).astimezone(TZ).hour == 17
    # The reassigned visit left Dr Brunner's calendar for Dr Weber's.
    moved = day.visits["window_linked_rescheduled_reassigned"].id
    for agent, present in (("alice", False), ("bob", True)):
        mine = api.get(who, "projections", "/v1/calendar", **fresh(
            day, **{"from": day.day.isoformat(), "to": day.day.isoformat(),
                    "agent_id": day.ids[agent]}))
        assert (moved in ids(mine["items"])) is present


def test_each_history_lists_its_statuses_newest_first_with_actor_reason_and_message(day, api):
    for visit in day.visits.values():
        history = api.get(reader(day, visit.organisation), "projections",
                          f"/v1/appointments/{visit.id}/history", **fresh(day))["items"]
        got = [{k: h[k] for k in ("action", "to_status", "actor", "reason", "message")}
               for h in history]
        assert (visit.name, got) == (visit.name, list(reversed(visit.history)))
        assert [h["version"] for h in history] == sorted((h["version"] for h in history),
                                                         reverse=True)
        assert [h["at"] for h in history] == sorted((h["at"] for h in history), reverse=True)
        workflow = ({"id": day.ids["workflow"], "version": 1}
                    if visit.organisation == day.custom_org else {"id": "builtin", "version": 1})
        assert all(h["workflow"] == workflow for h in history)
    cancelled = api.get(reader(day), "projections",
                        f"/v1/appointments/{day.visits['cancelled'].id}/history",
                        **fresh(day))["items"][0]
    assert cancelled["reason"] in CANCEL_REASONS and cancelled["message"]


def test_the_existing_client_sees_current_and_past_appointments(day, api):
    anna = day.ids["anna"]
    view = api.get(reader(day), "projections", f"/v1/clients/{anna}/appointments", **fresh(day))
    hers = {v.id: v for v in day.of(day.org) if v.client.id == anna}
    names = {v.name for v in hers.values()}
    assert names == {"window_linked_rescheduled_reassigned", "automatic_confirmation",
                     "cancelled", "reschedule_requested_open", "attended_with_feedback",
                     "no_show_reopened_attended", "no_show"}
    due = {day.visits[n].id for n in ("attended_with_feedback", "no_show_reopened_attended",
                                      "no_show")}
    assert Counter(i["id"] for i in view["past"]) == Counter(due)
    assert Counter(i["id"] for i in view["current"]) == Counter(set(hers) - due)
    assert view["retention_days"] == 365
    for item in view["current"] + view["past"]:
        assert item["status"] == hers[item["id"]].status
        assert item["service"]["name"] and item["start"]
    starts = [datetime.fromisoformat(i["start"]) for i in view["current"]]  # instants, not text
    assert starts == sorted(starts)


def test_availability_at_a_slot_excludes_the_busy_agent(day, api):
    at = datetime.fromisoformat(slot_at(day.day, "11:00", 15)["start"]).isoformat()
    found = api.get(reader(day), "projections", "/v1/availability",
                    **fresh(day, at=at, duration_minutes=15))
    agents = {r["id"]: r for r in found["resources"]}
    assert set(agents) == {day.ids["alice"], day.ids["bob"]}
    bob, alice = agents[day.ids["bob"]], agents[day.ids["alice"]]
    assert bob["available"] is False
    assert bob["busy_with"] == [day.visits["automatic_confirmation"].id]
    assert alice["available"] is True and alice["within_working_hours"] is True


def test_statistics_count_statuses_no_shows_and_time_to_confirm(day, api):
    stats = api.get(reader(day), "projections", "/v1/statistics", **fresh(day))["overall"]
    mine = day.of(day.org)
    assert stats["total"] == len(mine) == 10
    assert stats["by_status"] == dict(Counter(v.status for v in mine))
    assert stats["by_outcome"] == {"open": 5, "attended": 2, "no_show": 1, "cancelled": 1,
                                   "late_cancellation": 0, "rejected": 1}
    assert stats["by_completion_reason"] == {"Short consultation": 1, "Treatment completed": 1}
    assert stats["no_show_rate"] == round(1 / 3, 4)
    # Request -> confirmation: what booking recorded for each confirmed appointment.
    waits = []
    for visit in mine:
        a = api.get(reader(day), "booking", f"/v1/appointments/{visit.id}")["appointment"]
        if a["confirmed_at"]:
            waits.append((datetime.fromisoformat(a["confirmed_at"])
                          - datetime.fromisoformat(a["requested_at"])).total_seconds())
    timing = stats["request_to_confirmation"]
    assert timing["count"] == len(waits) == 8
    assert timing["mean_seconds"] == pytest.approx(statistics.fmean(waits), abs=0.1)
    assert timing["median_seconds"] == pytest.approx(statistics.median(waits), abs=0.1)
    assert timing["mean_seconds"] > 1   # the widget's requests were approved seconds later


# -- the messages ------------------------------------------------------------------------------

def messages_of(api: Api, day: DayResult, visit: Visit) -> list[dict[str, Any]]:
    """The visit's mailbox messages, each with its delivery (event, recipient kind)."""
    who = reader(day, visit.organisation)
    deliveries = {d["id"]: d for d in api.get(who, "notifier", "/v1/deliveries",
                                               appointment_id=visit.id, limit=1000)["items"]}
    mails = api.get(who, "notifier", "/v1/mailbox", appointment_id=visit.id, limit=1000)["items"]
    return [m | {"delivery": deliveries.get(m["delivery_id"])} for m in mails]


@pytest.fixture(scope="module")
def mailbox(day, api) -> dict[str, list[dict[str, Any]]]:
    """Every visit's messages once the notifier has drained."""
    def drained() -> dict[str, list[dict[str, Any]]] | None:
        found = {name: messages_of(api, day, v) for name, v in day.visits.items()}
        done = all(len(found[n]) >= v.notifications and all(m["delivery"] for m in found[n])
                   for n, v in day.visits.items())
        return found if done else None
    eventually(drained, timeout=60, interval=0.5)
    return eventually(drained, timeout=5)


def test_every_status_change_told_client_and_organisation_once_by_email_and_sms(day, mailbox):
    for name, visit in day.visits.items():
        got = Counter((m["delivery"]["event_type"], m["channel"], m["recipient"])
                      for m in mailbox[name])
        assert (name, got) == (name, visit.messages)
        once = Counter((m["delivery"]["event_id"], m["channel"], m["recipient"])
                       for m in mailbox[name])
        assert max(once.values()) == 1, f"{name}: duplicated messages"
        # Per status change: email and SMS to the client and to the organisation.
        by_event = Counter((m["delivery"]["event_id"], m["delivery"]["recipient_kind"])
                           for m in mailbox[name])
        for (event_id, kind), n in by_event.items():
            if kind in ("client", "organisation"):
                assert n == 2, f"{name}: {n} messages to the {kind} for event {event_id}"
        events = {m["delivery"]["event_id"] for m in mailbox[name]}
        # Every change is in the history; all but notes and client links notify
        assert len(events) == sum(h["action"] not in ("note_added", "client_linked")
                                  for h in visit.history)
    assert sum(v.notifications for v in day.visits.values()) == 181


def test_confirmations_reached_the_booked_agent_and_branch(day, mailbox):
    branch = day.contacts["branch"]
    for name, event, agent in (
            ("window_linked_rescheduled_reassigned", "confirmed", "alice"),
            ("automatic_confirmation", "requested", "bob"),
            ("custom_confirmed", "moved_to_status", "carl")):
        booked = Counter((m["channel"], m["recipient"]) for m in mailbox[name]
                         if m["delivery"]["event_type"] == f"appointment.{event}.v1"
                         and m["delivery"]["recipient_kind"] == "resource"
                         and m["delivery"]["template"] == "resource/booked")
        who = day.contacts[agent]
        expected = Counter({("email", who.email): 1, ("sms", who.phone): 1})
        if name != "custom_confirmed":
            expected[("email", branch.email)] = 1    # the branch has no phone
        assert (name, booked) == (name, expected)


def test_the_internal_note_told_nobody(day, mailbox, api):
    for name in ("window_linked_rescheduled_reassigned", "slot_new_client_proposed_time"):
        who = reader(day)
        deliveries = api.get(who, "notifier", "/v1/deliveries",
                             appointment_id=day.visits[name].id, limit=1000)["items"]
        types = {d["event_type"] for d in deliveries}
        assert "appointment.note_added.v1" not in types
        assert "appointment.client_linked.v1" not in types
    note = "penicillin"
    assert not any(note in m["body_text"] or note in m["body_html"]
                   for messages in mailbox.values() for m in messages)


def test_rejections_and_cancellations_carry_their_reason(day, mailbox):
    for name in ("cancelled", "rejected", "custom_declined"):
        visit = day.visits[name]
        [(event, reason)] = visit.reasons.items()
        told = [m for m in mailbox[name] if m["delivery"]["event_type"] == event]
        assert len(told) == 4
        assert all(reason in m["body_text"] for m in told), name
        client_email = [m for m in told if m["delivery"]["recipient_kind"] == "client"
                        and m["channel"] == "email"]
        assert client_email and visit.history[-1]["message"] in client_email[0]["body_text"]


def test_the_client_reads_the_message_of_reschedule_reassign_accept_cancel_and_confirm(
        day, mailbox):
    # DOMAIN.md: reschedule, reassign, cancel, accept (and confirmations, rejections,
    # requests to reschedule) carry the agent's message to the client, with links to
    # cancel or to propose another time where the appointment stays on.
    links_expected = {"rescheduled", "reassigned", "suggestion_accepted", "confirmed"}
    seen = set()
    for name, visit in day.visits.items():
        for event, status, message in visit.said:
            kind = event.split(".")[1]
            if status == "reopened" or (kind == "moved_to_status" and KINDS[status] == "step"):
                continue   # the client's templates do not show these (see the report)
            emails = [m for m in mailbox[name] if m["delivery"]["event_type"] == event
                      and m["delivery"]["recipient_kind"] == "client" and m["channel"] == "email"]
            assert any(message in m["body_text"] for m in emails), (name, event, message)
            if kind in links_expected:
                assert all("/v1/client_actions/cancel?token=" in m["body_text"]
                           and "/v1/client_actions/propose_time?token=" in m["body_text"]
                           for m in emails), (name, event)
            seen.add(kind)
    assert {"rescheduled", "reassigned", "suggestion_accepted", "cancelled", "rejected",
            "reschedule_requested", "confirmed", "moved_to_status"} <= seen


def test_feedback_request_carries_a_survey_link_and_the_answer_reaches_the_organisation(
        day, mailbox):
    messages = mailbox["attended_with_feedback"]
    asked = [m for m in messages
             if m["delivery"]["event_type"] == "appointment.feedback_requested.v1"
             and m["delivery"]["recipient_kind"] == "client"]
    assert {m["channel"] for m in asked} == {"email", "sms"}
    assert all("/v1/client_actions/submit_feedback?token=" in m["body_text"] for m in asked)
    answered = [m for m in messages
                if m["delivery"]["event_type"] == "appointment.feedback_submitted.v1"
                and m["delivery"]["recipient_kind"] == "organisation"]
    assert {m["channel"] for m in answered} == {"email", "sms"}
    assert all(m["delivery"]["template"] == "organisation/feedback_submitted" for m in answered)
    assert all("5/5" in m["body_text"] for m in answered)
    assert any("Kind staff, no waiting." in m["body_text"] for m in answered)


def test_every_delivery_was_sent_or_skipped_for_want_of_an_address(day, api, mailbox):
    for visit in day.visits.values():
        deliveries = api.get(reader(day, visit.organisation), "notifier", "/v1/deliveries",
                             appointment_id=visit.id, limit=1000)["items"]
        assert {d["state"] for d in deliveries} <= {"sent", "skipped"}
        skipped = [d for d in deliveries if d["state"] == "skipped"]
        # The branch has no phone number: its SMS is skipped, nobody else's.
        assert all(d["recipient"] is None and d["recipient_kind"] == "resource"
                   and d["channel"] == "sms" for d in skipped)


# -- the signed links ------------------------------------------------------------------------------

def test_a_used_link_is_refused_and_a_tampered_one_is_forbidden(day, api):
    survey = day.links["submit_feedback"]
    again = api.call(None, "POST", "booking", survey, json={"rating": 1}, expect=None)
    assert again.status_code == 409 and "already been used" in again.json()["detail"]
    page = api.call(None, "GET", "booking", survey, expect=None).json()
    assert page["used"] is True and page["possible"] is False

    token = link_token(survey)
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    base = survey.split("?")[0]
    for method in ("GET", "POST"):
        r = api.call(None, method, "booking", f"{base}?token={tampered}",
                     json={"rating": 5} if method == "POST" else None, expect=None)
        assert r.status_code == 403, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
    # A genuine link used for another action than its own is refused too.
    proposal = link_token(day.links["propose_time"])
    wrong = api.call(None, "POST", "booking", base.replace("submit_feedback", "cancel")
                     + f"?token={proposal}", json={"reason": "Client request"}, expect=None)
    assert wrong.status_code == 403
    unchanged = api.get(reader(day), "booking",
                        f"/v1/appointments/{day.visits['slot_new_client_proposed_time'].id}")
    assert unchanged["appointment"]["status"] == "scheduled"


def test_the_links_in_the_latest_message_of_an_open_appointment_can_be_used(day, api, mailbox):
    """Whatever link the client holds in the newest email of an appointment that is still
    open must work: DOMAIN.md promises "links to cancel or reschedule" after a
    confirmation, reschedule, reassignment or accepted suggestion."""
    dead = []
    for name, visit in day.visits.items():
        if visit.status not in ("requested", "reschedule_requested", "scheduled",
                                "request_received", "confirmed"):
            continue
        emails = [m for m in mailbox[name] if m["delivery"]["recipient_kind"] == "client"
                  and m["channel"] == "email"]
        latest = max(emails, key=lambda m: m["id"])
        found = LINK.findall(latest["body_text"])
        assert found, f"{name}: no link in {latest['subject']!r}"
        for action, token in found:
            page = api.call(None, "GET", "booking",
                            f"/v1/client_actions/{action}?token={token}").json()
            if page["possible"] is not True:
                dead.append((name, latest["delivery"]["event_type"], action, visit.status))
    assert not dead, f"links sent to clients that booking refuses: {dead}"


# -- rebuilding the read models from history ---------------------------------------------------------

@pytest.mark.parametrize("source", ["kafka", "store"])
def test_a_rebuild_of_every_read_model_finds_no_drift(stack, day, api, source):
    api.get(reader(day), "projections", "/v1/queue", **fresh(day))   # caught up
    done = subprocess.run(
        [sys.executable, "-m", "services.projections.entrypoints.rebuild", "--view", "all",
         "--from", source, "--check-drift"],
        env=stack.env(), cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no drift" in done.stdout + done.stderr
