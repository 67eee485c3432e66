"""What the messages say: local times, signed links where they belong, reasons,
escaping, and every template rendering for every recipient."""
from __future__ import annotations

import copy
import re
from urllib.parse import parse_qs, urlparse

import pytest

from services.notifier.application.consume import prepare
from services.notifier.domain.rendering import Renderer
from shared import links
from tests.fakes.events import ORGANISATION, TRANSITIONS, appointment_event

renderer = Renderer()
SLOT = {"start": "2026-11-23T09:00:00+00:00", "end": "2026-11-23T09:30:00+00:00"}


def rendered(event):
    return {(p.message.recipient_kind, p.message.channel): p.rendered
            for p in prepare(event, renderer)
            if p.rendered and p.message.recipient_kind != "resource"}


def link_tokens(text, action):
    urls = re.findall(r"https?://\S+/v1/client_actions/" + action + r"\?token=[^\s\"<]+", text)
    return [parse_qs(urlparse(u.replace("&amp;", "&")).query)["token"][0] for u in urls]


@pytest.mark.parametrize("action", sorted(TRANSITIONS))
def test_every_message_renders_for_every_recipient(action):
    event = appointment_event(action, reason="Doctor ill", message="See you",
                              feedback={"rating": 4, "comment": "Kind staff"},
                              proposal={"start": "2026-11-24T08:00:00+00:00",
                                        "end": "2026-11-24T08:30:00+00:00"})
    for p in prepare(event, renderer):
        r = p.rendered
        if p.message.to is None:   # no address: nothing to render, recorded as skipped
            assert r is None
            continue
        assert r is not None and r.text.strip()
        if p.message.channel == "email":
            assert r.subject and "\n" not in r.subject
            assert r.html.startswith("<!doctype html>")
        else:
            assert not r.subject and not r.html


def test_times_are_shown_in_the_organisations_time_zone():
    # 09:00 UTC is 10:00 in Zurich (CET) and 18:00 in Tokyo.
    zurich = rendered(appointment_event("confirm", slot=SLOT))
    assert "Monday 23 November 2026, 10:00–10:30 CET" in zurich["client", "email"].text
    assert "Mon 23 Nov 10:00" in zurich["client", "sms"].text
    tokyo_org = dict(copy.deepcopy(ORGANISATION), timezone="Asia/Tokyo")
    tokyo = rendered(appointment_event("confirm", slot=SLOT, organisation=tokyo_org))
    assert "18:00–18:30 JST" in tokyo["client", "email"].text
    assert "18:00" in tokyo["organisation", "sms"].text
    assert "09:00" not in tokyo["client", "email"].html


def test_the_settings_given_are_used_for_an_event_that_refers_to_its_organisation():
    # The event carries no copy; the settings the notifier keeps say Tokyo and a new name
    event = appointment_event("confirm", slot=SLOT, organisation_version=3)
    tokyo = {**ORGANISATION, "name": "Acme Tokyo", "timezone": "Asia/Tokyo"}
    texts = {(p.message.recipient_kind, p.message.channel): p.rendered
             for p in prepare(event, renderer, organisation=tokyo) if p.rendered}
    assert "18:00–18:30 JST" in texts["client", "email"].text
    assert "Acme Tokyo" in texts["client", "sms"].text


def test_summer_time_is_respected():
    summer = {"start": "2026-07-01T09:00:00+00:00", "end": "2026-07-01T09:30:00+00:00"}
    texts = rendered(appointment_event("confirm", slot=summer))
    assert "Wednesday 1 July 2026, 11:00–11:30 CEST" in texts["client", "email"].text


def test_a_preferred_window_shows_the_part_of_day_and_its_hours():
    event = appointment_event("request", slot=None,
                              window={"date": "2026-11-23", "part_of_day": "morning"})
    texts = rendered(event)
    assert "Monday 23 November 2026, morning (09:00–12:00)" in texts["client", "email"].text


def test_a_new_request_is_received_not_confirmed_and_the_desk_gets_a_link():
    texts = rendered(appointment_event("request", appointment_id="appt-42"))
    client = texts["client", "email"]
    assert "not confirmed yet" in client.text.lower() and "not yet confirmed" in client.subject
    assert "Not yet confirmed" in texts["client", "sms"].text
    backoffice = "https://backoffice.example/appointments/{id}"
    org = next(p.rendered for p in prepare(appointment_event("request", appointment_id="appt-42"),
                                           renderer, backoffice_url=backoffice)
               if (p.message.recipient_kind, p.message.channel) == ("organisation", "email"))
    assert org is not None
    assert "View the appointment: https://backoffice.example/appointments/appt-42" in org.text
    assert 'href="https://backoffice.example/appointments/appt-42"' in org.html
    # no back office: no link, never booking's bearer-protected JSON API
    unlinked = texts["organisation", "email"]
    assert "View the appointment" not in unlinked.text + unlinked.html
    assert "/v1/appointments/" not in unlinked.text + unlinked.html


