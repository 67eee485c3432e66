"""Requests: the widget's tentative ones of the morning, approving them (link an
existing client or save a new one first), and an automatic confirmation."""
from __future__ import annotations

from tests.e2e.clinic_day.clock import slot_at
from tests.e2e.clinic_day.expectations import Contact
from tests.e2e.clinic_day.stage import Day, with_id


# -- the widget's requests of the morning (tentative clients) ---------------------------
def widget_requests_arrive(day: Day) -> None:
    ids, planned = day.result.ids, day.planned
    # Someone who is in fact an existing client asks for a morning (Interworky, Kalix).
    tentative = Contact(day.anna.name, day.anna.email, day.anna.phone)
    day.request("window_linked_rescheduled_reassigned", day.widget, tentative, {
        "service_id": ids["consultation"], "source": "widget",
        "window": {"date": planned.isoformat(), "part_of_day": "morning"},
        "resource_ids": [ids["branch"]],
        "client": {"name": tentative.name, "email": tentative.email,
                   "phone": tentative.phone},
        "questionnaire": {"reason_for_visit": "back pain"}}, "requested", [day.branch])
    # A new client asks for an exact slot with Dr Brunner.
    day.request("slot_new_client_proposed_time", day.widget, day.ben, {
        "service_id": ids["consultation"], "source": "widget", "agent_id": ids["alice"],
        "resource_ids": [ids["branch"]], "slot": slot_at(planned, "10:00", 30),
        "client": {"name": day.ben.name, "email": day.ben.email,
                   "phone": day.ben.phone}}, "requested", [day.alice, day.branch])
    # Two more: one will be rejected, one stays open (tentative) at the end of the day.
    day.request("rejected", day.widget, day.cara, {
        "service_id": ids["consultation"], "source": "widget",
        "window": {"date": planned.isoformat(), "part_of_day": "afternoon"},
        "client": {"name": day.cara.name, "email": day.cara.email,
                   "phone": day.cara.phone}}, "requested", [])
    day.request("tentative_open", day.widget, day.dora, {
        "service_id": ids["consultation"], "source": "widget",
        "window": {"date": planned.isoformat(), "part_of_day": "evening"},
        "client": {"name": day.dora.name, "email": day.dora.email,
                   "phone": day.dora.phone}}, "requested", [])


# -- approving them (Kalix: link an existing client or save a new one first) ------------
def approve_widget_requests(day: Day) -> None:
    ids, planned, visits = day.result.ids, day.planned, day.result.visits
    linked = visits["window_linked_rescheduled_reassigned"]
    matches = day.api.get(day.desk, "booking",
                          f"/v1/appointments/{linked.id}/client_matches")["items"]
    day.check("client_matches suggests the existing client by email",
              [m["id"] for m in matches] == [ids["anna"]], f"[{ids['anna']}]",
              body=matches)
    not_yet = day.api.call(day.desk, "POST", "booking",
                           f"/v1/appointments/{linked.id}/confirm",
                           json={"slot": slot_at(planned, "09:00", 30)}, expect=None)
    day.refusal("approving before the client is linked is refused", not_yet, (409,),
                lambda b: "link" in str(b.get("detail", "")))
    day.act(linked, day.desk, "link_client", {"client_id": ids["anna"]}, "requested")
    linked.client = day.anna
    linked.resources = [day.alice, day.branch]
    day.act(linked, day.manager, "confirm", {
        "slot": slot_at(planned, "09:00", 30), "agent_id": ids["alice"],
        "message": "Dr Brunner will see you."}, "scheduled")

    new = visits["slot_new_client_proposed_time"]
    matches = day.api.get(day.desk, "booking", f"/v1/appointments/{new.id}/client_matches")
    day.check("a new client has no match", matches["items"] == [], "[]", body=matches)
    saved = day.act(new, day.desk, "save_tentative_client", {}, "requested")
    day.ben = with_id(day.ben, saved["client"]["id"])
    new.client = day.ben
    day.check("save_tentative_client links a new client",
              saved["client"]["tentative"] is False and bool(saved["client"]["id"]),
              "client.tentative false with an id", body=saved["client"])
    day.act(new, day.manager, "confirm", {"slot": slot_at(planned, "10:00", 30)}, "scheduled")


# -- automatic confirmation --------------------------------------------------------------
def automatic_confirmation(day: Day) -> None:
    ids = day.result.ids
    day.request("automatic_confirmation", day.desk, day.anna, {
        "service_id": ids["quick_check"], "client_id": ids["anna"], "source": "agent",
        "agent_id": ids["bob"], "resource_ids": [ids["branch"]],
        "slot": slot_at(day.planned, "11:00", 15)}, "scheduled", [day.bob, day.branch])
