"""The one outbox drainer: take the next batch of an outbox, send it, and mark
it sent only once the broker acknowledged every message.

An outbox is anything with `drain(send) -> int`: it selects its next batch in
order, calls `send` (which returns only when the broker acknowledged all of it,
acks=all with idempotence, and raises otherwise) and then records the batch as
sent. A crash or a broker outage therefore delays messages, never loses them;
one may go out twice, and each carries an id to deduplicate by. Two outboxes
use it: an event store's notification log (shared/relay.py) and the
notifier's outbox table (services/notifier/adapters/publisher.py).

After any failed send the producer is re-created (`kafka.DurableProducer`).
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from shared import kafka

log = logging.getLogger(__name__)
Send = Callable[[Iterable[kafka.Record]], None]


class Outbox(Protocol):
    def drain(self, send: Send) -> int:
        """Send the next batch with `send`, then mark it sent; how many were sent."""
        ...


class Drainer:
    """Drains `outbox` until stopped: at once while there is more, every
    `idle_wait` seconds when it is empty, backing off (doubling up to
    `max_backoff`) while sending fails.

    `watch`, if given, runs every `watch_every` seconds and after each failure:
    the relay checks there whether the broker lost its topics.
    """

    def __init__(self, outbox: Outbox, bootstrap_servers: str, *, name: str,
                 idle_wait: float = 0.1, first_backoff: float = 0.5, max_backoff: float = 5.0,
                 ack_timeout: float = 15.0, watch: Callable[[], object] | None = None,
                 watch_every: float = 3.0) -> None:
        self.outbox, self.name = outbox, name
        self.idle_wait, self.first_backoff, self.max_backoff = idle_wait, first_backoff, max_backoff
        self.watch, self.watch_every = watch, watch_every
        self.producer = kafka.DurableProducer(bootstrap_servers, ack_timeout)

    def step(self) -> int:
        """Drain one batch; how many messages went out."""
        return self.outbox.drain(self.producer.send_all)

    def run(self, stop: threading.Event) -> None:
        backoff = self.first_backoff
        last_watch = 0.0
        while not stop.is_set():
            try:
                sent = self.step()
                backoff = self.first_backoff
                if self.watch and time.monotonic() - last_watch > self.watch_every:
                    last_watch = time.monotonic()
                    self.watch()
                if not sent:
                    stop.wait(self.idle_wait)
            except Exception as e:  # noqa: BLE001 - the drainer must outlive any broker trouble
                log.warning("publishing the outbox failed; will retry with a new producer",
                            extra={"fields": {"outbox": self.name, "error": repr(e)}})
                stop.wait(backoff)
                backoff = min(backoff * 2, self.max_backoff)
                if self.watch:
                    try:
                        self.watch()
                    except Exception:  # noqa: BLE001 - broker still down: try again next round
                        log.debug("outbox watch failed", exc_info=True)

    def close(self) -> None:
        self.producer.close()
