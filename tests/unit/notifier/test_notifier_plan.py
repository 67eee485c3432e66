"""Who gets what (DOMAIN.md, "Notifications"), one scenario per event type."""
from __future__ import annotations

import copy

import pytest

from services.notifier.domain.model import OrganisationUnknown
from services.notifier.domain.planning import CLIENT_LINKS, occasion, plan
from services.notifier.domain.rendering import TEMPLATES
from tests.fakes.events import (
    AGENT,
    EQUIPMENT,
    LOCATION,
    ORGANISATION,
    TRANSITIONS,
    appointment_event,
)

CLIENT_EMAIL, CLIENT_PHONE = "ada@example.com", "+441234567890"


def who(messages):
    return sorted(((m.recipient_kind, m.channel, m.to) for m in messages), key=str)


FOUR = sorted([("client", "email", CLIENT_EMAIL), ("client", "sms", CLIENT_PHONE),
               ("organisation", "email", ORGANISATION["email"]),
               ("organisation", "sms", ORGANISATION["phone"])], key=str)


@pytest.mark.parametrize("action", ["request", "request_reschedule", "propose_time", "cancel",
                                    "reject", "attend", "no_show", "reopen", "request_feedback",
                                    "submit_feedback"])
def test_a_status_change_emails_and_texts_the_client_and_the_organisation(action):
    assert who(plan(appointment_event(action, reason="r"))) == FOUR


@pytest.mark.parametrize("action", ["confirm", "create", "accept_suggestion", "reschedule",
                                    "reassigned"])
def test_a_confirmed_booking_also_reaches_the_booked_agent_and_location(action):
    messages = plan(appointment_event(action, resources=[AGENT, LOCATION, EQUIPMENT]))
    assert who(messages) == sorted(FOUR + [
        ("resource", "email", AGENT["email"]), ("resource", "sms", AGENT["phone"]),
        ("resource", "email", LOCATION["email"]),
        ("resource", "sms", None),          # the branch has no phone: recorded as skipped
    ], key=str)                             # equipment is never addressed
    assert {m.template for m in messages if m.recipient_kind == "resource"} == {"resource/booked"}


@pytest.mark.parametrize("action", ["note_added", "note_edited", "details_updated"])
def test_internal_notes_and_detail_updates_notify_nobody(action):
    assert plan(appointment_event(action, note={"text": "secret"})) == []


def test_an_event_referring_to_its_organisation_is_planned_only_with_its_settings():
    # Given an event as booking writes it now: the settings' version, no copy
    event = appointment_event("confirm", organisation_version=2)
    # Then nothing is planned without the organisation's settings
    with pytest.raises(OrganisationUnknown):
        plan(event)
    # And with them, their channels and addresses are used
    desk = {**ORGANISATION, "email": "front@acme.example", "channels": {"sms": False}}
    messages = plan(event, desk)
    assert {m.channel for m in messages} == {"email"}
    assert ("organisation", "email", "front@acme.example") in who(messages)
    # A change that notifies nobody needs no settings
    assert plan(appointment_event("note_added", organisation_version=2)) == []


def test_a_channel_the_organisation_switched_off_is_not_used_for_anyone():
    org = copy.deepcopy(ORGANISATION)
    org["channels"] = {"email": True, "sms": False}
    messages = plan(appointment_event("confirm", organisation=org))
    assert {m.channel for m in messages} == {"email"}
    assert len(messages) == 4  # client, organisation, agent, location


def test_a_recipient_without_an_address_is_planned_as_skipped():
    client = {"id": None, "name": "Walk-in", "email": None, "phone": "+441111111111",
              "tentative": True}
    messages = plan(appointment_event("request", client=client))
    email = next(m for m in messages if m.recipient_kind == "client" and m.channel == "email")
    assert email.to is None
    assert email.recipient_ref == "tentative"


def test_a_tentative_client_is_still_told_at_the_given_address():
    client = {"id": None, "name": "Grace", "email": "grace@example.com", "phone": "+15551234",
              "tentative": True}
    got = who(m for m in plan(appointment_event("request", client=client))
              if m.recipient_kind == "client")
    assert got == [("client", "email", "grace@example.com"), ("client", "sms", "+15551234")]


def test_one_address_gets_one_message_per_channel_even_with_two_roles():
    location = dict(LOCATION, email=ORGANISATION["email"].upper())  # the branch is the desk
    messages = plan(appointment_event("confirm", resources=[location]))
    emails = [m for m in messages if m.channel == "email"]
    assert [m.recipient_kind for m in emails] == ["client", "organisation"]


@pytest.mark.parametrize("action,template,links", [
    ("request", "requested", ("cancel",)),
    ("confirm", "confirmed", ("cancel", "propose_time")),
    ("accept_suggestion", "accepted", ("cancel", "propose_time")),
    ("reschedule", "rescheduled", ("cancel", "propose_time")),
    ("reassigned", "reassigned", ("cancel", "propose_time")),
    ("request_reschedule", "reschedule_requested", ("propose_time", "cancel")),
    ("cancel", "cancelled", ()),
    ("reject", "rejected", ()),
    ("request_feedback", "feedback_requested", ("submit_feedback",)),
    ("submit_feedback", "feedback_submitted", ()),
])
def test_the_client_template_and_its_signed_links(action, template, links):
    client = [m for m in plan(appointment_event(action)) if m.recipient_kind == "client"]
    assert {m.template for m in client} == {f"client/{template}"}
    assert {m.links for m in client} == {links}


def test_the_organisation_hears_of_a_new_request_and_of_feedback_in_their_own_words():
    assert {m.template for m in plan(appointment_event("request"))
            if m.recipient_kind == "organisation"} == {"organisation/requested"}
    assert {m.template for m in plan(appointment_event("submit_feedback"))
            if m.recipient_kind == "organisation"} == {"organisation/feedback_submitted"}
    assert {m.template for m in plan(appointment_event("cancel"))
            if m.recipient_kind == "organisation"} == {"organisation/update"}


def test_custom_workflow_statuses_notify_by_their_kind():
    moved = {kind: occasion({"action": "move", "from_status": "a", "to_status": "b",
                             "status_kind": kind})
             for kind in ("start", "step", "confirmation", "cancellation")}
    assert moved == {"start": "requested", "step": "in_progress", "confirmation": "confirmed",
                     "cancellation": "cancelled"}


def test_every_template_a_plan_can_name_exists():
    for action in TRANSITIONS:
        for m in plan(appointment_event(action)):
            assert (TEMPLATES / f"{m.template}.j2").exists(), m.template
    for key in CLIENT_LINKS:
        assert (TEMPLATES / "client" / f"{key}.j2").exists(), key
