"""Visits that fall due during the day: booked to start in a few seconds, then
attended, no-show, reopened; and the feedback asked for afterwards."""
from __future__ import annotations

from datetime import datetime, timedelta

from tests.e2e.clinic_day.clock import due_slot, sleep_until
from tests.e2e.clinic_day.stage import Day


# -- visits that start in a few seconds (attended, no-show) ------------------------------
def book_visits_that_fall_due(day: Day) -> None:
    ids = day.result.ids
    day.due = due_slot()
    attended = day.request("attended_with_feedback", day.desk, day.anna, {
        "service_id": ids["consultation"], "client_id": ids["anna"], "source": "phone",
        "agent_id": ids["alice"], "resource_ids": [ids["branch"]], "slot": day.due},
        "requested", [day.alice, day.branch])
    day.act(attended, day.desk, "confirm", {"message": "See you in a moment."},
            "scheduled")
    early = day.api.call(day.desk, "POST", "booking",
                         f"/v1/appointments/{attended.id}/attend",
                         json={"time_taken_minutes": 20}, expect=None)
    day.refusal("attend before the start time is refused", early, (409, 422),
                lambda b: "due" in str(b.get("detail", "")).lower())
    for name, agent, resources in (
            ("no_show_reopened_attended", ids["bob"], [day.bob, day.branch]),
            ("no_show", None, [day.branch])):
        body = {"service_id": ids["consultation"], "client_id": ids["anna"],
                "slot": day.due, "status": "scheduled", "resource_ids": [ids["branch"]],
                "note": "Booked at the front desk", "message": "Booked for you today."}
        if agent:
            body["agent_id"] = agent
        day.create_for_client(name, body, resources)


# -- the due visits: attend with an outcome; no-show, reopen, attend; no-show ------------
def attend_no_show_reopen(day: Day) -> None:
    visits = day.result.visits
    sleep_until(datetime.fromisoformat(day.due["start"]) + timedelta(milliseconds=500))
    day.act(visits["attended_with_feedback"], day.desk, "attend", {
        "time_taken_minutes": 25, "completion_reason": "Treatment completed",
        "remark": "Follow-up in six weeks."}, "attended")
    visit = visits["no_show_reopened_attended"]
    day.act(visit, day.desk, "no_show", {}, "no_show")
    day.act(visit, day.desk, "reopen", {"message": "The client arrived late."},
            "reopened")
    day.act(visit, day.desk, "attend", {
        "time_taken_minutes": 10, "completion_reason": "Short consultation"}, "attended")
    day.act(visits["no_show"], day.desk, "no_show", {}, "no_show")


# -- feedback through the survey link ------------------------------------------------------
def feedback(day: Day) -> None:
    visit = day.result.visits["attended_with_feedback"]
    day.act(visit, day.desk, "request_feedback", {}, "feedback_pending")
    again = day.api.call(day.desk, "POST", "booking",
                         f"/v1/appointments/{visit.id}/request_feedback", json={},
                         expect=None)
    day.refusal("a second feedback request the same day is refused", again, (409,),
                lambda b: "requested_on" in b)
    link = day.client_link(visit, "submit_feedback", "feedback_requested")
    day.client_act(visit, link, "submit_feedback", {
        "rating": 5, "comment": "Kind staff, no waiting."}, "feedback_received")
