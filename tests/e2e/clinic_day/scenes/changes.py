"""Changes to booked visits: reschedule, note and reassign; a request to reschedule
the client answers through the link; cancel and reject with reasons; one left open."""
from __future__ import annotations

from tests.e2e.clinic_day.clock import slot_at
from tests.e2e.clinic_day.stage import Day, same_slot


# -- reschedule (with a message), an internal note, a reassignment -----------------------
def reschedule_and_reassign(day: Day) -> None:
    visit, ids = day.result.visits["window_linked_rescheduled_reassigned"], day.result.ids
    day.act(visit, day.desk, "reschedule", {
        "slot": slot_at(day.planned, "09:30", 30),
        "message": "Dr Brunner is in surgery at 9; we moved you to 9:30."}, "scheduled")
    day.act(visit, day.desk, "notes", {"text": "Client mentioned a penicillin allergy."},
            "scheduled", action="add_note")
    agents = day.api.get(day.desk, "booking",
                         f"/v1/appointments/{visit.id}/available_agents")["items"]
    day.check("available agents at the slot list the other agent only",
              [a["id"] for a in agents] == [ids["bob"]], f"[{ids['bob']}]", body=agents)
    chosen = next(a["id"] for a in agents)
    visit.resources = [day.bob, day.branch]
    day.act(visit, day.desk, "reassign", {
        "agent_id": chosen, "message": "Dr Weber will see you instead."}, "scheduled")


# -- request_reschedule; the client proposes a time through the link; accept ------------
def client_proposes_a_time(day: Day) -> None:
    visit = day.result.visits["slot_new_client_proposed_time"]
    day.act(visit, day.desk, "request_reschedule", {
        "message": "Dr Brunner cannot make it at 10; please pick another time."},
        "reschedule_requested")
    link = day.client_link(visit, "propose_time", "reschedule_requested")
    page = day.api.call(None, "GET", "booking", link).json()
    day.check("the propose-time page says the link can be used",
              page.get("possible") is True and page.get("used") is False,
              "possible true, used false", body=page)
    proposal = slot_at(day.planned, "15:00", 30)
    day.client_act(visit, link, "propose_time", {
        "slot": proposal, "message": "Afternoon suits me better."}, "requested")
    again = day.api.call(None, "POST", "booking", link, json={
        "slot": slot_at(day.planned, "16:00", 30)}, expect=None)
    day.refusal("a used propose-time link is refused", again, (409,),
                lambda b: "used" in str(b.get("detail", "")))
    answer = day.act(visit, day.desk, "accept_suggestion",
                     {"message": "15:00 it is."}, "scheduled")
    day.check("the accepted proposal becomes the slot",
              same_slot(answer["slot"], proposal), str(proposal), body=answer["slot"])


# -- cancellation with a reason from the list; rejection with a mandatory reason ---------
def cancel_and_reject(day: Day) -> None:
    ids = day.result.ids
    visit = day.request("cancelled", day.desk, day.anna, {
        "service_id": ids["consultation"], "client_id": ids["anna"], "source": "phone",
        "agent_id": ids["alice"], "resource_ids": [ids["branch"]],
        "slot": slot_at(day.planned, "12:00", 30)}, "requested", [day.alice, day.branch])
    day.act(visit, day.desk, "confirm", {}, "scheduled")
    for what, body in (("without a reason", {"message": "Sorry"}),
                       ("with a reason not on the list", {"reason": "Rain"})):
        r = day.api.call(day.desk, "POST", "booking",
                         f"/v1/appointments/{visit.id}/cancel", json=body, expect=None)
        day.refusal(f"a cancellation {what} is refused", r, (422,),
                    lambda b: "reason" in (b.get("errors") or {}))
    day.act(visit, day.desk, "cancel", {
        "reason": "Doctor unavailable", "message": "Dr Brunner is ill today; call us."},
        "cancelled")

    visit = day.result.visits["rejected"]
    r = day.api.call(day.desk, "POST", "booking", f"/v1/appointments/{visit.id}/reject",
                     json={"message": "No"}, expect=None)
    day.refusal("a rejection without a reason is refused", r, (422,),
                lambda b: "reason" in (b.get("errors") or {}))
    day.act(visit, day.manager, "reject", {
        "reason": "Fully booked", "message": "We are fully booked this week."}, "rejected")


# -- left open: a request to reschedule nobody answered yet ----------------------------
def left_open(day: Day) -> None:
    ids = day.result.ids
    visit = day.request("reschedule_requested_open", day.desk, day.anna, {
        "service_id": ids["consultation"], "client_id": ids["anna"], "source": "phone",
        "agent_id": ids["alice"], "resource_ids": [ids["branch"]],
        "slot": slot_at(day.planned, "14:00", 30)}, "requested", [day.alice, day.branch])
    day.act(visit, day.desk, "confirm", {}, "scheduled")
    day.act(visit, day.desk, "request_reschedule", {
        "message": "Could you come another day?"}, "reschedule_requested")
