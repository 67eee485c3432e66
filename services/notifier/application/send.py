"""Send what the ledger says is due, one channel per sender.

How one row goes out:
1. `claim` marks the next due row 'sending' and COMMITS that before the
   provider is called. The claim carries a lease (`next_attempt_at` = now +
   lease, longer than the provider time-out).
2. The provider is called.
3. The result is recorded: 'sent' (with the provider's message id);
   back to 'pending' with exponential back-off and jitter, or the provider's
   Retry-After if longer, for 429 / 5xx / time-outs / unreachable; 'failed'
   plus a dead letter on `notifications.dlq` for any other 4xx, or once a
   retryable failure outlives `give_up_after`.

The remaining duplicate window, stated honestly: neither SendGrid nor Twilio
takes an idempotency key, so if the process dies after the provider accepted
a message and before step 3 committed 'sent', the row stays 'sending'; when
its lease lapses a sender claims it again and the recipient gets that one
message twice. A row stuck in 'sending' is therefore retried on purpose:
at-least-once, never lost. The window is one provider call per in-flight row
(at most `workers` rows per channel per process). A time-out is the same
case: the provider may have accepted a request whose answer we never saw.

Order: a row is not claimed while an earlier row (lower aggregate version) of
the same appointment and channel is still pending or sending, so a client
never reads "cancelled" before "confirmed"; the other channel is unaffected.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass

from services.notifier.adapters.ledger import Ledger
from services.notifier.domain.model import Delivery, PermanentFailure, TemporaryFailure
from services.notifier.ports import Transport

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
    def __init__(self, ledger: Ledger, transport: Transport, backoff: Backoff,
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
            provider_id = self.transport.send(d)
        except PermanentFailure as e:
            state = self.ledger.mark_failed(d, e.reason)
            log.warning("delivery refused", extra={"fields": {**fields, "reason": e.reason}})
        except TemporaryFailure as e:
            delay = self.backoff.delay(d.attempts, e.retry_after)
            state = self.ledger.mark_retry(d, delay, e.reason)
            log.info("provider failed temporarily", extra={"fields": {
                **fields, "reason": e.reason, "delay": round(delay, 3), "state": state}})
        except Exception as e:  # noqa: BLE001 - a bug must not lose the message
            log.exception("unexpected error while sending", extra={"fields": fields})
            state = self.ledger.mark_retry(d, self.backoff.delay(d.attempts), repr(e))
        else:
            state = self.ledger.mark_sent(d, provider_id)
        if state is None:
            log.warning("claim lapsed before the result was recorded (sent twice?)",
                        extra={"fields": fields})
