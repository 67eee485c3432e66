"""The notifier's vocabulary: messages to plan, their delivery states, and the
two ways a provider can refuse one. Plain Python, no I/O."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

CHANNELS = ("email", "sms")
RECIPIENT_KINDS = ("client", "organisation", "resource")
# pending -> sending -> sent | failed; skipped when there is no address;
# suppressed (never sent) when a client's address is over its quota.
# A retryable refusal sends a row from sending back to pending.
STATES = ("pending", "sending", "sent", "failed", "skipped", "suppressed")
# Client link actions (shared.links.CLIENT_ACTIONS) a message may carry.
LINK_ACTIONS = ("cancel", "propose_time", "submit_feedback", "accept_offer")


@dataclass(frozen=True)
class Message:
    """One email or SMS to one recipient, as planned from one event.

    `to` is None when the recipient has no address for the channel: the
    ledger records such a message as skipped.
    """
    recipient_kind: str
    channel: str
    to: str | None
    template: str                      # e.g. "client/confirmed"
    recipient_ref: str = ""            # id of the client, organisation or resource
    recipient_name: str = ""
    links: tuple[str, ...] = ()        # client link actions the template shows


@dataclass(frozen=True)
class Rendered:
    """What a transport sends: subject and HTML only for email."""
    text: str
    subject: str = ""
    html: str = ""


@dataclass(frozen=True)
class Delivery:
    """A ledger row the sender works on (claimed: state 'sending')."""
    id: int
    event_id: str
    appointment_id: str
    organisation_id: str
    channel: str
    recipient_kind: str
    to: str
    subject: str
    text: str
    html: str
    attempts: int
    # When an earlier attempt whose outcome is unknown began (a crash, a time-out):
    # the provider is asked for it before the message is sent again.
    unconfirmed_since: datetime | None = None


class DeliveryFailed(Exception):
    """A provider did not take the message."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryFailure(DeliveryFailed):
    """Try again later: 429, 5xx, time-outs, connection errors.

    `retry_after` is the provider's own wish in seconds (Retry-After or a
    rate-limit reset header), which the back-off honours. `maybe_sent`: no
    clear answer came back (a time-out, a dropped connection, a 5xx), so the
    provider may have taken the message all the same.
    """

    def __init__(self, reason: str, retry_after: float | None = None,
                 maybe_sent: bool = False) -> None:
        super().__init__(reason)
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class PermanentFailure(DeliveryFailed):
    """The provider refused the message for good (4xx other than 408/429)."""


class OrganisationUnknown(LookupError):
    """An event's messages need its organisation's settings, not known yet."""


def is_retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500
