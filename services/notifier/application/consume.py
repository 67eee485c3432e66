"""One event -> ledger rows (the use case behind the consumer).

An appointment event's messages are planned and rendered with its
organisation's settings, then recorded together with the event-processed
marker in one transaction (`Ledger.record_event`); only after that does the
consumer commit the Kafka offset. Deduplication is by CloudEvent id, never by
offset, so a re-created topic or a new consumer group replaying from the
earliest offset sends nothing twice.

The settings come with the organisation's own events (`directory.events`),
kept by `Ledger.record_organisation`. Topics are not ordered between each
other: an appointment event that refers to settings not seen yet is parked
and planned by the organisation event that brings them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from psycopg import Connection

from services.notifier.adapters.ledger import Ledger
from services.notifier.adapters.ledger_intake import Planned
from services.notifier.domain.planning import link_subject, plan, plan_offer
from services.notifier.domain.rendering import Renderer
from shared import links
from shared.envelope import CloudEvent

SignLink = Callable[[str, str], str]


def appointment_url(backoffice_url: str | None, appointment_id: str) -> str | None:
    """The organisation's page of the appointment in its back office: `backoffice_url`
    (BACKOFFICE_URL, checked at start by bootstrap.check_backoffice_url) with `{id}` replaced;
    None, and so no link in the message, when there is no back office to point at."""
    if not backoffice_url:
        return None
    return backoffice_url.replace("{id}", quote(appointment_id, safe=""))


def prepare(event: CloudEvent, renderer: Renderer, sign_link: SignLink = links.url,
            organisation: dict[str, Any] | None = None,
            backoffice_url: str | None = None) -> list[Planned]:
    """The event's messages, rendered with freshly signed links.

    `organisation`: its settings (default: the copy of an event stored with one).
    `backoffice_url`: the staff's link template (none: no link).
    """
    messages = plan(event, organisation) if event.type.startswith("appointment.") \
        else plan_offer(event, organisation)
    # One signed link per action and event, shared by its email and SMS.
    actions = sorted({a for m in messages for a in m.links})
    signed = {a: sign_link(link_subject(event), a) for a in actions}
    url = appointment_url(backoffice_url, event.subject)
    return [Planned(m, renderer.render(m, event, {a: signed[a] for a in m.links}, url,
                                       organisation) if m.to else None)
            for m in messages]


class ConsumeEvent:
    def __init__(self, ledger: Ledger, renderer: Renderer | None = None,
                 sign_link: SignLink = links.url, backoffice_url: str | None = None) -> None:
        self.ledger = ledger
        self.renderer = renderer or Renderer()
        self.sign_link = sign_link
        self.backoffice_url = backoffice_url

    def __call__(self, event: CloudEvent, conn: Connection[Any] | None = None) -> str:
        """An appointment or waitlist event: 'planned', 'parked', 'duplicate' or 'stale' (see
        Ledger.record_event); an organisation or service event: 'applied' or
        'stale'; a client erased: 'erased'; any other directory event: 'ignored'.
        In `conn`'s transaction (the consumer's batch), else in one of its own."""
        if event.type.startswith("organisation."):
            return self.ledger.record_organisation(event, self._prepare, conn)
        if event.type.startswith("service."):
            return self.ledger.record_service(event, conn)
        if event.type == "client.erased.v1":
            return self.ledger.erase_client(event, conn)
        if event.type.startswith(("appointment.", "waitlist.")):
            return self.ledger.record_event(event, self._prepare, conn)
        return "ignored"

    def _prepare(self, event: CloudEvent, organisation: dict[str, Any]) -> list[Planned]:
        return prepare(event, self.renderer, self.sign_link, organisation, self.backoffice_url)