@pytest.mark.parametrize("action", ["reschedule", "reassigned", "accept_suggestion",
                                    "request_reschedule"])
def test_changes_carry_the_agents_message_and_signed_cancel_and_propose_links(action):
    texts = rendered(appointment_event(action, appointment_id="appt-7",
                                       message="Dr Who is away that day"))
    email = texts["client", "email"]
    assert "Dr Who is away that day" in email.text and "Dr Who is away that day" in email.html
    for link_action in ("cancel", "propose_time"):
        (token,) = link_tokens(email.text, link_action)
        claims = links.verify(token, link_action)
        assert claims.appointment_id == "appt-7"
        assert link_tokens(email.html, link_action) == [token]  # same link in the HTML part
    # the organisation's messages carry no client links
    assert not link_tokens(texts["organisation", "email"].text, "cancel")


def test_the_feedback_request_carries_a_signed_survey_link_by_email_and_sms():
    texts = rendered(appointment_event("request_feedback", appointment_id="appt-9"))
    for channel in ("email", "sms"):
        (token,) = link_tokens(texts["client", channel].text, "submit_feedback")
        assert links.verify(token, "submit_feedback").appointment_id == "appt-9"
    with pytest.raises(links.LinkRefused):  # bound to its action
        links.verify(link_tokens(texts["client", "sms"].text, "submit_feedback")[0], "cancel")


@pytest.mark.parametrize("action", ["cancel", "reject"])
def test_rejection_and_cancellation_carry_the_reason(action):
    texts = rendered(appointment_event(action, reason="Doctor ill"))
    for key in (("client", "email"), ("client", "sms"), ("organisation", "email")):
        assert "Doctor ill" in texts[key].text
    assert not link_tokens(texts["client", "email"].text, "cancel")


def test_the_organisation_is_told_the_feedback():
    texts = rendered(appointment_event("submit_feedback",
                                       feedback={"rating": 5, "comment": "Very kind"}))
    assert "5/5" in texts["organisation", "email"].subject
    assert "Very kind" in texts["organisation", "email"].text
    assert "5/5" in texts["organisation", "sms"].text


def test_html_is_escaped_and_plain_text_is_not():
    client = {"id": "c1", "name": "O'Brien <script>", "email": "ob@example.com",
              "phone": "+441", "tentative": False}
    texts = rendered(appointment_event("confirm", client=client, message="<b>bring ID</b>"))
    email = texts["client", "email"]
    assert "O'Brien <script>" in email.text and "<b>bring ID</b>" in email.text
    assert "<script>" not in email.html and "&lt;script&gt;" in email.html
    assert "&lt;b&gt;bring ID&lt;/b&gt;" in email.html


def test_sms_is_concise():
    for action in TRANSITIONS:
        for key, r in rendered(appointment_event(action, reason="Doctor ill")).items():
            if key[1] == "sms":
                assert "\n" not in r.text
                # one SMS segment of text, plus a signed link where there is one
                assert len(re.sub(r"https?://\S+", "", r.text)) <= 160, r.text


def test_a_custom_status_is_called_by_the_organisations_own_name():
    event = appointment_event("move", from_status="received", to_status="consultation",
                              status_kind="step")
    event.data["appointment"]["status_name"] = "Consultation with management"
    email = rendered(event)[("client", "email")]
    assert "Consultation with management" in email.subject


def test_the_organisation_sees_the_clients_proposal_and_message():
    proposal = {"start": "2026-11-24T14:00:00+00:00", "end": "2026-11-24T14:30:00+00:00"}
    event = appointment_event("propose_time", actor_role="client", proposal=proposal,
                              message="Afternoon suits me better")
    email = rendered(event)[("organisation", "email")]
    # The proposal, in the organisation's time zone (Europe/Zurich: 15:00), not the old slot.
    assert "15:00" in email.subject and "10:00" not in email.subject
    assert "Message from the client: Afternoon suits me better" in email.text
