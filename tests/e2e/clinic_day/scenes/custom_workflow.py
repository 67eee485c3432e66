"""Organisation B: a five-step custom workflow (Calenso's example), one request
moved through it to "Confirmed", another straight to "Declined"."""
from __future__ import annotations

from tests.e2e.clinic_day.clock import TIMEZONE, slot_at
from tests.e2e.clinic_day.expectations import (
    CUSTOM_CANCEL_REASONS,
    CUSTOM_STATUSES,
    EVERY_DAY,
    NO_REMINDERS,
)
from tests.e2e.clinic_day.stage import Day, with_id


# -- organisation B: a five-step custom workflow -------------------------------------------
def custom_workflow(day: Day) -> None:
    ids, planned = day.result.ids, day.planned
    day.api.call(day.b_manager, "PATCH", "booking", "/v1/organisation", json={
        "name": day.summit.name, "timezone": TIMEZONE, "email": day.summit.email,
        "phone": day.summit.phone, "cancellation_reasons": CUSTOM_CANCEL_REASONS,
        "reminders": NO_REMINDERS})   # as organisation A (scenes/sunny_clinic.py)
    wf = day.api.call(day.b_manager, "POST", "workflow", "/v1/workflows", json={
        "name": "Management approval", "statuses": CUSTOM_STATUSES}, expect=(201,)).json()
    ids["workflow"] = wf["id"]
    published = day.api.call(day.b_manager, "POST", "workflow",
                             f"/v1/workflows/{wf['id']}/publish", expect=(201,)).json()
    day.check("the workflow is published as version 1", published["version"] == 1, "1",
              body=published)
    ids["b_service"] = day.register(day.b_manager, "services", "service", {
        "name": "Management consultation", "duration_minutes": 60,
        "confirmation_mode": "manual", "workflow_id": wf["id"]})
    ids["carl"] = day.register(day.b_manager, "resources", "resource", {
        "name": day.carl.name, "kind": "agent", "email": day.carl.email,
        "phone": day.carl.phone, "working_hours": EVERY_DAY})
    day.carl = with_id(day.carl, ids["carl"])
    ids["emil"] = day.register(day.b_desk, "clients", "client", {
        "name": day.emil.name, "email": day.emil.email, "phone": day.emil.phone})
    day.emil = with_id(day.emil, ids["emil"])

    visit = day.request("custom_confirmed", day.b_desk, day.emil, {
        "service_id": ids["b_service"], "client_id": ids["emil"], "source": "phone",
        "agent_id": ids["carl"], "slot": slot_at(planned, "10:00", 60)},
        "request_received", [day.carl], org=day.summit)
    day.check("a new request enters the start status of the published version",
              visit.snapshot["workflow"] == {"id": wf["id"], "version": 1},
              f"workflow {wf['id']} v1", body=visit.snapshot["workflow"])
    day.act(visit, day.b_desk, "move", {
        "status": "consultation", "message": "We are discussing your request."},
        "consultation")
    day.act(visit, day.b_desk, "move", {"status": "approved"}, "approved")
    back = day.api.call(day.b_desk, "POST", "booking", f"/v1/appointments/{visit.id}/move",
                        json={"status": "consultation"}, expect=None)
    day.refusal("a backwards move is refused, naming the allowed actions", back, (409,),
                lambda b: "move" in (b.get("allowed_actions") or []))
    day.act(visit, day.b_desk, "move", {"status": "resources_checked"}, "resources_checked")
    day.act(visit, day.b_manager, "move", {
        "status": "confirmed", "message": "Management approved; see you then."}, "confirmed")

    visit = day.request("custom_declined", day.b_widget, day.finn, {
        "service_id": ids["b_service"], "source": "widget",
        "window": {"date": planned.isoformat(), "part_of_day": "afternoon"},
        "client": {"name": day.finn.name, "email": day.finn.email,
                   "phone": day.finn.phone}}, "request_received", [], org=day.summit)
    r = day.api.call(day.b_desk, "POST", "booking", f"/v1/appointments/{visit.id}/move",
                     json={"status": "declined"}, expect=None)
    day.refusal("a move to a cancellation status without a reason is refused", r, (422,),
                lambda b: "reason" in (b.get("errors") or {}))
    day.act(visit, day.b_manager, "move", {
        "status": "declined", "reason": "Requirements not met",
        "message": "Management could not approve this request."}, "declined")
