"""The transition rules the workflow service serves (shared.domain.lifecycle.targets),
checked against DOMAIN.md's action table for the built-in lifecycle and
against a five-step custom workflow (Calenso)."""
from __future__ import annotations

import itertools

import pytest

from shared.domain import lifecycle
from shared.domain.lifecycle import BUILTIN, Definition, Status, allowed_actions, targets

# DOMAIN.md, "Actions and their rules": (action, from) -> allowed targets.
BUILTIN_TABLE: dict[tuple[str, str | None], set[str]] = {
    ("request", None): {"requested", "scheduled"},  # automatic confirmation: straight to scheduled
    ("create", None): {"requested", "scheduled"},
    ("confirm", "requested"): {"scheduled"},
    ("accept_suggestion", "requested"): {"scheduled"},
    ("reschedule", "scheduled"): {"scheduled", "requested"},
    ("request_reschedule", "requested"): {"reschedule_requested"},
    ("request_reschedule", "scheduled"): {"reschedule_requested"},
    ("propose_time", "reschedule_requested"): {"requested"},
    ("propose_time", "scheduled"): {"requested"},  # the client's own link on a confirmed one
    ("cancel", "requested"): {"cancelled"},
    ("cancel", "reschedule_requested"): {"cancelled"},
    ("cancel", "scheduled"): {"cancelled"},
    ("reject", "requested"): {"rejected"},
    ("reject", "reschedule_requested"): {"rejected"},
    ("attend", "scheduled"): {"attended"},
    ("attend", "reopened"): {"attended"},
    ("no_show", "scheduled"): {"no_show"},
    ("no_show", "reopened"): {"no_show"},
    ("reopen", "attended"): {"reopened"},
    ("reopen", "no_show"): {"reopened"},
    ("request_feedback", "attended"): {"feedback_pending"},
    ("request_feedback", "feedback_pending"): {"feedback_pending"},
    ("submit_feedback", "feedback_pending"): {"feedback_received"},
}
BUILTIN_KEYS = [s.key for s in BUILTIN.statuses + lifecycle.TAIL]


@pytest.mark.parametrize("action, from_status", sorted(BUILTIN_TABLE, key=str))
def test_every_row_of_the_builtin_table_is_allowed(action, from_status):
    assert set(targets(BUILTIN, from_status, action)) == BUILTIN_TABLE[(action, from_status)]


@pytest.mark.parametrize("action, from_status", [
    ("confirm", "scheduled"), ("confirm", None), ("request", "requested"),
    ("reject", "scheduled"), ("cancel", "attended"), ("cancel", "cancelled"),
    ("attend", "requested"), ("no_show", "reschedule_requested"), ("reopen", "scheduled"),
    ("request_feedback", "scheduled"), ("submit_feedback", "attended"),
    ("propose_time", "requested"), ("reschedule", "requested"), ("move", "requested"),
    ("attend", "cancelled"), ("reopen", "feedback_received"), ("confirm", "unknown_status"),
])
def test_representative_moves_outside_the_table_are_refused(action, from_status):
    assert targets(BUILTIN, from_status, action) == []


def test_nothing_outside_the_table_is_allowed():
    extra = [(a, f, targets(BUILTIN, f, a))
             for a, f in itertools.product(lifecycle.ACTIONS, [None, *BUILTIN_KEYS])
             if (a, f) not in BUILTIN_TABLE and targets(BUILTIN, f, a)]
    assert extra == []


def test_allowed_actions_name_what_can_happen_next():
    assert allowed_actions(BUILTIN, "requested") == [
        "confirm", "accept_suggestion", "request_reschedule", "cancel", "reject"]
    assert allowed_actions(BUILTIN, "feedback_received") == []
    assert allowed_actions(BUILTIN, None) == ["request", "create"]


# -- a custom workflow: Request received -> ... -> Confirmed, plus a cancellation
STEPS = ["received", "consultation", "approved", "resources_checked", "confirmed"]
CUSTOM = Definition("wf-1", 1, "Consultation flow", (
    Status("received", "Request received", "start", 10),
    Status("consultation", "Consultation with management", "step", 20),
    Status("approved", "Approved by management", "step", 30),
    Status("resources_checked", "Resources checked", "step", 40),
    Status("confirmed", "Confirmed", "confirmation", 50),
    Status("declined", "Declined", "cancellation", 60),
), "acme")


def test_the_five_step_workflow_is_publishable():
    assert lifecycle.validate_custom([s.as_dict() for s in CUSTOM.statuses]) == []


def test_a_request_enters_at_the_start_status_or_straight_at_confirmation():
    assert targets(CUSTOM, None, "request") == ["received", "confirmed"]


@pytest.mark.parametrize("earlier, later", list(itertools.combinations(STEPS, 2)))
def test_forward_moves_are_allowed_and_backward_ones_refused(earlier, later):
    assert lifecycle.is_allowed(CUSTOM, earlier, "move", later)
    assert not lifecycle.is_allowed(CUSTOM, later, "move", earlier)


@pytest.mark.parametrize("status", STEPS + ["reschedule_requested"])
def test_any_open_status_can_go_straight_to_cancellation(status):
    assert lifecycle.is_allowed(CUSTOM, status, "move", "declined")
    assert targets(CUSTOM, status, "cancel") == ["declined"]
    assert not lifecycle.is_allowed(CUSTOM, status, "move", status)


@pytest.mark.parametrize("status", STEPS[:-1])
def test_every_pre_confirmation_status_can_be_confirmed_or_rejected(status):
    assert targets(CUSTOM, status, "confirm") == ["confirmed"]
    assert targets(CUSTOM, status, "reject") == ["declined"]


def test_after_cancellation_nothing_moves():
    assert allowed_actions(CUSTOM, "declined") == []


@pytest.mark.parametrize("status", STEPS[:-1])
def test_attend_and_no_show_only_from_confirmation(status):
    assert targets(CUSTOM, status, "attend") == [] and targets(CUSTOM, status, "no_show") == []


def test_after_confirmation_the_builtin_tail_applies():
    # Confirmed: the appointment happens (or not), may reopen, then feedback.
    assert targets(CUSTOM, "confirmed", "attend") == ["attended"]
    assert targets(CUSTOM, "confirmed", "no_show") == ["no_show"]
    assert targets(CUSTOM, "confirmed", "move") == ["declined"]  # no forward step after it
    assert targets(CUSTOM, "confirmed", "reschedule") == ["confirmed", "received"]
    assert targets(CUSTOM, "no_show", "reopen") == ["reopened"]
    assert targets(CUSTOM, "reopened", "attend") == ["attended"]
    assert targets(CUSTOM, "attended", "request_feedback") == ["feedback_pending"]
    assert targets(CUSTOM, "feedback_pending", "submit_feedback") == ["feedback_received"]
    assert allowed_actions(CUSTOM, "feedback_received") == []
    assert targets(CUSTOM, "attended", "move") == []


# -- findings in shared/domain/lifecycle.py, now fixed
def test_a_step_after_the_confirmation_is_refused():
    statuses = [s.as_dict() for s in CUSTOM.statuses] + [
        dict(key="late_step", name="Late", kind="step", position=55)]
    assert lifecycle.validate_custom(statuses) != []


def test_a_missing_position_is_a_problem_not_a_crash():
    assert lifecycle.validate_custom([dict(key="a", name="A", kind="start", position=None)])
