"""Send what the ledger says is due, one channel per sender.

How one row goes out:
1. `claim` marks the next due row 'sending' and COMMITS that before the
   provider is called. The claim carries a lease (`next_attempt_at` = now +
   lease, longer than the provider time-out).
2. If an earlier attempt's outcome is unknown (the row was found 'sending'
   after its lease lapsed, or a time-out), the provider is asked whether it
   already has the message; if so, that message is recorded and nothing is
   sent. Else the provider is called.
3. The result is recorded: 'sent' (with the provider's message id);
   back to 'pending' with exponential back-off and jitter, or the provider's
   Retry-After if longer, for 429 / 5xx / time-outs / unreachable; 'failed'
   plus a dead letter on `notifications.events.dlq` for any other 4xx, or once a
   retryable failure outlives `give_up_after`.

The development mailbox has no window: its message is written in the
transaction of step 3. The providers take no idempotency key, so if the
process dies after a provider accepted a message and before step 3 committed
'sent' (or a time-out hides its answer), step 2 of the next attempt looks the
message up: Twilio lists the messages to that number (same sender and body,
created since the attempt began); SendGrid offers no such lookup without a
paid add-on, so an email whose answer was lost is sent again (at most one
duplicate per attempt with an unknown outcome, tagged with the delivery id).
A row stuck in 'sending' is retried on purpose: at-least-once, never lost.

Order: a row is not claimed while an earlier row (lower aggregate version) of
the same appointment and channel is still pending or sending, so a client
never reads "cancelled" before "confirmed"; the other channel is unaffected.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from services.notifier.adapters.ledger import Ledger, Write
from services.notifier.domain.model import (
    Delivery,
    DeliveryFailed,
    PermanentFailure,
    TemporaryFailure,
)
from services.notifier.ports import LocalTransport, Transport

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Backoff:
    base: float = 2.0       # seconds before the first retry (before jitter)
    cap: float = 900.0      # never wait longer than this between tries

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        """Exponential back-off with jitter, at least the provider's Retry-After."""
        exponential = min(self.cap, self.base * 2 ** max(0, attempts - 1))
        jittered = exponential * random.uniform(0.5, 1.0)
        return max(jittered, min(retry_after or 0.0, self.cap))


class Sender:
    def __init__(self, ledger: Ledger, transport: Transport | LocalTransport, backoff: Backoff,
                 lease_seconds: float) -> None:
        self.ledger = ledger
        self.transport = transport
        self.backoff = backoff
        self.lease_seconds = lease_seconds

    @property
    def channel(self) -> str:
        return self.transport.channel

    def send_next(self) -> bool:
        """Send one due row; False when nothing was due."""
        delivery = self.ledger.claim(self.channel, self.lease_seconds)
        if delivery is None:
            return False
        self._attempt(delivery)
        return True

    def _attempt(self, d: Delivery) -> None:
        fields = {"delivery_id": d.id, "channel": d.channel, "attempt": d.attempts}
        try:
            sent = self._deliver(d)
        except PermanentFailure as e:
            state = self.ledger.mark_failed(d, e.reason)
            log.warning("delivery refused", extra={"fields": {**fields, "reason": e.reason}})
        except TemporaryFailure as e:
            delay = self.backoff.delay(d.attempts, e.retry_after)
            state = self.ledger.mark_retry(d, delay, e.reason, e.maybe_sent)
            log.info("provider failed temporarily", extra={"fields": {
                **fields, "reason": e.reason, "delay": round(delay, 3), "state": state}})
        except Exception as e:  # noqa: BLE001 - a bug must not lose the message
            log.exception("unexpected error while sending", extra={"fields": fields})
            state = self.ledger.mark_retry(d, self.backoff.delay(d.attempts), repr(e), True)
        else:
            state = self.ledger.mark_sent(d, sent)
        if state is None:
            log.warning("claim lapsed before the result was recorded (sent twice?)",
                        extra={"fields": fields})

    def _deliver(self, d: Delivery) -> str | Write:
        """The provider's message id, or the mailbox write for mark_sent's transaction."""
        if isinstance(self.transport, LocalTransport):
            mailbox = self.transport
            return lambda cur: mailbox.write(cur, d)
        return self._taken_earlier(d, self.transport) or self.transport.send(d)

    def _taken_earlier(self, d: Delivery, transport: Transport) -> str | None:
        """The provider's id of this message if an attempt whose answer was lost
        reached it (ids other deliveries already hold do not count)."""
        if d.unconfirmed_since is None:
            return None
        try:
            found = transport.find(d, d.unconfirmed_since)
        except DeliveryFailed as e:  # cannot tell: do not risk a second message
            raise TemporaryFailure(f"could not look up the earlier attempt: {e.reason}",
                                   getattr(e, "retry_after", None), maybe_sent=True) from e
        held = self.ledger.recorded_provider_ids(found) if found else set()
        taken = next((i for i in found if i not in held), None)
        if taken:
            log.info("the provider already has this message; not sent again", extra={
                "fields": {"delivery_id": d.id, "channel": d.channel,
                           "provider_message_id": taken}})
        return taken
