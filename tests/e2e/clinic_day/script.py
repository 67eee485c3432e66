"""The order of the scenes: the whole day, from opening to the end of the due visits."""
from __future__ import annotations

from datetime import datetime, timedelta

from tests.e2e.clinic_day.clock import sleep_until
from tests.e2e.clinic_day.expectations import DayResult
from tests.e2e.clinic_day.scenes.changes import (
    cancel_and_reject,
    client_proposes_a_time,
    left_open,
    reschedule_and_reassign,
)
from tests.e2e.clinic_day.scenes.custom_workflow import custom_workflow
from tests.e2e.clinic_day.scenes.due_visits import (
    attend_no_show_reopen,
    book_visits_that_fall_due,
    feedback,
)
from tests.e2e.clinic_day.scenes.requests_and_approvals import (
    approve_widget_requests,
    automatic_confirmation,
    widget_requests_arrive,
)
from tests.e2e.clinic_day.scenes.sunny_clinic import set_up_sunny_clinic
from tests.e2e.clinic_day.stage import Day


def play(day: Day) -> DayResult:
    set_up_sunny_clinic(day)
    widget_requests_arrive(day)
    book_visits_that_fall_due(day)
    automatic_confirmation(day)
    cancel_and_reject(day)
    custom_workflow(day)
    attend_no_show_reopen(day)        # waits until the due visits start
    approve_widget_requests(day)
    reschedule_and_reassign(day)
    client_proposes_a_time(day)
    left_open(day)
    feedback(day)
    # The day ends once the due visits are over (the client's view lists them as past).
    sleep_until(datetime.fromisoformat(day.due["end"]) + timedelta(milliseconds=500))
    result = day.result
    result.due_slot = day.due
    result.position = day.api.position
    result.contacts = {
        "sunny": day.sunny, "summit": day.summit, "anna": day.anna, "ben": day.ben,
        "cara": day.cara, "dora": day.dora, "emil": day.emil, "finn": day.finn,
        "alice": day.alice, "bob": day.bob, "branch": day.branch, "carl": day.carl}
    return result


def run_day(urls: dict[str, str], org: str, custom_org: str) -> DayResult:
    """Play the whole day against the system at `urls`; organisation A is `org`,
    organisation B (custom workflow) `custom_org`. Raises DayError when a step that
    the rest depends on fails."""
    return play(Day(urls, org, custom_org))
